"""Content-addressed pack bundles: what a data plane loads for a pinned version (``core@1.2.0``).

``secchain rules compile rules/waf/core`` writes ``<bundles>/sha256/<hash>/``::

    bundle.json        name, kind, version, hash, engine and matching versions, file digests
    files/...          the pack's rule files and manifest, byte for byte (cases are left out)
    hsdb/*.hsdb        the serialized Hyperscan databases (shared.matching's cache format)

The hash is sha256 over the bundle format, the engine's rule-language version, the matching
core's version and every input file (name and bytes), so the same sources compiled by another
engine give another bundle, and a data plane never loads databases built for a different
Hyperscan. A bundle is built in a temporary folder and renamed into place: a reader sees a
complete bundle or none. Loading re-hashes the files and refuses a bundle that does not match its
name, as a package manager checks a download against its lock file.

Published versions are indexed under ``<bundles>/index/<kind>/<name>/<version>`` (a file holding
the hash, written once) so that a data plane resolves a pin without the registry database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.packs.engines import ENGINE_VERSIONS, matching_version
from shared.packs.manifest import PackManifest, load_manifest
from shared.packs.progress import Progress

FORMAT = "secchain-bundle/1"
DEFAULT_BUNDLES_DIR = Path("var/bundles")


class BundleError(ValueError):
    """A bundle is missing, damaged or was built for another engine."""


@dataclass(frozen=True, slots=True)
class Bundle:
    root: Path
    meta: dict[str, Any]

    @property
    def sha256(self) -> str:
        return self.meta["sha256"]

    @property
    def label(self) -> str:
        return f"{self.meta['name']}@{self.meta['version']}"

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def hsdb_dir(self) -> Path:
        return self.root / "hsdb"

    def rule_files(self) -> list[Path]:
        return [self.files_dir / f for f in self.meta["rule_files"]]

    def manifest(self) -> PackManifest:
        return load_manifest(self.files_dir)


def pack_inputs(manifest: PackManifest) -> list[str]:
    """Every file the bundle carries, relative to the pack: its files and data, not its test cases."""
    cases = {p.resolve() for p in manifest.case_paths()}
    out = []
    for path in sorted(manifest.folder.rglob("*")):
        if not path.is_file() or path.resolve() in cases:
            continue
        rel = path.relative_to(manifest.folder).as_posix()
        if rel.startswith((".", "__pycache__")) or "/." in rel or rel.lower().endswith((".md", ".pyc")):
            continue
        if rel.split("/")[0] == "tests":
            continue
        out.append(rel)
    return out


def bundle_hash(manifest: PackManifest, files: list[str]) -> str:
    h = hashlib.sha256()
    h.update(f"{FORMAT}\n{manifest.kind}\n{ENGINE_VERSIONS[manifest.kind]}\n{matching_version()}\n".encode())
    for rel in files:
        data = (manifest.folder / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def bundle_path(bundles_dir: Path, sha256: str) -> Path:
    return bundles_dir / "sha256" / sha256


def compile_bundle(manifest: PackManifest, bundles_dir: Path, *, progress: bool = True) -> Bundle:
    """Build (or find, when the same inputs were built before) the pack's bundle."""
    files = pack_inputs(manifest)
    sha = bundle_hash(manifest, files)
    target = bundle_path(bundles_dir, sha)
    if (target / "bundle.json").is_file():
        return load_bundle(bundles_dir, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}.", dir=target.parent))
    try:
        for rel in files:
            dest = work / "files" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(manifest.folder / rel, dest)
        bar = Progress(len(manifest.files) + 1, f"compile {manifest.label}") if progress else None
        built = _COMPILERS[manifest.kind](work, manifest, bar)
        if bar is not None:
            bar.close()
        meta = {
            "format": FORMAT, "sha256": sha, "name": manifest.name, "kind": manifest.kind,
            "version": manifest.version, "engine": ENGINE_VERSIONS[manifest.kind], "matching": matching_version(),
            "engine_constraint": manifest.engine, "rule_files": list(manifest.files),
            "files": {rel: hashlib.sha256((work / "files" / rel).read_bytes()).hexdigest() for rel in files},
            **built,
        }
        (work / "bundle.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            os.rename(work, target)
        except OSError:
            if not (target / "bundle.json").is_file():  # lost a race to an identical build: fine
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return load_bundle(bundles_dir, sha)


def load_bundle(bundles_dir: Path, sha256: str) -> Bundle:
    """The bundle named by ``sha256``, its files re-hashed against the name."""
    root = bundle_path(bundles_dir, sha256)
    try:
        meta = json.loads((root / "bundle.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"bundle {sha256[:12]} not found or unreadable under {bundles_dir}: {exc}") from exc
    if meta.get("format") != FORMAT or meta.get("sha256") != sha256:
        raise BundleError(f"{root}: not a {FORMAT} bundle for {sha256}")
    kind = meta.get("kind")
    if meta.get("engine") != ENGINE_VERSIONS.get(kind) or meta.get("matching") != matching_version():
        raise BundleError(f"{root}: built for {kind} engine {meta.get('engine')} / {meta.get('matching')}, "
                          f"this is {ENGINE_VERSIONS.get(kind)} / {matching_version()}; recompile the pack")
    h = hashlib.sha256()
    h.update(f"{FORMAT}\n{kind}\n{meta['engine']}\n{meta['matching']}\n".encode())
    for rel in meta["files"]:
        data = (root / "files" / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    if h.hexdigest() != sha256:
        raise BundleError(f"{root}: files do not match the bundle hash (modified after compile?)")
    return Bundle(root, meta)


# -- per-kind compilers: fill work/hsdb (or the kind's artefacts), return extra metadata -----------

def _compile_waf(work: Path, manifest: PackManifest, bar: Progress | None) -> dict[str, Any]:
    from services.waf.engine.matcher import MatcherFactory
    from services.waf.engine.ruleset import _freeze
    from services.waf.seclang.builder import ConfigBuilder
    from services.waf.seclang.loader import load_file

    hsdb = work / "hsdb"
    hsdb.mkdir()
    builder = ConfigBuilder(matchers=MatcherFactory(hsdb))
    paths = [work / "files" / f for f in manifest.files]
    for path in paths:
        load_file(builder, path)
        if bar is not None:
            bar.step(path.name)
    ruleset = _freeze(builder, tuple(str(p) for p in paths))
    if bar is not None:
        bar.step("prefilter groups")
    return {"rules": ruleset.rule_count, "paths": dict(ruleset.report),
            "databases": sorted(p.name for p in hsdb.glob("*.hsdb"))}


def _compile_ips(work: Path, manifest: PackManifest, bar: Progress | None) -> dict[str, Any]:
    from shared.packs.ips import compile_ips

    return compile_ips(work, manifest, bar)


def _compile_av(work: Path, manifest: PackManifest, bar: Progress | None) -> dict[str, Any]:
    from shared.packs.av import compile_av

    return compile_av(work, manifest, bar)


_COMPILERS = {"waf": _compile_waf, "ips": _compile_ips, "av": _compile_av}


# -- the published index ------------------------------------------------------------------------

def index_path(bundles_dir: Path, kind: str, name: str, version: str) -> Path:
    return bundles_dir / "index" / kind / name / version


def write_index(bundles_dir: Path, kind: str, name: str, version: str, sha256: str) -> None:
    """Record a published version's hash; an existing entry with another hash is refused."""
    path = index_path(bundles_dir, kind, name, version)
    if path.exists():
        current = path.read_text().strip()
        if current != sha256:
            raise BundleError(f"{kind}/{name}@{version} is published as {current[:12]}, not {sha256[:12]}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{version}.{os.getpid()}.tmp")
    tmp.write_text(sha256 + "\n")
    os.replace(tmp, path)


def resolve_pin(bundles_dir: Path, kind: str, pin: str) -> Bundle:
    """``core@1.2.0`` -> its published bundle (BundleError if unpublished or damaged)."""
    name, _, version = pin.partition("@")
    path = index_path(bundles_dir, kind, name, version)
    try:
        sha = path.read_text().strip()
    except OSError:
        raise BundleError(f"{kind} pack {pin} is not published (no {path}); "
                          f"publish it with `secchain rules publish`") from None
    bundle = load_bundle(bundles_dir, sha)
    if bundle.meta["name"] != name or bundle.meta["version"] != version or bundle.meta["kind"] != kind:
        raise BundleError(f"{path} names bundle {sha[:12]}, which holds {bundle.meta['kind']}/{bundle.label}")
    return bundle
