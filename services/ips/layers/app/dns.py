"""DNS over UDP and TCP: messages, transactions, ``dns.query`` and the EVE ``dns`` object.

::

    p = DnsParser("udp")
    [tx] = p.feed(Direction.TO_SERVER, query_datagram)     # a DnsTransaction with the query
    tx.buffer("dns.query") == b"www.example.com"
    p.feed(Direction.TO_CLIENT, answer_datagram)          # same tx, now with its response

Over TCP each message is preceded by a 2-byte length (RFC 1035 section 4.2.2); messages split
across segments or several per segment are handled. Names follow compression pointers
(RFC 1035 section 4.1.4) with a jump budget, so a pointer loop cannot hang the parser.
A malformed message is kept with ``malformed`` set (Suricata raises the ``dns.malformed_data``
event), it never raises. Like Suricata, ``dns.query`` is a multi-buffer: one value per question
(``tx.buffers("dns.query")``); ``buffer`` gives the first. Names are dotted, without the root dot.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from services.ips.model import Direction

__all__ = ["DnsParser", "DnsMessage", "DnsRecord", "DnsQuestion", "DnsTransaction", "parse_message", "RRTYPES"]

RRTYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 17: "RP",
    24: "SIG", 25: "KEY", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT",
    43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 52: "TLSA", 64: "SVCB",
    65: "HTTPS", 99: "SPF", 250: "TSIG", 251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA",
}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
_MAX_JUMPS = 32
_MAX_NAME = 255
_MAX_RECORDS = 512
_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


class _Malformed(Exception):
    pass


def _name(msg: bytes, off: int) -> tuple[bytes, int]:
    """Decode the name at ``off``; returns (dotted name, offset after the name in place)."""
    labels: list[bytes] = []
    total = 0
    jumps = 0
    end_in_place = -1
    pos = off
    n = len(msg)
    while True:
        if pos >= n:
            raise _Malformed("name runs past the message")
        ln = msg[pos]
        if ln == 0:
            pos += 1
            break
        if ln & 0xC0 == 0xC0:
            if pos + 1 >= n:
                raise _Malformed("truncated pointer")
            if end_in_place == -1:
                end_in_place = pos + 2
            jumps += 1
            if jumps > _MAX_JUMPS:
                raise _Malformed("compression pointer loop")
            pos = ((ln & 0x3F) << 8) | msg[pos + 1]
            continue
        if ln & 0xC0:
            raise _Malformed("unsupported label type")
        label = msg[pos + 1 : pos + 1 + ln]
        if len(label) != ln:
            raise _Malformed("truncated label")
        total += ln + 1
        if total > _MAX_NAME:
            raise _Malformed("name too long")
        labels.append(label)
        pos += 1 + ln
    return b".".join(labels), (end_in_place if end_in_place != -1 else pos)


@dataclass(slots=True)
class DnsQuestion:
    rrname: bytes
    rrtype: int
    rrclass: int


@dataclass(slots=True)
class DnsRecord:
    rrname: bytes
    rrtype: int
    rrclass: int
    ttl: int
    rdata: bytes  # raw
    rdata_text: str | None = None  # as Suricata logs it (address, name, text), None if not decoded

    def eve(self) -> dict:
        out = {"rrname": self.rrname.decode("latin-1"), "rrtype": RRTYPES.get(self.rrtype, str(self.rrtype)), "ttl": self.ttl}
        if self.rdata_text is not None:
            out["rdata"] = self.rdata_text
        return out


@dataclass(slots=True)
class DnsMessage:
    id: int = 0
    flags: int = 0
    questions: list[DnsQuestion] = field(default_factory=list)
    answers: list[DnsRecord] = field(default_factory=list)
    authorities: list[DnsRecord] = field(default_factory=list)
    additionals: list[DnsRecord] = field(default_factory=list)
    malformed: str | None = None

    @property
    def qr(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


def _rdata_text(msg: bytes, rrtype: int, off: int, rdata: bytes) -> str | None:
    try:
        if rrtype == 1 and len(rdata) == 4:
            return socket.inet_ntoa(rdata)
        if rrtype == 28 and len(rdata) == 16:
            return socket.inet_ntop(socket.AF_INET6, rdata)
        if rrtype in (2, 5, 12, 39):
            return _name(msg, off)[0].decode("latin-1")
        if rrtype == 15:
            return _name(msg, off + 2)[0].decode("latin-1")
        if rrtype == 16:
            parts, i = [], 0
            while i < len(rdata):
                ln = rdata[i]
                parts.append(rdata[i + 1 : i + 1 + ln].decode("latin-1"))
                i += 1 + ln
            return "".join(parts)
        if rrtype == 6:
            mname, p = _name(msg, off)
            rname, _ = _name(msg, p)
            return f"{mname.decode('latin-1')} {rname.decode('latin-1')}"
    except _Malformed:
        return None
    return None


def parse_message(msg: bytes) -> DnsMessage:
    """Parse one DNS message; on malformed input return what was parsed, ``malformed`` set."""
    out = DnsMessage()
    if len(msg) < 12:
        out.malformed = "short header"
        return out
    ident, flags, qd, an, ns, ar = _HDR.unpack_from(msg, 0)
    out.id, out.flags = ident, flags
    pos = 12
    try:
        if qd + an + ns + ar > _MAX_RECORDS:
            raise _Malformed("too many records")
        for _ in range(qd):
            name, pos = _name(msg, pos)
            if pos + 4 > len(msg):
                raise _Malformed("truncated question")
            t, c = struct.unpack_from("!HH", msg, pos)
            pos += 4
            out.questions.append(DnsQuestion(name, t, c))
        for count, dest in ((an, out.answers), (ns, out.authorities), (ar, out.additionals)):
            for _ in range(count):
                name, pos = _name(msg, pos)
                if pos + 10 > len(msg):
                    raise _Malformed("truncated record")
                t, c, ttl, rdlen = _RR.unpack_from(msg, pos)
                pos += 10
                rdata = msg[pos : pos + rdlen]
                if len(rdata) != rdlen:
                    raise _Malformed("truncated rdata")
                dest.append(DnsRecord(name, t, c, ttl, rdata, _rdata_text(msg, t, pos, rdata)))
                pos += rdlen
    except _Malformed as exc:
        out.malformed = str(exc)
    except struct.error:
        out.malformed = "truncated"
    return out


@dataclass(eq=False, slots=True)
class DnsTransaction:
    index: int
    request: DnsMessage | None = None
    response: DnsMessage | None = None

    @property
    def id(self) -> int:
        return (self.request or self.response).id  # type: ignore[union-attr]

    def buffers(self, name: str) -> list[bytes]:
        if name == "dns.query":
            msg = self.request or self.response
            return [q.rrname for q in msg.questions] if msg is not None else []
        return []

    def buffer(self, name: str, direction: Direction | None = None) -> bytes | None:
        values = self.buffers(name)
        return values[0] if values else None

    def eve(self) -> dict:
        """Suricata 7's alert ``dns`` object: ``query`` list and ``answer`` (version 2 format)."""
        out: dict = {}
        if self.request is not None:
            out["query"] = [
                {
                    "type": "query",
                    "id": self.request.id,
                    "rrname": q.rrname.decode("latin-1"),
                    "rrtype": RRTYPES.get(q.rrtype, str(q.rrtype)),
                    "tx_id": self.index,
                    "opcode": self.request.opcode,
                }
                for q in self.request.questions
            ]
        r = self.response
        if r is not None:
            ans: dict = {
                "version": 2,
                "type": "answer",
                "id": r.id,
                "flags": f"{r.flags:x}",
                "qr": r.qr,
            }
            for bit, key in ((0x0400, "aa"), (0x0200, "tc"), (0x0100, "rd"), (0x0080, "ra")):
                if r.flags & bit:
                    ans[key] = True
            ans["opcode"] = r.opcode
            if r.questions:
                ans["rrname"] = r.questions[0].rrname.decode("latin-1")
                ans["rrtype"] = RRTYPES.get(r.questions[0].rrtype, str(r.questions[0].rrtype))
            ans["rcode"] = RCODES.get(r.rcode, str(r.rcode))
            if r.answers:
                ans["answers"] = [a.eve() for a in r.answers]
            if r.authorities:
                ans["authorities"] = [a.eve() for a in r.authorities]
            out["answer"] = ans
        return out


class DnsParser:
    """DNS transactions of one flow. ``transport`` is ``"udp"`` (one message per datagram) or
    ``"tcp"`` (length-prefixed messages in the reassembled stream)."""

    #: unanswered queries kept for matching; older ones are dropped (flood of spoofed queries)
    MAX_PENDING = 256

    def __init__(self, transport: str = "udp") -> None:
        self.transport = transport
        self.failed = False
        self.malformed = 0
        self.tx_count = 0
        self._pending: dict[int, DnsTransaction] = {}
        self._bufs = {Direction.TO_SERVER: bytearray(), Direction.TO_CLIENT: bytearray()}

    def feed(self, direction: Direction, data: bytes) -> list[DnsTransaction]:
        """A datagram (UDP) or stream bytes (TCP); returns the transactions it created or answered."""
        if self.failed or not data:
            return []
        if self.transport != "tcp":
            return [self._message(direction, data)]
        buf = self._bufs[direction]
        buf += data
        out: list[DnsTransaction] = []
        while len(buf) >= 2:
            ln = (buf[0] << 8) | buf[1]
            if ln < 12:
                self.failed = True
                buf.clear()
                break
            if len(buf) < 2 + ln:
                break
            msg = bytes(buf[2 : 2 + ln])
            del buf[: 2 + ln]
            out.append(self._message(direction, msg))
        return out

    def _message(self, direction: Direction, data: bytes) -> DnsTransaction:
        msg = parse_message(data)
        if msg.malformed:
            self.malformed += 1
        if direction is Direction.TO_CLIENT or msg.qr:
            tx = self._pending.pop(msg.id, None)
            if tx is None:
                tx = self._new()
            tx.response = msg
            return tx
        tx = self._new()
        tx.request = msg
        self._pending[msg.id] = tx
        if len(self._pending) > self.MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        return tx

    def _new(self) -> DnsTransaction:
        tx = DnsTransaction(self.tx_count)
        self.tx_count += 1
        return tx
