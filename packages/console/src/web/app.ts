/** The console page: login, the view tabs, polling every 2 s, and the actions' confirm-and-report. */
import { ApiError, action, loggedIn, login, logout, view, whenLoggedOut } from "./api.js";
import { renderChart, type StatsSample } from "./chart.js";
import { h } from "./dom.js";
import type { View, ViewContext } from "./view.js";
import { certsView } from "./views/certs.js";
import { dnsView } from "./views/dns.js";
import { firewallView } from "./views/firewall.js";
import { httpView } from "./views/http.js";
import { mailView } from "./views/mail.js";
import { routesView } from "./views/routes.js";
import { workersView } from "./views/workers.js";

const POLL_MS = 2000;
const VIEWS = [
  workersView,
  routesView,
  certsView,
  mailView,
  dnsView,
  firewallView,
  httpView,
] as View<never>[];

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let current: View<never> = workersView as View<never>;
let generation = 0;

const ctx: ViewContext = {
  act(question, name, body = {}) {
    if (!window.confirm(question)) return;
    const result = byId("result");
    result.className = "pending";
    result.textContent = `${name}…`;
    action(name, body).then(
      (message) => {
        result.className = "ok";
        result.textContent = message;
        void refresh();
      },
      (error: unknown) => {
        result.className = "error";
        result.textContent = error instanceof ApiError ? `${error.status}: ${error.message}` : String(error);
      },
    );
  },
};

async function refresh(): Promise<void> {
  const live = byId("live");
  try {
    const data = await view<never>(current.name);
    live.replaceChildren(current.render(data, ctx));
    live.dataset.state = "ok";
  } catch (error) {
    if (!loggedIn()) return;
    const message =
      error instanceof ApiError && error.status === 503
        ? `unavailable — ${error.message}`
        : String((error as Error).message);
    live.replaceChildren(h("p", { class: "error unavailable" }, `${current.title}: ${message}`));
    live.dataset.state = "error";
  }
  try {
    const { samples } = await view<{ samples: StatsSample[] }>("chart");
    byId("chart").replaceChildren(renderChart(samples));
  } catch {
    // The edge is down: the view above says so.
  }
  byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function poll(own: number): Promise<void> {
  while (own === generation && loggedIn()) {
    await refresh();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function show(next: View<never>): void {
  current = next;
  generation += 1;
  for (const tab of document.querySelectorAll<HTMLButtonElement>("#nav button")) {
    tab.setAttribute("aria-current", String(tab.dataset.view === next.name));
  }
  byId("view-title").textContent = next.title;
  byId("controls").replaceChildren(...(next.controls ? [next.controls(ctx)] : []));
  byId("live").replaceChildren(h("p", { class: "empty" }, "loading…"));
  byId("live").dataset.state = "loading";
  void poll(generation);
}

function showLogin(message = ""): void {
  generation += 1;
  byId("console").hidden = true;
  byId("nav").hidden = true;
  byId("logout").hidden = true;
  byId("login-form").hidden = false;
  byId("login-error").textContent = message;
}

function start(): void {
  byId("nav").replaceChildren(
    ...VIEWS.map((v) =>
      h("button", { type: "button", "data-view": v.name, onclick: () => show(v) }, v.title),
    ),
  );
  whenLoggedOut(() => showLogin("the session ended: log in again"));
  byId("logout").addEventListener("click", () => void logout().then(() => showLogin()));
  byId("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>("token");
    login(input.value).then(
      () => {
        input.value = "";
        byId("login-form").hidden = true;
        byId("console").hidden = false;
        byId("nav").hidden = false;
        byId("logout").hidden = false;
        show(current);
      },
      (error: unknown) => {
        byId("login-error").textContent =
          error instanceof ApiError ? `${error.status}: ${error.message}` : String(error);
      },
    );
  });
}

start();
