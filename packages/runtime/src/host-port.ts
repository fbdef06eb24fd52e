/** `"127.0.0.1:10901"` or `"[::1]:10901"` → host and port, for listeners configured as host:port. */
export function splitHostPort(text: string): [host: string, port: number] {
  const i = text.lastIndexOf(":");
  return [text.slice(0, i).replace(/^\[|\]$/g, ""), Number(text.slice(i + 1))];
}
