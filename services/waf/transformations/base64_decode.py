"""t:base64Decode -- decode base64, leniently, as Apache's ``apr_base64_decode`` does.

Example: ``SecRule REQUEST_HEADERS:Authorization "@contains ${jndi" "id:1,t:base64Decode"``.
Decoding stops at the first byte outside the base64 alphabet (``=`` included) and the complete
groups before it are decoded, so trailing garbage does not hide the payload.
"""

from __future__ import annotations

import base64
import re

from services.waf.transformations.base import register

_PREFIX = re.compile(r"[A-Za-z0-9+/]*")


@register("base64Decode")
def base64_decode(value: str) -> str:
    data = _PREFIX.match(value).group(0)  # type: ignore[union-attr]
    if len(data) % 4 == 1:
        data = data[:-1]
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data.encode("ascii")).decode("latin-1")
    except ValueError:
        return ""
