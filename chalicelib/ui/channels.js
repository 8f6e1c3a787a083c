// Alert channels: where an application's jobs' failing, recovered and late alerts go. A channel's URL is a
// secret: the answer that created it holds it once (shown from memory, gone on reload), then it is masked.

import { del, get, post } from "./api.js";
import { badge, clearErrors, copyable, failure, h, input, mount, showErrors, when } from "./dom.js";

export const channelsHref = (appId) => `#/applications/${appId}/channels`;
const EVENTS = ["failing", "recovered", "late"];

export async function channelPage(appId, created = null) {
  const path = `/applications/${appId}/channels`;
  const [app, channels] = await Promise.all([get(`/applications/${appId}`), get(path)]);
  const notice = h("div", { id: "notice" });
  const history = h("div", { id: "deliveries" });
  const act = (label, work) => async () => {
    try {
      await work();
    } catch (error) {
      notice.replaceChildren(failure(error));
    }
  };
  const test = (channel) => async () => {
    const sent = await post(`${path}/${channel.id}/test`);
    const said = sent.error ? `${sent.error.code}: ${sent.error.message}` : `HTTP ${sent.status}`;
    notice.replaceChildren(
      h("p", { class: sent.status && sent.status < 300 ? "muted" : "error", id: "test-result" }, said),
    );
    await deliveries(path, channel, history);
  };
  const rows = channels.map((channel) =>
    h(
      "tr",
      { "data-channel": channel.id, class: created && channel.id === created.id ? "picked" : null },
      h("td", {}, channel.name),
      h("td", {}, channel.type),
      h("td", { class: "value" }, h("code", {}, channel.url)),
      h("td", {}, channel.events.join(", ")),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", class: "quiet test", onclick: act("test", test(channel)) }, "Test"),
        h(
          "button",
          { type: "button", class: "quiet", onclick: act("list", () => deliveries(path, channel, history)) },
          "Deliveries",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: act("delete", async () => {
              if (!confirm(`Delete channel ${channel.name}? No alert goes to it from now on.`)) return;
              await del(`${path}/${channel.id}`);
              await channelPage(appId);
            }),
          },
          "Delete",
        ),
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
        h("h1", {}, `Alert channels of ${app.displayName || app.name}`),
        h("a", { class: "button", href: `#/jobs?app=${appId}` }, "Its jobs"),
      ),
      h(
        "p",
        { class: "muted" },
        "A job with an alerts rule tells every channel that lists the event when it starts failing, when it " +
          "recovers, and when a run does not start on time. Webhooks get a JSON alert signed with the " +
          "application's signing keys; Slack gets a line of text.",
      ),
      created
        ? h(
            "div",
            { class: "warning", id: "new-url", role: "status" },
            h("strong", {}, `The URL of ${created.name}. It is a secret: it will not be shown again.`),
            copyable(created.url, { id: "channel-url" }),
          )
        : null,
      notice,
      channels.length
        ? h(
            "table",
            { class: "list", id: "channels" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Name", "Type", "URL", "Events", ""].map((t) => h("th", {}, t)),
              ),
            ),
            h("tbody", {}, rows),
          )
        : h("p", { class: "muted", id: "channels" }, "No channels yet."),
      history,
      h("h2", {}, "New channel"),
      channelForm(appId, path),
    ),
  );
}

async function deliveries(path, channel, container) {
  const list = await get(`${path}/${channel.id}/deliveries`);
  const cell = (d) => (d.error ? `${d.error.code}: ${d.error.message}` : `HTTP ${d.httpStatus}`);
  container.replaceChildren(
    h("h2", {}, `Deliveries to ${channel.name}`),
    list.length
      ? h(
          "table",
          { class: "list", id: "delivery-list" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["At", "Alert", "Status", "Attempt", "Answer"].map((t) => h("th", {}, t)),
            ),
          ),
          h(
            "tbody",
            {},
            list.map((d) =>
              h(
                "tr",
                { class: `row-${d.status}` },
                h("td", {}, when(d.at)),
                h("td", {}, d.type),
                h("td", {}, badge(d.status)),
                h("td", {}, d.attempt),
                h("td", {}, cell(d)),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "Nothing sent yet."),
  );
}

function channelForm(appId, path) {
  const form = h(
    "form",
    { class: "card", id: "channel-form", novalidate: true },
    input("name", "Name", { required: true, maxlength: 64, placeholder: "ops" }),
    input("type", "Type", {
      tag: "select",
      value: "webhook",
      options: [
        ["webhook", "Webhook: a signed JSON alert"],
        ["slack", "Slack incoming webhook"],
      ],
    }),
    input("url", "URL", { autocomplete: "off", placeholder: "https://hooks.slack.com/services/…" }),
    h(
      "div",
      { class: "field", "data-field": "events" },
      h("span", { class: "label" }, "Events"),
      h(
        "div",
        { class: "checks" },
        EVENTS.map((event) =>
          h("label", {}, h("input", { type: "checkbox", name: "events", value: event, checked: true }), ` ${event}`),
        ),
      ),
      h("div", { class: "field-error", role: "alert" }),
    ),
    h("div", { class: "form-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create channel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { name, type, url } = form.elements;
    const events = [...form.querySelectorAll("[name=events]:checked")].map((box) => box.value);
    try {
      await channelPage(
        appId,
        await post(path, { name: name.value.trim(), type: type.value, url: url.value.trim(), events }),
      );
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}
