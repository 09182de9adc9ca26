// The query lives in the URL hash (#/alerts?from=now-24h&module=waf), so every view can be
// bookmarked, shared with a colleague, and walked with the browser's back button.

export const FILTERS = ["from", "to", "q", "module", "action", "severity", "status", "rule_id", "source_ip",
  "vpc_id", "service_name", "tenant", "trace_id", "flow_id"];
export const DEFAULT_FROM = "now-24h";
export const PRESETS = [
  ["now-15m", "Last 15 minutes"], ["now-1h", "Last hour"], ["now-24h", "Last 24 hours"], ["now-7d", "Last 7 days"],
];

/** {view, id, params} of the current location. */
export function current() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?", 2);
  const [view = "alerts", ...rest] = path.split("/");
  const params = Object.fromEntries(new URLSearchParams(query));
  if (!("from" in params) && !("to" in params) && view !== "alert") params.from = DEFAULT_FROM;
  return { view: view || "alerts", id: rest.length ? decodeURIComponent(rest.join("/")) : null, params };
}

export function href(view, params = {}, id = null) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && String(value) !== "") query.set(name, String(value));
  }
  const path = id === null ? view : `${view}/${encodeURIComponent(id)}`;
  const qs = query.toString();
  return `#/${path}${qs ? `?${qs}` : ""}`;
}

export function go(view, params = {}, id = null) {
  location.hash = href(view, params, id);
}

/** The filter part of a params object (what list, overview, groups and export share). */
export function filtersOf(params) {
  return Object.fromEntries(FILTERS.filter((k) => params[k]).map((k) => [k, params[k]]));
}

/** Params with one filter set (and paging reset: a new filter starts from the first page). */
export function withFilter(params, name, value) {
  const next = { ...params, [name]: value };
  delete next.cursor;
  return next;
}
