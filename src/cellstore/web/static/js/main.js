// The single-page app: sign-in, hash routes (#/projects/ID, ...), the header and error banner.

import { auth, get } from "./api.js";
import { h, replace } from "./dom.js";
import { currentProject, go, showBanner } from "./ui.js";
import { instanceView, projectsView, projectView, searchView, specView } from "./views/browse.js";
import { measurementView } from "./views/measurement.js";
import { uploadView } from "./views/upload.js";

const main = document.getElementById("main");
let controller = null;
let me = null;

const ROUTES = [
  [/^\/projects$/, projectsView],
  [/^\/projects\/([^/]+)$/, projectView],
  [/^\/specs\/([^/]+)$/, specView],
  [/^\/instances\/([^/]+)$/, instanceView],
  [/^\/measurements\/([^/]+)$/, measurementView],
  [/^\/search$/, searchView],
  [/^\/upload$/, uploadView],
];

function showHeader(signedIn) {
  for (const id of ["topnav", "search", "who"]) document.getElementById(id).hidden = !signedIn;
  if (signedIn && me) {
    const org = me.authorized_organization?.name;
    document.getElementById("who-name").textContent = [me.email, org].filter(Boolean).join(" · ");
  }
}

function signInView(message) {
  showHeader(false);
  const error = h("p", { class: "error", role: "alert", id: "signin-error" }, message || "");
  error.hidden = !message;
  const input = h("input", {
    type: "password",
    name: "api_key",
    id: "api-key",
    autocomplete: "off",
    required: true,
    placeholder: "cs_…",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", id: "signin" },
    h("h1", {}, "Sign in to cellstore"),
    h(
      "p",
      { class: "muted" },
      "Paste an API key. `cellstore serve` prints one when it starts on an empty data directory; ",
      "`cellstore admin create-api-key` makes more. The key is kept for this browser tab only.",
    ),
    h("label", { for: "api-key" }, "API key"),
    input,
    error,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    auth.set(input.value.trim());
    try {
      me = await get("/users/me");
      showBanner(null);
      route();
    } catch (failure) {
      auth.clear();
      error.textContent = failure.message;
      error.hidden = false;
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

async function route() {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const raw = location.hash.replace(/^#/, "") || "/projects";
  const [path, queryText] = raw.split("?");
  const query = Object.fromEntries(new URLSearchParams(queryText || ""));
  if (!auth.key) {
    me = null;
    signInView();
    return;
  }
  try {
    if (!me) me = await get("/users/me", undefined, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    if (error.status === 401) return; // the unauthorized listener shows the sign-in page
    replace(main, h("p", { class: "error" }, error.message));
    return;
  }
  showHeader(true);
  const found = ROUTES.map(([pattern, view]) => [path.match(pattern), view]).find(([m]) => m);
  if (!found) {
    replace(main, h("p", { class: "error" }, "There is no such page."), h("a", { href: "#/projects" }, "Projects"));
    return;
  }
  const [match, view] = found;
  replace(main, h("p", { class: "muted" }, "Loading…"));
  const ctx = {
    main,
    signal,
    params: match.slice(1).map(decodeURIComponent),
    query,
    me,
  };
  try {
    await view(ctx);
    window.scrollTo(0, 0);
  } catch (error) {
    if (error.name === "AbortError" || signal.aborted) return;
    console.error(error);
    replace(main, h("div", { class: "card" }, h("p", { class: "error", role: "alert" }, error.message)));
  }
}

auth.onUnauthorized((error) => {
  auth.clear();
  me = null;
  signInView(error.message);
});

document.getElementById("signout").addEventListener("click", () => {
  auth.clear();
  me = null;
  showBanner(null);
  location.hash = "#/projects";
  signInView("You are signed out.");
  document.getElementById("signin-error").className = "note";
});

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = event.target.q.value.trim();
  const project = currentProject();
  go(`#/search?${new URLSearchParams({ q, ...(project ? { project } : {}) })}`);
});

// Nothing should end in a blank page: unexpected failures are said in words.
window.addEventListener("error", (event) => showBanner(`Something went wrong: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason?.name === "AbortError") return;
  showBanner(`Something went wrong: ${event.reason?.message || event.reason}`);
});
window.addEventListener("hashchange", route);
if (typeof uPlot === "undefined") showBanner("The plotting library did not load; plots will be missing.");
route();
