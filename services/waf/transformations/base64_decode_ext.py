"""t:base64DecodeExt -- forgiving base64: characters outside the alphabet are skipped, not fatal.

Example: ``SecRule ARGS "@rx <script" "t:base64DecodeExt"`` decodes ``PHNj.cmlw dA==``. Padding
ends the data as in ModSecurity's ``base64_decode_ext``; an incomplete final group is decoded
as far as it goes.
"""

from __future__ import annotations

import base64
import re

from services.waf.transformations.base import register

_NOT_ALPHABET = re.compile(r"[^A-Za-z0-9+/]")


@register("base64DecodeExt")
def base64_decode_ext(value: str) -> str:
    data = _NOT_ALPHABET.sub("", value.split("=", 1)[0])
    if len(data) % 4 == 1:
        data = data[:-1]
    data += "=" * (-len(data) % 4)
    return base64.b64decode(data.encode("ascii")).decode("latin-1")
