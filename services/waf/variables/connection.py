"""REMOTE_ADDR (and REMOTE_PORT, SERVER_ADDR, SERVER_PORT, UNIQUE_ID) from the connection.

``SecRule REMOTE_ADDR "@streq 192.0.2.7" "id:60,phase:1,allow"``: the peer address of the
connection to the WAF, as the proxy passed it to ``new_transaction``.
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("REMOTE_ADDR", collection=False)
def _remote_addr(state: RequestState) -> Pairs:
    return scalar(state.remote_addr)


@register("REMOTE_PORT", collection=False)
def _remote_port(state: RequestState) -> Pairs:
    return scalar(str(state.remote_port))


@register("SERVER_ADDR", collection=False)
def _server_addr(state: RequestState) -> Pairs:
    return scalar(state.server_addr)


@register("SERVER_PORT", collection=False)
def _server_port(state: RequestState) -> Pairs:
    return scalar(str(state.server_port))


@register("UNIQUE_ID", collection=False)
def _unique_id(state: RequestState) -> Pairs:
    return scalar(state.unique_id)
