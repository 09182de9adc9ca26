"""Address and port groups of the rule header, with Suricata's variables and defaults.

A header field is an item or a bracketed list; items may be negated and lists nest::

    alert tcp [10.0.0.0/8,!10.1.2.3] any -> $HOME_NET ![80,443,8000:8100] (...)

The meaning follows Suricata (``detect-engine-address.c``, ``detect-engine-port.c``): the set is
the union of the positive items minus the negated ones, and a list with only negated items is
"anything but" them (``[!1.2.3.4]``). ``!any`` is an error, as is a variable that is not defined
(Suricata refuses to load such a rule). Default variable values are those of the ``vars`` section
of Suricata 7's shipped ``suricata.yaml``, so ET Open rules load unchanged; override them with
``RuleVariables.from_mapping`` / ``from_yaml`` (same layout as ``suricata.yaml``'s ``vars``).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ADDRESS_GROUPS: dict[str, str] = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_SERVERS": "$HOME_NET",
    "SMTP_SERVERS": "$HOME_NET",
    "SQL_SERVERS": "$HOME_NET",
    "DNS_SERVERS": "$HOME_NET",
    "TELNET_SERVERS": "$HOME_NET",
    "AIM_SERVERS": "$EXTERNAL_NET",
    "DC_SERVERS": "$HOME_NET",
    "DNP3_SERVER": "$HOME_NET",
    "DNP3_CLIENT": "$HOME_NET",
    "MODBUS_CLIENT": "$HOME_NET",
    "MODBUS_SERVER": "$HOME_NET",
    "ENIP_CLIENT": "$HOME_NET",
    "ENIP_SERVER": "$HOME_NET",
}
DEFAULT_PORT_GROUPS: dict[str, str] = {
    "HTTP_PORTS": "80",
    "SHELLCODE_PORTS": "!80",
    "ORACLE_PORTS": "1521",
    "SSH_PORTS": "22",
    "DNP3_PORTS": "20000",
    "MODBUS_PORTS": "502",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "FTP_PORTS": "21",
    "GENEVE_PORTS": "6081",
    "VXLAN_PORTS": "4789",
    "TEREDO_PORTS": "3544",
}


class GroupError(ValueError):
    """A bad address/port field; ``offset`` is relative to the start of the field text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@functools.lru_cache(maxsize=65536)
def _ip_key(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 host
        return 4, int(addr.ipv4_mapped)
    return addr.version, int(addr)


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sorted, merged ranges as two parallel tuples (starts, ends) for bisect."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple(r[0] for r in out), tuple(r[1] for r in out)


def _in(ranges: tuple[tuple[int, ...], tuple[int, ...]], value: int) -> bool:
    starts, ends = ranges
    i = bisect.bisect_right(starts, value) - 1
    return i >= 0 and value <= ends[i]


@dataclass(frozen=True, slots=True)
class _Node:
    """One (possibly nested) list in normal form: flat ranges where possible, subgroups otherwise.

    ``keys`` are address families (4, 6) or 0 for ports; ``any_pos`` means no positive item was
    given, so the positive part is "everything".
    """

    pos: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
    neg: dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
    pos_groups: tuple[_Node, ...]
    neg_groups: tuple[_Node, ...]
    any_pos: bool

    def contains(self, family: int, value: int) -> bool:
        if not self.any_pos:
            r = self.pos.get(family)
            if not (r is not None and _in(r, value)) and not any(
                g.contains(family, value) for g in self.pos_groups
            ):
                return False
        r = self.neg.get(family)
        if r is not None and _in(r, value):
            return False
        return not any(g.contains(family, value) for g in self.neg_groups)

    @property
    def is_any(self) -> bool:
        return self.any_pos and not self.neg and not self.neg_groups


class _Builder:
    """Collects one list's items before it is frozen into a ``_Node``."""

    def __init__(self) -> None:
        self.pos: dict[int, list[tuple[int, int]]] = {}
        self.neg: dict[int, list[tuple[int, int]]] = {}
        self.pos_groups: list[_Node] = []
        self.neg_groups: list[_Node] = []
        self.saw_pos = False
        self.saw_any = False

    def add(self, negated: bool, item: _Node | tuple[int, int, int] | None) -> None:
        if item is None:  # "any"
            self.saw_pos = True
            self.saw_any = True
            return
        if not negated:
            self.saw_pos = True
        if isinstance(item, tuple):
            family, lo, hi = item
            (self.neg if negated else self.pos).setdefault(family, []).append((lo, hi))
            return
        flat = not item.neg and not item.neg_groups and not item.pos_groups and not item.any_pos
        if flat:
            target = self.neg if negated else self.pos
            for family, (starts, ends) in item.pos.items():
                target.setdefault(family, []).extend(zip(starts, ends))
        elif item.is_any:
            if negated:
                raise GroupError("a negated list that matches everything can never match")
            self.saw_any = True
        else:
            (self.neg_groups if negated else self.pos_groups).append(item)

    def freeze(self) -> _Node:
        any_pos = self.saw_any or not self.saw_pos
        return _Node(
            {} if any_pos else {f: _merge(r) for f, r in self.pos.items()},
            {f: _merge(r) for f, r in self.neg.items()},
            () if any_pos else tuple(self.pos_groups),
            tuple(self.neg_groups),
            any_pos,
        )


class _Parser:
    """Recursive descent over ``item := '!'* (list | $VAR | atom)``, ``list := '[' item (',' item)* ']'``."""

    def __init__(self, text: str, variables: RuleVariables, kind: str, stack: tuple[str, ...]) -> None:
        self.text = text
        self.i = 0
        self.vars = variables
        self.kind = kind
        self.stack = stack

    def parse(self) -> _Node:
        builder = _Builder()
        negated, item = self.item()
        if self.i < len(self.text):
            raise GroupError("expected end of field (lists need brackets: '[a,b]')", self.i)
        if negated and item is None:
            raise GroupError("'!any' can never match", 0)
        builder.add(negated, item)
        return builder.freeze()

    def item(self) -> tuple[bool, _Node | tuple[int, int, int] | None]:
        text = self.text
        negated = False
        while self.i < len(text) and text[self.i] == "!":
            negated = not negated
            self.i += 1
        start = self.i
        if self.i >= len(text):
            raise GroupError(f"expected {self.kind}", self.i)
        c = text[self.i]
        if c == "[":
            self.i += 1
            builder = _Builder()
            while True:
                item_start = self.i
                neg, item = self.item()
                if neg and item is None:
                    raise GroupError("'!any' can never match", item_start)
                try:
                    builder.add(neg, item)
                except GroupError as exc:
                    raise GroupError(exc.message, item_start) from None
                if self.i >= len(text):
                    raise GroupError("expected ',' or ']'", self.i)
                if text[self.i] == ",":
                    self.i += 1
                    continue
                if text[self.i] == "]":
                    self.i += 1
                    return negated, builder.freeze()
                raise GroupError("expected ',' or ']'", self.i)
        end = start
        while end < len(text) and text[end] not in ",]![":
            end += 1
        atom = text[start:end]
        if not atom:
            raise GroupError(f"expected {self.kind}", start)
        self.i = end
        if atom.startswith("$"):
            return negated, self.variable(atom, start)
        if atom.lower() == "any":
            return negated, None
        try:
            return negated, self.atom(atom)
        except GroupError as exc:
            raise GroupError(exc.message, start + exc.offset) from None

    def variable(self, atom: str, start: int) -> _Node:
        name = atom[1:]
        if name in self.stack:
            raise GroupError(f"variable '${name}' refers to itself", start)
        value = self.vars.raw(self.kind, name)
        if value is None:
            raise GroupError(f"undefined {self.kind} variable '${name}'", start)
        cache = self.vars._nodes
        node = cache.get((self.kind, name))
        if node is None:
            try:
                node = type(self)(value, self.vars, self.kind, (*self.stack, name)).parse()
            except GroupError as exc:
                raise GroupError(f"in variable '${name}' = {value!r}: {exc.message}", start) from None
            cache[(self.kind, name)] = node
        return node

    def atom(self, atom: str) -> tuple[int, int, int]:  # pragma: no cover - subclasses
        raise NotImplementedError


class _AddressParser(_Parser):
    def atom(self, atom: str) -> tuple[int, int, int]:
        try:
            if "-" in atom and "/" not in atom:
                lo_text, _, hi_text = atom.partition("-")
                lo, hi = ipaddress.ip_address(lo_text), ipaddress.ip_address(hi_text)
                if lo.version != hi.version or int(hi) < int(lo):
                    raise GroupError(f"expected an address range low-high, got {atom!r}")
                return lo.version, int(lo), int(hi)
            net = ipaddress.ip_network(atom, strict=False)
        except ValueError:
            raise GroupError(f"expected an IP address, CIDR block, range, variable or 'any', got {atom!r}") from None
        return net.version, int(net.network_address), int(net.broadcast_address)


class _PortParser(_Parser):
    def atom(self, atom: str) -> tuple[int, int, int]:
        lo_text, colon, hi_text = atom.partition(":")
        try:
            lo = int(lo_text) if lo_text else 0
            hi = (int(hi_text) if hi_text else 65535) if colon else lo
        except ValueError:
            raise GroupError(f"expected a port, range 'lo:hi', variable or 'any', got {atom!r}") from None
        if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
            raise GroupError(f"expected ports between 0 and 65535, got {atom!r}")
        if hi < lo:
            raise GroupError(f"expected a port range with low <= high, got {atom!r}")
        return 0, lo, hi


@dataclass(frozen=True, slots=True)
class AddressSet:
    """A compiled address field; ``contains`` takes the textual IPv4/IPv6 address of a packet."""

    text: str
    _node: _Node = field(repr=False, compare=False)

    @property
    def is_any(self) -> bool:
        return self._node.is_any

    def contains(self, ip: str) -> bool:
        if self._node.is_any:
            return True
        family, value = _ip_key(ip)
        return self._node.contains(family, value)


@dataclass(frozen=True, slots=True)
class PortSet:
    """A compiled port field (``any``, ``80``, ``[80,443]``, ``1024:``, ``!$HTTP_PORTS``...)."""

    text: str
    _node: _Node = field(repr=False, compare=False)

    @property
    def is_any(self) -> bool:
        return self._node.is_any

    def contains(self, port: int) -> bool:
        return self._node.is_any or self._node.contains(0, port)


class RuleVariables:
    """Address and port variables (without the ``$``), Suricata's defaults unless replaced.

    Compiled sets are cached by field text: ET Open writes ``$HOME_NET`` ~27,000 times.
    """

    def __init__(
        self,
        address_groups: Mapping[str, str] | None = None,
        port_groups: Mapping[str, str] | None = None,
        *,
        defaults: bool = True,
    ) -> None:
        self.address_groups: dict[str, str] = dict(DEFAULT_ADDRESS_GROUPS) if defaults else {}
        self.port_groups: dict[str, str] = dict(DEFAULT_PORT_GROUPS) if defaults else {}
        for name, value in (address_groups or {}).items():
            self.address_groups[name.lstrip("$")] = str(value)
        for name, value in (port_groups or {}).items():
            self.port_groups[name.lstrip("$")] = str(value)
        self._addresses: dict[str, AddressSet] = {}
        self._ports: dict[str, PortSet] = {}
        self._nodes: dict[tuple[str, str], _Node] = {}

    @classmethod
    def from_mapping(cls, data: Mapping, *, defaults: bool = True) -> RuleVariables:
        """``{"address-groups": {...}, "port-groups": {...}}``, optionally under a ``vars`` key."""
        data = data.get("vars", data)
        return cls(data.get("address-groups") or {}, data.get("port-groups") or {}, defaults=defaults)

    @classmethod
    def from_yaml(cls, path: Path | str, *, defaults: bool = True) -> RuleVariables:
        import yaml

        with open(path, encoding="utf-8") as fh:
            return cls.from_mapping(yaml.safe_load(fh) or {}, defaults=defaults)

    def raw(self, kind: str, name: str) -> str | None:
        return (self.address_groups if kind == "address" else self.port_groups).get(name)

    def address_set(self, text: str) -> AddressSet:
        """Compile an address field; raises ``GroupError`` with an offset into ``text``."""
        cached = self._addresses.get(text)
        if cached is None:
            cached = AddressSet(text, _AddressParser(text, self, "address", ()).parse())
            self._addresses[text] = cached
        return cached

    def port_set(self, text: str) -> PortSet:
        cached = self._ports.get(text)
        if cached is None:
            cached = PortSet(text, _PortParser(text, self, "port", ()).parse())
            self._ports[text] = cached
        return cached
