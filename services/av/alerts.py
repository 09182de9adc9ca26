"""AV alerts in the shared schema, built by whoever holds a Kafka producer (the WAF, or this service).

One alert per infected scan; the first signature is the rule, all of them go into ``tags`` so a
search on any signature name finds the alert. ``trace_id`` is the WAF request's trace id, which is
what correlates the WAF's request alert and this one in the audit search.
"""

from __future__ import annotations

from typing import Any

from shared.events import Alert, validate_alert
from services.av.models import ScanResult

# Severity per signature family (1 = highest, as Suricata's priority and the schema's event.severity).
_SEVERITY = {"Webshell": 1, "Script": 1, "Doc": 2, "Test": 3, "Heuristic": 2}


def _severity(name: str) -> int:
    parts = name.split(".")
    for part in parts[1:3]:
        if part in _SEVERITY:
            return _SEVERITY[part]
    return 2


def av_alert(result: ScanResult, *, tenant_id: str, vpc_id: str | None, trace_id: str | None,
             file_name: str | None, action: str, observer: str, service_name: str | None = None,
             source_ip: str | None = None) -> dict[str, Any]:
    """A schema-valid ``event.module: av`` alert for an infected (or errored) ``result``."""
    if not result.signatures and result.verdict != "error":
        raise ValueError(f"no alert for a {result.verdict} scan without signatures (sha256 {result.sha256})")
    if result.signatures:
        first = result.signatures[0]
        rule_id, rule_name, ruleset, severity = first.name, first.name, first.ruleset, _severity(first.name)
        category = "archive-bomb" if first.engine == "heuristic" else "malware"
    else:
        rule_id, rule_name, ruleset, severity = "Secchain.Scanner.Error", f"scan failed: {result.reason}", result.ruleset, 3
        category = "scanner-error"
    alert = Alert(
        module="av", action=action, tenant_id=tenant_id, rule_id=rule_id, observer_name=observer,
        severity=severity, rule_name=rule_name, ruleset=ruleset or None, category=category,
        tags=[f"av:{s.engine}:{s.name}" for s in result.signatures] + [f"av:verdict:{result.verdict}"],
        vpc_id=vpc_id, service_name=service_name, source_ip=source_ip,
        file_name=file_name, file_size=result.size, file_sha256=result.sha256 or None, trace_id=trace_id,
        matched_data=", ".join(s.name + (f" in {s.member}" if s.member else "") for s in result.signatures) or None,
    )
    doc = alert.to_dict()
    validate_alert(doc)
    return doc
