"""The compiled form of a rule: immutable objects the detection engine reads on its hot path.

Everything here is built once by the parser (``parser.py`` + ``keywords/``) and never changes, so
engines built aside on reload can share signatures and a worker never sees a half-loaded rule.
Keyword-specific objects (``Content``, ``Pcre``, ``ByteTest`` ...) live beside their parsers in
``keywords/``; this module holds the shapes the engine and the drivers depend on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from services.ips.model import AppProto, Direction
from services.ips.signatures.variables import AddressSet, PortSet


class Element(Protocol):
    """One step of a buffer's inspection (content, pcre, byte_test, isdataat, bsize ...).

    ``find`` returns the cursor after the step (``prev`` itself for checks that do not move it)
    or -1; elements that can match at several places store their match start in
    ``ctx.last_start`` so the inspector can resume the search past it (see ``inspect.py``).
    """

    relative: bool  # position depends on the previous element's match (distance, R, relative)
    depends: bool  # result depends on earlier elements (relative, or reads a byte_extract var)
    movable: bool  # can match at more than one place, so retrying it may help later elements

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int: ...


class Transform(Protocol):
    name: str

    def apply(self, data: bytes) -> bytes: ...


class PacketCheck(Protocol):
    """A packet-level keyword (dsize, flags, ttl, itype ...), matched against a packet view.

    The view needs the attributes the check reads: ``payload``, ``tcp_flags``, ``ttl``,
    ``icmp_type``, ``icmp_code``, ``ip_proto``, ``ip_id`` (``None`` when the packet has no such
    field, which never matches, as in Suricata where e.g. ``itype`` on a TCP packet is false).
    """

    def match(self, packet: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class BufferInspection:
    """The elements one buffer must satisfy, in rule order.

    ``name`` is ``"payload"`` for content without a sticky buffer (the packet payload or the
    reassembled stream), else the canonical sticky-buffer name (``"http.uri"``, ``"dns.query"``).
    ``transforms`` (``dotprefix``, ``to_lowercase`` ...) are applied to the buffer before the
    elements, as Suricata's transformed inspection buffers are; ``inspect_buffer`` applies them.
    """

    name: str
    elements: tuple[Any, ...]
    transforms: tuple[Any, ...] = ()
    # retry[i]: when element i+1.. fail, look for element i's next occurrence (Suricata only does
    # this when the next keyword is relative to it: DETECT_CONTENT_RELATIVE_NEXT).
    retry: tuple[bool, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        els = self.elements
        object.__setattr__(
            self,
            "retry",
            tuple(
                bool(getattr(el, "movable", False)) and i + 1 < len(els) and els[i + 1].relative
                for i, el in enumerate(els)
            ),
        )

    def transform(self, data: bytes) -> bytes:
        for t in self.transforms:
            data = t.apply(data)
        return data


@dataclass(frozen=True, slots=True)
class FastPattern:
    """The content the multi-pattern prefilter looks for; a rule is a candidate only if it is found.

    ``pattern`` is what to search (already chopped by ``fast_pattern:offset,length``); ``content``
    the whole content it came from; ``transforms`` must be applied to ``buffer`` first. ``only``
    is kept for reporting: Suricata 7 treats ``fast_pattern:only`` as plain ``fast_pattern``, and
    the content is still confirmed by inspection here.
    """

    buffer: str
    pattern: bytes
    nocase: bool
    only: bool = False
    content: bytes = b""
    transforms: tuple[str, ...] = ()
    explicit: bool = False


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """``flow:`` options. ``established`` None = either; ``direction`` None = either way."""

    established: bool | None = None
    stateless: bool = False
    direction: Direction | None = None
    stream: str | None = None  # "only" (only_stream) / "no" (no_stream)
    frag: str | None = None  # "only" / "no"

    def matches(self, *, established: bool, direction: Direction, stream: bool) -> bool:
        if self.established is not None and established != self.established:
            return False
        if self.direction is not None and direction != self.direction:
            return False
        if self.stream == "only" and not stream:
            return False
        return not (self.stream == "no" and stream)


@dataclass(frozen=True, slots=True)
class FlowbitOp:
    """``flowbits:isset,a|b`` → ``FlowbitOp("isset", ("a", "b"), any_of=True)``."""

    cmd: str  # set isset isnotset unset toggle noalert
    names: tuple[str, ...] = ()
    any_of: bool = False


@dataclass(frozen=True, slots=True)
class XbitOp:
    """``xbits:set,name,track ip_src,expire 60``: a bit kept per host or host pair, not per flow."""

    cmd: str  # set isset isnotset unset toggle noalert
    name: str
    track: str  # ip_src ip_dst ip_pair
    expire: int | None = None


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    """``threshold`` (kind limit/threshold/both) or ``detection_filter`` (kind detection_filter)."""

    kind: str
    track: str  # by_src by_dst by_rule by_both
    count: int
    seconds: int


@dataclass(frozen=True, slots=True)
class AppProtoCheck:
    """``app-layer-protocol:[!]name``: compares the flow's detected protocol."""

    proto: str
    negated: bool = False

    def matches(self, app_proto: AppProto | str | None) -> bool:
        value = app_proto.value if isinstance(app_proto, AppProto) else (app_proto or "unknown")
        return (value == self.proto) != self.negated


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """One loaded rule. ``buffers`` must all match; so must ``packet_checks``, ``flow`` and bits."""

    action: str
    proto: str
    transport: str  # tcp udp icmp ip any
    app_proto: AppProto | None
    src_addr: AddressSet
    src_ports: PortSet
    dst_addr: AddressSet
    dst_ports: PortSet
    bidirectional: bool
    sid: int
    gid: int = 1
    rev: int = 0
    msg: str = ""
    classtype: str | None = None
    category: str | None = None
    priority: int = 3
    references: tuple[tuple[str, str], ...] = ()
    metadata: dict[str, list[str]] = field(default_factory=dict, compare=False)
    target: str | None = None
    flow: FlowSpec | None = None
    buffers: tuple[BufferInspection, ...] = ()
    fast_pattern: FastPattern | None = None
    packet_checks: tuple[Any, ...] = ()
    flowbits: tuple[FlowbitOp, ...] = ()
    xbits: tuple[XbitOp, ...] = ()
    threshold: ThresholdSpec | None = None
    detection_filter: ThresholdSpec | None = None
    app_layer: AppProtoCheck | None = None
    noalert: bool = False
    packet_only: bool = False  # "tcp-pkt": inspect packets, never the reassembled stream
    stream_only: bool = False  # "tcp-stream"
    file: str = "<string>"
    line: int = 1
    raw: str = ""

    @property
    def key(self) -> tuple[int, int]:
        return self.gid, self.sid

    def buffer_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.buffers)
