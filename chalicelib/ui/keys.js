// Signing keys: an application's keys, which sign every request of its jobs (Standard Webhooks). An hmac key's
// secret is in the answer that created it only, so it is shown once, from memory, and gone on reload.

import { address, del, get, post } from "./api.js";
import { utc } from "./controls.js";
import { clearErrors, copyable, failure, h, input, mount, showErrors, viewerZone, when } from "./dom.js";

export const keysHref = (appId) => `#/applications/${appId}/signing-keys`;

export async function keyPage(appId, created = null) {
  const path = `/applications/${appId}/signing-keys`;
  const [app, keys] = await Promise.all([get(`/applications/${appId}`), get(path)]);
  const notice = h("div", { id: "notice" });
  const rows = keys.map((key) =>
    h(
      "tr",
      { "data-key": key.id, class: created && key.id === created.id ? "picked" : null },
      h("td", {}, h("code", {}, key.id)),
      h("td", {}, key.type),
      h("td", {}, when(key.createdAt)),
      h("td", {}, key.expiresAt ? when(key.expiresAt) : "never"),
      h("td", { class: "value" }, key.publicKey ? copyable(key.publicKey) : h("span", { class: "muted" }, "—")),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", class: "danger", onclick: () => retire(appId, key, notice) }, "Retire"),
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
        h("h1", {}, `Signing keys of ${app.displayName || app.name}`),
        h("a", { class: "button", href: `#/jobs?app=${appId}` }, "Its jobs"),
      ),
      h(
        "p",
        { class: "muted" },
        "Each request of its jobs (unless a job turns signing off) carries the Standard Webhooks headers " +
          "webhook-id, webhook-timestamp and webhook-signature, with a signature per active key. To rotate: " +
          "create a key, move targets to it, retire the old one.",
      ),
      h(
        "p",
        { class: "muted" },
        "Targets check hmac signatures (v1) with the key's whsec_ secret, shown when it is created; ed25519 " +
          "signatures (v1a) with the public keys at ",
        copyable(address(`${path}/public`).href, { id: "public-url" }),
        " (no sign-in).",
      ),
      created && created.secret
        ? h(
            "div",
            { class: "warning", id: "new-secret", role: "status" },
            h("strong", {}, `The secret of ${created.id}. Copy it now: it will not be shown again.`),
            copyable(created.secret, { id: "secret" }),
          )
        : null,
      notice,
      h(
        "table",
        { class: "list", id: "keys" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Key", "Type", "Created", "Expires", "Public key", ""].map((t) => h("th", {}, t)),
          ),
        ),
        h("tbody", {}, rows),
      ),
      h("h2", {}, "New key"),
      keyForm(appId, path),
    ),
  );
}

async function retire(appId, key, notice) {
  if (!confirm(`Retire signing key ${key.id}? Requests stop carrying its signature at once.`)) return;
  try {
    await del(`/applications/${appId}/signing-keys/${key.id}`);
    await keyPage(appId);
  } catch (error) {
    notice.replaceChildren(failure(error)); // a 409 explains why the last key that does not expire stays
  }
}

function keyForm(appId, path) {
  const form = h(
    "form",
    { class: "card", id: "key-form", novalidate: true },
    input("type", "Type", {
      tag: "select",
      value: "hmac",
      options: [
        ["hmac", "hmac: a secret shared with targets (whsec_…)"],
        ["ed25519", "ed25519: a public key targets fetch (whpk_…)"],
      ],
    }),
    input("expiresAt", "Expires", { type: "datetime-local" }, `In your time (${viewerZone()}). Empty: never.`),
    h("div", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create key")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { type, expiresAt } = form.elements;
    try {
      const body = { type: type.value };
      if (expiresAt.value) body.expiresAt = utc(expiresAt.value);
      await keyPage(appId, await post(path, body));
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}
