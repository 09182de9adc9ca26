// Alert detail: every field, the evidence per module (WAF request, IPS flow, AV file), triage,
// and the other alerts of the same request or connection (shared trace.id / flow.id: one
// request seen by the WAF, the antivirus and the IPS).
import { api } from "../api.js";
import { clear, field, formatTime, h, severityBadge, statusBadge } from "../dom.js";
import { go, href } from "../state.js";

function rows(doc, entries) {
  const items = entries
    .map(([label, path, render]) => [label, field(doc, path), render])
    .filter(([, value]) => value !== undefined && value !== null && value !== "");
  if (!items.length) return null;
  return h("dl", {}, items.flatMap(([label, value, render]) => [h("dt", {}, label),
    h("dd", {}, render ? render(value) : String(value))]));
}

function card(title, id, ...content) {
  const body = content.filter(Boolean);
  return body.length ? h("section", { class: "card", id }, h("h2", {}, title), ...body) : null;
}

function endpoint(doc, side) {
  const ip = field(doc, `${side}.ip`);
  const port = field(doc, `${side}.port`);
  if (!ip) return "";
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return port === undefined ? ip : `${host}:${port}`;
}

function evidence(doc) {
  const matched = field(doc, "matched.data");
  const module = doc.event.module;
  const sections = [];
  if (module === "waf" || field(doc, "url.original")) {
    const line = [field(doc, "http.request.method"), field(doc, "url.original"), "HTTP/1.1"].filter(Boolean).join(" ");
    const headers = [
      field(doc, "url.domain") ? `Host: ${field(doc, "url.domain")}` : null,
      field(doc, "user_agent.original") ? `User-Agent: ${field(doc, "user_agent.original")}` : null,
    ].filter(Boolean);
    sections.push(card("Request", "request",
      h("pre", { id: "request-line" }, [line, ...headers].join("\n")),
      rows(doc, [["Response status", "http.response.status_code"], ["Anomaly score", "waf.anomaly_score"],
        ["WAF mode", "waf.mode"]])));
  }
  if (module === "ips" || field(doc, "flow.id")) {
    sections.push(card("Flow", "flow", h("pre", {}, `${field(doc, "network.transport") ?? "?"} ${endpoint(doc, "source")} → ${endpoint(doc, "destination")}`),
      rows(doc, [["Flow id", "flow.id"]])));
  }
  if (module === "av" || field(doc, "file.name") || field(doc, "file.hash.sha256")) {
    sections.push(card("File", "file", rows(doc, [["Name", "file.name"], ["Size (bytes)", "file.size"],
      ["SHA-256", "file.hash.sha256", (v) => h("span", { class: "mono" }, v)]])));
  }
  sections.push(card(module === "ips" ? "Matched payload" : "Matched", "matched",
    rows(doc, [["Variable", "matched.var", (v) => h("span", { class: "mono" }, v)]]),
    matched ? h("pre", { id: "matched-data" }, matched) : null));
  return sections;
}

function triageCard(doc, onChange) {
  const status = doc.triage?.status ?? "open";
  const comment = h("textarea", { name: "comment", placeholder: "Comment (required to close)", maxlength: 2000 });
  const message = h("div", { class: "error", role: "alert" });
  const act = (next) => async () => {
    message.textContent = "";
    try {
      onChange(await api.triage(doc.event.id, next, comment.value || undefined,
        { tenant: doc.tenant.id }));
    } catch (error) {
      message.textContent = error.message;
    }
  };
  const history = doc.triage?.history ?? [];
  return h("section", { class: "card triage", id: "triage" },
    h("h2", {}, "Triage"),
    h("p", {}, "Status ", statusBadge(doc),
      doc.triage ? h("span", { class: "muted" }, ` by ${doc.triage.by} at ${formatTime(doc.triage.at)}`) : null),
    doc.triage?.comment ? h("p", { id: "triage-comment" }, doc.triage.comment) : null,
    comment,
    h("div", { class: "buttons" },
      status === "open" ? h("button", { type: "button", id: "acknowledge", class: "primary", onclick: act("acknowledged") },
        "Acknowledge") : null,
      status !== "closed" ? h("button", { type: "button", id: "close", onclick: act("closed") }, "Close") : null,
      status !== "open" ? h("button", { type: "button", id: "reopen", onclick: act("open") }, "Reopen") : null),
    message,
    history.length ? h("ol", { class: "history", id: "triage-history" }, history.slice().reverse().map((entry) =>
      h("li", {}, h("span", { class: "mono" }, formatTime(entry.at)), " ", h("strong", {}, entry.status),
        ` by ${entry.by}`, entry.comment ? h("div", { class: "muted" }, entry.comment) : null))) : null);
}

async function related(doc, provider) {
  const keys = [["trace_id", field(doc, "trace.id")], ["flow_id", field(doc, "flow.id")]].filter(([, v]) => v);
  if (!keys.length) return null;
  const scope = provider ? { tenant: doc.tenant.id } : {};
  const pages = await Promise.all(keys.map(([name, value]) => api.alerts({ [name]: value, size: 100, ...scope })));
  const seen = new Set([doc.event.id]);
  const others = pages.flatMap((p) => p.hits).filter((hit) => !seen.has(hit.event.id) && seen.add(hit.event.id));
  return h("section", { class: "card", id: "related" },
    h("h2", {}, `Same ${keys.map(([n]) => n.replace("_id", "")).join(" / ")} (${others.length})`),
    others.length
      ? h("table", { class: "grid" }, h("tbody", {}, others.map((hit) => h("tr", {
        onclick: () => go("alert", scope, hit.event.id) },
      h("td", { class: "mono nowrap" }, formatTime(hit["@timestamp"])), h("td", {}, hit.event.module),
      h("td", {}, severityBadge(hit.event.severity)), h("td", {}, hit.rule.id, h("div", { class: "sub" }, hit.rule.name ?? ""))))))
      : h("p", { class: "muted" }, "No other alert shares this request or connection."));
}

export async function render(root, { id, params, me }) {
  const provider = me.role === "provider-admin";
  clear(root).append(h("div", { class: "loading" }, "Loading alert…"));
  const doc = await api.alert(id, provider && params.tenant ? { tenant: params.tenant } : {});
  const draw = (current) => {
    const summary = card("Alert", "summary", rows(current, [
      ["Time (UTC)", "@timestamp", formatTime], ["Severity", "event.severity", severityBadge],
      ["Module", "event.module"], ["Action", "event.action"], ["Rule", "rule.id"], ["Message", "rule.name"],
      ["Rule set", "rule.ruleset"], ["Category", "rule.category"], ["Tags", "tags", (v) => v.join(", ")],
      ["Tenant", "tenant.id"], ["VPC", "vpc.id"], ["Site / listener", "service.name"],
      ["Source", "source.ip", () => endpoint(current, "source")],
      ["Destination", "destination.ip", () => endpoint(current, "destination")],
      ["Trace id", "trace.id", (v) => h("a", { href: href("alerts", { trace_id: v, from: "now-30d" }) }, v)],
      ["Observer", "observer.name"], ["Event id", "event.id", (v) => h("span", { class: "mono" }, v)]]));
    const side = h("div", {}, triageCard(current, (updated) => draw(updated)), h("div", { id: "related-slot" }));
    clear(root).append(
      h("div", { class: "toolbar" }, h("button", { type: "button", onclick: () => history.back() }, "← Back"),
        h("strong", {}, current.rule.name ?? current.rule.id)),
      h("div", { class: "detail" },
        h("div", {}, summary, ...evidence(current),
          card("Raw JSON", "raw", h("pre", {}, JSON.stringify(current, null, 2)))),
        side));
    related(current, provider).then((section) => {
      if (section) side.querySelector("#related-slot").replaceWith(section);
    }).catch((error) => side.querySelector("#related-slot").replaceWith(h("p", { class: "error" }, error.message)));
  };
  draw(doc);
}
