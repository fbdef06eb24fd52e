export { DEFAULT_UDP_IDLE_MS, type ForwardRoute, type StreamSettings, streamSettings } from "./config.js";
export { StreamMetrics } from "./metrics.js";
export { StreamService } from "./stream-service.js";
