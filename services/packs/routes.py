"""The pack registry's REST routes, mounted beside the control plane's under ``/v1/packs``.

    GET  /v1/packs/{kind}/{name}/versions             published versions, lowest first
    POST /v1/packs/{kind}/{name}/versions             publish (rule-maintainer, provider-admin)
    GET  /v1/packs/{kind}/{name}/versions/{version}   one version: hash, changelog, who, when
    GET  /v1/packs/bundles/{sha256}                   the bundle archive (data planes fetch by hash)

Publishing uploads the bundle the CLI built after its lint and test gates; the API unpacks it
under its bundles folder only if its files hash to the name, then records the version. The same
version with the same hash again answers 200 (an idempotent retry), with another hash 409.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from services.api.app import KEY_KEY
from services.control.openapi import operation
from shared.control import NotFound, ValidationFailed
from shared.packs.bundle import BundleError, bundle_path, write_index
from shared.packs.engines import KINDS
from shared.packs.semver import is_version

MAINTAINERS = frozenset({"rule-maintainer", "provider-admin"})
READERS = frozenset({"rule-maintainer", "provider-admin", "dataplane"})
MAX_UPLOAD = 64 * 1024 * 1024
_NAME = "[a-z0-9][a-z0-9._-]{0,63}"
_KIND = "waf|ips|av"
BUNDLES_ENV = "SECCHAIN_BUNDLES_DIR"

VERSION_OUT: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "name", "version", "sha256", "changelog", "published_by", "published_at"],
    "properties": {"kind": {"type": "string", "enum": list(KINDS)}, "name": {"type": "string"},
                   "version": {"type": "string"}, "sha256": {"type": "string"}, "manifest": {"type": "object"},
                   "changelog": {"type": "string"}, "published_by": {"type": "string"},
                   "published_role": {"type": "string"}, "published_at": {"type": "string"}},
}
VERSIONS_OUT = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": VERSION_OUT}}}
PUBLISH_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["version", "sha256", "changelog", "bundle"],
    "properties": {
        "version": {"type": "string", "minLength": 5, "maxLength": 64, "examples": ["1.3.0"]},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "changelog": {"type": "string", "minLength": 1, "maxLength": 20000},
        "bundle": {"type": "string", "description": "the bundle folder as a base64 gzipped tar (secchain rules compile)"},
    },
}
BUNDLE_OUT = {"type": "object", "required": ["sha256", "archive"],
              "properties": {"sha256": {"type": "string"}, "archive": {"type": "string", "description": "base64 tar.gz"}}}


class PacksState:
    def __init__(self, db_path: str, bundles_dir: Path) -> None:
        from shared.packs.registry import PackRegistry

        self.registry = PackRegistry(db_path)
        self.bundles_dir = bundles_dir


PACKS_KEY = web.AppKey("packs_state", PacksState)


def _kind_name(request: web.Request) -> tuple[str, str]:
    return request.match_info["kind"], request.match_info["name"]


@operation("Published versions of a rule pack", roles=READERS, tags=("packs",), response=VERSIONS_OUT)
async def list_versions(request: web.Request) -> web.Response:
    from services.control.routes import _only_params

    _only_params(request, set())
    kind, name = _kind_name(request)
    versions = await asyncio.to_thread(request.app[PACKS_KEY].registry.versions, kind, name)
    return web.json_response({"items": [v.to_dict() for v in versions]})


@operation("One published version of a rule pack", roles=READERS, tags=("packs",), response=VERSION_OUT)
async def get_version(request: web.Request) -> web.Response:
    from services.control.routes import _only_params

    _only_params(request, set())
    kind, name = _kind_name(request)
    record = await asyncio.to_thread(request.app[PACKS_KEY].registry.get, kind, name, request.match_info["version"])
    return web.json_response(record.to_dict())


async def _read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text=json.dumps({"error": {"code": "unsupported_media_type",
                                                                      "message": "send application/json"}}),
                                           content_type="application/json")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        raw += chunk
        if len(raw) > MAX_UPLOAD:
            raise ValidationFailed(f"the body is larger than {MAX_UPLOAD} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"invalid JSON: {exc}") from None


@operation("Publish a rule pack version (immutable once published)", roles=MAINTAINERS, tags=("packs",),
           request=PUBLISH_IN, response=VERSION_OUT, status=201, errors=(409,),
           extra_responses={200: "This version was already published with the same bundle"})
async def publish_version(request: web.Request) -> web.Response:
    from shared.control.model import check_json
    from shared.packs.publish import unpack_archive
    import jsonschema

    state = request.app[PACKS_KEY]
    kind, name = _kind_name(request)
    body = await _read_json(request)
    check_json(jsonschema.Draft202012Validator(PUBLISH_IN), body)
    if not is_version(body["version"]):
        raise ValidationFailed(f"expected a semantic version such as 1.3.0, got {body['version']!r}", field="version")
    try:
        archive = base64.b64decode(body["bundle"], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("expected base64", field="bundle") from None
    try:
        bundle = await asyncio.to_thread(unpack_archive, archive, state.bundles_dir, body["sha256"])
    except BundleError as exc:
        raise ValidationFailed(str(exc), field="bundle") from None
    meta = bundle.meta
    if (meta["kind"], meta["name"], meta["version"]) != (kind, name, body["version"]):
        raise ValidationFailed(f"the bundle holds {meta['kind']}/{meta['name']}@{meta['version']}, "
                               f"not {kind}/{name}@{body['version']}", field="bundle")
    key = request[KEY_KEY]
    manifest = await asyncio.to_thread(_manifest_doc, bundle.files_dir)
    record, created = await asyncio.to_thread(state.registry.publish, kind, name, body["version"], body["sha256"],
                                              manifest, body["changelog"], key.id, key.role)
    await asyncio.to_thread(write_index, state.bundles_dir, kind, name, body["version"], record.sha256)
    return web.json_response(record.to_dict(), status=201 if created else 200)


def _manifest_doc(folder: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((folder / "manifest.yaml").read_text())


@operation("A published bundle by its hash (data planes load pinned versions from it)", roles=READERS,
           tags=("packs",), response=BUNDLE_OUT)
async def get_bundle(request: web.Request) -> web.Response:
    from services.control.routes import _only_params
    from shared.packs.bundle import load_bundle
    from shared.packs.publish import bundle_archive

    _only_params(request, set())
    state = request.app[PACKS_KEY]
    sha = request.match_info["sha256"]
    if not (bundle_path(state.bundles_dir, sha) / "bundle.json").is_file():
        raise NotFound(f"no bundle {sha}")
    try:
        bundle = await asyncio.to_thread(load_bundle, state.bundles_dir, sha)
    except BundleError as exc:
        raise NotFound(f"bundle {sha} is unusable here: {exc}") from None
    data = await asyncio.to_thread(bundle_archive, bundle)
    return web.json_response({"sha256": sha, "archive": base64.b64encode(data).decode()})


def add_pack_routes(app: web.Application, repo: Any, bundles_dir: Path | None = None) -> PacksState | None:
    """Register the routes when the control plane runs on SQLite (the registry's backend)."""
    path = getattr(repo, "path", None)
    if path is None:
        return None
    # beside the control database (var/control.db -> var/bundles), where `secchain up` points the WAF
    default = Path(path).parent / "bundles" if path != ":memory:" else Path("var/bundles")
    state = PacksState(path, bundles_dir or Path(os.environ.get(BUNDLES_ENV, str(default))))
    app[PACKS_KEY] = state
    base = "/v1/packs/{kind:%s}/{name:%s}/versions" % (_KIND, _NAME)
    app.router.add_get(base, list_versions)
    app.router.add_post(base, publish_version)
    app.router.add_get(base + "/{version:[0-9A-Za-z.+-]{1,64}}", get_version, allow_head=False)
    app.router.add_get("/v1/packs/bundles/{sha256:[0-9a-f]{64}}", get_bundle, allow_head=False)
    return state


def check_pins(app: web.Application | None, kind: str, spec: dict[str, Any]) -> None:
    """A policy may pin (or shadow) only published versions: a typo is a 422, not a failed build."""
    state = app.get(PACKS_KEY) if app is not None else None
    if state is None or kind not in ("site", "listener"):
        return
    pack_kind = "waf" if kind == "site" else "ips"
    refs = [(f"rulesets[{i}]", r) for i, r in enumerate(spec.get("rulesets", []))]
    if spec.get("shadow"):
        refs.append(("shadow", spec["shadow"]))
    for field, ref in refs:
        name, _, version = ref.partition("@")
        if not version:
            continue
        try:
            state.registry.get(pack_kind, name, version)
        except NotFound:
            published = [v.version for v in state.registry.versions(pack_kind, name)]
            raise ValidationFailed(f"{pack_kind} pack {ref} is not published; published: {', '.join(published) or 'none'}",
                                   field=field) from None
