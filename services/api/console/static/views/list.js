// Alert list: the analyst's inbox. Time-ordered, cursor-paged (the cursor is in the URL, so
// "next page" is a link and the back button returns to the previous page), 50 rows a page.
import { api } from "../api.js";
import { clear, field, formatTime, h, number, severityBadge, statusBadge } from "../dom.js";
import { filterBar } from "../filters.js";
import { filtersOf, go, href, withFilter } from "../state.js";

const PAGE_SIZE = 50;

function filterLink(params, name, value, text = value) {
  if (value === undefined || value === null || value === "") return "";
  return h("a", { class: "filter-link", href: href("alerts", withFilter(params, name, value)), title: `Filter on ${name}`,
    onclick: (e) => e.stopPropagation() }, text);
}

async function download(params, format) {
  const response = await api.export({ ...filtersOf(params), sort: params.sort, format });
  const blob = await response.blob();
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? `alerts.${format}`;
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function sortOf(params) {
  return params.sort === "asc" ? "asc" : "desc";
}

/** The page this view shows; started early by the boot code, in parallel with /v1/me. */
export function load({ params }) {
  return api.alerts({ ...filtersOf(params), sort: sortOf(params), size: PAGE_SIZE, cursor: params.cursor });
}

export async function render(root, { params, me }, prefetched = null) {
  const provider = me.role === "provider-admin";
  const sort = sortOf(params);
  const status = h("div", { class: "loading" }, "Loading alerts…");
  clear(root).append(filterBar("alerts", params, { me }), status);

  const page = await (prefetched ?? load({ params }));

  const exportStatus = h("span", { class: "muted", id: "export-status" });
  const exportButton = (format, label) => h("button", { type: "button", dataset: { export: format },
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      exportStatus.textContent = `Exporting ${format.toUpperCase()}…`;
      try {
        await download(params, format);
        exportStatus.textContent = "";
      } catch (error) {
        exportStatus.textContent = `Export failed: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    } }, label);

  const sortButton = h("button", { type: "button", class: "sort", "aria-sort": sort === "asc" ? "ascending" : "descending",
    title: "Sort by time", onclick: () => go("alerts", { ...withFilter(params, "sort", sort === "asc" ? "desc" : "asc") }) },
  `Time (UTC) ${sort === "asc" ? "▲" : "▼"}`);

  const rows = page.hits.map((doc) => h("tr", { dataset: { eventId: doc.event.id },
    onclick: () => go("alert", provider ? { tenant: doc.tenant.id } : {}, doc.event.id) },
  h("td", { class: "nowrap mono" }, formatTime(doc["@timestamp"])),
  h("td", {}, severityBadge(doc.event.severity)),
  h("td", {}, filterLink(params, "module", doc.event.module)),
  h("td", {}, filterLink(params, "action", doc.event.action)),
  provider ? h("td", {}, filterLink(params, "tenant", doc.tenant.id)) : null,
  h("td", {}, filterLink(params, "rule_id", doc.rule.id), h("div", { class: "sub" }, doc.rule.name ?? "")),
  h("td", { class: "mono" }, filterLink(params, "source_ip", field(doc, "source.ip"))),
  h("td", {}, filterLink(params, "service_name", field(doc, "service.name")),
    h("div", { class: "sub mono" }, [field(doc, "http.request.method"), field(doc, "url.original")].filter(Boolean).join(" "))),
  h("td", {}, statusBadge(doc))));

  const table = h("table", { class: "grid", id: "alerts" },
    h("thead", {}, h("tr", {},
      h("th", {}, sortButton), h("th", {}, "Sev"), h("th", {}, "Module"), h("th", {}, "Action"),
      provider ? h("th", {}, "Tenant") : null,
      h("th", {}, "Rule"), h("th", {}, "Source"), h("th", {}, "Site / listener · request"), h("th", {}, "Status"))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: provider ? 9 : 8, class: "muted" },
      "No alerts match these filters."))));

  const pager = h("div", { class: "pager" },
    params.cursor ? h("button", { type: "button", onclick: () => history.back() }, "← Previous") : null,
    params.cursor ? h("a", { href: href("alerts", withFilter(params, "sort", sort)) }, "First page") : null,
    page.next_cursor
      ? h("a", { href: href("alerts", { ...params, cursor: page.next_cursor }), id: "next-page" }, "Next page →")
      : null);

  status.replaceWith(
    h("div", { class: "toolbar" },
      h("span", { class: "count", id: "total" }, `${number.format(page.total)} alerts`),
      h("span", { class: "spacer" }),
      exportStatus, exportButton("csv", "Export CSV"), exportButton("ndjson", "Export NDJSON")),
    table, pager);
}
