"""ARGS, ARGS_GET, ARGS_POST, ARGS_NAMES (and the _NAMES of GET/POST) and argument parsing.

``SecRule ARGS:id "@rx ^\\d+$" "id:10,phase:2,pass"`` reads the ``id`` argument of the query string
and of the body. As in ModSecurity, arguments are split on ``&`` then ``=``, and names and values
are URL-decoded non-strictly (``+`` is a space, invalid ``%`` escapes are kept); a piece without
``=`` is a name with an empty value; selection by name is case-insensitive.
"""

from __future__ import annotations

from services.waf.transformations.url_decode import url_decode
from services.waf.variables.base import Pairs, RequestState, register


def parse_query(query: str) -> Pairs:
    pairs: Pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, sep, value = piece.partition("=")
        pairs.append((url_decode(name), url_decode(value) if sep else ""))
    return pairs


@register("ARGS", collection=True, doc="query string and body arguments")
def _args(state: RequestState) -> Pairs:
    return state.args_get + state.args_post


@register("ARGS_GET", collection=True)
def _args_get(state: RequestState) -> Pairs:
    return list(state.args_get)


@register("ARGS_POST", collection=True)
def _args_post(state: RequestState) -> Pairs:
    return list(state.args_post)


@register("ARGS_NAMES", collection=True)
def _args_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.args_get + state.args_post]


@register("ARGS_GET_NAMES", collection=True)
def _args_get_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.args_get]


@register("ARGS_POST_NAMES", collection=True)
def _args_post_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.args_post]


@register("ARGS_COMBINED_SIZE", collection=False, doc="total length of all argument names and values")
def _args_combined_size(state: RequestState) -> Pairs:
    return [("", str(sum(len(k) + len(v) for k, v in state.args_get + state.args_post)))]
