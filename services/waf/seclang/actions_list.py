"""Splitting a rule's action argument into (name, value) pairs with positions.

``"id:1000100,phase:2,msg:'SQLi: a, b',t:none"``: actions are separated by commas; a value
follows ``:`` and is either single-quoted (``\\'`` is an escaped quote, other backslashes are kept
for regexes inside values) or runs to the next comma. Blanks around names and values (common
after line continuations) are ignored.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from services.waf.seclang.source import Token


@dataclass(frozen=True, slots=True)
class ActionItem:
    name: Token
    value: Token | None


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def split_actions(token: Token) -> list[ActionItem]:
    text, n = token.text, len(token.text)
    items: list[ActionItem] = []
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            if items:
                raise token.error(i, "expected an action after ','")
            return items
        start = i
        while i < n and _is_name_char(text[i]):
            i += 1
        if i == start:
            raise token.error(i, f"expected an action name, found {text[i]!r}")
        name = token.sub(start, i)
        while i < n and text[i] in " \t":
            i += 1
        value: Token | None = None
        if i < n and text[i] == ":":
            i += 1
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] == "'":
                quote_at = i
                i += 1
                chars: list[str] = []
                offsets = array("q")
                while True:
                    if i >= n:
                        raise token.error(quote_at, "unterminated quoted action value; expected a closing '")
                    if text[i] == "\\" and i + 1 < n and text[i + 1] == "'":
                        chars.append("'")
                        offsets.append(token.offset_at(i + 1))
                        i += 2
                        continue
                    if text[i] == "'":
                        i += 1
                        break
                    chars.append(text[i])
                    offsets.append(token.offset_at(i))
                    i += 1
                value = Token(token.source, "".join(chars), offsets, token.offset_at(i - 1) + 1)
            else:
                vstart = i
                while i < n and text[i] != ",":
                    i += 1
                value = token.sub(vstart, i).strip()
        while i < n and text[i].isspace():
            i += 1
        items.append(ActionItem(name, value))
        if i >= n:
            return items
        if text[i] != ",":
            raise token.error(i, f"expected ',' or the end of the action list, found {text[i]!r}")
        i += 1
