"""t:sha1 and t:md5 -- replace the value with its binary digest (not hex), as ModSecurity does.

Example (CRS 901318): ``SecRule REQUEST_HEADERS:User-Agent "@rx ^.*$" "t:none,t:sha1,t:hexEncode,
setvar:tx.ua_hash=%{MATCHED_VAR}"``; pair with t:hexEncode to get printable text.
"""

from __future__ import annotations

import hashlib

from services.waf.transformations.base import register


@register("sha1")
def sha1(value: str) -> str:
    return hashlib.sha1(value.encode("latin-1"), usedforsecurity=False).digest().decode("latin-1")


@register("md5")
def md5(value: str) -> str:
    return hashlib.md5(value.encode("latin-1"), usedforsecurity=False).digest().decode("latin-1")
