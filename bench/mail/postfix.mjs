/**
 * A private Postfix instance for the benchmark: its own config_directory, queue_directory and
 * data_directory in a temporary directory, smtpd on 127.0.0.1:<port> only, every recipient of
 * bench.test discarded after the queue file is written and fsynced (cleanup does that before 250).
 * With `tls` ({ certFile, keyFile }) smtpd offers STARTTLS with that certificate
 * (`smtpd_tls_security_level = may`, Postfix's own TLS defaults otherwise, tlsmgr in master.cf).
 * Started in the foreground (`postfix -c <dir> start-fg`) and stopped with `postfix -c <dir> stop`:
 * the system's Postfix (/etc/postfix, /var/spool/postfix) is never touched.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { sleep, waitForPort } from "../handoff/procs.mjs";

const exec = promisify(execFile);

/** Postfix's defaults, except what a private discarding instance needs; `extra` adds main.cf lines. */
function mainCf(dir, extra, tls) {
  return `${[
    "compatibility_level = 3.6",
    `queue_directory = ${join(dir, "queue")}`,
    `data_directory = ${join(dir, "data")}`,
    "mail_owner = postfix",
    "setgid_group = postdrop",
    "inet_interfaces = 127.0.0.1",
    "inet_protocols = ipv4",
    "myhostname = postfix.bench.test",
    "mydestination = bench.test",
    "local_recipient_maps =",
    "local_transport = discard:",
    "default_transport = discard:",
    "relay_transport = discard:",
    "mynetworks = 127.0.0.0/8",
    "alias_maps =",
    "alias_database =",
    "biff = no",
    "smtpd_banner = $myhostname ESMTP",
    "maillog_file = /dev/stdout",
    ...(tls
      ? [
          `smtpd_tls_cert_file = ${tls.certFile}`,
          `smtpd_tls_key_file = ${tls.keyFile}`,
          "smtpd_tls_security_level = may",
        ]
      : []),
    ...extra,
  ].join("\n")}\n`;
}

function masterCf(port) {
  const services = [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ];
  return `${services.join("\n")}\n`;
}

/** Starts the instance; resolves once smtpd accepts connections. */
export async function startPostfix({ dir, port, logDir, extra = [], tls }) {
  const conf = join(dir, "conf");
  await mkdir(conf, { recursive: true });
  await mkdir(join(dir, "queue"), { recursive: true });
  await mkdir(join(dir, "data"), { recursive: true });
  const { stdout } = await exec("id", ["-u", "postfix"]);
  await chown(join(dir, "data"), Number(stdout.trim()), -1);
  await writeFile(join(conf, "main.cf"), mainCf(dir, extra, tls));
  await writeFile(join(conf, "master.cf"), masterCf(port));
  await exec("postfix", ["-c", conf, "check"]);
  // The log goes to a file, unread during the runs (parsing it here would load the bench process).
  const fd = openSync(join(logDir, `${port}-postfix.log`), "a");
  const child = spawn("postfix", ["-c", conf, "start-fg"], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await waitForPort(port, 20_000);
  return {
    pid: child.pid,
    conf,
    /** The master's pid, from its pid file. */
    async masterPid() {
      return Number((await readFile(join(dir, "queue", "pid", "master.pid"), "utf8")).trim());
    },
    async stop() {
      await exec("postfix", ["-c", conf, "stop"]).catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      await sleep(200);
    },
  };
}
