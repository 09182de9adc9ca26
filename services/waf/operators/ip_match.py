"""@ipMatch and @ipMatchFromFile (alias @ipMatchF) -- is the value an address inside listed networks?

Example (CRS 905110): ``SecRule REMOTE_ADDR "@ipMatch 127.0.0.1,::1" "id:1,phase:1,pass,nolog"``.
Entries are IPv4/IPv6 addresses or CIDR networks, comma-separated (files: one per line, ``#``
comments); a value that is not an IP address does not match, as in ModSecurity.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str], where: str) -> tuple[Network, ...]:
    networks: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"{where}: invalid IP address or network {text!r}: {exc}") from exc
    if not networks:
        raise ValueError(f"{where}: no IP address or network given")
    return tuple(networks)


class IpMatch(Operator):
    name = "ipMatch"

    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        hit = any(address.version == n.version and address in n for n in self.networks)
        if hit and capture:
            ctx.set_captures([value])
        return hit


@register("ipMatch")
def make(argument: str, ctx: CompileContext) -> Operator:
    return IpMatch(parse_networks(argument.split(","), "@ipMatch"))


def _from_file(argument: str, ctx: CompileContext) -> Operator:
    entries: list[str] = []
    for name in argument.split():
        path = ctx.data_path(name)
        try:
            lines = path.read_text("latin-1").splitlines()
        except OSError as exc:
            raise ValueError(f"@ipMatchFromFile cannot read {str(path)!r}: {exc.strerror}") from exc
        entries.extend(line for line in lines if not line.strip().startswith("#"))
    return IpMatch(parse_networks(entries, f"@ipMatchFromFile {argument}"))


register("ipMatchFromFile")(_from_file)
register("ipMatchF")(_from_file)
