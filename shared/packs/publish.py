"""``secchain rules publish``: lint, test and compile must pass before a version enters the registry.

The gate runs here, on the maintainer's machine or in CI, against the very bundle that is then
recorded (the registry stores its hash), so what the data plane loads is what was tested. With the
control-plane API the bundle is uploaded and the API records who published it (the API key);
locally the CLI writes the control-plane database and the bundles folder directly.
"""

from __future__ import annotations

import base64
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.packs.bundle import Bundle, BundleError, compile_bundle, load_bundle, write_index
from shared.packs.diagnostics import Diagnostic, has_errors
from shared.packs.lint import lint_pack
from shared.packs.manifest import PackManifest
from shared.packs.testing import TestReport, test_pack


class PublishRefused(RuntimeError):
    """A gate failed (lint errors, failing cases, compile error) or the registry refused."""


@dataclass(slots=True)
class GateResult:
    manifest: PackManifest | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tests: TestReport | None = None
    bundle: Bundle | None = None
    failure: str | None = None


def run_gates(folder: Path, bundles_dir: Path, *, cache_dir: Path | None = None, progress: bool = True,
              clamd: tuple[str, int] | None = None) -> GateResult:
    manifest, diagnostics = lint_pack(folder, cache_dir=cache_dir)
    result = GateResult(manifest, diagnostics)
    if manifest is None or has_errors(diagnostics):
        result.failure = "lint found errors"
        return result
    result.tests = test_pack(manifest, cache_dir=cache_dir, clamd=clamd)
    if not result.tests.ok:
        result.failure = f"tests failed ({result.tests.passed} passed, {result.tests.failed} failed)"
        return result
    try:
        result.bundle = compile_bundle(manifest, bundles_dir, progress=progress)
    except Exception as exc:  # noqa: BLE001 - any compile failure refuses the publish, with why
        result.failure = f"compile failed: {exc}"
    return result


def manifest_document(manifest: PackManifest) -> dict[str, Any]:
    return yaml.safe_load(manifest.path.read_text())


def bundle_archive(bundle: Bundle) -> bytes:
    """The bundle folder as a gzipped tar (what ``--api`` uploads)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(bundle.root.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(bundle.root).as_posix(), recursive=False)
    return buf.getvalue()


def unpack_archive(data: bytes, bundles_dir: Path, sha256: str) -> Bundle:
    """Store an uploaded bundle under its hash after checking it (members confined to the folder)."""
    import os
    import shutil
    import tempfile

    from shared.packs.bundle import bundle_path

    target = bundle_path(bundles_dir, sha256)
    if (target / "bundle.json").is_file():
        return load_bundle(bundles_dir, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.", dir=target.parent))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    if not member.isfile():
                        raise BundleError(f"bundle archive member {member.name!r} is not a regular file")
                tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BundleError(f"the bundle archive cannot be read: {exc}") from exc
        # load_bundle re-hashes the files against the name before the bundle is kept
        os.rename(work, target)
        try:
            return load_bundle(bundles_dir, sha256)
        except BundleError:
            shutil.rmtree(target, ignore_errors=True)
            raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def publish_local(result: GateResult, registry: Any, bundles_dir: Path, *, changelog: str, actor_key: str,
                  actor_role: str) -> tuple[Any, bool]:
    assert result.manifest is not None and result.bundle is not None
    m = result.manifest
    record, created = registry.publish(m.kind, m.name, m.version, result.bundle.sha256, manifest_document(m),
                                       changelog, actor_key, actor_role)
    write_index(bundles_dir, m.kind, m.name, m.version, record.sha256)
    return record, created


def archive_b64(bundle: Bundle) -> str:
    return base64.b64encode(bundle_archive(bundle)).decode()
