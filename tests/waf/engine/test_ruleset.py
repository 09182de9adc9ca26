"""RuleSet loading is all-or-nothing and the result is immutable and shareable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.waf.engine import RuleSet, SecLangParseError, load_ruleset
from tests.waf.engine.helpers import ids, run

GOOD = 'SecRuleEngine On\nSecRule ARGS "@rx evil" "id:1,phase:2,deny"\n'


def test_bad_file_leaves_previous_ruleset_usable(tmp_path: Path) -> None:
    rules = tmp_path / "site.conf"
    rules.write_text(GOOD)
    current = load_ruleset([rules])
    rules.write_text(GOOD + 'SecRule ARGS "@rx fine" "id:2,phase:2,deny"\nSecRule ARGS "@rx x" "id:3,bogus"\n')
    with pytest.raises(SecLangParseError) as info:
        current = load_ruleset([rules])
    assert (info.value.line, info.value.column) == (4, 28)
    assert current.rule_count == 1 and current.rule(2) is None
    assert run(current, "/?q=evil").intervention is not None
    assert run(current, "/?q=fine").intervention is None


def test_error_in_a_later_file_discards_earlier_files(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text(GOOD)
    (tmp_path / "b.conf").write_text('SecRule ARGS "@rx y" "id:1,phase:2,deny"\n')
    with pytest.raises(SecLangParseError, match="duplicate rule id 1; first defined at .*a.conf:2"):
        load_ruleset([tmp_path / "a.conf", tmp_path / "b.conf"])


def test_ruleset_is_immutable() -> None:
    rs = RuleSet.from_text(GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rs.engine_mode = "Off"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rs.phases[2] = ()  # type: ignore[index]
    rule = rs.rule(1)
    assert rule is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.disruptive = "pass"  # type: ignore[misc]
    detection = rs.with_engine_mode("DetectionOnly")
    assert (rs.engine_mode, detection.engine_mode) == ("On", "DetectionOnly")
    with pytest.raises(ValueError, match="expected one of On, Off, DetectionOnly"):
        rs.with_engine_mode("Maybe")


def test_settings_and_report(tmp_path: Path) -> None:
    (tmp_path / "x.conf").write_text(
        'SecComponentSignature "site/1.2"\nSecRequestBodyAccess On\nSecRequestBodyLimit 1024\n'
        'SecRule ARGS "@rx a+" "id:1,phase:2,pass"\nSecRule ARGS "@pm b c" "id:2,phase:1,pass"\n'
        "SecMarker DONE\n"
    )
    rs = load_ruleset([tmp_path / "x.conf"], cache_dir=tmp_path / "cache")
    assert rs.component_signatures == ("site/1.2",)
    assert (rs.body_access, rs.body_limit, rs.rule_count) == (True, 1024, 2)
    assert dict(rs.report) == {"hyperscan": 1}
    assert [type(e).__name__ for e in rs.phases[1]] == ["Rule", "Marker"]
    assert ids(run(rs, "/?q=ab")) == [2, 1]


def test_defaults_follow_modsecurity() -> None:
    rs = RuleSet.from_text('SecAction "id:1,pass"')
    assert (rs.engine_mode, rs.body_access, rs.body_limit) == ("On", False, 134217728)
    assert rs.rules()[0].phase == 2
    with pytest.raises(ValueError, match="at least one rule file"):
        load_ruleset([])


def test_core_pack_loads(tmp_path: Path) -> None:
    pack = Path(__file__).resolve().parents[3] / "rules" / "waf" / "core"
    import yaml

    manifest = yaml.safe_load((pack / "manifest.yaml").read_text())
    assert (manifest["name"], manifest["kind"], manifest["version"]) == ("core", "waf", "0.1.0")
    rs = load_ruleset([pack / f for f in manifest["files"]], cache_dir=tmp_path)
    assert rs.notices == ()
    assert all(1000000 <= r.id <= 1099999 for r in rs.rules())
    assert rs.report.get("regex", 0) == 0
