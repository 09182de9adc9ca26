"""REQUEST_BODY and the request body processors (URL-encoded form, JSON).

``SecRule REQUEST_BODY "@rx <!ENTITY" "id:50,phase:2,deny"``. Phase 2 hands the body to a processor
chosen by Content-Type, as ModSecurity does: ``application/x-www-form-urlencoded`` fills ARGS_POST
with the same parser as the query string; ``application/json`` (and ``+json`` types) fills
ARGS_POST with flattened names, ``json.a.b`` for objects and ``json.list.array_0`` for array
elements, booleans as ``true``/``false`` and null as an empty value (ModSecurity v3's JSON
processor). Multipart bodies go through :mod:`services.waf.variables.multipart`, XML bodies
through :mod:`services.waf.variables.xml`; when REQUEST_BODY holds the raw body (URLENCODED,
JSON, or no processor with ``ctl:forceRequestBodyVariable=On``) is decided in
:mod:`services.waf.engine.bodies`.

ModSecurity picks URLENCODED and MULTIPART from Content-Type itself and JSON / XML through the
recommended rules 200000/200001 of modsecurity.conf (``ctl:requestBodyProcessor=...``); since
those rules are part of every CRS deployment, JSON (``application/json``, ``+json``) and XML
(``text/xml``, ``application/xml``, ``+xml``) are selected here from Content-Type too.
"""

from __future__ import annotations

import json
from typing import Any

from services.waf.variables.args import parse_query
from services.waf.variables.base import Pairs, RequestState, register, scalar, wire

MAX_JSON_DEPTH = 64


class BodyParseError(ValueError):
    """The body does not parse as its Content-Type says (ModSecurity's REQBODY_ERROR)."""


def _flatten(node: Any, prefix: str, out: Pairs, depth: int, limit: int = MAX_JSON_DEPTH) -> None:
    if depth > limit:
        raise BodyParseError(f"JSON nesting deeper than {limit} (SecRequestBodyJsonDepthLimit)")
    if isinstance(node, dict):
        for key, child in node.items():
            _flatten(child, f"{prefix}.{wire(key)}", out, depth + 1, limit)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            _flatten(child, f"{prefix}.array_{index}", out, depth + 1, limit)
    elif node is None:
        out.append((prefix, ""))
    elif node is True:
        out.append((prefix, "true"))
    elif node is False:
        out.append((prefix, "false"))
    elif isinstance(node, str):
        out.append((prefix, wire(node)))
    else:
        out.append((prefix, str(node)))


def parse_json(body: str, depth_limit: int = MAX_JSON_DEPTH) -> Pairs:
    try:
        doc = json.loads(body.encode("latin-1"))
    except (ValueError, RecursionError) as exc:
        raise BodyParseError(f"invalid JSON body: {exc}") from exc
    out: Pairs = []
    try:
        _flatten(doc, "json", out, 0, depth_limit)
    except RecursionError as exc:
        raise BodyParseError("JSON nesting too deep to inspect") from exc
    return out


def processor_for(content_type: str) -> str | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return "URLENCODED"
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return "JSON"
    if media == "multipart/form-data":
        return "MULTIPART"
    if media in ("text/xml", "application/xml") or (media.startswith("application/") and media.endswith("+xml")):
        return "XML"
    return None


def parse_body(processor: str | None, body: str) -> Pairs:
    if processor == "URLENCODED":
        return parse_query(body)
    if processor == "JSON" and body.strip():
        return parse_json(body)
    return []


@register("REQUEST_BODY", collection=False)
def _body(state: RequestState) -> Pairs:
    return scalar(state.body)


@register("REQBODY_ERROR", collection=False, doc="1 when the body processor failed, else 0")
def _reqbody_error(state: RequestState) -> Pairs:
    return scalar("1" if state.reqbody_error else "0")


@register("REQBODY_ERROR_MSG", collection=False)
def _reqbody_error_msg(state: RequestState) -> Pairs:
    return scalar(state.reqbody_error_msg)


@register("REQUEST_BODY_LENGTH", collection=False, doc="length of the request body in bytes")
def _reqbody_length(state: RequestState) -> Pairs:
    return scalar(str(state.body_length))


@register("REQBODY_PROCESSOR", collection=False, doc="URLENCODED, MULTIPART, JSON, XML or empty")
def _reqbody_processor(state: RequestState) -> Pairs:
    return scalar(state.body_processor)


@register("REQBODY_PROCESSOR_ERROR", collection=False, doc="ModSecurity v2 name of REQBODY_ERROR")
def _reqbody_processor_error(state: RequestState) -> Pairs:
    return scalar("1" if state.reqbody_error else "0")


@register("REQBODY_PROCESSOR_ERROR_MSG", collection=False)
def _reqbody_processor_error_msg(state: RequestState) -> Pairs:
    return scalar(state.reqbody_error_msg)


@register("FULL_REQUEST_LENGTH", collection=False)
def _full_request_length(state: RequestState) -> Pairs:
    line = len(state.method) + len(state.uri_raw) + len(state.protocol) + 4
    headers = sum(len(k) + len(v) + 4 for k, v in state.headers)
    return scalar(str(line + headers + 2 + state.body_length))
