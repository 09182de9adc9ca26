"""Resource schemas of the control plane and their mapping to the tenancy document.

A request body is checked in two steps. The JSON Schema (also published in the OpenAPI document)
checks shapes and ranges; then the object is parsed by :func:`shared.config.tenancy.parse_tenancy`,
the same parser that reads ``deploy/tenancy.yaml``, so the API and the file reject a bad policy with
the same words, e.g. PUT a site with ``{"mode": "block"}`` answers
``422 {"error": {"field": "mode", "message": "expected one of detect, prevent, got 'block'"}}``.
What is stored is the parser's canonical form (every default spelled out), so a GET shows the
policy the data plane will actually run.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from shared.config.tenancy import ConfigError, IpsListener, Site, Tenancy, Vpc, parse_tenancy
from shared.control.errors import ValidationFailed
from shared.control.repository import Record, Ref

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_CRS = {
    "type": "object", "additionalProperties": False,
    "description": "Managed OWASP CRS settings (for rulesets containing 'crs').",
    "properties": {
        "paranoia_level": {"type": "integer", "minimum": 1, "maximum": 4},
        "inbound_threshold": {"type": "integer", "minimum": 1, "maximum": 10000},
        "outbound_threshold": {"type": "integer", "minimum": 1, "maximum": 10000},
    },
}
_EXCLUSION = {
    "type": "object", "additionalProperties": False,
    "description": "A rule (by id or tag) off, or one of its targets off, optionally only under a path.",
    "properties": {
        "rule_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "tag": {"type": "string", "minLength": 1, "maxLength": 128},
        "target": {"type": "string", "minLength": 1, "maxLength": 256, "examples": ["ARGS:password"]},
        "path": {"type": "string", "minLength": 1, "maxLength": 1024, "examples": ["/search"]},
    },
}
_PACK_REF_PATTERN = (r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?:@(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
                     r"(?:[-+][0-9A-Za-z.+-]{1,64})?)?$")
_RULESETS = {"type": "array", "maxItems": 16, "uniqueItems": True,
             "description": "packs by name (the provider's working tree) or pinned to a published version",
             "items": {"type": "string", "pattern": _PACK_REF_PATTERN, "examples": ["core@1.2.0"]}}
_SHADOW = {"type": "string", "pattern": _PACK_REF_PATTERN, "examples": ["core@1.3.0"],
           "description": "a published pack version evaluated beside the active packs without acting; "
                          "differences are recorded for `secchain rules diff-report`"}
_CIDRS = {"type": "array", "maxItems": 1000,
          "items": {"type": "string", "minLength": 2, "maxLength": 64, "examples": ["203.0.113.0/24", "2001:db8::/32"]}}
_MODE = {"type": "string", "enum": ["detect", "prevent"],
         "description": "detect: log and forward; prevent: block what the rules deny"}

TENANT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["id"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}
VPC_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["id"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "firewall": {
            "type": "object", "additionalProperties": False,
            "description": "Cloud firewall subscriptions of the VPC.",
            "properties": {"waf": {"type": "boolean"}, "ips": {"type": "boolean"}, "av": {"type": "boolean"}},
        },
        "auditing": {
            "type": "object", "additionalProperties": False,
            "description": "Cloud auditing: alerts of this VPC older than retention_days are deleted.",
            "properties": {"retention_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650}},
        },
    },
}
SITE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name", "hosts", "upstream"],
    "properties": {
        "name": {"type": "string", "pattern": ID_PATTERN},
        "hosts": {"type": "array", "minItems": 1, "maxItems": 100,
                  "items": {"type": "string", "minLength": 1, "maxLength": 253}},
        "upstream": {"type": "string", "minLength": 1, "maxLength": 2048, "examples": ["http://10.0.3.7:8080"]},
        "mode": _MODE,
        "rulesets": _RULESETS,
        "crs": _CRS,
        "max_body_bytes": {"type": "integer", "minimum": 0, "maximum": 2**40},
        "upstream_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "exclusions": {"type": "array", "maxItems": 1000, "items": _EXCLUSION},
        "av_fail_policy": {"type": "string", "enum": ["open", "closed"]},
        "shadow": _SHADOW,
        "ip_allow": {**_CIDRS, "description": "when set, only these source networks reach the site"},
        "ip_deny": {**_CIDRS, "description": "source networks refused with 403 (and alerted)"},
    },
}
LISTENER_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name", "listen", "upstream"],
    "properties": {
        "name": {"type": "string", "pattern": ID_PATTERN},
        "listen": {"type": "string", "minLength": 3, "maxLength": 300, "examples": ["127.0.0.1:9000"]},
        "upstream": {"type": "string", "minLength": 3, "maxLength": 300, "examples": ["10.0.3.8:5432"]},
        "mode": _MODE,
        "rulesets": _RULESETS,
        "vars": {"type": "object", "maxProperties": 64,
                 "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4096}},
        "connect_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "idle_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
        "shadow": _SHADOW,
    },
}
SCHEMAS = {"tenant": TENANT_SCHEMA, "vpc": VPC_SCHEMA, "site": SITE_SCHEMA, "listener": LISTENER_SCHEMA}
# the body field that names the object, per kind
KEY_FIELD = {"tenant": "id", "vpc": "id", "site": "name", "listener": "name"}
_VALIDATORS = {kind: jsonschema.Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}


def _field_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def check_json(validator: jsonschema.protocols.Validator, body: Any) -> None:
    """Raise the most specific error (deepest path first) naming its field, e.g. ``crs.paranoia_level``."""
    errors = sorted(validator.iter_errors(body), key=lambda e: (-len(e.absolute_path), str(e.absolute_path)))
    if errors:
        e = errors[0]
        raise ValidationFailed(e.message, field=_field_path(e.absolute_path) or None)
    no_control_chars(body, [])


def check_schema(kind: str, body: Any) -> None:
    """Shape check against the published schema of a resource kind."""
    check_json(_VALIDATORS[kind], body)


def no_control_chars(value: Any, path: list[Any]) -> None:
    # JSON Schema's "$" (and Python's re.match) accept a trailing newline; nothing in a policy may
    # carry control characters, which would end up in SecLang or in log lines.
    if isinstance(value, str):
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValidationFailed("control characters are not allowed", field=_field_path(path) or None)
    elif isinstance(value, dict):
        for k, v in value.items():
            no_control_chars(k, path)
            no_control_chars(v, [*path, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            no_control_chars(v, [*path, i])


_WHERE = re.compile(r"^request: tenants\[0\](?:\.vpcs\[0\](?:\.(?:sites|ips_listeners)\[0\])?)?(?:\.(?P<field>\S+?))?: (?P<msg>.*)$",
                    re.S)


def _parse_one(doc: dict[str, Any]) -> Tenancy:
    try:
        return parse_tenancy(doc, "request")
    except ConfigError as exc:
        m = _WHERE.match(str(exc))
        if m is None:
            raise ValidationFailed(str(exc).removeprefix("request: ")) from exc
        raise ValidationFailed(m.group("msg"), field=m.group("field")) from exc


def canonical_spec(kind: str, ref: Ref, body: dict[str, Any], vpc_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored spec of a validated request body (its name/id field removed, defaults filled)."""
    check_schema(kind, body)
    body = {k: v for k, v in body.items() if k != KEY_FIELD[kind]}
    if kind == "tenant":
        return {"name": body.get("name", ref.tenant)}
    if kind == "vpc":
        tenancy = _parse_one({"tenants": [{"id": ref.tenant, "vpcs": [{"id": ref.vpc, **body}]}]})
        return vpc_doc(tenancy.tenants[0].vpcs[0])
    vpc = {"id": ref.vpc, "firewall": (vpc_spec or {}).get("firewall", {})}
    if kind == "site":
        tenancy = _parse_one({"tenants": [{"id": ref.tenant, "vpcs": [{**vpc, "sites": [{"name": ref.name, **body}]}]}]})
        return site_doc(tenancy.tenants[0].vpcs[0].sites[0])
    tenancy = _parse_one({"tenants": [{"id": ref.tenant, "vpcs": [{**vpc, "ips_listeners": [{"name": ref.name, **body}]}]}]})
    return listener_doc(tenancy.tenants[0].vpcs[0].ips_listeners[0])


def valid_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


# -- tenancy objects -> documents (the file's shape) ------------------------------------------------

def vpc_doc(vpc: Vpc) -> dict[str, Any]:
    return {"firewall": {"waf": vpc.waf, "ips": vpc.ips, "av": vpc.av},
            "auditing": {"retention_days": vpc.retention_days}}


def site_doc(site: Site) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "hosts": list(site.hosts), "upstream": site.upstream, "mode": site.mode, "rulesets": list(site.rulesets),
        "max_body_bytes": site.max_body_bytes, "upstream_timeout": site.upstream_timeout,
        "exclusions": [{k: v for k, v in (("rule_id", e.rule_id), ("tag", e.tag), ("target", e.target),
                                           ("path", e.path)) if v is not None} for e in site.exclusions],
        "av_fail_policy": site.av_fail_policy, "ip_allow": list(site.ip_allow), "ip_deny": list(site.ip_deny),
    }
    if site.shadow is not None:
        doc["shadow"] = site.shadow
    if site.crs is not None:
        doc["crs"] = {"paranoia_level": site.crs.paranoia_level, "inbound_threshold": site.crs.inbound_threshold,
                      "outbound_threshold": site.crs.outbound_threshold}
    return doc


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listener_doc(lst: IpsListener) -> dict[str, Any]:
    doc: dict[str, Any] = {"listen": _host_port(lst.listen_host, lst.listen_port),
                           "upstream": _host_port(lst.upstream_host, lst.upstream_port), "mode": lst.mode,
                           "rulesets": list(lst.rulesets), "vars": dict(lst.variables),
                           "connect_timeout": lst.connect_timeout, "idle_timeout": lst.idle_timeout}
    if lst.shadow is not None:
        doc["shadow"] = lst.shadow
    return doc


def tenancy_to_records(tenancy: Tenancy) -> list[Record]:
    """A parsed tenancy file as control-plane records (``secchain config import``)."""
    from shared.control.sqlite import now_rfc3339

    at = now_rfc3339()
    out = []
    for t in tenancy.tenants:
        out.append(Record(Ref("tenant", t.id), {"name": t.name}, 1, at, at))
        for v in t.vpcs:
            out.append(Record(Ref("vpc", t.id, v.id), vpc_doc(v), 1, at, at))
            out += [Record(Ref("site", t.id, v.id, s.name), site_doc(s), 1, at, at) for s in v.sites]
            out += [Record(Ref("listener", t.id, v.id, x.name), listener_doc(x), 1, at, at) for x in v.ips_listeners]
    return out


# -- records -> the snapshot document ----------------------------------------------------------

def records_to_document(records: list[Record]) -> dict[str, Any]:
    """Every record as one tenancy document (``parse_tenancy`` reads it back)."""
    tenants: dict[str, dict[str, Any]] = {}
    vpcs: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r.ref.kind == "tenant":
            tenants[r.ref.tenant] = {"id": r.ref.tenant, "name": r.spec.get("name", r.ref.tenant), "vpcs": []}
    for r in records:
        if r.ref.kind == "vpc" and r.ref.tenant in tenants:
            vpc = {"id": r.ref.vpc, **r.spec, "sites": [], "ips_listeners": []}
            vpcs[(r.ref.tenant, r.ref.vpc)] = vpc
            tenants[r.ref.tenant]["vpcs"].append(vpc)
    for r in records:
        vpc = vpcs.get((r.ref.tenant, r.ref.vpc))
        if vpc is None:
            continue
        if r.ref.kind == "site":
            vpc["sites"].append({"name": r.ref.name, **r.spec})
        elif r.ref.kind == "listener":
            vpc["ips_listeners"].append({"name": r.ref.name, **r.spec})
    return {"tenants": list(tenants.values())}


def check_configuration(records: list[Record], changed: Ref) -> None:
    """Cross-object rules of the whole configuration after a change (raises ValidationFailed).

    A host name routes to one site and a listen address belongs to one listener across all
    tenants; the message names the other object only when it belongs to the same tenant, so a
    tenant learns nothing about another tenant's configuration.
    """
    hosts: dict[str, Ref] = {}
    listens: dict[str, Ref] = {}
    # the changed object last, so a conflict is reported on it
    ordered = sorted(records, key=lambda r: r.ref == changed)
    for r in ordered:
        if r.ref.kind == "site":
            table, values, field = hosts, [h.lower() for h in r.spec.get("hosts", [])], "hosts"
        elif r.ref.kind == "listener":
            table, values, field = listens, [r.spec.get("listen", "")], "listen"
        else:
            continue
        for i, value in enumerate(values):
            other = table.get(value)
            if other is not None and other != r.ref:
                whose = (f"{other.kind} {other.name!r} (VPC {other.vpc!r})" if other.tenant == r.ref.tenant
                         else "another tenant's " + other.kind)
                what = "host" if field == "hosts" else "listen address"
                raise ValidationFailed(f"{what} {value!r} is already used by {whose}",
                                       field=f"{field}[{i}]" if field == "hosts" else field)
            table[value] = r.ref
    try:
        parse_tenancy(records_to_document(records), "configuration")
    except ConfigError as exc:
        raise ValidationFailed(f"the resulting configuration is invalid: {exc}") from exc
