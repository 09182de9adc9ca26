"""t:compressWhitespace -- each run of whitespace becomes one space.

Example: ``SecRule ARGS "@contains union select" "id:1,t:compressWhitespace"`` sees
``union\\t \\nselect`` as ``union select``. Whitespace is C ``isspace`` plus NBSP (0xa0).
"""

from __future__ import annotations

import re

from services.waf.transformations.base import C_SPACE, NBSP, register

_RUN = re.compile("[" + re.escape(C_SPACE + NBSP) + "]+")


@register("compressWhitespace")
def compress_whitespace(value: str) -> str:
    return _RUN.sub(" ", value)
