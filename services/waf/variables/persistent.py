"""Persistent collections IP, GLOBAL, SESSION, USER, RESOURCE: ``initcol``, ``setvar``, ``expirevar``.

``SecAction "id:901321,phase:1,pass,nolog,initcol:global=global,initcol:ip=%{remote_addr}_%{tx.ua_hash}"``
then ``setvar:ip.dos_counter=+1,expirevar:ip.dos_counter=60``. ModSecurity keeps these in a disk
store shared by its processes; here they live in process memory, one :class:`PersistentStore` per
loaded RuleSet (a reload starts empty, as a new ModSecurity collection file would), keyed by
(collection, key). Values expire per variable (``expirevar``) and whole records expire after
``SecCollectionTimeout`` seconds without an update (ModSecurity's default is 3600). As in
ModSecurity, a record carries the built-in ``KEY``, ``TIMEOUT``, ``CREATE_TIME``, ``IS_NEW``,
``UPDATE_COUNTER`` and ``LAST_UPDATE_TIME``; writing a collection that no ``initcol`` opened is an
error for that action (ModSecurity: "collection not found"), not a silent write.

The store is guarded by one lock because the proxy may run transactions on several threads; a
transaction works on the live record (ModSecurity merges its changes back at the end of the
transaction; with one process the result is the same and a counter is never lost).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from services.waf.variables.base import Pairs, RequestState, register

PERSISTENT = ("IP", "GLOBAL", "SESSION", "USER", "RESOURCE")
DEFAULT_TIMEOUT = 3600
MAX_RECORDS = 100_000  # bound memory: oldest records are dropped first when full


@dataclass(slots=True)
class Record:
    """One collection record (e.g. IP for ``192.0.2.1_<ua hash>``); names lower-cased."""

    key: str
    timeout: int
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    counter: int = 0
    is_new: bool = True
    values: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    expiry: dict[str, float] = field(default_factory=dict)

    def _purge(self, now: float) -> None:
        for name in [n for n, deadline in self.expiry.items() if deadline <= now]:
            self.values.pop(name, None)
            self.names.pop(name, None)
            self.expiry.pop(name, None)

    def get(self, name: str) -> str | None:
        self._purge(time.time())
        return self.values.get(name.lower())

    def set(self, name: str, value: str) -> None:
        key = name.lower()
        self.values[key] = value
        self.names.setdefault(key, name)
        self.updated = time.time()
        self.counter += 1

    def delete(self, name: str) -> None:
        key = name.lower()
        self.values.pop(key, None)
        self.names.pop(key, None)
        self.expiry.pop(key, None)

    def expire(self, name: str, seconds: int) -> None:
        self.expiry[name.lower()] = time.time() + seconds

    def items(self) -> Pairs:
        now = time.time()
        self._purge(now)
        builtins = [
            ("KEY", self.key),
            ("TIMEOUT", str(self.timeout)),
            ("CREATE_TIME", str(int(self.created))),
            ("IS_NEW", "1" if self.is_new else "0"),
            ("UPDATE_COUNTER", str(self.counter)),
            ("LAST_UPDATE_TIME", str(int(self.updated))),
        ]
        return builtins + [(self.names.get(k, k), v) for k, v in self.values.items()]


class PersistentStore:
    """The in-memory store behind initcol for one RuleSet."""

    def __init__(self, timeout: int = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._records: dict[tuple[str, str], Record] = {}
        self._lock = threading.Lock()

    def open(self, collection: str, key: str) -> Record:
        now = time.time()
        with self._lock:
            record = self._records.get((collection, key))
            if record is not None and now - record.updated > record.timeout:
                del self._records[(collection, key)]
                record = None
            if record is None:
                if len(self._records) >= MAX_RECORDS:  # least recently opened record goes first
                    del self._records[next(iter(self._records))]
                record = Record(key=key, timeout=self.timeout)
            else:
                record.is_new = False
                del self._records[(collection, key)]  # re-inserted below: dict order is recency
            self._records[(collection, key)] = record
            return record

    def __len__(self) -> int:
        return len(self._records)


def _reader(name: str):  # type: ignore[no-untyped-def]
    def read(state: RequestState) -> Pairs:
        record = state.collections.get(name)
        return record.items() if record is not None else []

    return read


def _lookup(name: str):  # type: ignore[no-untyped-def]
    def lookup(state: RequestState, key: str) -> Pairs:
        record = state.collections.get(name)
        if record is None:
            return []
        return [(k, v) for k, v in record.items() if k.lower() == key]

    return lookup


for _name in PERSISTENT:
    register(
        _name, collection=True, doc=f"persistent {_name} collection (initcol:{_name.lower()}=KEY)", lookup=_lookup(_name)
    )(_reader(_name))
