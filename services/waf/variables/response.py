"""RESPONSE_STATUS (phase 3 onwards).

``SecRule RESPONSE_STATUS "@rx ^5\\d\\d$" "id:90,phase:3,pass,log"``: unavailable (no value, so
no match) before the response headers arrive.
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("RESPONSE_STATUS", collection=False)
def _status(state: RequestState) -> Pairs:
    return [] if state.response_status is None else scalar(str(state.response_status))


@register("RESPONSE_HEADERS", collection=True)
def _response_headers(state: RequestState) -> Pairs:
    return list(state.response_headers)
