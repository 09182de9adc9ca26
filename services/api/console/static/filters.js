// The filter bar shared by the list, overview and groups views. It edits the URL, never the
// view directly: the router re-renders from the URL, so what is shown is always what is shared.
import { h } from "./dom.js";
import { DEFAULT_FROM, FILTERS, PRESETS, go } from "./state.js";

const MODULES = ["waf", "ips", "av"];
const ACTIONS = ["blocked", "alerted", "dropped", "quarantined", "allowed"];
const STATUSES = ["open", "acknowledged", "closed"];
const SEVERITIES = [["1", "1 high"], ["2", "2 medium"], ["3", "3 low"], ["4", "4 info"]];

function select(name, label, options, value) {
  return h("label", {}, label,
    h("select", { name },
      h("option", { value: "" }, "any"),
      options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return h("option", { value: v, selected: v === value }, text);
      })));
}

function input(name, label, value, attrs = {}) {
  return h("label", {}, label, h("input", { name, value: value ?? "", autocomplete: "off", ...attrs }));
}

/** datetime-local wants "YYYY-MM-DDTHH:MM" in local time; the API gets RFC 3339 UTC. */
function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || iso.startsWith("now") || Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : "";
}

export function filterBar(view, params, { me, extra = [] } = {}) {
  const preset = params.to || !PRESETS.some(([v]) => v === params.from) ? "custom" : params.from;
  const custom = h("span", { class: "custom-range", hidden: preset !== "custom" },
    input("from_custom", "From", toLocalInput(params.from), { type: "datetime-local" }),
    input("to_custom", "To", toLocalInput(params.to), { type: "datetime-local" }));
  const range = h("select", { name: "range", onchange: () => { custom.hidden = range.value !== "custom"; } },
    PRESETS.map(([v, text]) => h("option", { value: v, selected: v === preset }, text)),
    h("option", { value: "custom", selected: preset === "custom" }, "Custom range"));
  const tenants = me?.role === "provider-admin"
    ? [select("tenant", "Tenant", me.tenants.map((t) => [t.id, t.name === t.id ? t.id : `${t.name} (${t.id})`]),
      params.tenant)]
    : [];

  const form = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const [name, value] of data.entries()) {
      if (FILTERS.includes(name) && String(value).trim()) next[name] = String(value).trim();
    }
    if (data.get("range") === "custom") {
      next.from = fromLocalInput(data.get("from_custom"));
      next.to = fromLocalInput(data.get("to_custom"));
      if (!next.from) next.from = DEFAULT_FROM;
    } else {
      next.from = data.get("range");
      delete next.to;
    }
    for (const name of extra.map((e) => e.name)) if (params[name]) next[name] = params[name];
    if (params.sort) next.sort = params.sort;
    go(view, next);
  } },
  h("label", {}, "Time", range), custom,
  input("q", "Search", params.q, { placeholder: "words or \"a phrase\"", type: "search" }),
  select("module", "Module", MODULES, params.module),
  select("action", "Action", ACTIONS, params.action),
  select("severity", "Severity", SEVERITIES, params.severity),
  select("status", "Status", STATUSES, params.status),
  input("rule_id", "Rule", params.rule_id, { class: "narrow" }),
  input("source_ip", "Source IP / CIDR", params.source_ip, { class: "narrow" }),
  input("vpc_id", "VPC", params.vpc_id, { class: "narrow" }),
  input("service_name", "Site / listener", params.service_name, { class: "narrow" }),
  ...tenants,
  h("span", { class: "actions" },
    h("button", { type: "button", onclick: () => go(view, { from: DEFAULT_FROM }) }, "Reset"),
    h("button", { type: "submit", class: "primary" }, "Apply")));
  return form;
}
