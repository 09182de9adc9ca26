"""Variables from the request line: REQUEST_METHOD, REQUEST_URI(_RAW), REQUEST_FILENAME, ...

``SecRule REQUEST_FILENAME "@endsWith .php" "id:40,phase:1,pass"``. As in ModSecurity these are the
request target as sent, not decoded: REQUEST_URI_RAW is the target exactly (absolute form
included), REQUEST_URI drops any ``scheme://authority``, REQUEST_FILENAME is its path (before
``?``), REQUEST_BASENAME the last path segment, QUERY_STRING what follows ``?``. Rules decode with
``t:urlDecodeUni`` so that an encoding trick cannot hide from one rule and not another.
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


def split_target(target: str) -> tuple[str, str, str]:
    """(uri, path, query) of a request target as ModSecurity derives them."""
    uri = target
    scheme_end = target.find("://")
    if scheme_end > 0 and "/" not in target[:scheme_end] and "?" not in target[:scheme_end]:
        slash = target.find("/", scheme_end + 3)
        uri = target[slash:] if slash >= 0 else "/"
    path, _, query = uri.partition("?")
    return uri, path, query


@register("REQUEST_METHOD", collection=False)
def _method(state: RequestState) -> Pairs:
    return scalar(state.method)


@register("REQUEST_PROTOCOL", collection=False)
def _protocol(state: RequestState) -> Pairs:
    return scalar(state.protocol)


@register("REQUEST_LINE", collection=False)
def _line(state: RequestState) -> Pairs:
    return scalar(f"{state.method} {state.uri_raw} {state.protocol}")


@register("REQUEST_URI", collection=False)
def _uri(state: RequestState) -> Pairs:
    return scalar(state.uri)


@register("REQUEST_URI_RAW", collection=False)
def _uri_raw(state: RequestState) -> Pairs:
    return scalar(state.uri_raw)


@register("REQUEST_FILENAME", collection=False)
def _filename(state: RequestState) -> Pairs:
    return scalar(state.filename)


@register("REQUEST_BASENAME", collection=False)
def _basename(state: RequestState) -> Pairs:
    return scalar(state.filename.rsplit("/", 1)[-1])


@register("QUERY_STRING", collection=False)
def _query(state: RequestState) -> Pairs:
    return scalar(state.query_string)
