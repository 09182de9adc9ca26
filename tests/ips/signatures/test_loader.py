"""load_rules: files and directories, continuation lines, commented rules, counts, duplicates."""

from __future__ import annotations

from pathlib import Path

from services.ips.signatures import RuleLocation, Signature, load_rules


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_counts_everything(tmp_path: Path) -> None:
    write(tmp_path, "classification.config", "config classification: misc-activity,Misc activity,3\n")
    write(
        tmp_path,
        "a.rules",
        "# a comment\n"
        '#alert tcp any any -> any any (msg:"disabled by ET"; sid:9;)\n'
        "\n"
        'alert tcp any any -> any any (msg:"ok"; content:"a"; classtype:misc-activity; sid:1;)\n'
        'alert http any any -> any any (msg:"multi"; \\\n'
        '    http.uri; content:"/x"; \\\n'
        "    sid:2; rev:1;)\n"
        'alert smb any any -> any any (msg:"smb"; sid:3;)\n'
        'alert tcp any any -> any any (msg:"asn"; asn1:oversize_length 1; sid:4;)\n'
        'alert tcp any any -> any any (msg:"broken"; content:"|zz|"; sid:5;)\n'
        'alert tcp any any -> any any (msg:"dup old"; sid:1; rev:0;)\n',
    )
    write(tmp_path, "b.rules", 'alert udp any any -> any 53 (msg:"b"; sid:6;)\n')
    write(tmp_path, "notes.txt", "alert tcp garbage\n")
    rules = load_rules([tmp_path], classification=tmp_path / "classification.config")
    assert [s.sid for s in rules.signatures] == [1, 2, 6]
    assert rules.commented == 1
    assert rules.enabled == 7
    reasons = rules.counts_by_reason()
    assert reasons == {
        "app-layer protocol 'smb' not supported": 1,
        "unsupported keyword 'asn1'": 1,
        "duplicate sid 1:1": 1,
    }
    disabled = {reason: item for item, reason in rules.disabled}
    smb = disabled["app-layer protocol 'smb' not supported"]
    assert isinstance(smb, RuleLocation) and (smb.line, smb.sid) == (8, 3)
    assert isinstance(disabled["duplicate sid 1:1"], Signature)
    [err] = rules.errors
    assert (Path(err.file).name, err.line, err.column) == ("a.rules", 10, 55)
    multi = rules.signatures[1]
    assert (multi.line, multi.buffer_names()) == (5, ("http.uri",))
    assert rules.signatures[0].category == "Misc activity"


def test_single_file_and_variables(tmp_path: Path) -> None:
    from services.ips.signatures import RuleVariables

    path = write(tmp_path, "x.rules", "alert tcp $LAB any -> any any (sid:1;)\n")
    assert len(load_rules([path]).errors) == 1
    rules = load_rules([str(path)], variables=RuleVariables({"LAB": "[192.0.2.0/24]"}))
    assert rules.signatures[0].src_addr.contains("192.0.2.7")
