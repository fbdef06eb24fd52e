export { adoptConnection } from "./adopt-connection.js";
export { EdgeWorker, type EdgeWorkerOptions, type UdpShare } from "./edge-worker.js";
export { EdgeWorkerError } from "./errors.js";
