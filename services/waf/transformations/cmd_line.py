"""t:cmdLine -- normalise a shell / cmd.exe command line to defeat evasion (ModSecurity semantics).

Example (CRS 932xxx): ``c^ommand /c "w"h'o'am\\i`` -> ``command/c whoami``. Deletes ``\\ " ' ^``;
turns runs of blanks, commas and semicolons into one space; deletes a space before ``/`` or
``(``; lower-cases everything else.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

# one C-level pass each: delete \ " ' ^ and lower-case A-Z only (bytes >= 0x80 stay as they are),
# collapse separator runs to one space, drop a (collapsed) space before "/" or "("
_TABLE = str.maketrans({**dict.fromkeys("\\\"'^"), **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}})
_SEPARATOR_RUNS = re.compile("[ \t\r\n,;]+")
_SPACE_BEFORE = re.compile(" (?=[/(])")


@register("cmdLine")
def cmd_line(value: str) -> str:
    return _SPACE_BEFORE.sub("", _SEPARATOR_RUNS.sub(" ", value.translate(_TABLE)))
