"""REST handlers of the control plane, mounted into the API service under ``/v1``.

Resources (each item has GET, PUT, PATCH, DELETE; each collection GET and POST)::

    /v1/tenants/{tenant_id}
    /v1/tenants/{tenant_id}/vpcs/{vpc_id}
    /v1/tenants/{tenant_id}/vpcs/{vpc_id}/sites/{site_name}
    /v1/tenants/{tenant_id}/vpcs/{vpc_id}/listeners/{listener_name}

GET answers an ``ETag`` (the object's revision); PUT, PATCH (JSON merge patch, RFC 7396) and
DELETE need ``If-Match`` with it: 428 without, 412 when someone changed the object in between, as
AWS WAF's lock tokens do. Authorization is declared on each handler (``x-secchain-roles`` in the
OpenAPI document) and enforced by the API's auth middleware, which also answers 404 to a tenant
key naming another tenant.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from services.api.app import KEY_KEY, STATE_KEY
from services.control.dataplane import DataplaneHub, add_dataplane_routes
from services.control.openapi import Param, build_document, operation
from shared.config.tenancy import PROVIDER_ROLES, ApiKey, ConfigError, parse_tenancy
from shared.control import (Actor, ChangeQuery, ControlRepository, KeyRecord, NotFound, PreconditionFailed,
                            PreconditionRequired, Record, Ref, ValidationFailed)
from shared.control.keys import hash_key, new_key_id, new_secret
from shared.control.model import (ID_PATTERN, KEY_FIELD, SCHEMAS, canonical_spec, check_configuration,
                                  no_control_chars, records_to_document, tenancy_to_records, valid_id)
from shared.control.sqlite import now_rfc3339

log = logging.getLogger("secchain.control")

PROVIDER = frozenset({"provider-admin"})
ADMINS = frozenset({"provider-admin", "tenant-admin"})
ALL_ROLES = frozenset({"provider-admin", "tenant-admin", "analyst", "rule-maintainer", "dataplane"})
TENANT_KEY_ROLES = ("tenant-admin", "analyst")
_ID_RE = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ControlState:
    def __init__(self, repo: ControlRepository, registry: CollectorRegistry, rules_root: Path) -> None:
        self.repo = repo
        self.rules_root = rules_root
        self.hub = DataplaneHub(repo, registry)
        self.version_gauge = Gauge("secchain_control_config_version", "Configuration version", registry=registry)
        self.version_gauge.set(repo.version())

    def changed(self, version: int | None = None) -> None:
        self.version_gauge.set(version if version is not None else self.repo.version())
        self.hub.notify()


CONTROL_KEY = web.AppKey("control_state", ControlState)


def _actor(request: web.Request) -> Actor:
    key: ApiKey = request[KEY_KEY]
    return Actor(key.id, key.role, key.tenant_id)


def _run(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    return asyncio.to_thread(fn, *args)


# -- bodies and preconditions ------------------------------------------------------------------

async def _json_body(request: web.Request) -> Any:
    ctype = request.content_type
    if ctype not in ("application/json", "application/merge-patch+json"):
        raise web.HTTPUnsupportedMediaType(reason="Unsupported Media Type",
                                           text=json.dumps({"error": {"code": "unsupported_media_type",
                                                                      "message": "send application/json"}}),
                                           content_type="application/json")
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _if_match(request: web.Request, current_revision: int) -> int:
    """The revision the client based its change on; the current one if it matches, else -1."""
    header = request.headers.get("If-Match")
    if header is None:
        raise PreconditionRequired("this change needs If-Match with the ETag of a GET (or *)")
    for tag in (t.strip() for t in header.split(",")):
        if tag == "*":
            return current_revision
        tag = tag.removeprefix("W/")
        if len(tag) >= 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit() and int(tag[1:-1]) == current_revision:
            return current_revision
    raise PreconditionFailed(f"If-Match {header!r} does not match the current ETag \"{current_revision}\"; "
                             "GET the object again and retry")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# -- representation ------------------------------------------------------------------------------

_META = {"revision": {"type": "integer", "readOnly": True},
         "created_at": {"type": "string", "readOnly": True}, "updated_at": {"type": "string", "readOnly": True}}


def output_schema(kind: str) -> dict[str, Any]:
    schema = SCHEMAS[kind]
    props = dict(schema["properties"])
    props.update(_META)
    required = [KEY_FIELD[kind], "revision", "created_at", "updated_at"]
    if kind != "tenant":
        props["tenant"] = {"type": "string", "readOnly": True}
        required.append("tenant")
    if kind in ("site", "listener"):
        props["vpc"] = {"type": "string", "readOnly": True}
        required.append("vpc")
    return {"type": "object", "properties": props, "required": required}


def represent(rec: Record) -> dict[str, Any]:
    ref = rec.ref
    head: dict[str, Any]
    if ref.kind == "tenant":
        head = {"id": ref.tenant}
    elif ref.kind == "vpc":
        head = {"id": ref.vpc, "tenant": ref.tenant}
    else:
        head = {"name": ref.name, "tenant": ref.tenant, "vpc": ref.vpc}
    return {**head, **rec.spec, "revision": rec.revision, "created_at": rec.created_at, "updated_at": rec.updated_at}


def _object_response(rec: Record, status: int = 200) -> web.Response:
    headers = {"ETag": rec.etag}
    if status == 201:
        headers["Location"] = rec.ref.path
    return web.json_response(represent(rec), status=status, headers=headers)


def _validator(records: list[Record], changed: Ref) -> None:
    check_configuration(records, changed)


# -- generic resource handlers ----------------------------------------------------------------

_PATHS = {
    "tenant": ("/v1/tenants", "/v1/tenants/{tenant_id:%s}" % _ID_RE),
    "vpc": ("/v1/tenants/{tenant_id:%s}/vpcs" % _ID_RE, "/v1/tenants/{tenant_id:%s}/vpcs/{vpc_id:%s}" % (_ID_RE, _ID_RE)),
    "site": ("/v1/tenants/{tenant_id:%s}/vpcs/{vpc_id:%s}/sites" % (_ID_RE, _ID_RE),
             "/v1/tenants/{tenant_id:%s}/vpcs/{vpc_id:%s}/sites/{site_name:%s}" % (_ID_RE, _ID_RE, _ID_RE)),
    "listener": ("/v1/tenants/{tenant_id:%s}/vpcs/{vpc_id:%s}/listeners" % (_ID_RE, _ID_RE),
                 "/v1/tenants/{tenant_id:%s}/vpcs/{vpc_id:%s}/listeners/{listener_name:%s}" % (_ID_RE, _ID_RE, _ID_RE)),
}
_NOUN = {"tenant": ("tenant", "tenants"), "vpc": ("VPC", "vpcs"), "site": ("WAF site", "sites"),
         "listener": ("IPS listener", "listeners")}


def _ref(kind: str, request: web.Request, name: str | None = None) -> Ref:
    m = request.match_info
    if kind == "tenant":
        return Ref("tenant", name or m["tenant_id"])
    if kind == "vpc":
        return Ref("vpc", m["tenant_id"], name or m["vpc_id"])
    return Ref(kind, m["tenant_id"], m["vpc_id"], name or m[f"{kind}_name"])


def _ref_name(ref: Ref) -> str:
    return {"tenant": ref.tenant, "vpc": ref.vpc}.get(ref.kind, ref.name)


async def _spec_for(state: ControlState, kind: str, ref: Ref, body: dict[str, Any]) -> dict[str, Any]:
    vpc_spec = None
    if kind in ("site", "listener"):
        vpc = await _run(state.repo.get, Ref("vpc", ref.tenant, ref.vpc))
        if vpc is None:
            raise NotFound(f"no such VPC {Ref('vpc', ref.tenant, ref.vpc).path}")
        vpc_spec = vpc.spec
    spec = canonical_spec(kind, ref, body, vpc_spec)
    if kind in ("site", "listener"):
        _check_packs(state.rules_root / ("waf" if kind == "site" else "ips"), spec.get("rulesets", []), kind)
        from services.packs.routes import check_pins

        await _run(check_pins, getattr(state, "app", None), kind, spec)
    return spec


def _check_packs(folder: Path, rulesets: list[str], kind: str) -> None:
    """A policy may name only packs the provider has installed (CRS is provided by the OS package).

    Checked here so a typo is a 422 at the API instead of a failed build on every data-plane
    instance. Without a pack folder on this host (a control plane apart from the rules) nothing is
    checked and the data plane's build report is the check.
    """
    if not folder.is_dir():
        return
    available = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for i, name in enumerate(rulesets):
        if name == "crs" and kind == "site":
            continue
        if name.partition("@")[0] not in available:  # core@1.2.0: a published version of core
            extra = ["crs"] if kind == "site" else []
            raise ValidationFailed(f"unknown rule pack {name!r}; available: {', '.join(extra + available)}",
                                   field=f"rulesets[{i}]")


def _resource_handlers(kind: str) -> dict[str, Any]:
    noun, plural = _NOUN[kind]
    key_field = KEY_FIELD[kind]
    out_schema = output_schema(kind)
    list_schema = {"type": "object", "required": ["items"],
                   "properties": {"items": {"type": "array", "items": out_schema}}}
    write_roles = PROVIDER if kind == "tenant" else ADMINS

    @operation(f"List {plural}", roles=ADMINS, tags=(plural,), response=list_schema)
    async def list_(request: web.Request) -> web.Response:
        state = request.app[CONTROL_KEY]
        m = request.match_info
        if kind == "tenant":
            key: ApiKey = request[KEY_KEY]
            records = await _run(state.repo.list, "tenant", None if key.is_provider else key.tenant_id)
        else:
            parent = Ref("tenant", m["tenant_id"]) if kind == "vpc" else Ref("vpc", m["tenant_id"], m["vpc_id"])
            if await _run(state.repo.get, parent) is None:
                raise NotFound(f"no such {parent.kind} {parent.path}")
            records = await _run(state.repo.list, kind, m["tenant_id"], m.get("vpc_id"))
        return web.json_response({"items": [represent(r) for r in records]})

    @operation(f"Create a {noun}", roles=write_roles, tags=(plural,), request=SCHEMAS[kind], response=out_schema,
               status=201, etag=True, errors=(409,))
    async def create(request: web.Request) -> web.Response:
        state = request.app[CONTROL_KEY]
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ValidationFailed("expected a JSON object")
        name = body.get(key_field)
        if not isinstance(name, str) or not valid_id(name):
            raise ValidationFailed(f"expected an identifier ([A-Za-z0-9._-], 1-64 chars), got {name!r}",
                                   field=key_field)
        ref = _ref(kind, request, name)
        spec = await _spec_for(state, kind, ref, body)
        rec = await _run(state.repo.create, ref, spec, _actor(request), _validator)
        state.changed()
        log.info("%s created %s", _actor(request).key_id, ref.path)
        return _object_response(rec, 201)

    @operation(f"Get a {noun}", roles=ADMINS, tags=(plural,), response=out_schema, etag=True)
    async def get(request: web.Request) -> web.Response:
        state = request.app[CONTROL_KEY]
        ref = _ref(kind, request)
        rec = await _run(state.repo.get, ref)
        if rec is None:
            raise NotFound(f"no such {noun} {ref.path}")
        return _object_response(rec)

    async def _update(request: web.Request, patch: bool) -> web.Response:
        state = request.app[CONTROL_KEY]
        ref = _ref(kind, request)
        body = await _json_body(request)
        current = await _run(state.repo.get, ref)
        if current is None:
            raise NotFound(f"no such {noun} {ref.path}")
        expected = _if_match(request, current.revision)
        if not isinstance(body, dict):
            raise ValidationFailed("expected a JSON object")
        if patch:
            body = merge_patch({key_field: _ref_name(ref), **current.spec}, body)
            if not isinstance(body, dict):
                raise ValidationFailed("expected a JSON object")
        if key_field in body and body[key_field] != _ref_name(ref):
            raise ValidationFailed(f"the {key_field} is the object's name in the URL ({_ref_name(ref)!r}); "
                                   "it cannot be changed", field=key_field)
        spec = await _spec_for(state, kind, ref, {key_field: _ref_name(ref), **body})
        rec = await _run(state.repo.replace, ref, spec, expected, _actor(request), _validator)
        state.changed()
        return _object_response(rec)

    @operation(f"Replace a {noun}", roles=write_roles if kind != "tenant" else ADMINS, tags=(plural,),
               request=SCHEMAS[kind], response=out_schema, if_match=True, etag=True)
    async def put(request: web.Request) -> web.Response:
        return await _update(request, patch=False)

    patch_schema = dict(SCHEMAS[kind])
    patch_schema.pop("required", None)

    @operation(f"Change some fields of a {noun} (JSON merge patch)", roles=write_roles if kind != "tenant" else ADMINS,
               tags=(plural,), request=patch_schema, request_types=("application/merge-patch+json", "application/json"),
               response=out_schema, if_match=True, etag=True)
    async def patch(request: web.Request) -> web.Response:
        return await _update(request, patch=True)

    @operation(f"Delete a {noun}", roles=write_roles, tags=(plural,), status=204, if_match=True, errors=(409,))
    async def delete(request: web.Request) -> web.Response:
        state = request.app[CONTROL_KEY]
        ref = _ref(kind, request)
        current = await _run(state.repo.get, ref)
        if current is None:
            raise NotFound(f"no such {noun} {ref.path}")
        expected = _if_match(request, current.revision)
        await _run(state.repo.delete, ref, expected, _actor(request))
        state.changed()
        return web.Response(status=204)

    handlers = {"list": list_, "create": create, "get": get, "put": put, "patch": patch, "delete": delete}
    for verb, fn in handlers.items():
        fn.__name__ = fn.__qualname__ = f"{verb}_{kind}{'s' if verb == 'list' else ''}"
    return handlers


# -- keys --------------------------------------------------------------------------------------

KEY_OUT = {"type": "object", "required": ["id", "role", "tenant", "created_at", "created_by"],
           "properties": {"id": {"type": "string"}, "role": {"type": "string"}, "tenant": {"type": ["string", "null"]},
                          "description": {"type": "string"}, "created_at": {"type": "string"},
                          "created_by": {"type": "string"},
                          "secret": {"type": "string", "description": "only in the answer to the creation"}}}
KEY_LIST = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": KEY_OUT}}}


def _key_in(roles: tuple[str, ...], with_tenant: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"id": {"type": "string", "pattern": ID_PATTERN},
                             "role": {"type": "string", "enum": list(roles)},
                             "description": {"type": "string", "maxLength": 200}}
    if with_tenant:
        props["tenant"] = {"type": "string", "pattern": ID_PATTERN,
                           "description": "required for tenant-admin and analyst keys"}
    return {"type": "object", "additionalProperties": False, "required": ["role"], "properties": props}


def _key_view(k: KeyRecord) -> dict[str, Any]:
    return {"id": k.id, "role": k.role, "tenant": k.tenant, "description": k.description,
            "created_at": k.created_at, "created_by": k.created_by}


async def _create_key(request: web.Request, tenant: str | None, allowed: tuple[str, ...]) -> web.Response:
    state = request.app[CONTROL_KEY]
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed("expected a JSON object")
    extra = sorted(set(body) - {"id", "role", "description", *(("tenant",) if tenant is None else ())})
    if extra:
        raise ValidationFailed(f"unknown field {extra[0]!r}", field=extra[0])
    no_control_chars(body, [])
    role = body.get("role")
    if role not in allowed:
        raise ValidationFailed(f"expected one of {', '.join(allowed)}, got {role!r}", field="role")
    if tenant is None:
        tenant = body.get("tenant")
        if role in PROVIDER_ROLES and tenant is not None:
            raise ValidationFailed(f"a {role} key belongs to no tenant", field="tenant")
        if role not in PROVIDER_ROLES and not (isinstance(tenant, str) and valid_id(tenant)):
            raise ValidationFailed(f"a {role} key needs the tenant it belongs to", field="tenant")
        if tenant is not None and await _run(state.repo.get, Ref("tenant", tenant)) is None:
            raise ValidationFailed(f"no such tenant {tenant!r}", field="tenant")
    key_id = body.get("id", new_key_id())
    if not isinstance(key_id, str) or not valid_id(key_id):
        raise ValidationFailed(f"expected an identifier ([A-Za-z0-9._-], 1-64 chars), got {key_id!r}", field="id")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        raise ValidationFailed("expected a string of at most 200 characters", field="description")
    secret = new_secret()
    actor = _actor(request)
    rec = KeyRecord(key_id, role, tenant, hash_key(secret), description, now_rfc3339(), actor.key_id)
    await _run(state.repo.create_key, rec, actor)
    return web.json_response({**_key_view(rec), "secret": secret}, status=201,
                             headers={"Location": f"{request.path.rstrip('/')}/{key_id}"})


@operation("Create an API key of this tenant (the secret is shown once)", roles=ADMINS, tags=("keys",),
           request=_key_in(TENANT_KEY_ROLES, False), response=KEY_OUT, status=201, errors=(409,))
async def create_tenant_key(request: web.Request) -> web.Response:
    return await _create_key(request, request.match_info["tenant_id"], TENANT_KEY_ROLES)


@operation("List this tenant's API keys", roles=ADMINS, tags=("keys",), response=KEY_LIST)
async def list_tenant_keys(request: web.Request) -> web.Response:
    state = request.app[CONTROL_KEY]
    tenant = request.match_info["tenant_id"]
    if await _run(state.repo.get, Ref("tenant", tenant)) is None:
        raise NotFound(f"no such tenant /v1/tenants/{tenant}")
    keys = await _run(state.repo.list_keys, tenant)
    return web.json_response({"items": [_key_view(k) for k in keys]})


async def _tenant_key(request: web.Request) -> KeyRecord:
    state = request.app[CONTROL_KEY]
    key = await _run(state.repo.get_key, request.match_info["key_id"])
    if key is None or key.tenant != request.match_info["tenant_id"]:
        raise NotFound("no such key")
    return key


@operation("Get one API key of this tenant", roles=ADMINS, tags=("keys",), response=KEY_OUT)
async def get_tenant_key(request: web.Request) -> web.Response:
    return web.json_response(_key_view(await _tenant_key(request)))


@operation("Revoke an API key of this tenant", roles=ADMINS, tags=("keys",), status=204)
async def delete_tenant_key(request: web.Request) -> web.Response:
    key = await _tenant_key(request)
    await _run(request.app[CONTROL_KEY].repo.delete_key, key.id, _actor(request))
    return web.Response(status=204)


_ALL_KEY_ROLES = ("provider-admin", "rule-maintainer", "dataplane", "tenant-admin", "analyst")


@operation("Create an API key of any role (the secret is shown once)", roles=PROVIDER, tags=("keys",),
           request=_key_in(_ALL_KEY_ROLES, True), response=KEY_OUT, status=201, errors=(409,))
async def create_key(request: web.Request) -> web.Response:
    return await _create_key(request, None, _ALL_KEY_ROLES)


@operation("List API keys (every tenant's, and the provider's)", roles=PROVIDER, tags=("keys",), response=KEY_LIST,
           query=(Param("tenant", {"type": "string"}, "only this tenant's keys"),))
async def list_keys(request: web.Request) -> web.Response:
    state = request.app[CONTROL_KEY]
    _only_params(request, {"tenant"})
    keys = await _run(state.repo.list_keys, request.query.get("tenant"))
    return web.json_response({"items": [_key_view(k) for k in keys]})


@operation("Get one API key", roles=PROVIDER, tags=("keys",), response=KEY_OUT)
async def get_key(request: web.Request) -> web.Response:
    key = await _run(request.app[CONTROL_KEY].repo.get_key, request.match_info["key_id"])
    if key is None:
        raise NotFound("no such key")
    return web.json_response(_key_view(key))


@operation("Revoke an API key", roles=PROVIDER, tags=("keys",), status=204)
async def delete_key(request: web.Request) -> web.Response:
    await _run(request.app[CONTROL_KEY].repo.delete_key, request.match_info["key_id"], _actor(request))
    return web.Response(status=204)


# -- change log ----------------------------------------------------------------------------------

CHANGE = {"type": "object", "required": ["seq", "at", "version", "actor", "kind", "action", "path"],
          "properties": {"seq": {"type": "integer"}, "at": {"type": "string"}, "version": {"type": "integer"},
                         "actor": {"type": "object"}, "tenant": {"type": ["string", "null"]},
                         "kind": {"type": "string"}, "action": {"type": "string"}, "path": {"type": "string"},
                         "before": {}, "after": {}}}
CHANGE_PAGE = {"type": "object", "required": ["changes", "next_cursor"],
               "properties": {"changes": {"type": "array", "items": CHANGE},
                              "next_cursor": {"type": ["string", "null"]}}}
_CHANGE_PARAMS = (
    Param("actor", {"type": "string"}, "key id"),
    Param("kind", {"type": "string", "enum": ["tenant", "vpc", "site", "listener", "key", "config"]}),
    Param("action", {"type": "string", "enum": ["create", "update", "delete", "import"]}),
    Param("path", {"type": "string"}, "only changes of objects under this API path"),
    Param("from", {"type": "string", "format": "date-time"}, "RFC 3339, inclusive"),
    Param("to", {"type": "string", "format": "date-time"}, "RFC 3339, exclusive"),
    Param("size", {"type": "integer", "minimum": 1, "maximum": 1000}),
    Param("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "next_cursor of the previous page"),
)


def _only_params(request: web.Request, allowed: set[str]) -> None:
    from shared.stores import QueryParamError

    for name in request.query:
        if name not in allowed:
            raise QueryParamError(name, "unknown parameter")
        if len(request.query.getall(name)) > 1:
            raise QueryParamError(name, "given more than once")


def _change_query(request: web.Request, tenant: str | None, allow_tenant: bool) -> ChangeQuery:
    from datetime import datetime, timezone

    from shared.stores import QueryParamError

    names = {p.name for p in _CHANGE_PARAMS} | ({"tenant"} if allow_tenant else set())
    _only_params(request, names)
    q = request.query
    if allow_tenant:
        tenant = q.get("tenant")
    times: dict[str, str | None] = {}
    for name in ("from", "to"):
        value = q.get(name)
        if value is None:
            times[name] = None
            continue
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            raise QueryParamError(name, f"expected an RFC 3339 time such as 2026-01-31T12:00:00Z, got {value!r}") from None
        if t.utcoffset() is None:
            raise QueryParamError(name, "give a time zone (Z or +hh:mm)")
        times[name] = t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    size = q.get("size", "100")
    if not size.isdigit() or not 1 <= int(size) <= 1000:
        raise QueryParamError("size", f"expected an integer from 1 to 1000, got {size!r}")
    cursor = q.get("cursor", "0")
    if not cursor.isdigit() or len(cursor) > 18:
        raise QueryParamError("cursor", "expected the next_cursor of a previous page")
    for name, allowed in (("kind", _CHANGE_PARAMS[1].schema["enum"]), ("action", _CHANGE_PARAMS[2].schema["enum"])):
        if name in q and q[name] not in allowed:
            raise QueryParamError(name, f"expected one of {', '.join(allowed)}, got {q[name]!r}")
    return ChangeQuery(tenant=tenant, actor=q.get("actor"), kind=q.get("kind"), action=q.get("action"),
                       path_prefix=q.get("path"), since=times["from"], until=times["to"], after_seq=int(cursor),
                       size=int(size))


@operation("Search the control-plane change log (who, when, what, before and after)", roles=PROVIDER,
           tags=("changes",), query=(Param("tenant", {"type": "string"}),) + _CHANGE_PARAMS, response=CHANGE_PAGE)
async def list_changes(request: web.Request) -> web.Response:
    page = await _run(request.app[CONTROL_KEY].repo.changes, _change_query(request, None, True))
    return web.json_response({"changes": page.changes, "next_cursor": page.next_cursor})


@operation("Search this tenant's change log", roles=ADMINS, tags=("changes",), query=_CHANGE_PARAMS,
           response=CHANGE_PAGE)
async def list_tenant_changes(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant_id"]
    page = await _run(request.app[CONTROL_KEY].repo.changes, _change_query(request, tenant, False))
    return web.json_response({"changes": page.changes, "next_cursor": page.next_cursor})


# -- import / export ----------------------------------------------------------------------------

def export_document(repo: ControlRepository) -> tuple[int, dict[str, Any]]:
    version, records = repo.all_records()
    doc = records_to_document(records)
    keys = repo.list_keys()
    doc["api_keys"] = [{"id": k.id, "role": k.role, **({"tenant": k.tenant} if k.tenant else {}), "sha256": k.sha256}
                       for k in keys]
    return version, doc


@operation("Export the whole configuration as a tenancy document (keys as SHA-256)", roles=PROVIDER,
           tags=("config",), response={"type": "object"}, etag=True,
           query=(Param("format", {"type": "string", "enum": ["json", "yaml"]}),))
async def export_config(request: web.Request) -> web.Response:
    _only_params(request, {"format"})
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "yaml"):
        from shared.stores import QueryParamError

        raise QueryParamError("format", f"expected json or yaml, got {fmt!r}")
    version, doc = await _run(export_document, request.app[CONTROL_KEY].repo)
    headers = {"ETag": f'"{version}"'}
    if fmt == "yaml":
        return web.Response(text=yaml.safe_dump(doc, sort_keys=False), content_type="application/yaml", headers=headers)
    return web.json_response(doc, headers=headers)


@operation("Replace the whole configuration from a tenancy document (keys are added or updated, never removed)",
           roles=PROVIDER, tags=("config",), request={"type": "object"}, if_match=True,
           response={"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}},
           etag=True, errors=(409,))
async def import_config(request: web.Request) -> web.Response:
    state = request.app[CONTROL_KEY]
    body = await _json_body(request)
    _if_match(request, await _run(state.repo.version))
    try:
        tenancy = parse_tenancy(body, "request")
    except ConfigError as exc:
        text = str(exc).removeprefix("request: ")
        where, _, message = text.partition(": ")
        raise ValidationFailed(message or text, field=where if message else None) from None
    records = tenancy_to_records(tenancy)
    at = now_rfc3339()
    actor = _actor(request)
    keys = [KeyRecord(k.id, k.role, k.tenant_id, k.sha256, "imported", at, actor.key_id) for k in tenancy.api_keys]
    version = await _run(state.repo.import_all, records, keys, actor, _validator)
    state.changed(version)
    return web.json_response({"version": version}, headers={"ETag": f'"{version}"'})


# -- packs ---------------------------------------------------------------------------------------

PACKS_OUT = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
    "type": "object", "required": ["service", "name", "version"],
    "properties": {"service": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "string"},
                   "description": {"type": "string"}}}}}}


def list_pack_manifests(rules_root: Path) -> list[dict[str, Any]]:
    out = []
    for service in ("waf", "ips", "av"):
        for manifest in sorted((rules_root / service).glob("*/manifest.yaml")):
            try:
                data = yaml.safe_load(manifest.read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                log.warning("pack manifest %s unreadable: %s", manifest, exc)
                continue
            if isinstance(data, dict):
                out.append({"service": service, "name": str(data.get("name", manifest.parent.name)),
                            "version": str(data.get("version", "0")),
                            "description": str(data.get("description", ""))})
    return out


@operation("Managed rule packs available to policies (name and version)", roles=ALL_ROLES - {"dataplane"},
           tags=("packs",), response=PACKS_OUT)
async def list_packs(request: web.Request) -> web.Response:
    _only_params(request, set())
    return web.json_response({"items": await _run(list_pack_manifests, request.app[CONTROL_KEY].rules_root)})


# -- OpenAPI -------------------------------------------------------------------------------------

@operation("This OpenAPI document", roles=ALL_ROLES, tags=("meta",), public=True, response={"type": "object"})
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app))


def add_control_routes(app: web.Application, repo: ControlRepository, registry: CollectorRegistry,
                       rules_root: Path | None = None) -> ControlState:
    state = ControlState(repo, registry, rules_root or REPO_ROOT / "rules")
    app[CONTROL_KEY] = state
    r = app.router
    r.add_get("/v1/openapi.json", openapi_document)
    for kind, (collection, item) in _PATHS.items():
        h = _resource_handlers(kind)
        r.add_get(collection, h["list"])
        r.add_post(collection, h["create"])
        r.add_get(item, h["get"], allow_head=False)
        r.add_put(item, h["put"])
        r.add_patch(item, h["patch"])
        r.add_delete(item, h["delete"])
    tenant_keys = "/v1/tenants/{tenant_id:%s}/keys" % _ID_RE
    r.add_get(tenant_keys, list_tenant_keys)
    r.add_post(tenant_keys, create_tenant_key)
    r.add_get(tenant_keys + "/{key_id:%s}" % _ID_RE, get_tenant_key, allow_head=False)
    r.add_delete(tenant_keys + "/{key_id:%s}" % _ID_RE, delete_tenant_key)
    r.add_get("/v1/keys", list_keys)
    r.add_post("/v1/keys", create_key)
    r.add_get("/v1/keys/{key_id:%s}" % _ID_RE, get_key, allow_head=False)
    r.add_delete("/v1/keys/{key_id:%s}" % _ID_RE, delete_key)
    r.add_get("/v1/changes", list_changes)
    r.add_get("/v1/tenants/{tenant_id:%s}/changes" % _ID_RE, list_tenant_changes)
    r.add_get("/v1/config", export_config)
    r.add_put("/v1/config", import_config)
    r.add_get("/v1/packs", list_packs)
    add_dataplane_routes(app, state)
    from services.packs.routes import add_pack_routes

    add_pack_routes(app, repo)
    state.app = app

    def _store() -> Any:
        return app[STATE_KEY].store

    from services.control.retention_routes import add_retention_routes

    add_retention_routes(app, state, _store)
    return state


__all__ = ["CONTROL_KEY", "ControlState", "add_control_routes", "export_document", "merge_patch"]
