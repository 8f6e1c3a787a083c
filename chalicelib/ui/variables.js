// Variables: an application's named values, which its jobs use as ${NAME}. A secret's value is write-only.

import { ApiError, del, get, put } from "./api.js";
import { clearErrors, failure, go, h, input, mount, showErrors, when } from "./dom.js";

export const BUILT_INS = ["GATEWAY_URL", "JOB_NAME", "APPLICATION"];
const PLACEHOLDER = /\$\{([^{}]*)\}/g;
const NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

// The variable names a task configuration uses, read as the API reads them: ${NAME} in any string value.
export function references(config) {
  const found = new Set();
  const walk = (value) => {
    if (typeof value === "string") {
      for (const [, name] of value.matchAll(PLACEHOLDER)) if (NAME.test(name)) found.add(name);
    } else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(config);
  return [...found].sort();
}

export const variablesHref = (appId, name) =>
  `#/applications/${appId}/variables${name ? `?name=${encodeURIComponent(name)}` : ""}`;

export const variablesOf = (appId) => get(`/applications/${appId}/variables`);

// Names the application lacks (built-ins are always there); none while its variables are unknown.
export function missing(names, variables) {
  const known = new Set((variables || []).map((variable) => variable.name));
  return variables ? names.filter((name) => !BUILT_INS.includes(name) && !known.has(name)) : [];
}

const short = (text) => (text.length > 60 ? `${text.slice(0, 59)}…` : text);

// The names a job uses, each a link to the application's variables page; `variables` (when known) adds values.
export function usedVariables(appId, names, variables, newTab = false) {
  const known = new Map((variables || []).map((variable) => [variable.name, variable]));
  const absent = new Set(missing(names, variables));
  const tab = newTab ? { target: "_blank", rel: "noopener" } : {};
  return h(
    "ul",
    { class: "refs" },
    names.map((name) => {
      if (BUILT_INS.includes(name))
        return h("li", { "data-variable": name }, h("code", {}, name), " ", h("span", { class: "muted" }, "built in"));
      const found = known.get(name);
      return h(
        "li",
        { "data-variable": name, class: absent.has(name) ? "missing" : null },
        h("a", { href: variablesHref(appId, name), ...tab }, h("code", {}, name)),
        " ",
        found ? h("span", { class: "muted" }, found.secret ? "secret" : `= ${short(found.value)}`) : null,
        absent.has(name) ? h("span", { class: "warn" }, "not defined") : null,
      );
    }),
  );
}

// --- the page -----------------------------------------------------------------------------------

export async function variablePage(appId, params) {
  const [app, variables] = await Promise.all([get(`/applications/${appId}`), variablesOf(appId)]);
  const picked = params.get("name") || "";
  const notice = h("div", { id: "notice" });
  const { form, edit } = variableForm(appId, variables);
  const rows = variables.map((variable) =>
    h(
      "tr",
      { "data-variable": variable.name, class: variable.name === picked ? "picked" : null },
      h("td", {}, h("code", {}, variable.name)),
      h(
        "td",
        { class: "value" },
        variable.secret ? h("span", { class: "muted" }, variable.value) : h("code", {}, variable.value),
      ),
      h("td", {}, variable.secret ? "secret" : "—"),
      h("td", {}, `${when(variable.updatedAt)} by ${variable.updatedBy || "—"}`),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", class: "quiet", onclick: () => edit(variable) }, "Edit"),
        h("button", { type: "button", class: "danger", onclick: () => remove(appId, variable, notice) }, "Delete"),
      ),
    ),
  );
  mount(
    h(
      "section",
      {},
      h(
        "div",
        { class: "title" },
        h("h1", {}, `Variables of ${app.displayName || app.name}`),
        h("a", { class: "button", href: `#/jobs?app=${appId}` }, "Its jobs"),
      ),
      h(
        "p",
        { class: "muted" },
        "Jobs of this application use a variable as ${NAME} anywhere in their request; each run reads the value " +
          `it has when it starts. Built in: ${BUILT_INS.join(", ")}.`,
      ),
      notice,
      variables.length
        ? h(
            "table",
            { class: "list", id: "variables" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Name", "Value", "Secret", "Updated", ""].map((t) => h("th", {}, t)),
              ),
            ),
            h("tbody", {}, rows),
          )
        : h("p", { class: "muted", id: "variables" }, "No variables yet."),
      h("h2", {}, "Add or replace"),
      form,
    ),
  );
  const chosen = variables.find((variable) => variable.name === picked);
  if (chosen) edit(chosen);
  else if (picked) form.elements.name.value = picked;
}

async function remove(appId, variable, notice) {
  if (!confirm(`Delete variable ${variable.name}?`)) return;
  try {
    await del(`/applications/${appId}/variables/${variable.name}`);
    go(variablesHref(appId));
  } catch (error) {
    notice.replaceChildren(failure(error)); // a 409 names the jobs that still use it
  }
}

function invalid(field, message) {
  return new ApiError(400, {
    error: { code: "VALIDATION_ERROR", message: `${field}: ${message}`, details: [{ field, message }] },
  });
}

function variableForm(appId, variables) {
  const existing = new Map(variables.map((variable) => [variable.name, variable]));
  const note = h("small", { class: "muted", id: "value-note" });
  const save = h("button", { type: "submit" }, "Add");
  const form = h(
    "form",
    { class: "card", id: "variable-form", novalidate: true },
    input(
      "name",
      "Name",
      { required: true, maxlength: 64, autocomplete: "off", placeholder: "HOST" },
      "Capital letters, digits and _, starting with a letter. Saving an existing name replaces its value.",
    ),
    input("value", "Value", { maxlength: 4096, autocomplete: "off", spellcheck: "false" }),
    note,
    input("secret", "Secret (write-only: its value is never shown again, not even here)", { type: "checkbox" }),
    h("div", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, save),
  );
  const { name, value, secret } = form.elements;
  const current = () => existing.get(name.value.trim());
  const sync = () => {
    const old = current();
    save.textContent = old ? `Replace ${old.name}` : "Add";
    value.type = secret.checked ? "password" : "text";
    note.textContent =
      old && old.secret ? `${old.name} is secret: its value is not shown. Type a new one to replace it.` : "";
  };
  name.addEventListener("input", sync);
  secret.addEventListener("change", sync);
  const edit = (variable) => {
    clearErrors(form);
    name.value = variable.name;
    value.value = variable.secret ? "" : variable.value;
    secret.checked = variable.secret;
    sync();
    form.scrollIntoView({ block: "nearest" });
    value.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const old = current();
    const body = { value: value.value, secret: secret.checked };
    try {
      if (!name.value.trim()) throw invalid("name", "is required");
      if (!NAME.test(name.value.trim()))
        throw invalid("name", "use capital letters, digits and _, starting with a letter (at most 64)");
      if (!body.value && (body.secret || (old && old.secret)))
        throw invalid("value", "type the value (a secret's current value is never shown)");
      await put(`/applications/${appId}/variables/${name.value.trim()}`, body);
      go(variablesHref(appId));
    } catch (error) {
      showErrors(form, error);
    }
  });
  sync();
  return { form, edit };
}
