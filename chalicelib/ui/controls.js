// Scheduling controls: a job's jitter and active window (in its form), pause until a time, and backfills.

import { del, get, post } from "./api.js";
import { badge, clearErrors, fieldList, h, input, showErrors, viewerZone, when } from "./dom.js";

// datetime-local inputs speak the viewer's zone, the API UTC.
export function localTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  at.setMinutes(at.getMinutes() - at.getTimezoneOffset());
  return at.toISOString().slice(0, 16);
}

export const utc = (text) => (text ? new Date(text).toISOString() : null);
const yourTime = (rest) => `In your time (${viewerZone()}). ${rest}`;

function timeInput(name, label, value, hint) {
  return input(name, label, { type: "datetime-local", value: localTime(value) }, hint && yourTime(hint));
}

export function windowFields(job) {
  return [
    input(
      "jitterSeconds",
      "Jitter (s)",
      { type: "number", value: job ? (job.jitterSeconds ?? "") : "", min: 0, max: 3600 },
      "Each scheduled run starts up to this many seconds after its slot. Empty: none.",
    ),
    timeInput("startAt", "Start at", job && job.startAt, "No run before it. Empty: none."),
    timeInput("endAt", "End at", job && job.endAt, "No run at or after it. Empty: none."),
  ];
}

// The window as typed; a time left as loaded keeps its exact value (the input drops seconds).
export function windowOf(form, job) {
  const at = (name) => {
    const text = form.elements[name].value;
    return job && text === localTime(job[name]) ? (job[name] ?? null) : utc(text);
  };
  const jitter = form.elements.jitterSeconds.value.trim();
  return { jitterSeconds: jitter ? Number(jitter) : null, startAt: at("startAt"), endAt: at("endAt") };
}

export function windowText(job) {
  const parts = [job.startAt && `from ${when(job.startAt)}`, job.endAt && `until ${when(job.endAt)}`];
  return parts.filter(Boolean).join(" ") || "always";
}

export function pausedNote(job) {
  if (!job.pausedUntil) return null;
  const reason = job.pausedReason ? ` — ${job.pausedReason}` : "";
  return h("p", { class: "warning", id: "paused" }, `Paused until ${when(job.pausedUntil)}${reason}`);
}

function smallForm(id, fields, submit, send) {
  const form = h(
    "form",
    { class: "card", id, novalidate: true },
    fields,
    h("div", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, submit)),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await send(form.elements);
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

// Hidden until its button is pressed; an empty `until` goes as "" so the API names the field.
export function pauseForm(job, done) {
  const fields = [
    timeInput("until", "Pause until", null, "It resumes by itself then."),
    input("reason", "Reason", { maxlength: 500 }),
  ];
  const form = smallForm("pause-form", fields, "Pause", async ({ until, reason }) => {
    const body = { until: utc(until.value) ?? "" };
    if (reason.value.trim()) body.reason = reason.value.trim();
    await post(`/jobs/${job.id}/disable`, body);
    done();
  });
  form.hidden = true;
  return form;
}

// --- backfill -----------------------------------------------------------------------------------

const COUNTS = ["total", "queued", "running", "succeeded", "failed", "skipped", "cancelled"];

// `shown` (a backfill id from the address) is picked up again after a reload; `changed` reloads the run history.
export function backfillPanel(job, shown, changed) {
  const box = h("div", { id: "backfill" });
  const fields = [
    timeInput("from", "From", null, "One run per past slot in [from, to)."),
    timeInput("to", "To (exclusive)", null, "Not in the future."),
    input("perMinute", "Per minute", { type: "number", value: 60, min: 1, max: 600 }),
    input("maxRuns", "At most (runs)", { type: "number", value: 100, min: 1, max: 1000 }),
  ];
  const form = smallForm("backfill-form", fields, "Backfill", async ({ from, to, perMinute, maxRuns }) => {
    const body = { from: utc(from.value) ?? "", to: utc(to.value) ?? "" };
    if (perMinute.value) body.perMinute = Number(perMinute.value);
    if (maxRuns.value) body.maxRuns = Number(maxRuns.value);
    const backfill = await post(`/jobs/${job.id}/backfill`, body);
    history.replaceState(null, "", `#/jobs/${job.id}?backfill=${backfill.id}`);
    watch(backfill, box, changed);
  });
  if (shown)
    get(`/backfills/${shown}`)
      .then((backfill) => backfill.jobId === job.id && watch(backfill, box, changed))
      .catch(() => {});
  return [h("h2", {}, "Backfill"), form, box];
}

function watch(backfill, box, changed) {
  const again = async (work) => {
    try {
      const next = await work();
      watch(next, box, changed);
      if (next.status !== "running") changed();
    } catch {
      /* a failed refresh leaves the last progress shown; Refresh tries again */
    }
  };
  const path = `/backfills/${backfill.id}`;
  const running = backfill.status === "running";
  box.replaceChildren(
    h(
      "div",
      { class: "title" },
      h("h3", {}, `Backfill ${backfill.id}: ${when(backfill.from)} to ${when(backfill.to)}`),
      h("span", { id: "backfill-status" }, badge(backfill.status)),
    ),
    fieldList(COUNTS.map((name) => [name, h("span", { "data-count": name }, backfill[name])])),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "quiet", onclick: () => again(() => get(path)) }, "Refresh"),
      running
        ? h("button", { type: "button", id: "cancel-backfill", onclick: () => again(() => del(path)) }, "Cancel")
        : null,
    ),
  );
  if (!running) return;
  const here = location.hash;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => {
    if (location.hash === here && document.body.contains(box)) again(() => get(path));
  }, 2000);
}
