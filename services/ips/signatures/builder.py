"""Per-rule parse state: where the next content goes, what a modifier applies to, then freezing.

Keyword setups mutate a ``Builder``; ``finish`` turns it into an immutable ``Signature``. The
state mirrors Suricata's ``SigMatch`` lists during parsing: a "current list" set by sticky buffers
(``http.uri;``), legacy modifiers that move the last content to a buffer list (``http_uri;``),
and "the last content" that modifiers such as ``nocase``/``distance`` apply to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.ips.model import AppProto
from services.ips.signatures.classification import Classification
from services.ips.signatures.keywords.base import Arg
from services.ips.signatures.lexer import Source
from services.ips.signatures.model import (
    AppProtoCheck,
    BufferInspection,
    FastPattern,
    FlowbitOp,
    FlowSpec,
    Signature,
    ThresholdSpec,
    XbitOp,
)
from services.ips.signatures.variables import AddressSet, PortSet

PAYLOAD = "payload"


@dataclass
class BufferDraft:
    name: str
    transforms: tuple[Any, ...] = ()
    items: list[tuple[int, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.name, tuple(t.name for t in self.transforms)


@dataclass
class Header:
    action: str
    proto: str
    transport: str
    app_proto: AppProto | None
    src_addr: AddressSet
    src_ports: PortSet
    dst_addr: AddressSet
    dst_ports: PortSet
    bidirectional: bool
    packet_only: bool = False
    stream_only: bool = False


class Builder:
    def __init__(
        self,
        src: Source,
        header: Header,
        classifications: dict[str, Classification] | None,
    ) -> None:
        self.src = src
        self.header = header
        self.classifications = classifications
        self.app_proto: AppProto | None = header.app_proto
        self.app_proto_origin = f"protocol '{header.proto}'" if header.app_proto else ""
        self._seq = 0
        self.drafts: dict[tuple[str, tuple[str, ...]], BufferDraft] = {}
        self.sticky: BufferDraft | None = None
        self.sticky_fresh = False  # nothing added since the sticky buffer keyword (transforms go here)
        self.last_content: Any = None  # ContentDraft
        self.last_content_draft: BufferDraft | None = None
        self.byte_vars: set[str] = set()
        # meta
        self.sid: int | None = None
        self.gid = 1
        self.rev = 0
        self.msg = ""
        self.classtype: str | None = None
        self.priority: int | None = None
        self.references: list[tuple[str, str]] = []
        self.metadata: dict[str, list[str]] = {}
        self.target: str | None = None
        # detection state
        self.flow: FlowSpec | None = None
        self.packet_checks: list[Any] = []
        self.flowbits: list[FlowbitOp] = []
        self.xbits: list[XbitOp] = []
        self.threshold: ThresholdSpec | None = None
        self.detection_filter: ThresholdSpec | None = None
        self.app_layer: AppProtoCheck | None = None
        self.noalert = False
        self.fast_pattern_content: Any = None
        self.seen: set[str] = set()

    # -- buffers ------------------------------------------------------------------------------

    def buffer(self, name: str, transforms: tuple[Any, ...] = ()) -> BufferDraft:
        key = (name, tuple(t.name for t in transforms))
        draft = self.drafts.get(key)
        if draft is None:
            draft = self.drafts[key] = BufferDraft(name, transforms)
        return draft

    def current(self) -> BufferDraft:
        return self.sticky if self.sticky is not None else self.buffer(PAYLOAD)

    def add(self, element: Any, draft: BufferDraft | None = None) -> BufferDraft:
        draft = draft or self.current()
        if draft is self.sticky:
            self.sticky_fresh = False
        self._seq += 1
        draft.items.append((self._seq, element))
        return draft

    def move(self, element: Any, source: BufferDraft, target: BufferDraft) -> None:
        """Legacy modifiers (``content:"x"; http_uri;``) move an element, keeping its rule order."""
        for i, (seq, item) in enumerate(source.items):
            if item is element:
                del source.items[i]
                target.items.append((seq, item))
                target.items.sort(key=lambda pair: pair[0])
                return
        raise AssertionError("element not in its buffer")

    def previous_in(self, draft: BufferDraft, element: Any) -> Any:
        """The element before ``element`` in its buffer (what ``distance``/``R`` is relative to)."""
        prev = None
        for _, item in draft.items:
            if item is element:
                return prev
            prev = item
        return prev

    def use_app_proto(self, proto: AppProto, arg: Arg, what: str) -> None:
        """A keyword that only exists for one app-layer protocol fixes the rule's protocol."""
        if self.app_proto is None:
            self.app_proto = proto
            self.app_proto_origin = what
        elif self.app_proto is not proto:
            raise arg.error(f"{what} needs protocol {proto.value}, but the rule is for {self.app_proto.value} ({self.app_proto_origin})")

    # -- freezing -----------------------------------------------------------------------------

    def finish(self) -> Signature:
        from services.ips.signatures.keywords import fast_pattern

        src = self.src
        if self.sid is None:
            raise src.error("expected a 'sid' option: every rule needs one", len(src.text.rstrip()) - 1)
        buffers: list[BufferInspection] = []
        contents: list[tuple[BufferDraft, Any]] = []
        for draft in self.drafts.values():
            elements = []
            for _, item in draft.items:
                if hasattr(item, "freeze"):
                    contents.append((draft, item))
                    item = item.freeze()
                elements.append(item)
            if elements or draft.transforms:
                buffers.append(BufferInspection(draft.name, tuple(elements), draft.transforms))
        fp: FastPattern | None = fast_pattern.select(self, contents)
        header = self.header
        priority = self.priority
        category = None
        if self.classtype is not None and self.classifications is not None:
            cls = self.classifications[self.classtype]
            category = cls.description
            if priority is None:
                priority = cls.priority
        transport = header.transport
        return Signature(
            action=header.action,
            proto=header.proto,
            transport=transport,
            app_proto=self.app_proto,
            src_addr=header.src_addr,
            src_ports=header.src_ports,
            dst_addr=header.dst_addr,
            dst_ports=header.dst_ports,
            bidirectional=header.bidirectional,
            sid=self.sid,
            gid=self.gid,
            rev=self.rev,
            msg=self.msg,
            classtype=self.classtype,
            category=category,
            priority=priority if priority is not None else 3,
            references=tuple(self.references),
            metadata=self.metadata,
            target=self.target,
            flow=self.flow,
            buffers=tuple(buffers),
            fast_pattern=fp,
            packet_checks=tuple(self.packet_checks),
            flowbits=tuple(self.flowbits),
            xbits=tuple(self.xbits),
            threshold=self.threshold,
            detection_filter=self.detection_filter,
            app_layer=self.app_layer,
            noalert=self.noalert or any(op.cmd == "noalert" for op in self.flowbits) or any(op.cmd == "noalert" for op in self.xbits),
            packet_only=header.packet_only,
            stream_only=header.stream_only,
            file=src.file,
            line=src.line,
            raw=src.text,
        )
