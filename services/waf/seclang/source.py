"""Reading a SecLang file into directives: continuation lines, comments, quoting.

Follows the Apache configuration rules ModSecurity inherits (``ap_cfg_getline`` and
``ap_getword_conf``): a backslash at the end of a line joins the next line; a line whose first
non-blank character is ``#`` is a comment; arguments are separated by blanks and may be quoted
with ``"`` or ``'``. Inside quotes the two ModSecurity versions differ (ModSecurity issue #2148),
so the reader offers both:

- ``apache_escapes=False`` (the default, libmodsecurity v3's lexer): only a backslash before the
  quote character is an escape, every other backslash is kept, and (its escaped quote being "a
  non-backslash, a backslash, the quote") a quote after two backslashes closes the argument, so
  ``"[a\\\\]"`` is the regex ``[a\\\\]``;
- ``apache_escapes=True`` (ModSecurity v2 inside Apache, ``substring_conf``): a backslash escapes
  the quote character and a backslash, so ``\\\\`` is one backslash. CRS 3.3 is written for
  this reading: it writes one literal backslash in a regex as ``\\\\\\\\`` (920460, 941330), which
  v2 hands to PCRE as ``\\\\`` and v3 as a pattern for two backslashes.

Either way other backslashes are kept, so regexes such as ``"\\d+"`` reach the operator unchanged.

Every character of every token remembers its offset in the original file so that errors deep
inside an action list still point at the exact line and column, even across continuation lines.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from services.waf.seclang.errors import SecLangParseError


@dataclass(frozen=True, slots=True)
class Source:
    """One rule file's text and the offsets where its lines start (for offset -> line:column)."""

    name: str
    text: str
    line_starts: tuple[int, ...]

    @classmethod
    def from_text(cls, text: str, name: str) -> Source:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        return cls(name=name, text=text, line_starts=tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def error(self, offset: int, message: str) -> SecLangParseError:
        line, column = self.position(offset)
        return SecLangParseError(message, file=self.name, line=line, column=column)


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of text with the file offset of each of its characters.

    ``end`` is the offset just after the token's text in the file (the closing quote of a quoted
    argument), where "expected ..." errors about a missing continuation point to.
    """

    source: Source
    text: str
    offsets: array
    end: int

    def offset_at(self, index: int) -> int:
        if index < len(self.offsets):
            return self.offsets[index]
        return self.end

    def error(self, index: int, message: str) -> SecLangParseError:
        return self.source.error(self.offset_at(index), message)

    def sub(self, start: int, stop: int) -> Token:
        """The token's characters [start, stop) keeping their original positions."""
        return Token(self.source, self.text[start:stop], self.offsets[start:stop], self.offset_at(stop))

    def strip(self) -> Token:
        start, stop = 0, len(self.text)
        while start < stop and self.text[start].isspace():
            start += 1
        while stop > start and self.text[stop - 1].isspace():
            stop -= 1
        return self.sub(start, stop)


@dataclass(frozen=True, slots=True)
class Directive:
    """A directive name and its arguments, as written (after unquoting)."""

    name: Token
    args: tuple[Token, ...]
    quoted: tuple[bool, ...]

    @property
    def location(self) -> str:
        line, _ = self.name.source.position(self.name.offsets[0])
        return f"{self.name.source.name}:{line}"


def _logical_lines(source: Source) -> Iterator[tuple[str, array]]:
    """Physical lines joined at trailing backslashes, each char with its file offset."""
    text = source.text
    chars: list[str] = []
    offsets = array("q")
    pos = 0
    length = len(text)
    while pos <= length:
        newline = text.find("\n", pos)
        stop = length if newline < 0 else newline
        line_end = stop
        if line_end > pos and text[line_end - 1] == "\r":
            line_end -= 1
        continued = line_end > pos and text[line_end - 1] == "\\"
        content_end = line_end - 1 if continued else line_end
        chars.append(text[pos:content_end])
        offsets.extend(range(pos, content_end))
        if not continued or newline < 0:
            yield "".join(chars), offsets
            chars = []
            offsets = array("q")
        if newline < 0:
            break
        pos = newline + 1


def _words(
    source: Source, line: str, offsets: array, line_end: int, apache_escapes: bool = False
) -> list[tuple[Token, bool]]:
    words: list[tuple[Token, bool]] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t\r\f\v":
            i += 1
        if i >= n:
            return words
        quote = line[i]
        if quote in "\"'":
            start = i
            i += 1
            buf: list[str] = []
            pos = array("q")
            while True:
                if i >= n:
                    raise source.error(
                        offsets[start], f"unterminated quoted argument; expected a closing {quote}"
                    )
                ch = line[i]
                if ch == "\\" and i + 1 < n and (
                    line[i + 1] in (quote, "\\") if apache_escapes else line[i + 1] == quote and line[i - 1] != "\\"
                ):
                    buf.append(line[i + 1])
                    pos.append(offsets[i + 1])
                    i += 2
                    continue
                if ch == quote:
                    i += 1
                    break
                buf.append(ch)
                pos.append(offsets[i])
                i += 1
            end = offsets[i - 1]  # the closing quote: where "expected ..." errors point
            if i < n and not line[i].isspace():
                raise source.error(
                    offsets[i], "unexpected character after closing quote; expected a blank"
                )
            words.append((Token(source, "".join(buf), pos, end), True))
        else:
            start = i
            while i < n and not line[i].isspace():
                i += 1
            end = offsets[i] if i < n else (offsets[i - 1] + 1)
            words.append((Token(source, line[start:i], offsets[start:i], end), False))


def read_directives(source: Source, *, apache_escapes: bool = False) -> Iterator[Directive]:
    """Yield the directives of a file in order; raise SecLangParseError on a lexical error."""
    for line, offsets in _logical_lines(source):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        line_end = offsets[-1] + 1 if offsets else 0
        words = _words(source, line, offsets, line_end, apache_escapes)
        if not words:
            continue
        name, _ = words[0]
        yield Directive(
            name=name,
            args=tuple(w for w, _ in words[1:]),
            quoted=tuple(q for _, q in words[1:]),
        )
