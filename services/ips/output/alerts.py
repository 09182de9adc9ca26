"""IPS hits as secchain's common alert (``shared/events``), the record the audit trail indexes.

A hit of ``alert tcp any any -> any 80 (msg:"LOCAL admin probe"; content:"/admin"; sid:9000001;
rev:2; classtype:web-application-attack;)`` on listener ``shop-tcp`` becomes::

    {"event": {"module": "ips", "action": "alerted", "severity": 1, ...},
     "rule": {"id": "9000001", "name": "LOCAL admin probe", "ruleset": "core@0.1.0",
              "category": "Web Application Attack"},
     "service": {"name": "shop-tcp"}, "flow": {"id": "1459180393406201"},
     "source": {...}, "destination": {...}, "network": {"transport": "tcp"},
     "url": {"original": "/admin", "domain": "shop.example"}, "matched": {"data": "GET /admin ..."}}

``event.severity`` is the Suricata priority clamped to 1..4 (the alert schema's range; Suricata's
classification.config uses 1..4 for everything but a handful of informational classes) so a SOC
query for "severity 1" means the same for WAF and IPS alerts. ``event.action`` says what happened
to the traffic: ``dropped`` only when a drop/reject rule actually stopped it (prevent mode).
``event.id`` is derived from the flow id, the signature and the hit's position in the flow, so
replaying one capture twice to Kafka collapses into one set of alerts downstream.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from services.ips.model import Direction
from services.ips.output.eve import FlowView, printable
from shared.events import Alert

_EVENT_NS = uuid.UUID("0f6c6f1e-5d0a-4a8e-9a55-2f1b8f0c1d7e")


@dataclass(frozen=True, slots=True)
class AlertContext:
    """Who the alert belongs to; one per listener (inline) or per replay run."""

    tenant_id: str
    observer: str
    prevent: bool
    vpc_id: str | None = None
    service_name: str | None = None
    # rule file path (as the signature records it) -> "pack@version"
    rulesets: Mapping[str, str] = field(default_factory=dict)
    default_ruleset: str | None = None


def event_action(rule_action: str, *, prevent: bool) -> str:
    if rule_action in ("drop", "reject"):
        return "dropped" if prevent else "alerted"
    if rule_action == "pass":
        return "allowed"
    return "alerted"


def severity(priority: int | None) -> int:
    if priority is None:
        return 3
    return min(4, max(1, int(priority)))


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def common_alert(hit: Any, flow: FlowView, ctx: AlertContext, *, seq: int = 0) -> dict[str, Any]:
    """The alert document for ``hit``; ``seq`` is the hit's index among this flow's alerts."""
    sig = hit.sig
    tup = flow.tuple
    if Direction(hit.direction) is Direction.TO_SERVER:
        src_ip, src_port, dst_ip, dst_port = tup.src_ip, tup.src_port, tup.dst_ip, tup.dst_port
    else:
        src_ip, src_port, dst_ip, dst_port = tup.dst_ip, tup.dst_port, tup.src_ip, tup.src_port
    has_ports = tup.proto in ("tcp", "udp")
    http = hit.app.get("http") if isinstance(hit.app, Mapping) else None
    http = http if isinstance(http, Mapping) else {}
    status = http.get("status")
    matched_var = None
    fp = getattr(sig, "fast_pattern", None)
    if fp is not None:
        matched_var = getattr(fp, "buffer", None)
    if matched_var is None and getattr(sig, "buffers", None):
        matched_var = sig.buffers[0].name
    tags = [f"classtype:{sig.classtype}"] if getattr(sig, "classtype", None) else []
    event_id = uuid.uuid5(_EVENT_NS, f"{ctx.observer}|{flow.flow_id}|{sig.gid}:{sig.sid}:{sig.rev}|"
                                     f"{int(hit.direction)}|{hit.ts:.6f}|{seq}")
    alert = Alert(
        module="ips",
        action=event_action(hit.action, prevent=ctx.prevent),
        tenant_id=ctx.tenant_id,
        vpc_id=ctx.vpc_id,
        service_name=ctx.service_name,
        rule_id=str(sig.sid),
        rule_name=sig.msg,
        ruleset=ctx.rulesets.get(str(getattr(sig, "file", "")), ctx.default_ruleset),
        category=sig.category or None,
        severity=severity(sig.priority),
        tags=tags,
        observer_name=ctx.observer,
        source_ip=src_ip,
        source_port=src_port if has_ports else None,
        destination_ip=dst_ip,
        destination_port=dst_port if has_ports else None,
        transport=tup.proto if tup.proto in ("tcp", "udp", "icmp") else "ip",
        http_method=str(http["http_method"])[:32] if http.get("http_method") else None,
        url_original=http.get("url") or None,
        url_domain=str(http["hostname"])[:255] if http.get("hostname") else None,
        status_code=status if isinstance(status, int) and 100 <= status <= 599 else None,
        user_agent=http.get("http_user_agent") or None,
        matched_var=matched_var,
        matched_data=printable(hit.payload[:600]) if hit.payload else None,
        flow_id=str(flow.flow_id),
        event_id=str(event_id),
        timestamp=rfc3339(hit.ts),
    )
    return alert.to_dict()
