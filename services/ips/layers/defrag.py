"""IP fragment reassembly (IPv4 and IPv6), between :func:`decode` and the flow table.

::

    defrag = Defragmenter()
    for frame in read_pcap(path):
        pkt = decode(frame)
        pkt = defrag.process(pkt) if pkt is not None and pkt.fragment else pkt
        if pkt is not None:
            table.process(pkt)

A fragment is held until its datagram is complete; then one :class:`Packet` for the whole
datagram comes out (``raw`` is the rebuilt IP packet with ``linktype`` 101, raw IP, so the EVE
``packet`` field decodes; ``pcap_cnt`` and ``ts`` are those of the completing fragment, as
Suricata's pseudo packet). Overlapping fragments are resolved first-wins, the same policy as the
TCP reassembler, so a rewrite by a later fragment (the Teardrop / Ptacek-Newsham overlap
evasions) is not what gets inspected; ``overlaps`` counts those that differed. Memory is bounded:
at most ``max_trackers`` datagrams in progress, each at most 65535 bytes, dropped after
``timeout`` seconds (Suricata's ``defrag.timeout`` default is 60).
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from services.ips.layers.decode import Packet, decode_ip

__all__ = ["Defragmenter"]

MAX_DATAGRAM = 65535


@dataclass(slots=True)
class _Tracker:
    first_ts: float
    header: bytes = b""  # IPv4 header (options included) of the offset-0 fragment
    parts: list[tuple[int, bytes]] = field(default_factory=list)  # sorted, non-overlapping
    total: int | None = None  # payload length, known once the last fragment arrived
    size: int = 0


class Defragmenter:
    def __init__(self, *, timeout: float = 60.0, max_trackers: int = 10_000) -> None:
        self.timeout = timeout
        self.max_trackers = max_trackers
        self._trackers: OrderedDict[tuple, _Tracker] = OrderedDict()
        self.overlaps = 0
        self.dropped = 0
        self.reassembled = 0

    def __len__(self) -> int:
        return len(self._trackers)

    def process(self, pkt: Packet) -> Packet | None:
        """Non-fragments pass through; fragments are held; the completing one returns the whole."""
        if not pkt.fragment:
            return pkt
        self._expire(pkt.ts)
        key = (pkt.ip_version, pkt.src_ip, pkt.dst_ip, pkt.ip_proto, pkt.ip_id)
        tr = self._trackers.get(key)
        if tr is None:
            if len(self._trackers) >= self.max_trackers:
                self._trackers.popitem(last=False)
                self.dropped += 1
            tr = self._trackers[key] = _Tracker(pkt.ts)
        data = pkt.ip_payload
        start = pkt.frag_offset
        end = start + len(data)
        if end > MAX_DATAGRAM:
            del self._trackers[key]
            self.dropped += 1
            return None
        if start == 0:
            tr.header = pkt.ip_header
        if not pkt.ip_flags & 1:  # last fragment: the datagram's length is now known
            if tr.total is None or end < tr.total:
                tr.total = end
        self._insert(tr, start, data)
        if tr.total is None or not tr.header:
            return None
        pos = 0
        for s, d in tr.parts:
            if s > pos:
                return None
            pos = max(pos, s + len(d))
        if pos < tr.total:
            return None
        del self._trackers[key]
        payload = b"".join(d for _, d in tr.parts)[: tr.total]
        whole = self._rebuild(pkt, tr.header, payload)
        out = decode_ip(whole, 0, pkt.ts, 101, pkt.pcap_cnt, pkt.vlan)
        if out is not None:
            self.reassembled += 1
        return out

    def _insert(self, tr: _Tracker, start: int, data: bytes) -> None:
        end = start + len(data)
        pos = start
        pieces = []
        for s, d in tr.parts:
            e = s + len(d)
            if e <= pos or s >= end:
                continue
            if s > pos:
                pieces.append((pos, data[pos - start : s - start]))
            lo, hi = max(pos, s), min(end, e)
            if data[lo - start : hi - start] != d[lo - s : hi - s]:
                self.overlaps += 1
            pos = max(pos, e)
        if pos < end:
            pieces.append((pos, data[pos - start :]))
        if pieces:
            tr.parts.extend(pieces)
            tr.parts.sort(key=lambda p: p[0])

    @staticmethod
    def _rebuild(pkt: Packet, header: bytes, payload: bytes) -> bytes:
        if pkt.ip_version == 4:
            ihl = len(header)
            hdr = bytearray(header)
            struct.pack_into("!H", hdr, 2, ihl + len(payload))
            struct.pack_into("!H", hdr, 6, 0)  # no MF, offset 0
            struct.pack_into("!H", hdr, 10, 0)
            return bytes(hdr) + payload
        # IPv6: base header with the fragment header taken out (the upper-layer protocol follows).
        src = ipaddress.IPv6Address(pkt.src_ip).packed
        dst = ipaddress.IPv6Address(pkt.dst_ip).packed
        return struct.pack("!IHBB", 6 << 28, len(payload), pkt.ip_proto, pkt.ttl) + src + dst + payload

    def _expire(self, now: float) -> None:
        while self._trackers:
            key, tr = next(iter(self._trackers.items()))
            if now - tr.first_ts < self.timeout:
                break
            del self._trackers[key]
            self.dropped += 1
