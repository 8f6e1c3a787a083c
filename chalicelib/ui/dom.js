// Building the page: every string goes in as a text node, never as markup.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

export function mount(node) {
  const view = document.getElementById("view");
  view.replaceChildren(node);
  return view;
}

export function badge(status) {
  return h("span", { class: `badge st-${String(status).replace(/[^a-z_]/g, "")}` }, status);
}

export function when(iso, timeZone) {
  if (!iso) return "—";
  const options = { dateStyle: "medium", timeStyle: "medium" };
  if (timeZone) options.timeZone = timeZone;
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

export const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

// "in the job's zone" and "in yours", when they differ
export function bothTimes(iso, timeZone) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const zone = timeZone || "UTC";
  const lines = [h("div", {}, when(iso, zone), " ", h("span", { class: "muted" }, zone))];
  if (zone !== viewerZone()) lines.push(h("div", { class: "muted" }, when(iso), " your time"));
  return h("div", { class: "times" }, lines);
}

export const ms = (value) => (value === null || value === undefined ? "—" : `${value} ms`);

export function pretty(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function fieldList(rows) {
  return h(
    "dl",
    { class: "fields" },
    rows.filter(Boolean).map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
  );
}

export function failure(error) {
  return h("p", { class: "error", role: "alert" }, `${error.code || "ERROR"}: ${error.message}`);
}

// Navigate to a view; the same hash again re-renders it (the router listens to hashchange).
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

// --- forms: one field each, with its error slot; the API's `details` shown next to their inputs --------

export function input(name, label, attrs = {}, hint = null) {
  const id = `f-${name.replace(/\W/g, "-")}`;
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: id }, label),
    attrs.tag === "textarea"
      ? h("textarea", { id, name, rows: 3, ...attrs, tag: null })
      : attrs.tag === "select"
        ? h(
            "select",
            { id, name, ...attrs, tag: null, options: null },
            attrs.options.map(([value, text]) => h("option", { value, selected: value === attrs.value }, text)),
          )
        : h("input", { id, name, ...attrs }),
    hint ? h("small", { class: "muted" }, hint) : null,
    h("div", { class: "field-error", role: "alert" }),
  );
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const field of form.querySelectorAll(".field.invalid")) field.classList.remove("invalid");
  form.querySelector(".form-error").replaceChildren();
}

// The API names each bad field in `details`; show each message next to its input.
export function showErrors(form, error) {
  const unplaced = [];
  for (const detail of error.details || []) {
    let name = detail.field;
    let field = null;
    while (name && !(field = form.querySelector(`[data-field='${CSS.escape(name)}']`)))
      name = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : "";
    if (field) {
      field.classList.add("invalid");
      field.querySelector(".field-error").textContent = detail.message;
    } else unplaced.push(`${detail.field}: ${detail.message}`);
  }
  const box = form.querySelector(".form-error");
  box.replaceChildren(
    failure(error),
    ...(unplaced.length
      ? [
          h(
            "ul",
            {},
            unplaced.map((line) => h("li", {}, line)),
          ),
        ]
      : []),
  );
  const first = form.querySelector(".field.invalid input, .field.invalid select, .field.invalid textarea");
  if (first) first.focus();
}

// A value and a button that copies it; where the browser refuses, the value is selected for Ctrl+C instead.
export function copyable(text, attrs = {}) {
  const value = h("code", attrs, text);
  const button = h("button", { type: "button", class: "quiet copy" }, "Copy");
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      getSelection().selectAllChildren(value); // no clipboard here (an http origin, a denied permission)
    }
  };
  return h("span", { class: "copyable" }, value, " ", button);
}
