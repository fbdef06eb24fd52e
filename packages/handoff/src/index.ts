export { HandoffChannel, type PeerCredentials } from "./channel/handoff-channel.js";
export { HandoffListener } from "./channel/handoff-listener.js";
export { MAX_FDS_PER_MESSAGE } from "./channel/message-limits.js";
export * from "./channel/messages.js";
export type { HandoffChannelOptions, HandoffListenerOptions } from "./channel/options.js";
export {
  HandoffAcceptError,
  HandoffClosedError,
  HandoffConnectError,
  HandoffError,
  HandoffProtocolError,
  HandoffQueueFullError,
  NotifySendError,
} from "./errors.js";
export { closeFd, countOpenFds } from "./fds.js";
export { DatagramReceiver, MAX_NOTIFY_FDS, type ReceivedDatagram, sendDatagram } from "./notify-datagram.js";
export {
  type AcceptHandler,
  TcpAcceptor,
  type TcpAcceptorAddress,
  type TcpAcceptorOptions,
} from "./tcp-acceptor.js";
