// Groups: one row per (rule, source) with count, first and last seen. A scanner's burst of
// 10,000 identical alerts is one line here; its row opens the list filtered to exactly it.
import { api } from "../api.js";
import { clear, formatTime, h, number } from "../dom.js";
import { filterBar } from "../filters.js";
import { filtersOf, go, href } from "../state.js";

const GROUPINGS = [
  ["rule,source", "Rule and source"], ["rule", "Rule"], ["source", "Source"], ["rule,target", "Rule and target"],
  ["source,target", "Source and target"], ["module,action", "Module and action"],
];
// ?by= name -> [answer key, list filter, column title]
const FIELDS = {
  rule: ["rule_id", "rule_id", "Rule"], source: ["source_ip", "source_ip", "Source"],
  target: ["service_name", "service_name", "Site / listener"], vpc: ["vpc_id", "vpc_id", "VPC"],
  module: ["module", "module", "Module"], action: ["action", "action", "Action"],
  severity: ["severity", "severity", "Severity"], tenant: ["tenant_id", "tenant", "Tenant"],
};

export async function render(root, { params, me }) {
  const by = params.by || "rule,source";
  const names = by.split(",");
  const status = h("div", { class: "loading" }, "Grouping…");
  const chooser = h("select", { name: "by", id: "group-by",
    onchange: () => go("groups", { ...filtersOf(params), by: chooser.value }) },
  GROUPINGS.map(([value, text]) => h("option", { value, selected: value === by }, text)));
  clear(root).append(filterBar("groups", params, { me, extra: [{ name: "by" }] }),
    h("div", { class: "toolbar" }, h("label", {}, "Group by ", chooser)), status);

  const found = await api.groups({ ...filtersOf(params), by, size: 200 });
  const rows = found.groups.map((group) => {
    const filter = Object.fromEntries(names.map((n) => [FIELDS[n][1], group.key[FIELDS[n][0]]]));
    return h("tr", { onclick: () => go("alerts", { ...filtersOf(params), ...filter }) },
      names.map((n) => h("td", { class: "mono" }, group.key[FIELDS[n][0]],
        n === "rule" ? h("div", { class: "sub" }, group.rule_name ?? "") : null)),
      h("td", { class: "num" }, number.format(group.count)),
      h("td", { class: "mono nowrap" }, formatTime(group.first_seen)),
      h("td", { class: "mono nowrap" }, formatTime(group.last_seen)));
  });
  status.replaceWith(h("table", { class: "grid", id: "groups" },
    h("thead", {}, h("tr", {}, names.map((n) => h("th", {}, FIELDS[n][2])),
      h("th", {}, "Alerts"), h("th", {}, "First seen (UTC)"), h("th", {}, "Last seen (UTC)"))),
    h("tbody", {}, rows.length ? rows
      : h("tr", {}, h("td", { colspan: names.length + 3, class: "muted" }, "No alerts match these filters.")))),
  h("p", { class: "muted" }, "Largest groups first; a row opens its alerts. ",
    h("a", { href: href("alerts", filtersOf(params)) }, "All alerts →")));
}
