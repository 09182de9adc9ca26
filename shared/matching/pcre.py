"""PCRE expression text for the two engines: escaping for Hyperscan, translation for Python ``re``.

Rules are written in PCRE syntax (ModSecurity @rx, Suricata pcre). Hyperscan parses PCRE itself,
so it only needs raw bytes escaped: the binding passes each expression as a C string
(``PyBytes_AsString`` + ``hs_compile_ext_multi``), so a NUL byte silently truncates it.

Python ``re`` differs from PCRE (8.x, non-UTF mode, the dialect Hyperscan and ModSecurity v2 use)
in ways that change what matches or fail to compile; ``to_python`` rewrites those constructs:

- inline options in the middle of a group (``a(?i)b|c``): PCRE applies them to the rest of the
  group, every later alternative included; Python only accepts them at the very start. They
  become scoped groups closed and reopened around each ``|``.
- ``\\z`` / ``\\Z`` (PCRE ``\\Z`` allows a final newline, Python's does not), ``\\h \\H \\v \\V \\R \\N``,
  ``\\e``, ``\\cX``, ``\\xH``/``\\x{HH}``, ``\\o{}``, ``\\Q...\\E``, POSIX classes ``[[:alpha:]]``,
  ``(?<name>)`` / ``(?'name')`` groups and ``\\k<name>`` / ``\\g{N}`` back references, ``(?x)``.
- ``{,n}`` is a literal in PCRE 8 but a quantifier in Python.
- character class punctuation is always escaped, so Python never warns about "possible nested
  set" (pytest runs with warnings as errors, and so may a service).

Constructs with no Python equivalent (recursion, ``\\G``, ``\\K``, branch reset, ``\\p{..}``, (*VERB)s)
raise ``PcreTranslationError``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

_ALNUM = frozenset((string.ascii_letters + string.digits).encode())
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OCT = frozenset(b"01234567")
_DIGITS = frozenset(b"0123456789")
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")
_NAME_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


class PcreTranslationError(ValueError):
    """The expression uses PCRE syntax Python ``re`` cannot express (or is malformed)."""


def _byte_set(spec: str) -> frozenset[int]:
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return frozenset(out)


# POSIX classes in PCRE's C locale, non-UTF mode.
_POSIX = {
    b"alpha": _byte_set("41-5a,61-7a"),
    b"digit": _byte_set("30-39"),
    b"alnum": _byte_set("30-39,41-5a,61-7a"),
    b"upper": _byte_set("41-5a"),
    b"lower": _byte_set("61-7a"),
    b"space": _byte_set("09-0d,20"),
    b"blank": _byte_set("09,20"),
    b"punct": _byte_set("21-2f,3a-40,5b-60,7b-7e"),
    b"print": _byte_set("20-7e"),
    b"graph": _byte_set("21-7e"),
    b"cntrl": _byte_set("00-1f,7f"),
    b"xdigit": _byte_set("30-39,41-46,61-66"),
    b"word": _byte_set("30-39,41-5a,5f,61-7a"),
    b"ascii": _byte_set("00-7f"),
}
_HSPACE = _byte_set("09,20,a0")  # PCRE \h in non-UTF mode
_VSPACE = _byte_set("0a-0d,85")  # PCRE \v in non-UTF mode
_ALL = frozenset(range(256))


def lit(value: int) -> bytes:
    """One byte as a regex atom valid anywhere, in a class or not, in both engines."""
    return bytes([value]) if value in _ALNUM else b"\\x%02x" % value


def literal_to_regex(data: bytes) -> bytes:
    """A regex that matches exactly ``data`` (PatternFlag.LITERAL)."""
    return b"".join(lit(b) for b in data)


def _ranges(values: frozenset[int]) -> bytes:
    out: list[bytes] = []
    ordered = sorted(values)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(lit(ordered[i]) if i == j else lit(ordered[i]) + b"-" + lit(ordered[j]))
        i = j + 1
    return b"".join(out)


def _class_of(values: frozenset[int]) -> bytes:
    return b"[" + _ranges(values) + b"]"


def escape_for_hyperscan(expression: bytes) -> bytes:
    """Rewrite raw control and non-ASCII bytes as ``\\xNN`` so the C string reaches Hyperscan whole.

    A raw byte right after a backslash is a quoted literal (``\\`` + byte) and becomes ``\\xNN``
    alone; inside ``\\Q...\\E`` the quote is closed around the escape, since ``\\xNN`` would be
    taken literally there.
    """
    out = bytearray()
    i, n, quoted = 0, len(expression), False
    while i < n:
        b = expression[i]
        if quoted:
            if expression.startswith(b"\\E", i):
                quoted = False
                out += b"\\E"
                i += 2
                continue
            if b < 0x20 or b >= 0x7F:
                out += b"\\E\\x%02x\\Q" % b
            else:
                out.append(b)
            i += 1
            continue
        if b == 0x5C and i + 1 < n:  # backslash
            nxt = expression[i + 1]
            if nxt < 0x20 or nxt >= 0x7F:
                out += b"\\x%02x" % nxt
            else:
                out += bytes((b, nxt))
                quoted = nxt == ord("Q")
            i += 2
            continue
        out += b"\\x%02x" % b if (b < 0x20 or b >= 0x7F) else bytes((b,))
        i += 1
    return bytes(out)


@dataclass
class _Frame:
    """An open group: its inline-option scopes and whether (?x) is in force inside it."""

    extended: bool
    scopes: list[bytes] = field(default_factory=list)


class _Translator:
    def __init__(self, expression: bytes, extended: bool) -> None:
        self.src = expression
        self.i = 0
        self.out = bytearray()
        self.frames = [_Frame(extended)]
        self.groups = 0  # capturing groups opened so far, for relative back references
        self.total_groups = _count_groups(expression)

    def error(self, message: str) -> PcreTranslationError:
        return PcreTranslationError(f"{message} at offset {self.i}")

    def peek(self, k: int = 0) -> int | None:
        j = self.i + k
        return self.src[j] if j < len(self.src) else None

    def run(self) -> bytes:
        src = self.src
        while self.i < len(src):
            b = src[self.i]
            frame = self.frames[-1]
            if frame.extended and b in _WHITESPACE:
                self.i += 1
            elif frame.extended and b == ord("#"):
                end = src.find(b"\n", self.i)
                self.i = len(src) if end < 0 else end + 1
            elif b == ord("\\"):
                self.out += self.escape(in_class=False)[1]
            elif b == ord("["):
                self.out += self.char_class()
            elif b == ord("("):
                self.open_group()
            elif b == ord(")"):
                if len(self.frames) == 1:
                    raise self.error("unmatched closing parenthesis")
                self.out += b")" * len(frame.scopes) + b")"
                self.frames.pop()
                self.i += 1
            elif b == ord("|"):
                self.out += b")" * len(frame.scopes) + b"|" + b"".join(frame.scopes)
                self.i += 1
            elif b == ord("{"):
                m = re.compile(rb"\{(\d+)(,(\d*))?\}").match(src, self.i)
                if m is None:  # PCRE 8: not a quantifier, a literal brace ({,n} included)
                    self.out += b"\\{"
                    self.i += 1
                else:
                    self.out += m.group(0)
                    self.i = m.end()
            elif b in b".^$*+?":
                self.out.append(b)
                self.i += 1
            else:
                self.out += lit(b)
                self.i += 1
        if len(self.frames) != 1:
            raise self.error("missing closing parenthesis")
        self.out += b")" * len(self.frames[0].scopes)
        return bytes(self.out)

    # -- groups -------------------------------------------------------------------------------

    def open_group(self) -> None:
        src, i = self.src, self.i
        frame = self.frames[-1]
        if src.startswith(b"(*", i):
            raise self.error("PCRE verbs (*...) are not supported")
        if not src.startswith(b"(?", i):
            self.groups += 1
            self.push(b"(", 1)
            return
        rest = src[i + 2 : i + 4]
        if rest[:1] == b"#":
            end = src.find(b")", i)
            if end < 0:
                raise self.error("unterminated comment")
            self.i = end + 1
            return
        for prefix in (b":", b"=", b"!", b"<=", b"<!", b">"):
            if rest.startswith(prefix):
                self.push(b"(?" + prefix, 2 + len(prefix))
                return
        name = re.compile(rb"\(\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')").match(src, i)
        if name is not None:
            self.groups += 1
            self.push(b"(?P<" + (name.group(1) or name.group(2)) + b">", name.end() - i)
            return
        backref = re.compile(rb"\(\?P=([A-Za-z_]\w*)\)").match(src, i)
        if backref is not None:
            self.out += backref.group(0)
            self.i = backref.end()
            return
        if rest.startswith(b"("):
            cond = re.compile(rb"\(\?\((?:(\d+)|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|([A-Za-z_]\w*))\)").match(
                src, i
            )
            if cond is None:
                raise self.error("only (?(N)...) and (?(name)...) conditionals are supported")
            ref = next(g for g in cond.groups() if g is not None)
            self.push(b"(?(" + ref + b")", cond.end() - i)
            return
        if re.compile(rb"\(\?(?:R|[+-]?\d+|&|P>)").match(src, i):
            raise self.error("recursion and subroutine calls are not supported")
        opts = re.compile(rb"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])").match(src, i)
        if opts is None:
            raise self.error("unsupported group syntax (recursion, branch reset or callout)")
        on, off, kind = opts.group(1), opts.group(2) or b"", opts.group(3)
        bad = set((on + off).decode()) - set("imsx")
        if bad:
            raise self.error(f"unsupported inline option(s) {''.join(sorted(bad))!r}")
        extended = frame.extended
        if b"x" in on:
            extended = True
        if b"x" in off:
            extended = False
        on, off = on.replace(b"x", b""), off.replace(b"x", b"")
        scope = b"(?" + on + (b"-" + off if off else b"") + b":" if (on or off) else b"(?:"
        self.i = opts.end()
        if kind == b":":
            self.frames.append(_Frame(extended))
            self.out += scope
        else:  # (?i) applies to the rest of the enclosing group
            frame.extended = extended
            if on or off:
                frame.scopes.append(scope)
                self.out += scope

    def push(self, text: bytes, consumed: int) -> None:
        self.frames.append(_Frame(self.frames[-1].extended))
        self.out += text
        self.i += consumed

    # -- escapes ------------------------------------------------------------------------------

    def escape(self, in_class: bool) -> tuple[frozenset[int] | None, bytes]:
        """Consume one escape; return (byte set if it denotes a set or single byte, regex text)."""
        src = self.src
        self.i += 1
        c = self.peek()
        if c is None:
            raise self.error("pattern ends with a backslash")
        ch = chr(c)
        self.i += 1
        if ch in "dDwWsS":
            return None, b"\\" + ch.encode()
        if ch == "b" and in_class:
            return frozenset({8}), lit(8)
        if ch in "bB" or (ch == "A" and not in_class):
            return None, b"\\" + ch.encode()
        if ch == "z" and not in_class:
            return None, b"\\Z"
        if ch == "Z" and not in_class:
            return None, b"(?=\\n?\\Z)"
        sets = {"h": _HSPACE, "H": _ALL - _HSPACE, "v": _VSPACE, "V": _ALL - _VSPACE}
        if ch in sets:
            return sets[ch], _class_of(sets[ch])
        if ch == "N" and not in_class:
            return None, b"[^\\n]"
        if ch == "R" and not in_class:
            return None, b"(?:\\r\\n|" + _class_of(_VSPACE) + b")"
        simple = {"a": 7, "e": 0x1B, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09}
        if ch in simple:
            return self.one(simple[ch])
        if ch == "c":
            x = self.peek()
            if x is None:
                raise self.error("\\c at end of pattern")
            self.i += 1
            return self.one(ord(chr(x).upper()) ^ 0x40)
        if ch == "x":
            if self.peek() == ord("{"):
                end = src.find(b"}", self.i)
                digits = src[self.i + 1 : end] if end > 0 else b""
                if not digits or any(d not in _HEX for d in digits):
                    raise self.error("malformed \\x{...}")
                self.i = end + 1
                return self.one(int(digits, 16))
            start = self.i
            while self.i < len(src) and self.i - start < 2 and src[self.i] in _HEX:
                self.i += 1
            return self.one(int(src[start : self.i] or b"0", 16))
        if ch == "o" and self.peek() == ord("{"):
            end = src.find(b"}", self.i)
            digits = src[self.i + 1 : end] if end > 0 else b""
            if not digits or any(d not in _OCT for d in digits):
                raise self.error("malformed \\o{...}")
            self.i = end + 1
            return self.one(int(digits, 8))
        if ch.isdigit():
            return self.numeric_escape(c, in_class)
        if ch == "Q":
            end = src.find(b"\\E", self.i)
            end = len(src) if end < 0 else end
            quoted = src[self.i : end]
            self.i = min(len(src), end + 2)
            if in_class:
                return frozenset(quoted), _ranges(frozenset(quoted)) if quoted else b""
            return None, literal_to_regex(quoted)
        if ch == "E":
            return None, b""  # PCRE ignores a stray \E
        if ch in "gk" and not in_class:
            return None, self.backreference(ch)
        if ch.isalpha():
            raise self.error(f"unsupported escape \\{ch}")
        return self.one(c)

    def one(self, value: int) -> tuple[frozenset[int], bytes]:
        if value > 0xFF:
            raise self.error(f"character value {value:#x} above 0xff in non-UTF mode")
        return frozenset({value}), lit(value)

    def numeric_escape(self, first: int, in_class: bool) -> tuple[frozenset[int] | None, bytes]:
        src = self.src
        start = self.i - 1
        if first == ord("0"):
            while self.i < len(src) and self.i - start < 3 and src[self.i] in _OCT:
                self.i += 1
            return self.one(int(src[start : self.i], 8))
        while self.i < len(src) and src[self.i] in _DIGITS:
            self.i += 1
        number = int(src[start : self.i])
        # PCRE: \1..\9 outside a class are always back references; larger numbers only if that
        # many groups exist, otherwise up to three octal digits.
        if not in_class and (number < 10 or number <= self.total_groups):
            return None, b"(?:\\%d)" % number
        self.i = start
        while self.i < len(src) and self.i - start < 3 and src[self.i] in _OCT:
            self.i += 1
        if self.i == start:  # \8 or \9: a literal digit
            self.i += 1
            return self.one(src[start])
        return self.one(int(src[start : self.i], 8))

    def backreference(self, kind: str) -> bytes:
        src = self.src
        if kind == "k":
            m = re.compile(rb"<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\}").match(src, self.i)
            if m is None:
                raise self.error("malformed \\k back reference")
            self.i = m.end()
            return b"(?P=" + next(g for g in m.groups() if g is not None) + b")"
        m = re.compile(rb"\{(-?\d+)\}|(-?\d+)|\{([A-Za-z_]\w*)\}").match(src, self.i)
        if m is None:
            raise self.error("unsupported \\g escape (subroutine calls are not supported)")
        self.i = m.end()
        if m.group(3):
            return b"(?P=" + m.group(3) + b")"
        number = int(m.group(1) or m.group(2))
        if number < 0:
            number = self.groups + 1 + number
        if number <= 0:
            raise self.error("back reference to a group that does not exist")
        return b"(?:\\%d)" % number

    # -- character classes --------------------------------------------------------------------

    def char_class(self) -> bytes:
        src = self.src
        self.i += 1
        negate = self.peek() == ord("^")
        if negate:
            self.i += 1
        items: list[bytes] = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise self.error("missing terminating ] for character class")
            if c == ord("]") and not first:
                self.i += 1
                break
            first = False
            posix = re.compile(rb"\[:(\^?)([a-z]+):\]").match(src, self.i)
            if posix is not None:
                values = _POSIX.get(posix.group(2))
                if values is None:
                    raise self.error(f"unknown POSIX class {posix.group(2).decode()!r}")
                if posix.group(1):
                    values = _ALL - values
                items.append(_ranges(values))
                self.i = posix.end()
                continue
            low_set, low_text = self.class_atom()
            if (
                low_set is not None
                and len(low_set) == 1
                and self.peek() == ord("-")
                and self.peek(1) not in (None, ord("]"))
            ):
                save = self.i
                self.i += 1
                high_set, high_text = self.class_atom()
                if high_set is not None and len(high_set) == 1:
                    lo, hi = next(iter(low_set)), next(iter(high_set))
                    if hi < lo:
                        raise self.error("range out of order in character class")
                    items.append(lit(lo) + b"-" + lit(hi))
                    continue
                # "[a-\d]": PCRE takes the hyphen literally
                self.i = save + 1
                items.append(low_text + lit(ord("-")))
                continue
            items.append(low_text)
        body = b"".join(items)
        if not body:
            # e.g. [\Q\E] — an empty class matches nothing (negated: any byte)
            return b"[\\x00-\\xff]" if negate else b"(?!)"
        return b"[" + (b"^" if negate else b"") + body + b"]"

    def class_atom(self) -> tuple[frozenset[int] | None, bytes]:
        c = self.peek()
        assert c is not None
        if c == ord("\\"):
            values, text = self.escape(in_class=True)
            if values is not None and len(values) > 1:
                return values, _ranges(values)
            return values, text
        self.i += 1
        return frozenset({c}), lit(c)


def _count_groups(expression: bytes) -> int:
    """Capturing groups in the expression (approximate lexing, for PCRE's \\NN disambiguation)."""
    count, i, n, in_class = 0, 0, len(expression), False
    while i < n:
        b = expression[i]
        if b == ord("\\"):
            i += 2
            continue
        if in_class:
            in_class = b != ord("]")
        elif b == ord("["):
            in_class = True
            if expression.startswith(b"]", i + 1) or expression.startswith(b"^]", i + 1):
                i += 2 if expression[i + 1] == ord("]") else 3
                continue
        elif b == ord("("):
            if not expression.startswith(b"(?", i) and not expression.startswith(b"(*", i):
                count += 1
            elif re.compile(rb"\(\?(?:P?<[A-Za-z_]|')").match(expression, i):
                count += 1
        i += 1
    return count


def to_python(expression: bytes) -> bytes:
    """Translate a PCRE (non-UTF, C locale) expression into an equivalent Python ``re`` bytes pattern."""
    return _Translator(expression, extended=False).run()
