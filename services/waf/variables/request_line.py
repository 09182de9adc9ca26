"""Variables from the request line: REQUEST_METHOD, REQUEST_URI(_RAW), REQUEST_FILENAME, ...

``SecRule REQUEST_FILENAME "@endsWith .php" "id:40,phase:1,pass"``. As in ModSecurity these are the
request target as sent: REQUEST_URI_RAW is the target exactly (absolute form included),
REQUEST_URI drops any ``scheme://authority``, QUERY_STRING is what follows ``?``; these are not
decoded, and rules decode with ``t:urlDecodeUni`` so an encoding trick cannot hide from one rule
and not another. REQUEST_FILENAME (the path before ``?``) and REQUEST_BASENAME (its last segment)
are percent-decoded (``%HH`` only; ``+`` stays), as ModSecurity builds them from the decoded path
(CRS 933151 expects ``/array_diff%20%28`` to show a ``(``).
"""

from __future__ import annotations

import re

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


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def decode_path(path: str) -> str:
    if "%" not in path:
        return path
    return _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), path)


@register("REQUEST_FILENAME", collection=False)
def _filename(state: RequestState) -> Pairs:
    return scalar(decode_path(state.filename))


@register("REQUEST_BASENAME", collection=False)
def _basename(state: RequestState) -> Pairs:
    return scalar(decode_path(state.filename).rsplit("/", 1)[-1])


@register("QUERY_STRING", collection=False)
def _query(state: RequestState) -> Pairs:
    return scalar(state.query_string)
