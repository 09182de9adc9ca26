"""Metadata, classification, flow, flowbits/xbits, threshold/detection_filter, noalert, tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ips.model import Direction
from services.ips.signatures import RuleSyntaxError, parse_rule
from services.ips.signatures.classification import load_classifications, parse_classifications
from services.ips.signatures.model import FlowbitOp, ThresholdSpec, XbitOp
from tests.ips.signatures.helpers import rule

CLASSES = parse_classifications(
    "# comment\nconfig classification: trojan-activity,A Network Trojan was detected,1\n"
    "config classification: misc-activity,Misc activity,3\n"
)


def test_meta_fields() -> None:
    sig = parse_rule(
        'alert http any any -> any any (msg:"ET TEST \\"quoted\\" \\; semi"; '
        "reference:url,example.org/a; reference:cve,2021-44228; classtype:trojan-activity; "
        "metadata:created_at 2024_01_01, signature_severity Major, created_at 2024_02_02; "
        "target:dest_ip; gid:3; sid:2000001; rev:7;)",
        classifications=CLASSES,
    )
    assert sig.msg == 'ET TEST "quoted" ; semi'
    assert sig.references == (("url", "example.org/a"), ("cve", "2021-44228"))
    assert (sig.classtype, sig.category, sig.priority) == ("trojan-activity", "A Network Trojan was detected", 1)
    assert sig.metadata == {"created_at": ["2024_01_01", "2024_02_02"], "signature_severity": ["Major"]}
    assert (sig.target, sig.gid, sig.sid, sig.rev, sig.key) == ("dest_ip", 3, 2000001, 7, (3, 2000001))


def test_priority_overrides_classtype_and_unknown_classtype() -> None:
    sig = parse_rule("alert tcp any any -> any any (classtype:trojan-activity; priority:2; sid:1;)", classifications=CLASSES)
    assert sig.priority == 2
    assert rule("").priority == 3
    with pytest.raises(RuleSyntaxError, match="unknown classtype 'nope'"):
        parse_rule("alert tcp any any -> any any (classtype:nope; sid:1;)", classifications=CLASSES)


def test_classification_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "classification.config"
    bad.write_text("config classification: a,b,1\n  config classification: broken\n")
    with pytest.raises(RuleSyntaxError) as info:
        load_classifications(bad)
    assert (info.value.line, info.value.column) == (2, 3)


@pytest.mark.parametrize(
    ("text", "established", "direction", "stream"),
    [
        ("established,to_server", True, Direction.TO_SERVER, None),
        ("from_server,established", True, Direction.TO_CLIENT, None),
        ("to_client, only_stream", None, Direction.TO_CLIENT, "only"),
        ("not_established", False, None, None),
        ("stateless,no_stream", None, None, "no"),
    ],
)
def test_flow(text: str, established, direction, stream) -> None:
    flow = rule(f"flow:{text};").flow
    assert (flow.established, flow.direction, flow.stream) == (established, direction, stream)


def test_flow_matches() -> None:
    flow = rule("flow:established,to_server,only_stream;").flow
    assert flow.matches(established=True, direction=Direction.TO_SERVER, stream=True)
    assert not flow.matches(established=False, direction=Direction.TO_SERVER, stream=True)
    assert not flow.matches(established=True, direction=Direction.TO_CLIENT, stream=True)
    assert not flow.matches(established=True, direction=Direction.TO_SERVER, stream=False)


def test_flowbits_and_xbits() -> None:
    sig = rule("flowbits:set,a&b; flowbits:isset,c|d; flowbits:noalert; xbits:set,scan,track ip_src,expire 60;")
    assert sig.flowbits == (FlowbitOp("set", ("a", "b")), FlowbitOp("isset", ("c", "d"), True), FlowbitOp("noalert"))
    assert sig.xbits == (XbitOp("set", "scan", "ip_src", 60),)
    assert sig.noalert
    with pytest.raises(RuleSyntaxError, match="only works with isset"):
        rule("flowbits:set,a|b;")
    with pytest.raises(RuleSyntaxError, match="track"):
        rule("xbits:set,a,expire 5;")
    assert rule("noalert;").noalert and not rule("").noalert


def test_threshold_and_detection_filter() -> None:
    assert rule("threshold: type limit, track by_src, seconds 60, count 1;").threshold == ThresholdSpec("limit", "by_src", 1, 60)
    assert rule("detection_filter:track by_dst,count 20,seconds 60;").detection_filter == ThresholdSpec(
        "detection_filter", "by_dst", 20, 60
    )
    with pytest.raises(RuleSyntaxError, match="only one threshold"):
        rule("threshold:type both,track by_src,count 1,seconds 5; detection_filter:track by_src,count 1,seconds 5;")


def test_tag_and_actions() -> None:
    assert rule("tag:session,5,packets;").sid == 1
    assert parse_rule("drop tcp any any -> any any (sid:1;)").action == "drop"
    assert parse_rule("rejectboth tcp any any -> any any (sid:1;)").action == "reject"
    assert parse_rule("pass tcp any any <> any any (sid:1;)").bidirectional


def test_signature_is_immutable() -> None:
    sig = rule('content:"a";')
    with pytest.raises(AttributeError):
        sig.sid = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sig.buffers[0].elements[0].pattern = b"b"  # type: ignore[misc]
