export { adoptConnection } from "./adopt-connection.js";
export {
  EdgeWorker,
  type EdgeWorkerOptions,
  type UdpHandle,
  type UdpShare,
  type UdpShareInfo,
} from "./edge-worker.js";
export { EdgeWorkerError } from "./errors.js";
