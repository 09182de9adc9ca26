"""``content`` and its modifiers: nocase, depth, offset, distance, within, startswith, endswith.

Example (ET style)::

    content:"POST"; http.method; content:"/gate.php"; http.uri; startswith;
    content:"|0d 0a|Host|3a 20|"; content:"evil"; distance:0; within:20; nocase;

Semantics follow Suricata 7 (``detect-content.c``, ``detect-engine-content-inspection.c``):

- ``offset``/``depth`` are absolute: the search window is ``[offset, offset + depth)``.
- ``distance``/``within`` make the content *relative* to the end of the previous content/pcre
  match in the same buffer: window ``[prev + distance, prev + distance + within)``; ``within``
  must be at least the pattern length, and mixing relative with absolute modifiers is an error.
- ``startswith`` is ``depth:len; offset:0``; ``endswith`` requires the match to end the buffer.
- ``!content`` succeeds when the pattern is absent from its window and never moves the cursor.
- byte_extract variables may stand for any of the four numbers (``distance:len_var;``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from services.ips.signatures.builder import Builder, BufferDraft
from services.ips.signatures.keywords.base import Arg, keyword

_ESCAPABLE = frozenset('\\;":|')
_HEX = frozenset("0123456789abcdefABCDEF")


def decode_content(arg: Arg, text: str, base: int) -> bytes:
    """Decode ``"abc|0d 0a|\\;"`` (quotes included, at value offset ``base``) into bytes."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        body, base = text[1:-1], base + 1
    elif text.startswith('"'):
        raise arg.error("expected a closing '\"'", base + len(text))
    else:
        body = text
    if body and "|" not in body and "\\" not in body and '"' not in body:
        return body.encode("utf-8")
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "|":
            end = body.find("|", i + 1)
            if end < 0:
                raise arg.error("expected '|' to close the hex section", base + i)
            digits = []
            for j in range(i + 1, end):
                h = body[j]
                if h in _HEX:
                    digits.append(h)
                elif h not in " \t":
                    raise arg.error(f"expected hex digits inside |...|, got {h!r}", base + j)
            if len(digits) % 2:
                raise arg.error("expected an even number of hex digits inside |...|", base + end)
            out += bytes.fromhex("".join(digits))
            i = end + 1
        elif c == "\\":
            if i + 1 >= n or body[i + 1] not in _ESCAPABLE:
                raise arg.error("expected one of \\\\ \\; \\\" \\: \\| after a backslash", base + i)
            out += body[i + 1].encode()
            i += 2
        elif c == '"':
            raise arg.error("expected '\\\"' for a quote inside the content", base + i)
        else:
            out += c.encode("utf-8")
            i += 1
    if not out:
        raise arg.error("expected a non-empty pattern", base)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Content:
    """A compiled content match; ``find`` is the hot path (``bytes.find`` or a literal regex)."""

    pattern: bytes
    nocase: bool = False
    negated: bool = False
    offset: int = 0
    depth: int | None = None
    distance: int = 0
    within: int | None = None
    startswith: bool = False
    endswith: bool = False
    relative: bool = False
    fast_pattern: bool = False
    vars: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None)  # offset depth distance within
    depends: bool = field(default=False, init=False)
    movable: bool = field(default=False, init=False)
    _rx: Any = field(default=None, init=False, repr=False, compare=False)
    _lower: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depends", self.relative or any(self.vars))
        object.__setattr__(self, "movable", not self.negated)
        object.__setattr__(self, "_lower", self.pattern.lower())

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        n = len(data)
        plen = len(self.pattern)
        if self.relative:
            distance, within = self.distance, self.within
            if self.vars[2] is not None or self.vars[3] is not None:
                distance, within = _var(ctx, self.vars[2], distance), _var(ctx, self.vars[3], within)
            lo = prev + distance
            hi = n if within is None else lo + within
            if lo < 0:
                lo = 0
        else:
            lo, depth = self.offset, self.depth
            if self.vars[0] is not None or self.vars[1] is not None:
                lo, depth = _var(ctx, self.vars[0], lo), _var(ctx, self.vars[1], depth)
            hi = n if depth is None else lo + depth
        if hi > n:
            hi = n
        if resume > lo:
            lo = resume
        if hi - lo < plen:
            found = -1
        elif self.endswith:
            found = n - plen
            if found < lo or n > hi:
                found = -1
            elif (data[found:].lower() if self.nocase else data[found:]) != (self._lower if self.nocase else self.pattern):
                found = -1
        elif self.nocase:
            rx = self._rx
            if rx is None:  # compiled on first use: most rules never reach inspection
                rx = _nocase_regex(self.pattern)
                object.__setattr__(self, "_rx", rx)
            m = rx.search(data, lo, hi)
            found = -1 if m is None else m.start()
        else:
            found = data.find(self.pattern, lo, hi)
        if self.negated:
            return -1 if found >= 0 else prev
        if found < 0:
            return -1
        ctx.last_start = found
        return found + plen


@functools.lru_cache(maxsize=8192)
def _nocase_regex(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(re.escape(pattern), re.IGNORECASE)


def _var(ctx: Any, name: str | None, default: Any) -> Any:
    return default if name is None else ctx.vars.get(name, 0)


class ContentDraft:
    """A content while its modifiers are still being read."""

    __slots__ = ("pattern", "negated", "nocase", "offset", "depth", "distance", "within", "startswith",
                 "endswith", "fast_pattern", "fp_only", "fp_chop", "vars", "start", "draft")

    def __init__(self, pattern: bytes, negated: bool, start: int, draft: BufferDraft) -> None:
        self.pattern = pattern
        self.negated = negated
        self.nocase = False
        self.offset: int | None = None
        self.depth: int | None = None
        self.distance: int | None = None
        self.within: int | None = None
        self.startswith = False
        self.endswith = False
        self.fast_pattern = False
        self.fp_only = False
        self.fp_chop: tuple[int, int] | None = None
        self.vars: list[str | None] = [None, None, None, None]
        self.start = start
        self.draft = draft

    @property
    def relative(self) -> bool:
        return self.distance is not None or self.within is not None or self.vars[2] is not None or self.vars[3] is not None

    @property
    def absolute(self) -> bool:
        return self.offset is not None or self.depth is not None or self.vars[0] is not None or self.vars[1] is not None

    def freeze(self) -> Content:
        depth = self.depth
        if self.startswith:
            depth = len(self.pattern)
        return Content(
            pattern=self.pattern,
            nocase=self.nocase,
            negated=self.negated,
            offset=self.offset or 0,
            depth=depth,
            distance=self.distance or 0,
            within=self.within,
            startswith=self.startswith,
            endswith=self.endswith,
            relative=self.relative,
            fast_pattern=self.fast_pattern,
            vars=tuple(self.vars),  # type: ignore[arg-type]
        )


@keyword("content")
def setup_content(b: Builder, arg: Arg) -> None:
    text = arg.require()
    negated = text.startswith("!")
    base = 0
    if negated:
        rest = text[1:]
        base = 1 + len(rest) - len(rest.lstrip())
        text = rest.strip()
    pattern = decode_content(arg, text, base)
    draft = b.current()
    content = ContentDraft(pattern, negated, arg.value_start, draft)
    b.add(content, draft)
    b.last_content = content


def last_content(b: Builder, arg: Arg) -> ContentDraft:
    if b.last_content is None:
        raise arg.error("expected a preceding 'content' for this modifier")
    return b.last_content


def _number(b: Builder, arg: Arg, *, signed: bool) -> tuple[int | None, str | None]:
    """A modifier's value: an integer, or the name of a byte_extract variable defined earlier."""
    text = arg.require()
    if text.lstrip("-").isdigit():
        value = int(text)
        if not signed and value < 0:
            raise arg.error(f"expected a non-negative integer, got {value}")
        if abs(value) > 1 << 20:
            raise arg.error(f"expected an integer of magnitude at most {1 << 20}")
        return value, None
    if text in b.byte_vars:
        return None, text
    raise arg.error(f"expected an integer or a byte_extract variable, got {text!r}")


@keyword("nocase")
def setup_nocase(b: Builder, arg: Arg) -> None:
    arg.none()
    c = last_content(b, arg)
    if c.nocase:
        raise arg.error("content already has nocase")
    c.nocase = True


@keyword("depth")
def setup_depth(b: Builder, arg: Arg) -> None:
    c = last_content(b, arg)
    value, var = _number(b, arg, signed=False)
    if c.startswith:
        raise arg.error("can't use depth with startswith (startswith already fixes the window)")
    if c.relative:
        raise arg.error("can't mix depth with the relative distance/within on one content")
    if c.depth is not None or c.vars[1] is not None:
        raise arg.error("content already has a depth")
    if value is not None:
        if value == 0:
            raise arg.error("expected a depth of at least 1")
        if value < len(c.pattern):
            raise arg.error(f"depth {value} is smaller than the content length {len(c.pattern)}")
    c.depth, c.vars[1] = value, var


@keyword("offset")
def setup_offset(b: Builder, arg: Arg) -> None:
    c = last_content(b, arg)
    value, var = _number(b, arg, signed=False)
    if c.startswith:
        raise arg.error("can't use offset with startswith")
    if c.relative:
        raise arg.error("can't mix offset with the relative distance/within on one content")
    if c.offset is not None or c.vars[0] is not None:
        raise arg.error("content already has an offset")
    c.offset, c.vars[0] = value, var


@keyword("distance")
def setup_distance(b: Builder, arg: Arg) -> None:
    c = last_content(b, arg)
    value, var = _number(b, arg, signed=True)
    if c.absolute or c.startswith:
        raise arg.error("can't mix the relative distance with depth/offset/startswith on one content")
    if c.distance is not None or c.vars[2] is not None:
        raise arg.error("content already has a distance")
    c.distance, c.vars[2] = value, var


@keyword("within")
def setup_within(b: Builder, arg: Arg) -> None:
    c = last_content(b, arg)
    value, var = _number(b, arg, signed=False)
    if c.absolute or c.startswith:
        raise arg.error("can't mix the relative within with depth/offset/startswith on one content")
    if c.within is not None or c.vars[3] is not None:
        raise arg.error("content already has a within")
    if value is not None and value < len(c.pattern):
        raise arg.error(f"within {value} is smaller than the content length {len(c.pattern)}")
    c.within, c.vars[3] = value, var


@keyword("startswith")
def setup_startswith(b: Builder, arg: Arg) -> None:
    arg.none()
    c = last_content(b, arg)
    if c.absolute or c.relative:
        raise arg.error("can't use startswith with depth/offset/distance/within")
    if c.startswith:
        raise arg.error("content already has startswith")
    c.startswith = True


@keyword("endswith")
def setup_endswith(b: Builder, arg: Arg) -> None:
    arg.none()
    c = last_content(b, arg)
    if c.endswith:
        raise arg.error("content already has endswith")
    c.endswith = True


@keyword("rawbytes")
def setup_rawbytes(b: Builder, arg: Arg) -> None:
    # Snort's rawbytes (skip telnet/ftp normalisation); Suricata accepts and ignores it.
    arg.none()
    last_content(b, arg)
