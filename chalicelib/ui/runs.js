// Runs and the rest: one execution, the applications, and the stats page with its fire-lag chart.

import { get } from "./api.js";
import { badge, fieldList, h, mount, ms, pretty, s, when } from "./dom.js";
import { channelsHref } from "./channels.js";
import { keysHref } from "./keys.js";
import { variablesHref } from "./variables.js";

export async function executionDetail(id) {
  const run = await get(`/executions/${id}`);
  const snapshot = run.jobSnapshot || {};
  const request = snapshot.request || {};
  mount(
    h(
      "section",
      {},
      h("div", { class: "title" }, h("h1", {}, `Run ${run.id}`), badge(run.status)),
      fieldList([
        ["Job", h("a", { href: `#/jobs/${run.jobId}` }, snapshot.name || `job ${run.jobId}`)],
        ["Trigger", run.trigger],
        ["Scheduled for", `${when(run.scheduledFor)} (${run.scheduledFor})`],
        ["Started", when(run.startedAt)],
        ["Finished", when(run.finishedAt)],
        ["Lag", ms(run.lagMs)],
        ["Duration", ms(run.durationMs)],
        ["Attempt", String(run.attempt)],
        run.missedSlots ? ["Missed slots", String(run.missedSlots)] : null,
      ]),
      h("h2", {}, "Request"),
      h("p", {}, h("code", { id: "request" }, `${request.method || ""} ${request.url || "(not resolved)"}`)),
      run.error
        ? [
            h("h2", {}, "Error"),
            h("p", { class: "error", id: "run-error" }, h("code", {}, run.error.code), " ", run.error.message),
          ]
        : null,
      run.result
        ? [
            h("h2", {}, "Result"),
            fieldList([["Status", `HTTP ${run.result.status}`]]),
            h("h3", {}, "Headers"),
            pretty(run.result.headers || {}),
            h("h3", {}, "Body"),
            pretty(run.result.data === undefined ? null : run.result.data),
          ]
        : null,
      run.attempts && run.attempts.length > 1
        ? [
            h("h2", {}, "Attempts"),
            h(
              "table",
              { class: "list" },
              h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Error"))),
              h(
                "tbody",
                {},
                run.attempts.map((attempt) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, when(attempt.at)),
                    h("td", {}, attempt.error ? `${attempt.error.code}: ${attempt.error.message}` : "—"),
                  ),
                ),
              ),
            ),
          ]
        : null,
      h("h2", {}, "Job as it ran"),
      h("p", { class: "muted" }, "Secrets are masked."),
      pretty(snapshot),
    ),
  );
}

export async function applicationList() {
  const apps = await get("/applications", { limit: 200 });
  mount(
    h(
      "section",
      {},
      h("h1", {}, "Applications"),
      h(
        "table",
        { class: "list", id: "applications" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Name", "Display name", "Id", ""].map((t) => h("th", {}, t)),
          ),
        ),
        h(
          "tbody",
          {},
          apps.map((app) =>
            h(
              "tr",
              {},
              h("td", {}, h("code", {}, app.name)),
              h("td", {}, app.displayName),
              h("td", {}, app.id),
              h(
                "td",
                { class: "row-actions" },
                h("a", { href: `#/jobs?app=${app.id}` }, "Jobs"),
                h("a", { href: variablesHref(app.id) }, "Variables"),
                h("a", { href: keysHref(app.id) }, "Signing keys"),
                h("a", { href: channelsHref(app.id) }, "Alert channels"),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function queueSizes(queue) {
  return `${queue.ready} ready, ${queue.inFlight} running, ${queue.delayed} upcoming`;
}

function lastTick(engine) {
  return `${when(engine.lastTickAt)}, ${engine.lastTickDispatched} dispatched in ${engine.lastTickDurationMs} ms`;
}

export async function statsPage() {
  const [stats, runs] = await Promise.all([get("/stats"), get("/executions", { limit: 200 })]);
  const counts = stats.executions.last24h;
  const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
  const lag = stats.engine.fireLagMs;
  mount(
    h(
      "section",
      {},
      h("h1", {}, "Stats"),
      h(
        "div",
        { class: "cards" },
        card("Jobs", `${stats.jobs.enabled} enabled of ${stats.jobs.total}`),
        card("Queue", stats.engine.queue ? queueSizes(stats.engine.queue) : "admins only"),
        card("Fire lag", lag.samples ? `p50 ${lag.p50} ms · p95 ${lag.p95} ms · p99 ${lag.p99} ms` : "no runs yet"),
        card("Last tick", stats.engine.lastTickAt ? lastTick(stats.engine) : "none yet"),
        card("Backlog", stats.engine.queue ? String(stats.engine.queue.ready) : "admins only"),
      ),
      h("h2", {}, "Runs in the last 24 hours"),
      h(
        "table",
        { class: "list", id: "by-status" },
        h(
          "tbody",
          {},
          Object.entries(counts).map(([status, count]) =>
            h(
              "tr",
              {},
              h("td", {}, badge(status)),
              h("td", { class: "num" }, count),
              h(
                "td",
                { class: "bar-cell" },
                s(
                  "svg",
                  { width: 200, height: 12, viewBox: "0 0 200 12", role: "img", "aria-label": `${count} ${status}` },
                  s("rect", {
                    x: 0,
                    y: 1,
                    width: Math.max(count ? 2 : 0, Math.round((200 * count) / total)),
                    height: 10,
                    class: `bar st-${status}`,
                  }),
                ),
              ),
            ),
          ),
        ),
      ),
      h("h2", {}, "Fire lag of recent scheduled runs"),
      lagChart(
        runs.filter((run) => run.trigger === "schedule" && run.lagMs !== undefined && run.lagMs !== null).reverse(),
      ),
    ),
  );
}

function card(title, text) {
  return h("div", { class: "card stat" }, h("div", { class: "muted" }, title), h("div", { class: "big" }, text));
}

// One bar per run, oldest on the left; drawn with SVG attributes only (the CSP allows no inline style).
function lagChart(runs) {
  if (!runs.length) return h("p", { class: "muted", id: "lag-chart" }, "No scheduled runs yet.");
  const width = 720,
    height = 220,
    left = 48,
    bottom = 24,
    top = 8;
  const most = Math.max(100, ...runs.map((run) => run.lagMs));
  const scale = (height - bottom - top) / most;
  const step = (width - left) / runs.length;
  const ticks = [0, Math.round(most / 2), most];
  return s(
    "svg",
    {
      id: "lag-chart",
      class: "chart",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `fire lag of ${runs.length} runs, at most ${most} ms`,
    },
    ticks.map((tick) => {
      const y = height - bottom - tick * scale;
      return [
        s("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }),
        s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, `${tick} ms`),
      ];
    }),
    runs.map((run, index) => {
      const barHeight = Math.max(1, run.lagMs * scale);
      return s(
        "rect",
        {
          x: left + index * step + 1,
          y: height - bottom - barHeight,
          width: Math.max(1, step - 2),
          height: barHeight,
          class: `bar st-${run.status}`,
        },
        s("title", {}, `${run.scheduledFor}: ${run.lagMs} ms (${run.status})`),
      );
    }),
    s("text", { x: left, y: height - 6, class: "axis" }, when(runs[0].scheduledFor)),
    s(
      "text",
      { x: width, y: height - 6, "text-anchor": "end", class: "axis" },
      when(runs[runs.length - 1].scheduledFor),
    ),
  );
}
