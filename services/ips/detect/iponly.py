"""Address index for rules that have no content to prefilter on: IP reputation lists and the like.

ET Open has about a thousand rules such as ``alert tcp [198.51.100.7,203.0.113.0/24,...] any ->
$HOME_NET any (msg:"ET TOR Known Tor Relay"; flowbits:set,ET.TorIP; ...)``: no content, so the
multi-pattern prefilter cannot narrow them, and checking each rule's address list on every flow
would cost milliseconds. Suricata keeps such rules in a radix tree keyed by address
(``detect-engine-iponly.c``); here an interval index per address family answers "which rules'
source (or destination) list holds this address" with one binary search.

A rule is indexed by its source list when that list is a plain positive set of addresses and
ranges, else by its destination list, else it is "generic" and checked on every flow (its header
check is memoised per flow, so even then it costs one evaluation per flow and direction).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any


def _plain_ranges(addr: Any) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]] | None:
    """The (starts, ends) per family of a positive-only address set, or None if it is not one."""
    node = getattr(addr, "_node", None)
    if node is None or node.any_pos or node.neg or node.neg_groups or node.pos_groups:
        return None
    return node.pos


class _IntervalIndex:
    """Maps an address to the ids whose ranges contain it (elementary-interval table)."""

    def __init__(self) -> None:
        self._items: dict[int, list[tuple[int, int, int]]] = {}
        self._tables: dict[int, tuple[list[int], list[tuple[int, ...]]]] = {}

    def add(self, ranges: dict[int, tuple[tuple[int, ...], tuple[int, ...]]], ident: int) -> None:
        for family, (starts, ends) in ranges.items():
            items = self._items.setdefault(family, [])
            items.extend((lo, hi, ident) for lo, hi in zip(starts, ends))

    def freeze(self) -> None:
        for family, items in self._items.items():
            points = sorted({lo for lo, _, _ in items} | {hi + 1 for _, hi, _ in items})
            covering: list[set[int]] = [set() for _ in points]
            for lo, hi, ident in items:
                a = bisect.bisect_left(points, lo)
                b = bisect.bisect_left(points, hi + 1)
                for k in range(a, b):
                    covering[k].add(ident)
            self._tables[family] = (points, [tuple(sorted(c)) for c in covering])
        self._items = {}

    def lookup(self, family: int, value: int) -> tuple[int, ...]:
        table = self._tables.get(family)
        if table is None:
            return ()
        points, covering = table
        k = bisect.bisect_right(points, value) - 1
        return covering[k] if k >= 0 else ()


@lru_cache(maxsize=65536)
def _key(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return 4, int(addr.ipv4_mapped)
    return addr.version, int(addr)


class HeaderIndex:
    """Rules grouped by header; ``candidates(src, dst)`` = the header ids worth checking."""

    def __init__(self, headers: Sequence[tuple[Any, ...]], rules: Iterable[tuple[int, int]]) -> None:
        """``headers[hid] = (transport, src_addr, src_ports, dst_addr, dst_ports, bidir)``;
        ``rules`` = (rule index, header id) pairs to index."""
        self.by_header: dict[int, list[int]] = {}
        for index, hid in rules:
            self.by_header.setdefault(hid, []).append(index)
        self._src = _IntervalIndex()
        self._dst = _IntervalIndex()
        generic: list[int] = []
        for hid in self.by_header:
            _, src_addr, _, dst_addr, _, bidir = headers[hid]
            ranges = None if bidir else _plain_ranges(src_addr)
            if ranges is not None:
                self._src.add(ranges, hid)
                continue
            ranges = None if bidir else _plain_ranges(dst_addr)
            if ranges is not None:
                self._dst.add(ranges, hid)
                continue
            generic.append(hid)
        self._src.freeze()
        self._dst.freeze()
        self.generic = tuple(generic)

    def candidates(self, src: str, dst: str) -> list[int]:
        fs, vs = _key(src)
        fd, vd = _key(dst)
        return [*self.generic, *self._src.lookup(fs, vs), *self._dst.lookup(fd, vd)]
