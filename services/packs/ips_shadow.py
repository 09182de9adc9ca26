"""Shadow inspection on IPS listeners: a candidate pack version sees every flow and never acts.

A listener with ``shadow: core@1.1.0`` (tenancy or control plane) gets a second engine built from
its packs with the candidate in place of the active version (services.ips.config.EngineTable).
For each connection the proxy opens one :class:`FlowShadow` beside the active ``FlowDetector``:

* the active detector's hits are noted as they are emitted (nothing extra runs for them);
* each chunk goes to the candidate detector *after* it has been handed to the other side's
  transport, so the candidate never delays forwarding, and its verdicts are ignored;
* at the end of the flow the two sets of sids are compared and the difference (sids firing in
  the candidate only, in the active only) goes to the shadow store the WAF uses
  (services.packs.shadow, one row per differing sid, per-minute counts of flows), which
  ``secchain rules diff-report --listener NAME`` summarises.

The candidate's cost is bounded as Suricata bounds stream inspection (``stream.reassembly.depth``,
1 MiB by default): past ``depth`` bytes in a direction the candidate is no longer fed, and the
active hits after that point are not counted either, so a long flow never reads as a difference.
A candidate that raises is dropped for that flow (counted as not evaluated), the flow goes on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from services.ips.model import Direction
from services.packs.shadow import ShadowEvaluator, ShadowResult

log = logging.getLogger("secchain.packs.shadow")

DEFAULT_DEPTH = 1 << 20
DEFAULT_DB = Path("var/shadow/ips.db")
_PSH_ACK = 0x18

_recorder: ShadowEvaluator | None = None
_recorder_lock = threading.Lock()


def default_recorder() -> ShadowEvaluator:
    """The process's shadow writer ($SECCHAIN_IPS_SHADOW_DB, default var/shadow/ips.db), made on
    first use: most IPS processes never shadow and never open the file."""
    global _recorder
    with _recorder_lock:
        if _recorder is None:
            _recorder = ShadowEvaluator(Path(os.environ.get("SECCHAIN_IPS_SHADOW_DB", str(DEFAULT_DB))))
        return _recorder


class FlowShadow:
    """One flow's candidate detector and the sids each side raised."""

    __slots__ = ("recorder", "detector", "tenant", "listener", "active_label", "candidate_label", "flow_id",
                 "target", "depth", "seen", "active", "candidate", "stopped", "failed")

    def __init__(self, recorder: ShadowEvaluator, candidate: Any, *, active_label: str, tenant: str, listener: str,
                 tup: Any, flow_id: int, ts: float, depth: int = DEFAULT_DEPTH) -> None:
        self.recorder = recorder
        self.tenant, self.listener = tenant, listener
        self.active_label, self.candidate_label = active_label, candidate.label
        self.flow_id = flow_id
        self.target = f"{tup.src_ip}:{tup.src_port} -> {tup.dst_ip}:{tup.dst_port}"
        self.depth = depth
        self.seen = {Direction.TO_SERVER: 0, Direction.TO_CLIENT: 0}
        self.active: set[int] = set()
        self.candidate: set[int] = set()
        self.stopped = False   # depth reached: neither side counts from here
        self.failed = False
        self.detector = candidate.engine.new_flow(tup, flow_id=flow_id, ts=ts)
        self._hits(self.detector.on_established(ts))

    def _hits(self, hits: list[Any] | None) -> None:
        if hits:
            self.candidate.update(h.sig.sid for h in hits)

    def active_hits(self, hits: list[Any]) -> None:
        if not self.stopped:
            self.active.update(h.sig.sid for h in hits)

    def feed(self, direction: Direction, data: bytes) -> None:
        """A chunk the active engine has inspected and the proxy has forwarded (or blocked)."""
        if self.stopped or self.failed:
            return
        seen = self.seen[direction] + len(data)
        self.seen[direction] = seen
        if seen > self.depth:
            self.stopped = True
            return
        ts = time.time()
        try:
            self._hits(self.detector.on_packet(direction, data, ts, tcp_flags=_PSH_ACK))
            self._hits(self.detector.on_stream(direction, data, ts))
        except Exception:  # noqa: BLE001 - the candidate's error is evidence, never the flow's end
            log.exception("%s: shadow %s failed on flow %d", self.listener, self.candidate_label, self.flow_id)
            self.failed = True

    def close(self) -> None:
        """The flow ended: the candidate's end-of-flow rules, then one record for the store."""
        if not self.failed:
            try:
                self._hits(self.detector.on_close(time.time()))
            except Exception:  # noqa: BLE001
                log.exception("%s: shadow %s failed closing flow %d", self.listener, self.candidate_label, self.flow_id)
                self.failed = True
        if self.failed:
            self.recorder.count_dropped(self.tenant, self.listener, self.active_label, self.candidate_label)
            return
        self.recorder.submit(ShadowResult(
            tenant=self.tenant, site=self.listener, active_label=self.active_label,
            candidate_label=self.candidate_label, request_id=str(self.flow_id), target=self.target, at=time.time(),
            only_candidate=frozenset(self.candidate - self.active), only_active=frozenset(self.active - self.candidate)))


def open_flow_shadow(recorder: ShadowEvaluator | None, built: Any, spec: Any, tup: Any, flow_id: int,
                     ts: float) -> FlowShadow | None:
    """A FlowShadow when the listener's engine carries a candidate; None (logged) if it cannot open."""
    if built is None or built.shadow is None:
        return None
    try:
        return FlowShadow(recorder or default_recorder(), built.shadow, active_label=built.label,
                          tenant=spec.tenant_id, listener=spec.name, tup=tup, flow_id=flow_id, ts=ts)
    except Exception:  # noqa: BLE001
        log.exception("%s: shadow %s not opened for flow %d", spec.name, built.shadow.label, flow_id)
        return None
