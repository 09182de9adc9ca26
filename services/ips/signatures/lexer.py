"""Splits one rule into its header tokens and its ``name:value;`` options, keeping positions.

Suricata's own split (``detect-parse.c``: ``SigParseBasics`` then ``SigParseOptions``) is what we
mirror: the header is seven whitespace-separated fields, where a bracketed list may contain
spaces (``[1.2.3.4, 5.6.7.8]``); an option value runs to the first ``;`` not preceded by a
backslash, *quotes notwithstanding*, so ``content:"a;b"`` is an error there and here, and
``pcre:"/(a)/"`` needs no escaping of its parentheses. Every token keeps its offset into the
logical rule so errors point at the offending character, on the right physical line even when
the rule was continued with trailing backslashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.ips.signatures.errors import RuleSyntaxError

HEADER_FIELDS = (
    "an action (alert, drop, reject or pass)",
    "a protocol",
    "a source address",
    "a source port",
    "a direction ('->' or '<>')",
    "a destination address",
    "a destination port",
)
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_VALUE = re.compile(r"(?:[^;\\]|\\.)*", re.S)  # up to the first ';' not escaped by a backslash
_SIMPLE_HEADER = re.compile(r"\s*(\S+)\s+(\S+)\s+([^\s()]+)\s+([^\s()]+)\s+(\S+)\s+([^\s()]+)\s+([^\s()]+)\s*\(")


@dataclass(frozen=True, slots=True)
class Source:
    """A logical rule and where each of its characters came from.

    ``segments`` holds ``(offset in text, physical line, column of that character)`` for every
    physical line that contributed to ``text`` (one entry unless continued).
    """

    text: str
    file: str = "<string>"
    segments: tuple[tuple[int, int, int], ...] = ((0, 1, 1),)

    @classmethod
    def single(cls, text: str, file: str = "<string>", line: int = 1) -> Source:
        return cls(text, file, ((0, line, 1),))

    @property
    def line(self) -> int:
        return self.segments[0][1]

    def locate(self, offset: int) -> tuple[int, int]:
        seg = self.segments[0]
        for candidate in self.segments:
            if candidate[0] > offset:
                break
            seg = candidate
        return seg[1], seg[2] + (offset - seg[0])

    def error(self, message: str, offset: int) -> RuleSyntaxError:
        line, column = self.locate(max(0, min(offset, len(self.text))))
        return RuleSyntaxError(message, file=self.file, line=line, column=column)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int


@dataclass(frozen=True, slots=True)
class Option:
    """``name`` and ``value`` as written; ``value`` is None for a bare ``nocase;``."""

    name: str
    start: int
    value: str | None
    value_start: int


_FAST_OPTION = re.compile(r"\s*([A-Za-z0-9_.\-]+)[ \t]*(?:;|:((?:[^;\\]|\\.)*);)", re.S)
_TAIL = re.compile(r"\s*\)\s*$")


def split_rule(src: Source) -> tuple[list[Token], list[Option]]:
    text = src.text
    tokens, pos = _header(src)
    fast = _fast_options(text, pos)
    return tokens, fast if fast is not None else _options(src, pos, len(text))


def _fast_options(text: str, pos: int) -> list[Option] | None:
    """The well-formed case in one regex pass; None sends the rule through ``_options`` for errors."""
    out: list[Option] = []
    match = _FAST_OPTION.match
    while True:
        m = match(text, pos)
        if m is None:
            return out if _TAIL.match(text, pos) else None
        raw = m.group(2)
        if raw is None:
            out.append(Option(m.group(1), m.start(1), None, m.end() - 1))
        else:
            value = raw.strip()
            out.append(Option(m.group(1), m.start(1), value, m.start(2) + (len(raw) - len(raw.lstrip()))))
        pos = m.end()


def _header(src: Source) -> tuple[list[Token], int]:
    text, n = src.text, len(src.text)
    m = _SIMPLE_HEADER.match(text)
    if m is not None and all(m.group(g).count("[") == m.group(g).count("]") for g in (3, 4, 6, 7)):
        # the common case, no lists with spaces inside: one regex
        return [Token(m.group(g), m.start(g)) for g in range(1, 8)], m.end()
    tokens: list[Token] = []
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] == "(":
            if len(tokens) < len(HEADER_FIELDS):
                raise src.error(f"expected {HEADER_FIELDS[len(tokens)]}", i)
            if i >= n:
                raise src.error("expected '(' to open the rule options", i)
            return tokens, i + 1
        if len(tokens) == len(HEADER_FIELDS):
            raise src.error("expected '(' to open the rule options", i)
        start, depth, chars, opened = i, 0, [], i
        while i < n:
            c = text[i]
            if c == "[":
                if depth == 0:
                    opened = i
                depth += 1
            elif c == "]":
                depth -= 1
                if depth < 0:
                    raise src.error("unbalanced ']'", i)
            elif c.isspace():
                if depth == 0:
                    break
                i += 1
                continue  # Suricata allows "[1.2.3.4, 5.6.7.8]"
            elif c == "(" and depth == 0:
                break
            chars.append(c)
            i += 1
        if depth > 0:
            raise src.error("expected ']' to close the list opened here", opened)
        tokens.append(Token("".join(chars), start))


def _options(src: Source, i: int, n: int) -> list[Option]:
    text = src.text
    out: list[Option] = []
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise src.error("expected ')' to close the rule options", i)
        if text[i] == ")":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            if j < n:
                raise src.error("expected end of rule after ')'", j)
            return out
        start = i
        m = _NAME.match(text, i)
        if m is None:
            raise src.error("expected an option name", i)
        name = m.group()
        i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ";":
            out.append(Option(name, start, None, i))
            i += 1
            continue
        if i >= n or text[i] != ":":
            raise src.error(f"expected ':' or ';' after option name '{name}'", i)
        i += 1
        vstart = i
        i = _VALUE.match(text, i).end()
        if i >= n:
            closing = text.rstrip()
            at = len(closing) - 1 if closing.endswith(")") else n
            raise src.error(f"expected ';' after the value of option '{name}'", at)
        raw = text[vstart:i]
        lead = len(raw) - len(raw.lstrip())
        out.append(Option(name, start, raw.strip(), vstart + lead))
        i += 1
