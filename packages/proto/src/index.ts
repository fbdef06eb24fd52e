export {
  descriptorSetUrl,
  readDescriptorSet,
  readFileDescriptorProtos,
  splitDescriptorSet,
} from "./descriptors.js";
export * as certsV1 from "./gen/switchyard/certs/v1/certs.js";
export * as dnsV1 from "./gen/switchyard/dns/v1/dns.js";
export * as edgeV1 from "./gen/switchyard/edge/v1/edge.js";
export * as firewallV1 from "./gen/switchyard/firewall/v1/firewall.js";
export * as httpV1 from "./gen/switchyard/http/v1/http.js";
export * as mailV1 from "./gen/switchyard/mail/v1/mail.js";
export * as streamV1 from "./gen/switchyard/stream/v1/stream.js";
