export { type HttpSettings, httpSettings } from "./config.js";
export {
  HttpError,
  NoCertificateError,
  RequestRefusedError,
  TlsMaterialError,
  UpstreamError,
} from "./errors.js";
export { HttpService, type HttpServiceOptions } from "./http-service.js";
export { HttpMetrics } from "./metrics.js";
