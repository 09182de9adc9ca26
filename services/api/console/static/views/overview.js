// Overview: alerts over time and the top rules, sources and targets for the current filters.
// Every bar and entry is a filter: clicking narrows this view, and the counts follow.
import { api } from "../api.js";
import { clear, formatTime, h, number, svg } from "../dom.js";
import { filterBar } from "../filters.js";
import { filtersOf, go, href, withFilter } from "../state.js";

function histogram(stats, params) {
  const buckets = stats.histogram;
  const width = 1000;
  const height = 140;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const step = buckets.length ? width / buckets.length : width;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 20}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "Alerts over time" });
  buckets.forEach((bucket, i) => {
    const barHeight = Math.max(bucket.count ? 2 : 0, (bucket.count / max) * height);
    const start = bucket.time;
    const end = buckets[i + 1]?.time ?? new Date(Date.parse(start) + intervalMs(stats.interval)).toISOString();
    const bar = svg("rect", { class: "bar", x: i * step + 0.5, y: height - barHeight, width: Math.max(1, step - 1),
      height: barHeight, onclick: () => go("overview", { ...withFilter(params, "from", start), to: end }) },
    svg("title", {}, `${formatTime(start)}: ${number.format(bucket.count)} alerts`));
    chart.append(bar);
  });
  const labels = buckets.length ? [0, Math.floor(buckets.length / 2), buckets.length - 1] : [];
  for (const i of labels) {
    chart.append(svg("text", { x: Math.min(i * step, width - 110), y: height + 14 }, formatTime(buckets[i].time).slice(0, 16)));
  }
  return chart;
}

function intervalMs(interval) {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(interval ?? "");
  if (!match) return 60_000;
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2]];
}

function topList(id, title, entries, params, name, labelOf, subOf = () => "") {
  const max = Math.max(1, ...entries.map((e) => e.count));
  return h("section", { class: "card", id },
    h("h2", {}, title),
    entries.length
      ? h("ul", { class: "bars" }, entries.map((entry) => h("li", {
        dataset: { value: labelOf(entry) }, title: `Filter on ${name} = ${labelOf(entry)}`,
        onclick: () => go("overview", withFilter(params, name, labelOf(entry))) },
      h("span", { class: "label" }, h("span", { class: "mono" }, labelOf(entry)), " ",
        h("span", { class: "muted" }, subOf(entry))),
      h("span", { class: "num" }, number.format(entry.count)),
      h("span", { class: "meter" }, h("span", { style: { width: `${(100 * entry.count) / max}%` } })))))
      : h("p", { class: "muted" }, "Nothing in this range."));
}

/** The stats this view draws; started early by the boot code, in parallel with /v1/me. */
export function load({ params }) {
  return api.stats({ ...filtersOf(params), top: 10 });
}

export async function render(root, { params, me }, prefetched = null) {
  const status = h("div", { class: "loading" }, "Loading overview…");
  clear(root).append(filterBar("overview", params, { me }), status);
  const stats = await (prefetched ?? load({ params }));
  status.replaceWith(h("div", { class: "cards" },
    h("section", { class: "card wide histogram", id: "histogram" },
      h("h2", {}, `Alerts over time · ${stats.interval || "–"} buckets`),
      h("div", { class: "toolbar" },
        h("span", { class: "big", id: "total" }, number.format(stats.total)), h("span", { class: "muted" }, "alerts"),
        h("span", { class: "spacer" }),
        h("a", { href: href("alerts", filtersOf(params)) }, "Show these alerts →"),
        h("a", { href: href("groups", filtersOf(params)) }, "Group them →")),
      histogram(stats, params)),
    topList("top-rules", "Top rules", stats.top_rules, params, "rule_id", (e) => e.rule_id, (e) => e.rule_name ?? ""),
    topList("top-sources", "Top sources", stats.top_sources, params, "source_ip", (e) => e.source_ip),
    topList("top-targets", "Top targets (site / listener)", stats.top_targets ?? [], params, "service_name",
      (e) => e.service_name)));
}
