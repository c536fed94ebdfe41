// Small DOM helpers. Text is always set as text (never parsed as HTML), so names, notes and tags
// typed by users cannot inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function fmtDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

export function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(digits)));
}

export function fmtBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) {
    bytes /= 1024;
    i += 1;
  }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 120) return `${fmtNumber(seconds, 3)} s`;
  if (seconds < 7200) return `${fmtNumber(seconds / 60, 3)} min`;
  return `${fmtNumber(seconds / 3600, 4)} h`;
}

// A quantity {value, unit} as "5 A.h"; anything else as compact text.
export function fmtValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && !Array.isArray(value) && "value" in value) {
    return `${fmtNumber(value.value)}${value.unit ? ` ${value.unit}` : ""}`;
  }
  if (typeof value === "object") return JSON.stringify(value);
  return typeof value === "number" ? fmtNumber(value) : String(value);
}

export function statusBadge(status) {
  const text = status || "ready";
  return h("span", { class: `badge status-${text}`, "data-status": text }, text);
}

export function tagChips(tags) {
  return h("span", { class: "tags" }, (tags || []).map((tag) => h("span", { class: "tag" }, tag)));
}

export function debounce(fn, ms = 300) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function basename(filename) {
  return filename.replace(/\.(csv|parquet|txt|xlsx|xls|res|mpr|mpt|nda|ndax|h5|bdf|dta|z|par)$/i, "");
}
