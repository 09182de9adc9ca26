"""Our own test signatures (never third-party rule text) and a classification file for them."""

from __future__ import annotations

from pathlib import Path

RULES = """\
alert http any any -> any any (msg:"TEST admin path"; flow:established,to_server; http.uri; content:"/admin"; classtype:web-application-attack; metadata:created_at 2026_11_27, scope test; sid:9100001; rev:2;)
drop tcp any any -> any any (msg:"TEST drop marker"; flow:to_server; content:"EVIL-DROP"; classtype:attempted-admin; sid:9100002; rev:1;)
reject tcp any any -> any any (msg:"TEST reject marker"; flow:to_server; content:"EVIL-REJECT"; sid:9100003; rev:1;)
alert tcp any any -> any any (msg:"TEST server leak"; flow:to_client; content:"SECRET-TOKEN"; classtype:policy-violation; sid:9100004; rev:1;)
pass tcp any any -> any any (msg:"TEST trusted client"; flow:to_server; content:"TRUSTED-CLIENT"; sid:9100005; rev:1;)
alert tcp any any -> any any (msg:"TEST marker"; content:"MARKER-ONE"; sid:9100006; rev:1;)
"""

CLASSIFICATION = """\
# shortname, description, priority
config classification: web-application-attack,Web Application Attack,1
config classification: attempted-admin,Attempted Administrator Privilege Gain,1
config classification: policy-violation,Potential Corporate Privacy Violation,1
config classification: misc-activity,Misc activity,3
"""


def write_pack(root: Path, name: str = "t", rules: str = RULES, version: str = "1.0.0") -> Path:
    """An IPS pack folder ``root/name`` with a manifest, our rules and the classification file."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.rules").write_text(rules)
    (folder / "classification.config").write_text(CLASSIFICATION)
    (folder / "manifest.yaml").write_text(f"name: {name}\nkind: ips\nversion: {version}\nfiles: [test.rules]\n")
    return folder
