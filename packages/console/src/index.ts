export { consoleAddress, DEFAULT_CONSOLE_ADDRESS } from "./listen-address.js";
export {
  type ConsoleServer,
  type ConsoleServerOptions,
  startConsoleServer,
} from "./server/console-server.js";
export { CONTENT_SECURITY_POLICY } from "./server/http-reply.js";
export { MESSAGES } from "./server/request-guard.js";
export { SessionStore } from "./server/session-store.js";
