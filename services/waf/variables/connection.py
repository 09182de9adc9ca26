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


@register("REMOTE_HOST", collection=False, doc="the client address (no reverse DNS lookups on the data path)")
def _remote_host(state: RequestState) -> Pairs:
    return scalar(state.remote_addr)


@register("SERVER_NAME", collection=False, doc="the Host header without its port")
def _server_name(state: RequestState) -> Pairs:
    host = next((v for k, v in state.headers if k.lower() == "host"), "")
    if host.startswith("["):
        return scalar(host.split("]", 1)[0] + "]")
    return scalar(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)


@register("AUTH_TYPE", collection=False, doc="the scheme of the Authorization header (Basic, Bearer, ...)")
def _auth_type(state: RequestState) -> Pairs:
    value = next((v for k, v in state.headers if k.lower() == "authorization"), None)
    return [] if value is None else scalar(value.split(" ", 1)[0])


@register("GEO", collection=True, doc="@geoLookup results; always empty (no GeoIP database)")
def _geo(state: RequestState) -> Pairs:
    return []


@register("ENV", collection=True, doc="web server environment; empty outside Apache")
def _env(state: RequestState) -> Pairs:
    return []


@register("PATH_INFO", collection=False, doc="extra path information; empty outside Apache handlers")
def _path_info(state: RequestState) -> Pairs:
    return []
