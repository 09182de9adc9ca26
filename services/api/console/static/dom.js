// DOM helpers. Alert fields are attacker-controlled (matched.data *is* the attack), so content
// only ever goes in as text nodes: nothing here touches innerHTML.

/** h("a", {href: "#/x", onclick: fn}, "text", child) -> element */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    // CSSOM, not a style attribute: the CSP (style-src 'self') blocks inline style attributes.
    else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Value at a dotted path ("source.ip"); "@timestamp" is a top-level name. */
export function field(doc, path) {
  if (path in doc) return doc[path];
  let value = doc;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[part];
  }
  return value;
}

const timeFormat = new Intl.DateTimeFormat("en-GB", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  hour12: false, timeZone: "UTC",
});

/** "2026-11-27 17:03:12.481" (UTC, as every SOC timeline shows it). */
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = Object.fromEntries(timeFormat.formatToParts(d).map((p) => [p.type, p.value]));
  const ms = String(d.getUTCMilliseconds()).padStart(3, "0");
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}.${ms}`;
}

export const number = new Intl.NumberFormat("en-US");

export const SEVERITY = { 1: "high", 2: "medium", 3: "low", 4: "info" };

export function severityBadge(severity) {
  return h("span", { class: `sev sev-${severity}`, title: SEVERITY[severity] ?? "" }, severity);
}

export function statusBadge(doc) {
  const status = doc?.triage?.status ?? "open";
  return h("span", { class: `badge status-${status}`, dataset: { status } }, status);
}
