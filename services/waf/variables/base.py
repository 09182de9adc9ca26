"""The per-request data variables read, and the one table naming every variable.

Values are ModSecurity "strings": byte sequences. We hold them as ``str`` whose characters are the
bytes (latin-1), so slicing, comparing and transformations stay byte-exact and converting to
``bytes`` for Hyperscan is a zero-surprise ``encode("latin-1")``. :func:`wire` turns text decoded
by the HTTP layer (UTF-8, possibly with surrogate escapes for invalid bytes) into that form.

Each variable family registers itself with :func:`register`; a variable is either a collection
(``ARGS``: many named values, selectable with ``ARGS:name`` or ``ARGS:/regex/``) or a scalar
(``REQUEST_URI``: one unnamed value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Pairs = list[tuple[str, str]]


def wire(text: str) -> str:
    """Text from the HTTP layer as a byte string (one char per byte, latin-1)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("latin-1")


def wire_bytes(data: bytes) -> str:
    return data.decode("latin-1")


@dataclass(slots=True)
class RequestState:
    """Everything variables read; filled by the Transaction as the phases arrive."""

    remote_addr: str = ""
    remote_port: int = 0
    server_addr: str = ""
    server_port: int = 0
    unique_id: str = ""
    method: str = ""
    protocol: str = ""
    uri_raw: str = ""
    uri: str = ""
    filename: str = ""
    query_string: str = ""
    headers: Pairs = field(default_factory=list)
    cookies: Pairs = field(default_factory=list)
    args_get: Pairs = field(default_factory=list)
    args_post: Pairs = field(default_factory=list)
    body: str = ""
    body_length: int = 0
    body_processor: str = ""  # REQBODY_PROCESSOR: URLENCODED, MULTIPART, JSON, XML or ""
    reqbody_error: bool = False
    reqbody_error_msg: str = ""
    multipart: Any = None  # multipart.MultipartResult once a multipart body was parsed
    xml: Any = None  # lxml root element once an XML body was parsed
    response_status: int | None = None
    response_protocol: str = ""
    response_headers: Pairs = field(default_factory=list)
    response_body: str = ""
    started: float = 0.0  # time.time() when the transaction began (DURATION, TIME*)
    matched_vars: Pairs = field(default_factory=list)  # MATCHED_VARS of the current rule (chain)
    highest_severity: int = 255
    tx: dict[str, str] = field(default_factory=dict)
    tx_names: dict[str, str] = field(default_factory=dict)
    collections: dict[str, Any] = field(default_factory=dict)  # IP, GLOBAL... -> persistent.Record
    matched_var: str = ""
    matched_var_name: str = ""


@dataclass(frozen=True, slots=True)
class VariableDef:
    """A variable name and how to read it.

    ``read`` returns (key, value) pairs; a scalar returns one pair with an empty key or none when
    the value is not available yet (e.g. RESPONSE_STATUS in phase 1).
    """

    name: str
    collection: bool
    read: Callable[[RequestState], Pairs]
    doc: str = ""
    # For variables whose selector is an expression rather than a key (XML:/xpath): the values
    # the expression selects, given the selector exactly as written.
    select: Callable[[RequestState, str], Pairs] | None = None
    # Direct access by (lower-case) key for collections held in a dict (TX, IP, ...): rules such
    # as CRS's ``TX:EXECUTING_PARANOIA_LEVEL`` must not scan a hundred TX variables each time.
    lookup: Callable[[RequestState, str], Pairs] | None = None


VARIABLES: dict[str, VariableDef] = {}


def register(
    name: str,
    *,
    collection: bool,
    doc: str = "",
    select: Callable[[RequestState, str], Pairs] | None = None,
    lookup: Callable[[RequestState, str], Pairs] | None = None,
) -> Callable[
    [Callable[[RequestState], Pairs]], Callable[[RequestState], Pairs]
]:
    def deco(read: Callable[[RequestState], Pairs]) -> Callable[[RequestState], Pairs]:
        if name in VARIABLES:
            raise RuntimeError(f"variable {name} registered twice")
        VARIABLES[name] = VariableDef(name=name, collection=collection, read=read, doc=doc, select=select, lookup=lookup)
        return read

    return deco


def scalar(value: str) -> Pairs:
    return [("", value)]
