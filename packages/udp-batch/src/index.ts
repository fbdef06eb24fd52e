export type { UdpStats } from "./native.js";
export { closeFd, localPort, udpSocket } from "./raw-socket.js";
export { type BatchHandler, type UdpBatchOptions, UdpBatchSocket } from "./udp-batch-socket.js";
export { type RelayBatchHandler, type UdpRelayOptions, UdpRelaySocket } from "./udp-relay-socket.js";
