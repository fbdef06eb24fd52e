/** Test-only: Debian's nginx as a TLS upstream (HTTP/1.1 and h2 by ALPN), with an access log to read. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, waitFor } from "@switchyard/testkit";

/** One request as nginx logged it. */
export interface NginxRequest {
  /** nginx's connection serial number: equal for requests on one connection. */
  connection: number;
  protocol: string;
  /** The TLS session was resumed. */
  resumed: boolean;
  /** The SNI the client sent ("-": none). */
  servername: string;
  uri: string;
}

export interface NginxUpstream {
  /** `https://127.0.0.1:<port>`. */
  address: string;
  /** What nginx has logged so far. */
  requests(): Promise<NginxRequest[]>;
  stop(): Promise<void>;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

/**
 * nginx (`/usr/sbin/nginx`, one process in the foreground) serving `files` (name → content) from
 * its root over TLS on 127.0.0.1 with `listen … ssl http2` (ALPN h2 and http/1.1), and
 * `/healthz` → 200.
 */
export async function startNginxUpstream(
  tls: { certPem: string; keyPem: string },
  files: Record<string, Buffer>,
): Promise<NginxUpstream> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-nginx-"));
  const www = join(dir, "www");
  await mkdir(www);
  for (const [name, data] of Object.entries(files)) await writeFile(join(www, name), data);
  await writeFile(join(dir, "cert.pem"), tls.certPem);
  await writeFile(join(dir, "key.pem"), tls.keyPem);
  const port = await freePort();
  const log = join(dir, "access.log");
  await writeFile(
    join(dir, "nginx.conf"),
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  log_format sy '$connection $server_protocol $ssl_session_reused $ssl_server_name $request_uri';
  access_log ${log} sy;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    root ${www};
    location = /healthz { return 200 "ok\\n"; }
  }
}
`,
  );
  const proc = startProcess("nginx", "/usr/sbin/nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`nginx exited:\n${proc.lines.join("\n")}`);
        return accepts(port);
      },
      { timeout: 10_000, what: "nginx to listen" },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address: `https://127.0.0.1:${port}`,
    async requests() {
      const text = await readFile(log, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [connection, protocol, reused, servername, uri] = line.split(" ");
          return {
            connection: Number(connection),
            protocol: protocol ?? "",
            resumed: reused === "r",
            servername: servername ?? "",
            uri: uri ?? "",
          };
        });
    },
    stop,
  };
}
