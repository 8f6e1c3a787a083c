// The Admin UI shell: session, navigation, and a router over the URL's #fragment.

import { ApiError, del, get, post } from "./api.js";
import { channelPage } from "./channels.js";
import { failure, go, h, mount } from "./dom.js";
import { jobDetail, jobForm, jobList } from "./jobs.js";
import { keyPage } from "./keys.js";
import { applicationList, executionDetail, statsPage } from "./runs.js";
import { variablePage } from "./variables.js";

export const state = { session: null };

const ROUTES = [
  [/^\/jobs$/, jobList],
  [/^\/jobs\/new$/, (params) => jobForm(null, params)],
  [/^\/jobs\/(\d+)$/, (params, id) => jobDetail(Number(id), params)],
  [/^\/jobs\/(\d+)\/edit$/, (params, id) => jobForm(Number(id), params)],
  [/^\/executions\/(\d+)$/, (params, id) => executionDetail(Number(id))],
  [/^\/applications$/, applicationList],
  [/^\/applications\/(\d+)\/variables$/, (params, id) => variablePage(Number(id), params)],
  [/^\/applications\/(\d+)\/signing-keys$/, (params, id) => keyPage(Number(id))],
  [/^\/applications\/(\d+)\/channels$/, (params, id) => channelPage(Number(id))],
  [/^\/stats$/, statsPage],
];

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/jobs";
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

async function route() {
  const { path, params } = parseHash();
  if (path === "/signin") return signIn(params);
  if (!state.session) return signIn(params);
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", path.startsWith(`/${link.dataset.nav}`));
  }
  for (const [pattern, view] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      try {
        await view(params, ...match.slice(1));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return signedOut();
        mount(h("section", {}, failure(error)));
      }
      return;
    }
  }
  mount(h("section", {}, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/jobs" }, "Back to jobs"))));
}

function showSession() {
  const who = document.getElementById("who");
  const nav = document.getElementById("nav");
  const signout = document.getElementById("signout");
  const session = state.session;
  nav.hidden = signout.hidden = !session;
  who.textContent = session ? `${session.user}${session.admin ? " (admin)" : ""}` : "";
}

function signedOut() {
  state.session = null;
  showSession();
  go("#/signin");
}

// A link printed by `make run` carries the token in the fragment, which never reaches a server or its logs.
async function signIn(params) {
  const token = params.get("token");
  if (token) {
    history.replaceState(null, "", location.pathname + "#/signin");
    try {
      state.session = await post("/session", { token });
      showSession();
      return go("#/jobs");
    } catch (error) {
      return signInForm(error);
    }
  }
  if (state.session) return go("#/jobs");
  return signInForm(null);
}

function signInForm(error) {
  const input = h("textarea", { id: "token", name: "token", rows: 4, required: true, placeholder: "eyJhbGciOi…" });
  const form = h(
    "form",
    { class: "card narrow", id: "signin" },
    h("h1", {}, "Sign in"),
    h(
      "p",
      { class: "muted" },
      "Paste a token this service accepts. `make run` prints a one-click link for the local admin.",
    ),
    h("label", { for: "token" }, "Token"),
    input,
    error ? failure(error) : null,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      state.session = await post("/session", { token: input.value.trim() });
      showSession();
      go("#/jobs");
    } catch (failed) {
      signInForm(failed);
    }
  });
  mount(form);
}

async function start() {
  document.getElementById("signout").addEventListener("click", async () => {
    await del("/session");
    signedOut();
  });
  try {
    state.session = await get("/session");
  } catch {
    state.session = null;
  }
  showSession();
  window.addEventListener("hashchange", route);
  route();
}

start();
