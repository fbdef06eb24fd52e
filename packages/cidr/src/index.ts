export { type Cidr, cidrContains, parseCidr } from "./cidr.js";
export { CidrSet } from "./cidr-set.js";
export { CidrError } from "./errors.js";
export { formatIp, type IpAddress, isIpv4Mapped, normalizeIp, parseIp } from "./ip.js";
export { ipPrefixKey } from "./prefix-key.js";
