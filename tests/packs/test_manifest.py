from __future__ import annotations

from pathlib import Path

import pytest

from shared.packs.manifest import ManifestError, find_pack, load_manifest
from shared.packs.semver import Version, satisfies
from tests.packs.conftest import CORE_WAF, REPO


def test_core_manifests_are_valid() -> None:
    waf = load_manifest(CORE_WAF)
    assert (waf.kind, waf.name) == ("waf", "core")
    assert waf.files[0] == "setup.conf" and len(waf.case_paths()) >= 8
    av = load_manifest(REPO / "rules" / "av" / "core")
    assert av.kind == "av" and set(av.files) >= {"core.hdb", "core.yar"}


def test_errors_carry_the_manifest_position(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("")
    (tmp_path / "manifest.yaml").write_text(
        "name: Core Pack\n"
        "kind: waf\n"
        "version: 1.2\n"
        "description: x\n"
        "engine: '>=2.0.0'\n"
        "files:\n"
        "  - a.conf\n"
        "  - missing.conf\n"
        "colour: blue\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    found = {(d.line, d.column, d.message.split(":")[0]) for d in info.value.diagnostics}
    assert found == {(1, 7, "name"), (3, 10, "version"), (5, 9, "engine"), (8, 5, "files"), (9, 1, "colour")}
    assert "this waf engine is 1.0.0, which does not satisfy '>=2.0.0'" in str(info.value)
    assert "missing.conf does not exist" in str(info.value)


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("name: core\nfiles: [a.conf\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert info.value.diagnostics[0].line == 3


def test_semver_order_and_constraints() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "1.2.0", "1.10.0"]
    assert sorted(order, key=lambda v: Version.parse(v).key()) == order
    assert satisfies("1.4.0", ">=1.0.0,<2.0.0") and not satisfies("2.0.0", ">=1.0.0,<2.0.0")
    with pytest.raises(ValueError):
        satisfies("1.0.0", ">=one")


def test_find_pack_by_kind_and_name() -> None:
    assert find_pack("waf/core", REPO / "rules") == REPO / "rules" / "waf" / "core"
    with pytest.raises(FileNotFoundError):
        find_pack("waf/nope", REPO / "rules")
