export { type CertsReplica, startCertsReplica } from "./certs-replica.js";
export { type DnsReplica, startDnsReplica } from "./dns-replica.js";
export { type EdgeHarness, startEdge, startTestWorker, type TestWorker } from "./edge-harness.js";
export { type FdCensus, fdCensus } from "./fd-census.js";
export { FUZZ_SEED_ENV, type FuzzRandom, fuzzRandom, mutatePrefix } from "./fuzz-random.js";
export { type HaproxyFrontend, type HaproxyHandle, startHaproxy } from "./haproxy.js";
export { type KnotHandle, type KnotOptions, startKnot } from "./knot-server.js";
export { type MailReplica, startMailReplica } from "./mail-replica.js";
export { type LogLine, type ManagedProcess, startProcess } from "./managed-process.js";
export {
  type MetricSample,
  type MetricsExposition,
  type MetricsTarget,
  parseMetrics,
  scrapeMetric,
  scrapeMetrics,
} from "./metrics.js";
export { freePort, type NatsServerHandle, type NatsServerOptions, startNatsServer } from "./nats-server.js";
export {
  captureClientHello,
  type ExchangeOptions,
  type ExchangeResult,
  readChunk,
  readLine,
  tcpConnect,
  tcpExchange,
  udpExchange,
} from "./net-clients.js";
export { type Pebble, type PebbleOptions, startPebble } from "./pebble.js";
export { closedPort, dockerBridgeAddress, refuses } from "./ports.js";
export { RawSmtp } from "./raw-smtp.js";
export { tlsOverTcp } from "./tls-over-tcp.js";
export { type WaitOptions, waitFor } from "./wait-for.js";
