export { status } from "@grpc/grpc-js";
export { ensureToken, readToken } from "./admin-token.js";
export { decoyPasswordHash, hashPassword, verifyPassword } from "./auth/password-hash.js";
export { ConfigFileError, NatsError, SecretFileError, StartupError } from "./errors.js";
export {
  createGrpcClient,
  type GrpcClientConstructor,
  type RequestOf,
  type ResponseOf,
  type UnaryMethodName,
  type UnaryOptions,
  unary,
} from "./grpc/grpc-client.js";
export {
  GrpcStatusError,
  grpcError,
  type ServiceImplementation,
  type UnaryMethod,
} from "./grpc/grpc-handlers.js";
export { createGrpcServer, type GrpcServer, type GrpcServerOptions } from "./grpc/grpc-server.js";
export {
  type HealthProbeOptions,
  type HealthProbeResult,
  type HealthStatus,
  probeHealth,
} from "./grpc/health-probe.js";
export { splitHostPort } from "./host-port.js";
export {
  type RunningService,
  runService,
  type ServiceProcess,
  type ServiceRunOptions,
} from "./lifecycle/lifecycle.js";
export {
  type LoadedService,
  readServiceEnv,
  type ServiceContext,
  type ServiceEnv,
  type ServiceMainOptions,
  type StartedService,
  serviceMain,
} from "./lifecycle/service-main.js";
export {
  type BufferedLogger,
  type BufferedLoggerOptions,
  createBufferedLogger,
  createLogger,
  type Logger,
  type LoggerOptions,
} from "./logger.js";
export {
  createMetricsRegistry,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from "./metrics-server.js";
export {
  closeNats,
  connectNats,
  type KV,
  type KvOptions,
  type NatsConnection,
  type NatsOptions,
  openExistingKv,
  openKv,
  PermissionViolationError,
} from "./nats/nats.js";
export {
  ensureNatsAuth,
  type NatsAuth,
  type NatsCredentials,
  natsAuth,
  natsCredentialsPath,
  readNatsCredentials,
} from "./nats/nats-credentials.js";
export {
  BAN_SUBJECT,
  NATS_BUCKETS,
  NATS_ROLES,
  type NatsRole,
  natsAuthorizationConfig,
  natsInboxPrefix,
  natsPasswordVariable,
  natsPermissions,
  type PasswordSource,
  type RolePermissions,
} from "./nats/nats-permissions.js";
