// Page-wide pieces the views share: the error banner, the confirmation dialog, navigation.

import { h, replace } from "./dom.js";

const banner = document.getElementById("banner");

export function showBanner(message, kind = "error") {
  if (!message) {
    banner.hidden = true;
    return;
  }
  replace(
    banner,
    h("span", {}, message),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => showBanner(null) }, "×"),
  );
  banner.className = `banner ${kind}`;
  banner.hidden = false;
}

// A modal confirmation; resolves true when the person confirms.
export function confirmAction(text, action = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export function currentProject() {
  return sessionStorage.getItem("cellstore.project");
}

export function rememberProject(id) {
  if (id) sessionStorage.setItem("cellstore.project", id);
}

export function crumbs(items) {
  return h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumbs" },
    items.map(([text, href], i) => [
      i ? h("span", { class: "sep", "aria-hidden": "true" }, "›") : null,
      href ? h("a", { href }, text) : h("span", { "aria-current": "page" }, text),
    ]),
  );
}

// A section of a page: a heading, optional actions on its right, then the content.
export function section(title, actions, ...content) {
  return h(
    "section",
    { class: "card" },
    h("div", { class: "section-head" }, h("h2", {}, title), actions ? h("div", { class: "actions" }, actions) : null),
    content,
  );
}

// Errors of a form, shown beside it.
export function formError() {
  const el = h("p", { class: "error", role: "alert" });
  el.hidden = true;
  return {
    el,
    show(message) {
      el.textContent = message;
      el.hidden = !message;
    },
  };
}
