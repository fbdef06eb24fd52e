export { CertificateWatcher, type WatcherOptions } from "./certificate-watcher.js";
export { CertStoreError, DecryptError, KvKeyError, RecordFormatError } from "./errors.js";
export { ensureKvKey, KV_KEY_BYTES, loadKvKey } from "./kv-key.js";
export {
  CERT_KEY_PREFIX,
  CERTS_BUCKET,
  type CertificateRecord,
  certKey,
  describeChain,
  encodeRecord,
  isValidAt,
  type LastError,
  type LeafFacts,
  nameOfKey,
  parseRecord,
  type RenewalWindow,
} from "./record.js";
export { decrypt, encrypt } from "./seal.js";
export { CertificateSelector, type LoadedCertificate, type SelectorOptions } from "./sni-selector.js";
