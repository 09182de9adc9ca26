"""Antivirus on uploads: the WAF sends each uploaded file to the scan service before forwarding.

The verdict decides: infected -> 403 (prevent) and an ``event.module: av`` alert per file with the
request's trace id, so the WAF's and the AV's alerts for one request are found together; scanner
down or slow -> the site's fail policy: ``closed`` answers 503, ``open`` forwards, both alert.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from services.av.alerts import av_alert
from services.av.client import AvClient, ScanRejected
from services.av.models import ScanResult
from services.waf.alerts import RequestFacts
from services.waf.uploads import Upload


@dataclass(slots=True)
class AvDecision:
    status: int | None = None           # None: forward; else answer with this status
    reason: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)


async def scan_uploads(client: AvClient | None, uploads: list[Upload], facts: RequestFacts, *,
                       prevent: bool) -> AvDecision:
    site = facts.site
    fail_closed = site.av_fail_policy == "closed"
    if client is None:  # antivirus subscribed but no scanner configured for this WAF
        results: list[ScanResult | BaseException] = [ScanResult(verdict="error", sha256="", size=len(u.data),
                                                                 duration_ms=0.0, reason="no scan service configured")
                                                      for u in uploads]
    else:
        results = await asyncio.gather(
            *(client.scan(u.data, file_name=u.name, tenant_id=site.tenant_id, trace_id=facts.request_id)
              for u in uploads), return_exceptions=True)
    decision = AvDecision()
    for upload, result in zip(uploads, results):
        if isinstance(result, ScanRejected):
            result = ScanResult(verdict="error", sha256="", size=len(upload.data), duration_ms=0.0,
                                reason=f"file larger than the scan service accepts: {result}")
        elif isinstance(result, BaseException):
            result = ScanResult(verdict="error", sha256="", size=len(upload.data), duration_ms=0.0,
                                reason=f"scan failed: {result!r}")
        if result.infected:
            action = "blocked" if prevent else "alerted"
            if prevent:
                decision.status, decision.reason = 403, "infected upload"
        elif result.verdict == "error":
            action = "blocked" if (prevent and fail_closed) else "alerted"
            if prevent and fail_closed and decision.status is None:
                decision.status, decision.reason = 503, "upload could not be scanned"
        else:
            continue
        decision.alerts.append(av_alert(result, tenant_id=site.tenant_id, vpc_id=site.vpc_id,
                                        trace_id=facts.request_id, file_name=upload.name[:8192], action=action,
                                        observer=facts.observer, service_name=site.name,
                                        source_ip=facts.client_ip or None))
    return decision
