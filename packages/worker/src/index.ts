export { adoptConnection } from "./adopt-connection.js";
export {
  EdgeWorker,
  type EdgeWorkerOptions,
  type UdpHandle,
  type UdpShare,
  type UdpShareInfo,
} from "./edge-worker.js";
export { EdgeWorkerError } from "./errors.js";
export { JOIN_ANYWAY, JOIN_WAITING, type JoinWhenReadyOptions, joinWhenReady } from "./join-when-ready.js";
