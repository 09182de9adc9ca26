"""t:cmdLine -- normalise a shell / cmd.exe command line to defeat evasion (ModSecurity semantics).

Example (CRS 932xxx): ``c^ommand /c "w"h'o'am\\i`` -> ``command/c whoami``. Deletes ``\\ " ' ^``;
turns runs of blanks, commas and semicolons into one space; deletes a space before ``/`` or
``(``; lower-cases everything else.
"""

from __future__ import annotations

from services.waf.transformations.base import register

_DELETE = frozenset("\\\"'^")
_SEPARATORS = frozenset(" \t\r\n,;")


@register("cmdLine")
def cmd_line(value: str) -> str:
    out: list[str] = []
    space = False
    for ch in value:
        if ch in _DELETE:
            continue
        if ch in _SEPARATORS:
            if not space:
                out.append(" ")
                space = True
        elif ch in "/(":
            if space:
                out.pop()
            space = False
            out.append(ch)
        else:
            out.append(ch.lower() if "A" <= ch <= "Z" else ch)
            space = False
    return "".join(out)
