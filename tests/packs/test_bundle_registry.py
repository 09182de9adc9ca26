from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.control.errors import Conflict
from shared.packs.bundle import (BundleError, compile_bundle, load_bundle, resolve_pin, write_index)
from shared.packs.manifest import load_manifest
from shared.packs.publish import bundle_archive, unpack_archive
from shared.packs.registry import PackRegistry
from tests.packs.conftest import write_pack

RULES = {"a.conf": r'''
    SecRule ARGS "@rx \bselect\b.+\bfrom\b" "id:3000001,phase:2,deny,msg:'select from'"
    SecRule ARGS "@pm union benchmark sleep" "id:3000002,phase:2,deny,msg:'keywords'"
'''}


def test_bundle_is_content_addressed_and_checked(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", RULES)
    manifest = load_manifest(folder)
    bundles = tmp_path / "bundles"
    first = compile_bundle(manifest, bundles, progress=False)
    assert first.meta["databases"] and first.meta["rules"] == 2
    assert sorted(p.name for p in first.files_dir.iterdir()) == ["a.conf", "manifest.yaml"]
    assert compile_bundle(manifest, bundles, progress=False).sha256 == first.sha256  # same inputs, same bundle
    (folder / "a.conf").write_text((folder / "a.conf").read_text() + "# a comment changes the hash\n")
    second = compile_bundle(load_manifest(folder), bundles, progress=False)
    assert second.sha256 != first.sha256
    # a bundle modified after compile is refused
    (first.files_dir / "a.conf").write_text("SecRuleEngine Off\n")
    with pytest.raises(BundleError, match="do not match the bundle hash"):
        load_bundle(bundles, first.sha256)


def test_index_and_archive_round_trip(tmp_path: Path) -> None:
    bundle = compile_bundle(load_manifest(write_pack(tmp_path / "p", RULES)), tmp_path / "cli", progress=False)
    server = tmp_path / "server"
    copy = unpack_archive(bundle_archive(bundle), server, bundle.sha256)
    assert copy.sha256 == bundle.sha256 and copy.meta["databases"] == bundle.meta["databases"]
    with pytest.raises(BundleError):  # an archive does not pass for another hash
        unpack_archive(bundle_archive(bundle), server, "0" * 64)
    assert not (server / "sha256" / ("0" * 64)).exists()
    write_index(server, "waf", "seeded", "1.0.0", bundle.sha256)
    write_index(server, "waf", "seeded", "1.0.0", bundle.sha256)  # idempotent
    with pytest.raises(BundleError, match="is published as"):
        write_index(server, "waf", "seeded", "1.0.0", "f" * 64)
    assert resolve_pin(server, "waf", "seeded@1.0.0").sha256 == bundle.sha256
    with pytest.raises(BundleError, match="not published"):
        resolve_pin(server, "waf", "seeded@9.9.9")


def test_registry_versions_are_immutable(tmp_path: Path) -> None:
    registry = PackRegistry(tmp_path / "control.db")
    rec, created = registry.publish("waf", "core", "1.2.0", "a" * 64, {"name": "core"}, "first", "key-1", "rule-maintainer")
    assert created and rec.published_by == "key-1" and rec.published_at.endswith("Z")
    again, created = registry.publish("waf", "core", "1.2.0", "a" * 64, {}, "retry", "key-2", "rule-maintainer")
    assert not created and again.changelog == "first"
    with pytest.raises(Conflict, match="immutable"):
        registry.publish("waf", "core", "1.2.0", "b" * 64, {}, "other", "key-1", "rule-maintainer")
    registry.publish("waf", "core", "1.10.0", "c" * 64, {}, "later", "key-1", "rule-maintainer")
    registry.publish("waf", "core", "1.3.0", "d" * 64, {}, "middle", "key-1", "rule-maintainer")
    assert [v.version for v in registry.versions("waf", "core")] == ["1.2.0", "1.3.0", "1.10.0"]
    assert registry.previous("waf", "core", "1.10.0").version == "1.3.0"
    assert registry.previous("waf", "core", "1.2.0") is None
