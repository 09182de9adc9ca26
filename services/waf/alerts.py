"""Turning a finished WAF transaction into alerts (one per rule that logs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shared.config.tenancy import Site
from shared.events import Alert


class AlertSink(Protocol):
    def send(self, alert: dict[str, Any]) -> None: ...


def event_severity(modsec_severity: int | None) -> int:
    """ModSecurity's syslog-style severity (0 EMERGENCY .. 7 DEBUG) to the alert's 1 (high) .. 4 (low).

    CRS gives CRITICAL (2) to attacks, ERROR (3) to outbound leaks, WARNING (4) and NOTICE (5) to
    protocol anomalies; Suricata's priorities 1..4 read the same way, so SOC queries work across modules.
    """
    if modsec_severity is None:
        return 3
    if modsec_severity <= 2:
        return 1
    if modsec_severity == 3:
        return 2
    if modsec_severity == 4:
        return 3
    return 4


@dataclass(slots=True)
class RequestFacts:
    request_id: str
    site: Site
    client_ip: str
    client_port: int | None
    server_ip: str | None
    server_port: int | None
    method: str
    url: str
    host: str
    user_agent: str | None
    observer: str
    ruleset: str


def alerts_for(tx: Any, facts: RequestFacts, *, blocked: bool, status: int | None) -> list[dict[str, Any]]:
    """Alerts for every logged rule match of ``tx``.

    ``event.action`` is ``blocked`` only when the WAF really refused the request (prevent mode and an
    intervention); the same matches in detect mode are ``alerted``.
    """
    docs = []
    score = getattr(tx, "anomaly_score", None)
    for m in tx.matched_rules:
        if not m.log:
            continue
        alert = Alert(
            module="waf",
            action="blocked" if blocked else "alerted",
            tenant_id=facts.site.tenant_id,
            vpc_id=facts.site.vpc_id,
            service_name=facts.site.name,
            rule_id=str(m.id),
            rule_name=m.msg,
            ruleset=facts.ruleset,
            category=_category(m.tags),
            severity=event_severity(m.severity),
            tags=list(m.tags),
            observer_name=facts.observer,
            source_ip=facts.client_ip,
            source_port=facts.client_port,
            destination_ip=facts.server_ip,
            destination_port=facts.server_port,
            transport="tcp",
            http_method=facts.method[:32],
            url_original=facts.url,
            url_domain=facts.host[:255] or None,
            status_code=status,
            user_agent=facts.user_agent,
            matched_var=m.matched_var or None,
            matched_data=m.matched_data or None,
            anomaly_score=score if isinstance(score, int) and score >= 0 else None,
            waf_mode=facts.site.mode,
            trace_id=facts.request_id,
        )
        docs.append(alert.to_dict())
    return docs


def _category(tags: tuple[str, ...] | list[str]) -> str | None:
    # Our packs and CRS both tag the attack class as "attack-<class>"; the first one is the category.
    for tag in tags:
        if tag.startswith("attack-"):
            return tag
    return None
