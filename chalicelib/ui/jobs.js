// Jobs: the list, one job with its runs, and the create/edit form with a live cron preview.

import { ApiError, del, get, page, post, put } from "./api.js";
import { badge, bothTimes, clearErrors, failure, fieldList, go, h, input, mount, ms, showErrors, when } from "./dom.js";
import { channelsHref } from "./channels.js";
import { backfillPanel, pauseForm, pausedNote, windowFields, windowOf, windowText } from "./controls.js";
import { keysHref } from "./keys.js";
import { missing, references, usedVariables, variablesHref, variablesOf } from "./variables.js";

const AUTH_FIELDS = { bearer: ["token"], basic: ["username", "password"], apiKey: ["headerName", "key"] };

async function applications() {
  const apps = await get("/applications", { limit: 200 });
  return new Map(apps.map((app) => [app.id, app]));
}

// --- list ---------------------------------------------------------------------------------------

export async function jobList(params) {
  const apps = await applications();
  const query = {
    applicationId: params.get("app") || undefined,
    name: params.get("name") || undefined,
    enabled: params.get("enabled") || undefined,
    health: params.get("health") || undefined,
    cursor: params.get("cursor") || undefined,
    limit: 20,
    include: "lastRun",
  };
  const { data: jobs, next } = await page("/jobs", query);
  const filters = h(
    "form",
    { class: "filters", id: "job-filters" },
    h(
      "label",
      {},
      "Application ",
      h(
        "select",
        { name: "app" },
        h("option", { value: "" }, "All"),
        [...apps.values()].map((app) =>
          h("option", { value: app.id, selected: String(app.id) === params.get("app") }, app.displayName || app.name),
        ),
      ),
    ),
    h(
      "label",
      {},
      "Name ",
      h("input", { name: "name", type: "search", value: params.get("name") || "", placeholder: "starts with…" }),
    ),
    h(
      "label",
      {},
      "State ",
      h(
        "select",
        { name: "enabled" },
        [
          ["", "Any"],
          ["true", "Enabled"],
          ["false", "Disabled"],
        ].map(([value, label]) => h("option", { value, selected: value === (params.get("enabled") || "") }, label)),
      ),
    ),
    h(
      "label",
      {},
      "Health ",
      h(
        "select",
        { name: "health" },
        ["", "ok", "failing", "late", "unknown"].map((value) =>
          h("option", { value, selected: value === (params.get("health") || "") }, value || "Any"),
        ),
      ),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(filters);
    const next = new URLSearchParams([...form.entries()].filter(([, value]) => value));
    go(`#/jobs?${next}`);
  });
  const rows = jobs.map((job) => {
    const run = job.lastRun;
    const last = h(
      "td",
      { class: "last-run" },
      run
        ? h("a", { href: `#/executions/${run.id}` }, badge(run.status), " ", when(run.scheduledFor))
        : h("span", { class: "muted" }, "never"),
    );
    return h(
      "tr",
      { "data-job": job.id },
      h("td", {}, h("a", { href: `#/jobs/${job.id}` }, job.name)),
      h("td", {}, job.application.displayName || job.application.name),
      h("td", {}, badge(job.status)),
      h("td", { class: "health" }, badge(job.health.state)),
      h("td", {}, h("code", {}, job.pattern || job.runAt || "")),
      h("td", {}, bothTimes(job.nextRunAt, job.timezone)),
      last,
    );
  });
  const more = new URLSearchParams(params);
  if (next) more.set("cursor", next);
  const first = new URLSearchParams(params);
  first.delete("cursor");
  mount(
    h(
      "section",
      {},
      h("div", { class: "title" }, h("h1", {}, "Jobs"), h("a", { class: "button", href: "#/jobs/new" }, "New job")),
      filters,
      jobs.length
        ? h(
            "table",
            { class: "list", id: "jobs" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Name", "Application", "Status", "Health", "Schedule", "Next run", "Last run"].map((t) =>
                  h("th", {}, t),
                ),
              ),
            ),
            h("tbody", {}, rows),
          )
        : h("p", { class: "muted" }, "No jobs match."),
      h(
        "nav",
        { class: "pager" },
        params.get("cursor") ? h("a", { href: `#/jobs?${first}` }, "First page") : null,
        next ? h("a", { href: `#/jobs?${more}`, rel: "next" }, "Next page") : null,
      ),
    ),
  );
}

function retries(policy) {
  const { initialSeconds, maxSeconds } = policy.backoff;
  return `${policy.maxAttempts} attempts, backoff ${initialSeconds}–${maxSeconds} s`;
}

// --- one job ------------------------------------------------------------------------------------

function target(config) {
  const where = config.url || `${config.endpoint || ""}${config.path || "/"}`;
  return h("code", {}, `${config.method || "GET"} ${where}`);
}

export async function jobDetail(id, params) {
  const job = await get(`/jobs/${id}`);
  const app = job.application;
  const described = job.pattern ? h("span", { class: "muted", id: "described" }) : null;
  if (job.pattern) {
    post("/cron/preview", { pattern: job.pattern, timezone: job.timezone, count: 1 })
      .then((preview) => described.append(` — ${preview.description}`))
      .catch(() => {});
  }
  const notice = h("div", { id: "notice" });
  const act = async (label, work) => {
    try {
      await work();
      go(`#/jobs/${id}`);
    } catch (error) {
      notice.replaceChildren(failure(error));
    }
  };
  const pause = pauseForm(job, () => go(`#/jobs/${id}`));
  const actions = h(
    "div",
    { class: "actions" },
    h("a", { class: "button", href: `#/jobs/${id}/edit` }, "Edit"),
    job.enabled
      ? h(
          "button",
          { type: "button", id: "disable", onclick: () => act("disable", () => post(`/jobs/${id}/disable`)) },
          "Disable",
        )
      : h(
          "button",
          { type: "button", id: "enable", onclick: () => act("enable", () => post(`/jobs/${id}/enable`)) },
          "Enable",
        ),
    h("button", { type: "button", id: "pause", onclick: () => (pause.hidden = !pause.hidden) }, "Pause until…"),
    h(
      "button",
      {
        type: "button",
        id: "trigger",
        onclick: () => {
          if (confirm(`Run "${job.name}" now?`)) act("trigger", () => post(`/jobs/${id}/trigger`));
        },
      },
      "Run now",
    ),
    h(
      "button",
      {
        type: "button",
        id: "delete",
        class: "danger",
        onclick: async () => {
          if (!confirm(`Delete "${job.name}"? Its run history stays readable.`)) return;
          try {
            await del(`/jobs/${id}`);
            go("#/jobs");
          } catch (error) {
            notice.replaceChildren(failure(error));
          }
        },
      },
      "Delete",
    ),
  );
  const names = job.variables || []; // named by the server: masked places (auth, credential headers) included
  const used = h("div", { id: "job-variables" }, usedVariables(app.id, names, null));
  if (names.length) {
    variablesOf(app.id)
      .then((variables) => used.replaceChildren(usedVariables(app.id, names, variables)))
      .catch(() => {});
  }
  const runs = h("div", { id: "runs" });
  mount(
    h(
      "section",
      {},
      h("div", { class: "title" }, h("h1", { id: "job-name" }, job.name), badge(job.status)),
      job.description ? h("p", {}, job.description) : null,
      pausedNote(job),
      actions,
      pause,
      notice,
      fieldList([
        [
          "Application",
          h(
            "span",
            {},
            h("a", { href: `#/jobs?app=${app.id}` }, app.displayName || app.name),
            " · ",
            h("a", { href: variablesHref(app.id) }, "variables"),
            " · ",
            h("a", { href: keysHref(app.id) }, "signing keys"),
            " · ",
            h("a", { href: channelsHref(app.id) }, "alert channels"),
          ),
        ],
        ["Health", h("span", { id: "health" }, badge(job.health.state), " ", health(job.health))],
        ["Alerts", h("span", { id: "alerts" }, alertRule(job.alerts))],
        ["Schedule", h("span", {}, h("code", {}, job.pattern || job.runAt), described)],
        ["Time zone", job.timezone],
        job.pattern ? ["Active", h("span", { id: "window" }, windowText(job))] : null,
        [
          "Jitter",
          h("span", { id: "jitter" }, job.jitterSeconds ? `up to ${job.jitterSeconds} s after each slot` : "none"),
        ],
        ["Next run", bothTimes(job.nextRunAt, job.timezone)],
        ["Target", target(job.taskConfig)],
        names.length ? ["Variables", used] : null,
        ["Timeout", ms(job.taskConfig.timeout)],
        ["Signed", h("span", { id: "signed" }, job.taskConfig.sign === false ? "no" : "yes, with its signing keys")],
        ["Success when", h("span", { id: "success" }, criteria(job.taskConfig.expect))],
        ["Retries", retries(job.retryPolicy)],
        ["Missed slots", job.misfirePolicy],
        ["Overlap", job.concurrencyPolicy],
        ["Created", `${when(job.createdAt)} by ${job.createdBy || "—"}`],
        ["Updated", `${when(job.updatedAt)} by ${job.updatedBy || "—"}`],
      ]),
      job.upcoming && job.upcoming.length ? [h("h2", {}, "Upcoming"), upcoming(job)] : null,
      h("h2", {}, "Runs"),
      runs,
      job.pattern ? backfillPanel(job, params.get("backfill"), () => runHistory(id, runs).catch(() => {})) : null,
    ),
  );
  await runHistory(id, runs, params.get("before") || undefined);
}

function health(state) {
  const failed = state.consecutiveFailures
    ? `${state.consecutiveFailures} failed in a row since ${when(state.since)}; `
    : "";
  return `${failed}last success ${state.lastSuccessAt ? when(state.lastSuccessAt) : "not among its last runs"}`;
}

function alertRule(rule) {
  if (!rule) return "none";
  const late = rule.lateAfterSeconds
    ? `; late when a run has not started ${rule.lateAfterSeconds} s after its time`
    : "";
  return `after ${rule.afterFailures} failed run(s) in a row${late}`;
}

// A job's success criteria in words; without any, a run succeeds on any 2xx.
function criteria(expect) {
  const { status, bodyContains, json } = expect || {};
  return [
    `HTTP ${(status || ["2xx"]).join(" or ")}`,
    bodyContains && `the body contains “${bodyContains}”`,
    json && `the JSON at ${json.pointer || "its root"} equals ${JSON.stringify(json.equals ?? null)}`,
  ]
    .filter(Boolean)
    .join(", and ");
}

// The next slots come from the schedule itself (nothing is stored for a run before it starts).
function upcoming(job) {
  return h(
    "table",
    { class: "list", id: "upcoming" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["In the job's zone", "UTC"].map((t) => h("th", {}, t)),
      ),
    ),
    h(
      "tbody",
      {},
      job.upcoming.map((slot) => h("tr", {}, h("td", {}, slot.local), h("td", {}, when(slot.at)))),
    ),
  );
}

async function runHistory(jobId, container, cursor) {
  const { data: runs, next } = await page(`/jobs/${jobId}/executions`, { limit: 20, cursor });
  const table = runs.length
    ? h(
        "table",
        { class: "list", id: "run-history" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Scheduled for", "Status", "Trigger", "Attempt", "Lag", "Duration", "Outcome"].map((t) => h("th", {}, t)),
          ),
        ),
        h(
          "tbody",
          {},
          runs.map((run) =>
            h(
              "tr",
              { "data-run": run.id, class: `row-${run.status}` },
              h("td", {}, h("a", { href: `#/executions/${run.id}` }, when(run.scheduledFor))),
              h("td", {}, badge(run.status)),
              h("td", {}, run.trigger),
              h("td", {}, run.attempt),
              h("td", {}, ms(run.lagMs)),
              h("td", {}, ms(run.durationMs)),
              h("td", {}, run.error ? h("code", {}, run.error.code) : run.result ? `HTTP ${run.result.status}` : ""),
            ),
          ),
        ),
      )
    : h("p", { class: "muted" }, "No runs yet.");
  const older = next
    ? [h("button", { type: "button", class: "quiet", onclick: () => runHistory(jobId, container, next) }, "Older runs")]
    : [];
  container.replaceChildren(table, ...older);
  if (runs.some((run) => run.status === "pending" || run.status === "running")) {
    const here = location.hash;
    setTimeout(() => {
      if (location.hash === here && document.body.contains(container))
        runHistory(jobId, container, cursor).catch(() => {});
    }, 1000);
  }
}

// --- create and edit ----------------------------------------------------------------------------

function jsonOrNull(text, field) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, {
      error: {
        code: "VALIDATION_ERROR",
        message: `${field}: not valid JSON`,
        details: [{ field, message: "is not valid JSON" }],
      },
    });
  }
}

export async function jobForm(id) {
  const job = id ? await get(`/jobs/${id}`) : null;
  const apps = [...(await applications()).values()];
  const config = job ? job.taskConfig : { method: "GET", timeout: 30000 };
  const retry = job ? job.retryPolicy : { maxAttempts: 3, backoff: { initialSeconds: 2, maxSeconds: 300 } };
  const auth = config.auth || {};
  const want = config.expect || {};
  const rule = want.json;
  const url = config.url || (config.endpoint ? `${config.endpoint}${config.path || "/"}` : "");
  const preview = h("div", { class: "preview", id: "cron-preview" });
  const refs = h("div", { class: "field", id: "variable-refs" });
  const zones = h(
    "datalist",
    { id: "zones" },
    (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]).map((zone) => h("option", { value: zone })),
  );
  const form = h(
    "form",
    { class: "card", id: "job-form", novalidate: true },
    h("h1", {}, job ? `Edit ${job.name}` : "New job"),
    job
      ? null
      : input("applicationId", "Application", {
          tag: "select",
          options: apps.map((app) => [String(app.id), app.displayName || app.name]),
          value: "",
        }),
    input("name", "Name", { value: job ? job.name : "", required: true, maxlength: 128 }),
    input("description", "Description", { value: job ? job.description || "" : "" }),
    h(
      "fieldset",
      {},
      h("legend", {}, "When"),
      input(
        "pattern",
        "Cron pattern",
        { value: job ? job.pattern || "" : "", placeholder: "0 2 * * 1-5", autocomplete: "off" },
        "5 fields (minute hour day month weekday), or 6 with seconds first. Leave empty for a one-off run.",
      ),
      preview,
      input(
        "runAt",
        "Or one run at",
        { value: job ? job.runAt || "" : "", placeholder: "2026-12-24T18:00:00Z" },
        "ISO 8601 with an offset",
      ),
      input("timezone", "Time zone", { value: job ? job.timezone : "UTC", list: "zones" }),
      zones,
      windowFields(job),
      input("enabled", "Enabled", { type: "checkbox", checked: job ? job.enabled : true }),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "What"),
      input("taskConfig.method", "Method", {
        tag: "select",
        value: config.method || "GET",
        options: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].map((m) => [m, m]),
      }),
      input("taskConfig.url", "URL", {
        value: url,
        placeholder: "https://api.example.com/sync?since=${T-1d:YYYY-MM-DD}",
        required: true,
      }),
      input("taskConfig.headers", "Headers (JSON object)", { tag: "textarea", value: null }),
      input("taskConfig.body", "Body (JSON)", { tag: "textarea" }),
      input("taskConfig.timeout", "Timeout (ms)", {
        type: "number",
        value: config.timeout || 30000,
        min: 1000,
        max: 900000,
      }),
      input("taskConfig.auth.authMethod", "Auth", {
        tag: "select",
        value: auth.authMethod || "",
        options: [
          ["", "None"],
          ["bearer", "Bearer token"],
          ["basic", "Basic"],
          ["apiKey", "API key header"],
        ],
      }),
      input("taskConfig.auth.token", "Bearer token", {
        type: "password",
        value: auth.token || "",
        autocomplete: "off",
      }),
      input("taskConfig.auth.username", "Username", { value: auth.username || "" }),
      input("taskConfig.auth.password", "Password", {
        type: "password",
        value: auth.password || "",
        autocomplete: "off",
      }),
      input("taskConfig.auth.headerName", "Header name", { value: auth.headerName || "" }),
      input("taskConfig.auth.key", "Key", { type: "password", value: auth.key || "", autocomplete: "off" }),
      refs,
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Signature and success"),
      input(
        "taskConfig.sign",
        "Sign requests",
        { type: "checkbox", checked: config.sign !== false },
        "webhook-id, webhook-timestamp and webhook-signature headers, signed with the application's keys",
      ),
      input(
        "taskConfig.expect.status",
        "Success statuses",
        { value: (want.status || []).join(", "), placeholder: "2xx, 304" },
        "Codes and classes (1xx to 5xx), comma separated. Empty: 2xx.",
      ),
      input("taskConfig.expect.bodyContains", "Body contains", { value: want.bodyContains || "", maxlength: 256 }),
      input(
        "taskConfig.expect.json.pointer",
        "JSON pointer",
        { value: rule ? rule.pointer : "", placeholder: "/status" },
        "RFC 6901; empty: the whole body",
      ),
      input(
        "taskConfig.expect.json.equals",
        "Equals",
        { value: rule ? JSON.stringify(rule.equals ?? null) : "", placeholder: '"ok"' },
        "JSON; other text is taken as a string",
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Policies"),
      input("retryPolicy.maxAttempts", "Attempts", { type: "number", value: retry.maxAttempts, min: 1, max: 10 }),
      input("retryPolicy.backoff.initialSeconds", "First retry within (s)", {
        type: "number",
        value: retry.backoff.initialSeconds,
        min: 1,
        max: 900,
      }),
      input("retryPolicy.backoff.maxSeconds", "Longest wait (s)", {
        type: "number",
        value: retry.backoff.maxSeconds,
        min: 1,
        max: 900,
      }),
      input("misfirePolicy", "Missed slots", {
        tag: "select",
        value: job ? job.misfirePolicy : "fire_once",
        options: [
          ["fire_once", "Run once now"],
          ["skip", "Skip them"],
        ],
      }),
      input(
        "alerts.afterFailures",
        "Alert after failed runs in a row",
        { type: "number", value: job && job.alerts ? job.alerts.afterFailures : "", min: 1, max: 100 },
        "Empty: no alerts. Alerts go to the application's channels.",
      ),
      input("alerts.lateAfterSeconds", "Alert when a run has not started after (s)", {
        type: "number",
        value: job && job.alerts ? job.alerts.lateAfterSeconds || "" : "",
        min: 10,
        max: 86400,
      }),
      input("concurrencyPolicy", "Overlap", {
        tag: "select",
        value: job ? job.concurrencyPolicy : "allow",
        options: [
          ["allow", "Allow"],
          ["forbid", "Skip a slot while the last run is in flight"],
        ],
      }),
    ),
    h("div", { class: "form-error", role: "alert" }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, job ? "Save" : "Create"),
      h("a", { href: job ? `#/jobs/${id}` : "#/jobs" }, "Cancel"),
    ),
  );
  form.querySelector("[name='taskConfig.headers']").value = config.headers
    ? JSON.stringify(config.headers, null, 2)
    : "";
  form.querySelector("[name='taskConfig.body']").value =
    config.body !== undefined && config.body !== null ? JSON.stringify(config.body, null, 2) : "";
  const authFields = () => {
    const method = form.elements["taskConfig.auth.authMethod"].value;
    const shown = AUTH_FIELDS[method] || [];
    for (const name of ["token", "username", "password", "headerName", "key"]) {
      form.querySelector(`[data-field='taskConfig.auth.${name}']`).hidden = !shown.includes(name);
    }
  };
  form.elements["taskConfig.auth.authMethod"].addEventListener("change", authFields);
  authFields();
  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => showPreview(form, preview), 250);
  };
  form.elements.pattern.addEventListener("input", refresh);
  for (const name of ["timezone", "startAt", "endAt"]) form.elements[name].addEventListener("input", refresh);
  if (form.elements.pattern.value) showPreview(form, preview);
  watchVariables(form, refs, job);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const body = collect(form, job);
      const saved = job ? await put(`/jobs/${id}`, body) : await post("/jobs", body);
      go(`#/jobs/${saved.id}`);
    } catch (error) {
      showErrors(form, error);
    }
  });
  mount(form);
}

async function showPreview(form, target) {
  const pattern = form.elements.pattern.value.trim();
  const slot = (name) => form.querySelector(`[data-field='${name}'] .field-error`);
  const named = ["pattern", "timezone", "startAt", "endAt"];
  for (const name of named) slot(name).textContent = "";
  if (!pattern) return target.replaceChildren();
  const { startAt, endAt } = windowOf(form, null);
  try {
    const preview = await post("/cron/preview", {
      pattern,
      timezone: form.elements.timezone.value.trim() || "UTC",
      count: 5,
      ...(startAt && { startAt }),
      ...(endAt && { endAt }),
    });
    target.replaceChildren(
      h("strong", { class: "described" }, preview.description),
      h(
        "ol",
        { class: "next-runs" },
        preview.next.map((at) => h("li", {}, at)),
      ),
    );
  } catch (error) {
    target.replaceChildren();
    const detail = (error.details || []).find((d) => named.includes(d.field));
    slot(detail ? detail.field : "pattern").textContent = detail ? detail.message : error.message;
  }
}

// Which variables the request uses, as the user types; a name the application lacks is warned about before
// the API refuses the job. The application's variables are read again when the user comes back to this tab.
function watchVariables(form, target, job) {
  const cache = new Map();
  let timer = null;
  let shown = 0;
  const appId = () => (job ? job.application.id : Number(value(form, "applicationId")));
  const appName = () => {
    if (job) return job.application.displayName || job.application.name;
    const select = form.elements.applicationId;
    return select.selectedOptions.length ? select.selectedOptions[0].textContent : "";
  };
  const check = async () => {
    const id = appId();
    const names = references(typedConfig(form));
    const turn = ++shown;
    if (!names.length || !id) return target.replaceChildren();
    const known = cache.get(id) || variablesOf(id).catch(() => null); // null: unknown, nothing to warn about
    cache.set(id, known);
    const variables = await known;
    if (turn !== shown) return;
    const absent = missing(names, variables);
    target.replaceChildren(
      h("span", { class: "label" }, "Variables it uses"),
      usedVariables(id, names, variables, true),
      absent.length
        ? h(
            "p",
            { class: "warning", id: "missing-variables", role: "status" },
            `${appName()} has no variable ${absent.join(", ")}, so saving will be refused. Add `,
            absent.length > 1 ? "them" : "it",
            " first on its ",
            h("a", { href: variablesHref(id, absent[0]), target: "_blank", rel: "noopener" }, "variables page"),
            ".",
          )
        : null,
    );
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  const again = () => {
    if (!document.body.contains(form)) return window.removeEventListener("focus", again);
    cache.clear();
    check();
  };
  window.addEventListener("focus", again);
  check();
}

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// The request as typed: headers and body as JSON when they parse (only values are read), else as text.
function typedConfig(form) {
  const loose = (name) => parsed(value(form, name));
  const auth = AUTH_FIELDS[value(form, "taskConfig.auth.authMethod")] || [];
  return [
    value(form, "taskConfig.url"),
    loose("taskConfig.headers"),
    loose("taskConfig.body"),
    auth.map((name) => value(form, `taskConfig.auth.${name}`)),
  ];
}

function value(form, name) {
  return form.elements[name] ? form.elements[name].value.trim() : "";
}

function collect(form, job) {
  const number = (name) => Number(value(form, name));
  const config = {
    method: value(form, "taskConfig.method"),
    url: value(form, "taskConfig.url") || null,
    headers: jsonOrNull(value(form, "taskConfig.headers"), "taskConfig.headers"),
    body: jsonOrNull(value(form, "taskConfig.body"), "taskConfig.body"),
    timeout: number("taskConfig.timeout"),
  };
  config.sign = form.elements["taskConfig.sign"].checked;
  config.expect = expectation(form);
  if (job && job.taskConfig.endpoint) Object.assign(config, { endpoint: null, path: null });
  const method = value(form, "taskConfig.auth.authMethod");
  const pick = AUTH_FIELDS[method];
  config.auth = pick
    ? Object.fromEntries([
        ["authMethod", method],
        ...pick.map((name) => [name, value(form, `taskConfig.auth.${name}`)]),
      ])
    : null;
  const body = {
    name: value(form, "name"),
    description: value(form, "description") || null,
    pattern: value(form, "pattern") || null,
    runAt: value(form, "runAt") || null,
    timezone: value(form, "timezone") || "UTC",
    enabled: form.elements.enabled.checked,
    taskConfig: config,
    retryPolicy: {
      maxAttempts: number("retryPolicy.maxAttempts"),
      backoff: {
        initialSeconds: number("retryPolicy.backoff.initialSeconds"),
        maxSeconds: number("retryPolicy.backoff.maxSeconds"),
      },
    },
    misfirePolicy: value(form, "misfirePolicy"),
    concurrencyPolicy: value(form, "concurrencyPolicy"),
    alerts: alerting(form),
    ...windowOf(form, job),
  };
  if (!job) {
    body.applicationId = Number(value(form, "applicationId"));
    for (const key of ["description", "pattern", "runAt", "alerts", "jitterSeconds", "startAt", "endAt"])
      if (body[key] === null) delete body[key];
    for (const key of ["headers", "body", "auth", "expect"]) if (config[key] === null) delete config[key];
  }
  return body;
}

// The alerts rule as typed: none when both fields are empty.
function alerting(form) {
  const [after, late] = [value(form, "alerts.afterFailures"), value(form, "alerts.lateAfterSeconds")];
  return after || late ? { afterFailures: Number(after || 1), lateAfterSeconds: late ? Number(late) : null } : null;
}

// The success criteria as typed: "2xx, 304" is ["2xx", 304]; `equals` is JSON, or else the text itself.
function expectation(form) {
  const field = (name) => value(form, `taskConfig.expect.${name}`);
  const status = field("status")
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((code) => (/^\d+$/.test(code) ? Number(code) : code.toLowerCase()));
  const [pointer, equals] = [field("json.pointer"), field("json.equals")];
  const expect = {
    status: status.length ? status : undefined,
    bodyContains: field("bodyContains") || undefined,
    json: pointer || equals ? { pointer, equals: equals ? parsed(equals) : null } : undefined,
  };
  return Object.values(expect).some(Boolean) ? expect : null;
}
