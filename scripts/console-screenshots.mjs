#!/usr/bin/env node
// Screenshots of each console view into docs/console/*.png (the README shows them). Build first.
//   node scripts/console-screenshots.mjs [dir]
//     runs the console's browser test (packages/console/src/e2e) against its own real local stack,
//     with SWITCHYARD_CONSOLE_SCREENSHOTS=dir;
//   node scripts/console-screenshots.mjs --live [dir]
//     logs in to the console of a running `npm start` (http://127.0.0.1:10902/console/, token from
//     .switchyard/admin.token; SWITCHYARD_CONSOLE_URL and SWITCHYARD_ADMIN_TOKEN_FILE override).
import { spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const live = process.argv[2] === "--live";
const dir = resolve(root, process.argv[live ? 3 : 2] ?? "docs/console");
const VIEWS = ["workers", "routes", "certs", "mail", "dns", "firewall", "http"];

if (!live) {
  const child = spawn(
    process.execPath,
    ["--test", "--test-timeout=300000", resolve(root, "packages/console/dist/e2e")],
    { stdio: "inherit", env: { ...process.env, SWITCHYARD_CONSOLE_SCREENSHOTS: dir } },
  );
  child.on("exit", (code, signal) => {
    if (code === 0) console.error(`screenshots in ${dir}`);
    process.exit(code ?? (signal ? 1 : 0));
  });
} else {
  // playwright-core is the console package's dev dependency.
  const require = createRequire(join(root, "packages/console/package.json"));
  const { chromium } = require("playwright-core");
  const url = process.env.SWITCHYARD_CONSOLE_URL ?? "http://127.0.0.1:10902/console/";
  const tokenFile = process.env.SWITCHYARD_ADMIN_TOKEN_FILE ?? join(root, ".switchyard/admin.token");
  const token = (await readFile(tokenFile, "utf8")).trim();
  await mkdir(dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url);
    await page.fill("#token", token);
    await page.click("#login");
    await page.locator("#console").waitFor({ state: "visible" });
    for (const name of VIEWS) {
      await page.click(`#nav button[data-view="${name}"]`);
      await page.waitForFunction(() => document.getElementById("live")?.dataset.state !== "loading");
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
    }
    console.error(`screenshots of ${url} in ${dir}`);
  } finally {
    await browser.close();
  }
}
