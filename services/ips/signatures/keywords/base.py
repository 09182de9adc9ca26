"""The keyword table: one row per rule keyword, filled by the modules of this package.

Like Suricata's ``sigmatch_table`` (one ``SigTableElmt`` per ``detect-*.c``), a row holds only the
parse-time ``setup``; the match-time code is in the objects ``setup`` adds to the signature
(``Content.find``, ``Dsize.match`` ...). A name missing from the table makes its rule load
*disabled* with reason ``unsupported keyword 'name'``, never an exception that stops loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.ips.signatures.errors import RuleSyntaxError
from services.ips.signatures.lexer import Source

if TYPE_CHECKING:
    from services.ips.signatures.builder import Builder


class Arg:
    """One ``name:value`` option as the keyword's setup sees it, able to point at its own text."""

    __slots__ = ("name", "start", "value", "value_start", "src")

    def __init__(self, name: str, start: int, value: str | None, value_start: int, src: Source) -> None:
        self.name = name
        self.start = start
        self.value = value
        self.value_start = value_start
        self.src = src

    def error(self, message: str, offset: int = 0) -> RuleSyntaxError:
        """An error at ``offset`` into the value (at the keyword itself for a bare keyword)."""
        at = self.start if self.value is None else self.value_start + offset
        return self.src.error(f"{self.name}: {message}", at)

    def require(self) -> str:
        if self.value is None or self.value == "":
            raise self.error("expected a value (name:value;)")
        return self.value

    def none(self) -> None:
        if self.value is not None:
            raise self.error("expected no value (write it as a bare keyword)")

    def parts(self, sep: str = ",") -> list[tuple[str, int]]:
        """Split the value on ``sep``; each part stripped, with its offset into the value."""
        text = self.require()
        out: list[tuple[str, int]] = []
        start = 0
        while True:
            end = text.find(sep, start)
            chunk = text[start:] if end < 0 else text[start:end]
            lead = len(chunk) - len(chunk.lstrip())
            out.append((chunk.strip(), start + lead))
            if end < 0:
                return out
            start = end + 1

    def integer(self, text: str, offset: int, *, minimum: int = 0, maximum: int = 2**32 - 1, what: str = "an integer") -> int:
        try:
            value = int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise self.error(f"expected {what}, got {text!r}", offset) from None
        if not minimum <= value <= maximum:
            raise self.error(f"expected {what} between {minimum} and {maximum}, got {value}", offset)
        return value


Setup = Callable[["Builder", Arg], None]


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    setup: Setup
    module: str


KEYWORDS: dict[str, Keyword] = {}


def keyword(*names: str) -> Callable[[Setup], Setup]:
    """Register ``setup`` under each wire name (``@keyword("http.uri", "http_uri")``)."""

    def register(setup: Setup) -> Setup:
        for name in names:
            if name in KEYWORDS:
                raise RuntimeError(f"keyword {name!r} registered twice ({KEYWORDS[name].module}, {setup.__module__})")
            KEYWORDS[name] = Keyword(name, setup, setup.__module__)
        return setup

    return register
