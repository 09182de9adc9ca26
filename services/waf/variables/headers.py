"""REQUEST_HEADERS and REQUEST_HEADERS_NAMES.

``SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap nikto" "id:20,phase:1,deny"``: header names are
matched case-insensitively (HTTP field names are), repeated headers give one value each, and
MATCHED_VAR_NAME keeps the name as the client sent it (``REQUEST_HEADERS:user-agent``).
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register


@register("REQUEST_HEADERS", collection=True)
def _headers(state: RequestState) -> Pairs:
    return list(state.headers)


@register("REQUEST_HEADERS_NAMES", collection=True)
def _header_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.headers]
