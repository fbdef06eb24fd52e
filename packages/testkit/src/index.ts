export { type Http2Outcome, http2Request } from "./clients/http2-request.js";
export {
  captureClientHello,
  type ExchangeOptions,
  type ExchangeResult,
  readChunk,
  readLine,
  tcpConnect,
  tcpExchange,
  udpExchange,
} from "./clients/net-clients.js";
export { RawSmtp } from "./clients/raw-smtp.js";
export { type StormEnding, tcpStorm } from "./clients/tcp-storm.js";
export { tlsOverTcp } from "./clients/tls-over-tcp.js";
export { type FdCensus, fdCensus } from "./fd-census.js";
export {
  FUZZ_SEED_ENV,
  type FuzzRandom,
  fuzzRandom,
  mulberry32,
  mutatePrefix,
  seededUnit,
} from "./fuzz-random.js";
export { type LogLine, type ManagedProcess, startProcess } from "./managed-process.js";
export {
  type MetricSample,
  type MetricsExposition,
  type MetricsTarget,
  parseMetrics,
  scrapeMetric,
  scrapeMetrics,
} from "./metrics.js";
export { closedPort, dockerBridgeAddress, refuses } from "./ports.js";
export { type GatedProxy, startGatedProxy } from "./servers/gated-proxy.js";
export { type HaproxyFrontend, type HaproxyHandle, startHaproxy } from "./servers/haproxy.js";
export { type KnotHandle, type KnotOptions, startKnot } from "./servers/knot-server.js";
export {
  freePort,
  type NatsServerHandle,
  type NatsServerOptions,
  startNatsServer,
} from "./servers/nats-server.js";
export {
  createOcspResponder,
  type OcspResponder,
  type OcspResponderOptions,
} from "./servers/ocsp-responder.js";
export { type Pebble, type PebbleOptions, startPebble } from "./servers/pebble.js";
export { type CertsReplica, startCertsReplica } from "./stack/certs-replica.js";
export { writeConfigVariant } from "./stack/config-variant.js";
export { type DnsReplica, startDnsReplica } from "./stack/dns-replica.js";
export { type EdgeHarness, startEdge, startTestWorker, type TestWorker } from "./stack/edge-harness.js";
export { type HttpReplica, startHttpReplica } from "./stack/http-replica.js";
export { type MailReplica, startMailReplica } from "./stack/mail-replica.js";
export { spawnServiceReplica } from "./stack/service-replica.js";
export { type StreamReplica, startStreamReplica } from "./stack/stream-replica.js";
export { type WaitOptions, waitFor } from "./wait-for.js";
