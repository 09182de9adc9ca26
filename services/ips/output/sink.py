"""Where IPS hits go: EVE lines (a file or stdout) and common alerts (Kafka through the spooling
producer). The inline proxy and pcap replay both write through :class:`AlertOutput`, so the two
paths cannot drift apart in what they record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, TextIO

from services.ips.output.alerts import AlertContext, common_alert
from services.ips.output.eve import PKT_SRC_WIRE, FlowView, dumps, eve_alert

log = logging.getLogger("secchain.ips")


class AlertSink(Protocol):
    def send(self, alert: dict[str, Any]) -> None: ...


class AlertOutput:
    """Formats and delivers the hits of one listener (or one replay run).

    ``eve`` is a text stream opened by the caller (Suricata's ``eve.json`` is append-only JSON
    lines); ``sink`` takes common alerts and must not block (``AlertProducer.send`` only queues).
    """

    def __init__(self, ctx: AlertContext, *, eve: TextIO | None = None, sink: AlertSink | None = None,
                 in_iface: str | None = None) -> None:
        self.ctx = ctx
        self.eve = eve
        self.sink = sink
        self.in_iface = in_iface
        self.emitted = 0

    def emit(self, hits: Iterable[Any], flow: FlowView, *, seq: int, pcap_cnt: int | None = None,
             pkt_src: str = PKT_SRC_WIRE) -> int:
        """Write every hit; returns the next ``seq`` for this flow."""
        for hit in hits:
            if self.eve is not None:
                record = eve_alert(hit, flow, prevent=self.ctx.prevent, pcap_cnt=pcap_cnt, pkt_src=pkt_src,
                                   in_iface=self.in_iface)
                self.eve.write(dumps(record) + "\n")
            if self.sink is not None:
                try:
                    self.sink.send(common_alert(hit, flow, self.ctx, seq=seq))
                except Exception:  # a full queue or a closed producer must not take the flow down
                    log.exception("alert for sid %s not delivered", hit.sig.sid)
            seq += 1
            self.emitted += 1
        return seq
