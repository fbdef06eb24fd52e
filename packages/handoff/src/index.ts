export {
  HandoffAcceptError,
  HandoffClosedError,
  HandoffConnectError,
  HandoffError,
  HandoffProtocolError,
  HandoffQueueFullError,
} from "./errors.js";
export { closeFd, countOpenFds } from "./fds.js";
export { HandoffChannel, type PeerCredentials } from "./handoff-channel.js";
export { HandoffListener } from "./handoff-listener.js";
export * from "./messages.js";
export type { HandoffChannelOptions, HandoffListenerOptions } from "./options.js";
export {
  type AcceptHandler,
  TcpAcceptor,
  type TcpAcceptorAddress,
  type TcpAcceptorOptions,
} from "./tcp-acceptor.js";
