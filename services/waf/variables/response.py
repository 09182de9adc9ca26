"""RESPONSE_STATUS, RESPONSE_HEADERS(_NAMES), RESPONSE_CONTENT_TYPE/LENGTH (phase 3 on), RESPONSE_BODY.

``SecRule RESPONSE_STATUS "@rx ^5\\d\\d$" "id:90,phase:3,pass,log"``: unavailable (no value, so
no match) before the response headers arrive. RESPONSE_BODY is filled in phase 4 only when
SecResponseBodyAccess is On and the response's media type is listed in SecResponseBodyMimeType,
up to SecResponseBodyLimit bytes (ModSecurity's rules for buffering a response).
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("RESPONSE_STATUS", collection=False)
def _status(state: RequestState) -> Pairs:
    return [] if state.response_status is None else scalar(str(state.response_status))


@register("RESPONSE_HEADERS", collection=True)
def _response_headers(state: RequestState) -> Pairs:
    return list(state.response_headers)


@register("RESPONSE_HEADERS_NAMES", collection=True)
def _response_headers_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.response_headers]


@register("RESPONSE_PROTOCOL", collection=False)
def _response_protocol(state: RequestState) -> Pairs:
    return [] if state.response_status is None else scalar(state.response_protocol or "HTTP/1.1")


@register("RESPONSE_CONTENT_TYPE", collection=False)
def _response_content_type(state: RequestState) -> Pairs:
    return [("", v) for k, v in state.response_headers if k.lower() == "content-type"][:1]


@register("RESPONSE_CONTENT_LENGTH", collection=False)
def _response_content_length(state: RequestState) -> Pairs:
    return [("", v) for k, v in state.response_headers if k.lower() == "content-length"][:1]


@register("RESPONSE_BODY", collection=False, doc="response body (phase 4, with SecResponseBodyAccess On)")
def _response_body(state: RequestState) -> Pairs:
    return scalar(state.response_body)
