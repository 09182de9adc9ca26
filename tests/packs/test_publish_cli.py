"""``secchain rules publish`` into a local control-plane database: the gates, then the registry."""

from __future__ import annotations

from pathlib import Path

from services.packs.cli import main as rules_main
from shared.packs.registry import PackRegistry
from tests.packs.conftest import write_pack

RULES = {
    "rules.conf": r'''
        SecRuleEngine On
        SecRule ARGS "@contains evil" "id:5000001,phase:2,deny,status:403,msg:'evil'"
    ''',
    "tests/cases.yaml": '''
        - name: evil
          request: {uri: "/?q=evil"}
          expect: {match: [5000001]}
        - name: benign
          request: {uri: "/?q=good"}
          expect: {none: true}
    ''',
}


def _publish(folder: Path, tmp_path: Path, changelog: str = "first") -> int:
    return rules_main(["publish", str(folder), "--changelog", changelog, "--control-db", f"sqlite:///{tmp_path / 'c.db'}",
                       "--bundles-dir", str(tmp_path / "bundles"), "--cache-dir", str(tmp_path / "cache"),
                       "--actor", "alice"])


def test_publish_records_who_and_is_immutable(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = write_pack(tmp_path / "p", RULES, cases=["tests/*.yaml"])
    assert _publish(folder, tmp_path) == 0
    out = capsys.readouterr().out
    assert "lint     0 error(s), 0 warning(s), 0 note(s)" in out and "test     2 passed, 0 failed" in out
    assert "publish  waf/seeded@1.0.0 published by alice at " in out
    [record] = PackRegistry(tmp_path / "c.db").versions("waf", "seeded")
    assert (record.published_by, record.changelog) == ("alice", "first")
    assert (tmp_path / "bundles" / "index" / "waf" / "seeded" / "1.0.0").read_text().strip() == record.sha256
    assert _publish(folder, tmp_path, "retry") == 0  # the same content again: a no-op
    assert "already published (same bundle)" in capsys.readouterr().out
    with open(folder / "rules.conf", "a") as f:
        f.write('SecRule ARGS "@contains wicked" "id:5000002,phase:2,deny,status:403,msg:\'wicked\'"\n')
    assert _publish(folder, tmp_path, "changed without a version bump") == 1
    assert "a published version is immutable: bump the version" in capsys.readouterr().out


def test_failing_case_blocks_publish(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    files = dict(RULES)
    files["tests/cases.yaml"] = files["tests/cases.yaml"].replace("q=good", "q=evil-but-benign")
    folder = write_pack(tmp_path / "p", files, cases=["tests/*.yaml"])
    assert _publish(folder, tmp_path) == 1
    out = capsys.readouterr().out
    assert "test     1 passed, 1 failed" in out and "FAIL benign: benign traffic matched [5000001]" in out
    assert "publish  refused: seeded@1.0.0: tests failed (1 passed, 1 failed)" in out
    assert PackRegistry(tmp_path / "c.db").versions("waf", "seeded") == []
    assert not (tmp_path / "bundles").exists()


def test_lint_error_blocks_publish(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    files = dict(RULES)
    files["rules.conf"] += 'SecRule ARGS "@contains x" "id:5000001,phase:2,deny"\n'
    folder = write_pack(tmp_path / "p", files, cases=["tests/*.yaml"])
    assert _publish(folder, tmp_path) == 1
    out = capsys.readouterr().out
    assert "duplicate rule id 5000001" in out and "publish  refused: seeded@1.0.0: lint found errors" in out
