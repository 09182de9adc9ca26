"""REQUEST_COOKIES and REQUEST_COOKIES_NAMES, and Cookie header parsing.

``SecRule REQUEST_COOKIES "@detectSQLi" "id:30,phase:1,deny"``. ModSecurity v3 splits each Cookie
header on ``;``, strips the blanks before a name, and splits name and value at the first ``=``;
values are not URL-decoded (rules add ``t:urlDecodeUni`` where they want it).
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register


def parse_cookies(headers: Pairs) -> Pairs:
    pairs: Pairs = []
    for name, value in headers:
        if name.lower() != "cookie":
            continue
        for piece in value.split(";"):
            piece = piece.lstrip(" \t")
            if not piece:
                continue
            key, _, val = piece.partition("=")
            pairs.append((key.rstrip(" \t"), val))
    return pairs


@register("REQUEST_COOKIES", collection=True)
def _cookies(state: RequestState) -> Pairs:
    return list(state.cookies)


@register("REQUEST_COOKIES_NAMES", collection=True)
def _cookie_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.cookies]
