"""``byte_test``, ``byte_jump``, ``byte_extract``: read a number from the buffer and use it.

Example (a length-prefixed field, then a check on what follows it)::

    content:"|00 01|"; byte_extract:2,0,len,relative;       # 16-bit big-endian length → len
    byte_jump:2,0,relative,post_offset -2;                  # skip the field it announces
    byte_test:4,>,1000,0,relative,little;                   # the next 32-bit LE value > 1000
    content:"|ff|"; distance:len;                           # len usable by later keywords

Semantics are Suricata 7's (``detect-bytetest.c``, ``detect-bytejump.c``,
``detect-byte-extract.c``): ``offset`` counts from the buffer start, or from the previous match
with ``relative``; ``string`` reads ASCII digits in ``hex``/``dec``/``oct`` (``dec`` if omitted);
``bitmask`` masks then shifts right by the mask's trailing zero bits; byte_jump lands at
``offset + nbytes + value * multiplier`` (aligned to 4 with ``align``, or from the buffer start /
end with ``from_beginning`` / ``from_end``) plus ``post_offset``, and must stay inside the buffer;
byte_extract moves the cursor past the bytes read. ``dce`` (DCERPC byte order) needs a DCERPC
parser this engine does not have, so such rules load disabled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.errors import RuleUnsupported
from services.ips.signatures.keywords.base import Arg, keyword

_BASES = {"hex": 16, "dec": 10, "oct": 8}
_DIGITS = {16: re.compile(rb"\s*(?:0[xX])?([0-9a-fA-F]+)"), 10: re.compile(rb"\s*([0-9]+)"), 8: re.compile(rb"\s*([0-7]+)")}
_OPS = ("<=", ">=", "!=", "<", ">", "=", "&", "^")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def read_number(data: bytes, pos: int, nbytes: int, little: bool, base: int) -> int | None:
    """The number at ``data[pos:pos+nbytes]``, binary (base 0) or ASCII digits; None if absent."""
    if pos < 0 or pos + nbytes > len(data) or pos >= len(data):
        return None
    chunk = data[pos : pos + nbytes] if nbytes else data[pos:]
    if not base:
        return int.from_bytes(chunk, "little" if little else "big")
    m = _DIGITS[base].match(chunk)
    return None if m is None else int(m.group(1), base)


def _masked(value: int, mask: int | None) -> int:
    if mask is None:
        return value
    value &= mask
    return value >> ((mask & -mask).bit_length() - 1)


@dataclass
class _Common:
    """Options the three keywords share, parsed from their trailing comma list."""

    relative: bool = False
    little: bool = False
    base: int = 0
    bitmask: int | None = None
    multiplier: int = 1
    align: int = 0
    from_beginning: bool = False
    from_end: bool = False
    post_offset: int = 0


def _options(arg: Arg, parts: list[tuple[str, int]], allowed: set[str], nbytes: int, nbytes_at: int) -> _Common:
    o = _Common()
    endian = None
    string_seen = False
    for text, at in parts:
        key, _, value = text.partition(" ")
        key, value = key.lower(), value.strip()
        if key not in allowed:
            raise arg.error(f"expected one of {', '.join(sorted(allowed))}, got {text!r}", at)
        if key == "relative":
            o.relative = True
        elif key in ("big", "little"):
            if endian is not None:
                raise arg.error("endianness given twice", at)
            endian = key
            o.little = key == "little"
        elif key == "endian":  # byte_math style "endian big"
            o.little = value == "little"
        elif key == "string":
            string_seen = True
            o.base = _BASES.get(value, 10) if value else (o.base or 10)
            if value and value not in _BASES:
                raise arg.error(f"expected string hex, dec or oct, got {value!r}", at)
        elif key in _BASES:
            if not string_seen:
                raise arg.error(f"'{key}' only makes sense after 'string'", at)
            o.base = _BASES[key]
        elif key == "dce":
            raise RuleUnsupported(f"{arg.name} dce option not supported (no DCERPC parser)")
        elif key == "bitmask":
            o.bitmask = arg.integer(value, at + len(key) + 1, minimum=1, maximum=2**32 - 1, what="a bitmask")
        elif key == "multiplier":
            o.multiplier = arg.integer(value, at + len(key) + 1, minimum=1, maximum=65535, what="a multiplier")
        elif key == "align":
            if arg.name == "byte_extract":
                o.align = arg.integer(value, at + len(key) + 1, minimum=2, maximum=4, what="an alignment (2 or 4)")
                if o.align == 3:
                    raise arg.error("expected align 2 or 4", at + len(key) + 1)
            else:
                o.align = 4
        elif key == "from_beginning":
            o.from_beginning = True
        elif key == "from_end":
            o.from_end = True
        elif key == "post_offset":
            o.post_offset = arg.integer(value, at + len(key) + 1, minimum=-65535, maximum=65535, what="a post_offset")
    if o.from_beginning and o.from_end:
        raise arg.error("from_beginning and from_end exclude each other")
    if o.base and endian is not None:
        raise arg.error("'string' numbers have no endianness")
    # Suricata 7: nbytes 0 with "string" reads the rest of the buffer (byte_test on
    # http.content_len); binary reads are 1..8 bytes, string ones up to 20 digits.
    limit = 20 if o.base else 8
    if not (0 if o.base and arg.name == "byte_test" else 1) <= nbytes <= limit:
        raise arg.error(f"expected nbytes between 1 and {limit}{' with string' if o.base else ''}", nbytes_at)
    return o


def _int_or_var(b: Builder, arg: Arg, text: str, at: int, what: str, minimum: int = -65535) -> tuple[int, str | None]:
    if re.fullmatch(r"-?\d+|0[xX][0-9a-fA-F]+", text):
        return arg.integer(text, at, minimum=minimum, maximum=2**32 - 1 if what == "a value" else 65535, what=what), None
    if text in b.byte_vars:
        return 0, text
    raise arg.error(f"expected {what} or a byte_extract variable, got {text!r}", at)


@dataclass(frozen=True, slots=True)
class ByteTest:
    nbytes: int
    op: str
    negated: bool
    value: int
    offset: int
    options: Any = field(repr=False)
    value_var: str | None = None
    offset_var: str | None = None
    relative: bool = False
    depends: bool = False
    movable: bool = False

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        o = self.options
        offset = self.offset if self.offset_var is None else ctx.vars.get(self.offset_var, 0)
        pos = (prev if self.relative else 0) + offset
        got = read_number(data, pos, self.nbytes, o.little, o.base)
        if got is None:
            return -1
        got = _masked(got, o.bitmask)
        want = self.value if self.value_var is None else ctx.vars.get(self.value_var, 0)
        op = self.op
        if op == "=":
            ok = got == want
        elif op == "<":
            ok = got < want
        elif op == ">":
            ok = got > want
        elif op == "&":
            ok = bool(got & want)
        elif op == "^":
            ok = bool(got ^ want)
        elif op == "<=":
            ok = got <= want
        elif op == ">=":
            ok = got >= want
        else:
            ok = got != want
        return prev if ok != self.negated else -1


@keyword("byte_test")
def setup_byte_test(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    if len(parts) < 4:
        raise arg.error("expected 'nbytes, operator, value, offset[, options]'", len(arg.require()))
    nbytes = arg.integer(parts[0][0], parts[0][1], minimum=0, maximum=64, what="nbytes")
    op_text, op_at = parts[1]
    negated = op_text.startswith("!")
    op = op_text[1:].strip() if negated else op_text
    if negated and op == "=":
        negated, op = False, "!="
    if negated and not op:
        op = "="
    if op not in _OPS:
        raise arg.error(f"expected an operator (< > = <= >= & ^ !=, optionally negated with !), got {op_text!r}", op_at)
    value, value_var = _int_or_var(b, arg, parts[2][0], parts[2][1], "a value", minimum=0)
    offset, offset_var = _int_or_var(b, arg, parts[3][0], parts[3][1], "an offset")
    o = _options(arg, parts[4:], {"relative", "big", "little", "string", "hex", "dec", "oct", "dce", "bitmask"}, nbytes, parts[0][1])
    if not o.base and value_var is None and o.bitmask is None and value >= 1 << (8 * nbytes):
        raise arg.error(f"value {value} does not fit in {nbytes} byte(s)", parts[2][1])
    if offset < 0 and not o.relative:
        raise arg.error("a negative offset needs 'relative'", parts[3][1])
    b.add(ByteTest(nbytes, op, negated, value, offset, o, value_var, offset_var, o.relative,
                   o.relative or bool(value_var or offset_var)))


@dataclass(frozen=True, slots=True)
class ByteJump:
    nbytes: int
    offset: int
    options: Any = field(repr=False)
    offset_var: str | None = None
    relative: bool = False
    depends: bool = False
    movable: bool = False

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        o = self.options
        offset = self.offset if self.offset_var is None else ctx.vars.get(self.offset_var, 0)
        pos = (prev if self.relative else 0) + offset
        got = read_number(data, pos, self.nbytes, o.little, o.base)
        if got is None:
            return -1
        value = _masked(got, o.bitmask) * o.multiplier
        if o.align and value % 4:
            value += 4 - value % 4
        if o.from_beginning:
            target = value
        elif o.from_end:
            target = len(data) + value
        else:
            target = pos + self.nbytes + value
        target += o.post_offset
        # Suricata: the landing point must lie inside the buffer (detect-bytejump.c)
        return target if 0 <= target < len(data) else -1


@keyword("byte_jump")
def setup_byte_jump(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    if len(parts) < 2:
        raise arg.error("expected 'nbytes, offset[, options]'", len(arg.require()))
    nbytes = arg.integer(parts[0][0], parts[0][1], minimum=1, maximum=64, what="nbytes")
    offset, offset_var = _int_or_var(b, arg, parts[1][0], parts[1][1], "an offset")
    allowed = {"relative", "big", "little", "string", "hex", "dec", "oct", "dce", "bitmask", "multiplier",
               "align", "from_beginning", "from_end", "post_offset"}
    o = _options(arg, parts[2:], allowed, nbytes, parts[0][1])
    b.add(ByteJump(nbytes, offset, o, offset_var, o.relative, o.relative or offset_var is not None))


@dataclass(frozen=True, slots=True)
class ByteExtract:
    nbytes: int
    offset: int
    name: str
    options: Any = field(repr=False)
    relative: bool = False
    depends: bool = False
    movable: bool = False

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        o = self.options
        pos = (prev if self.relative else 0) + self.offset
        got = read_number(data, pos, self.nbytes, o.little, o.base)
        if got is None:
            return -1
        value = _masked(got, o.bitmask) * o.multiplier
        if o.align and value % o.align:
            value += o.align - value % o.align
        ctx.vars[self.name] = value
        return pos + self.nbytes


@keyword("byte_extract")
def setup_byte_extract(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    if len(parts) < 3:
        raise arg.error("expected 'nbytes, offset, name[, options]'", len(arg.require()))
    nbytes = arg.integer(parts[0][0], parts[0][1], minimum=1, maximum=64, what="nbytes")
    offset = arg.integer(parts[1][0], parts[1][1], minimum=-65535, maximum=65535, what="an offset")
    name, name_at = parts[2]
    if not _NAME.match(name):
        raise arg.error(f"expected a variable name, got {name!r}", name_at)
    if name in b.byte_vars:
        raise arg.error(f"variable {name!r} is already defined in this rule", name_at)
    allowed = {"relative", "big", "little", "string", "hex", "dec", "oct", "dce", "bitmask", "multiplier", "align"}
    o = _options(arg, parts[3:], allowed, nbytes, parts[0][1])
    if offset < 0 and not o.relative:
        raise arg.error("a negative offset needs 'relative'", parts[1][1])
    b.byte_vars.add(name)
    b.add(ByteExtract(nbytes, offset, name, o, o.relative, o.relative))
