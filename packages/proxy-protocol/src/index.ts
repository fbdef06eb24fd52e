export * from "./proxy-protocol.js";
export { encodeProxyV1, encodeProxyV2, type ProxyV1Info, type ProxyV2Info } from "./proxy-protocol-encode.js";
