"""AV alerts validate against shared/events/alert.schema.json and carry the correlation fields."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from services.av.alerts import av_alert
from services.av.client import AvClient
from services.av.models import ScanResult, Signature
from shared.events import validate_alert
from tests.av.conftest import AvService
from tests.av.samples import aspx_webshell

SHA = hashlib.sha256(b"x").hexdigest()


def test_infected_alert_is_schema_valid_and_correlated() -> None:
    result = ScanResult("infected", SHA, 123, 4.2, (
        Signature("Secchain.Webshell.PHP.RequestExec", "clamav", "core@0.1.0"),
        Signature("Secchain.YARA.Webshell_PHP_RequestEval", "yara", "core@0.1.0", member="a.zip!x.php"),
    ), ruleset="core@0.1.0")
    doc = av_alert(result, tenant_id="t1", vpc_id="vpc-1", trace_id="trace-42", file_name="shell.php",
                   action="blocked", observer="waf-1")
    validate_alert(doc)
    assert doc["event"]["module"] == "av" and doc["event"]["action"] == "blocked"
    assert doc["file"] == {"name": "shell.php", "size": 123, "hash": {"sha256": SHA}}
    assert doc["trace"]["id"] == "trace-42" and doc["vpc"]["id"] == "vpc-1"
    assert doc["rule"] == {"id": "Secchain.Webshell.PHP.RequestExec", "name": "Secchain.Webshell.PHP.RequestExec",
                           "ruleset": "core@0.1.0", "category": "malware"}
    assert doc["event"]["severity"] == 1
    assert "av:yara:Secchain.YARA.Webshell_PHP_RequestEval" in doc["tags"]
    assert "in a.zip!x.php" in doc["matched"]["data"]


def test_error_alert_for_fail_policy() -> None:
    result = ScanResult("error", "", 0, 0.0, reason="clamd unreachable at 127.0.0.1:3310")
    doc = av_alert(result, tenant_id="t1", vpc_id=None, trace_id="tr", file_name="a.bin", action="allowed",
                   observer="waf-1")
    validate_alert(doc)
    assert doc["rule"]["id"] == "Secchain.Scanner.Error" and "clamd unreachable" in doc["rule"]["name"]
    assert "hash" not in doc["file"]


def test_clean_result_has_no_alert() -> None:
    with pytest.raises(ValueError, match="no alert for a clean scan"):
        av_alert(ScanResult("clean", SHA, 1, 0.1), tenant_id="t", vpc_id=None, trace_id=None, file_name=None,
                 action="allowed", observer="o")


async def test_service_emits_alerts_only_when_asked(av_service: AvService) -> None:
    sent: list[dict[str, Any]] = []
    url = await av_service(alert_sink=sent.append)
    async with AvClient(url) as client:
        await client.scan(aspx_webshell(), file_name="a.aspx", tenant_id="t9", trace_id="tr-9")  # caller alerts
        assert sent == []
        await client.scan(b"clean", tenant_id="t9", service_alerts=True)
        assert sent == []
        result = await client.scan(aspx_webshell(), file_name="a.aspx", tenant_id="t9", trace_id="tr-9",
                                   vpc_id="vpc-9", service_alerts=True)
    assert len(sent) == 1
    validate_alert(sent[0])
    assert sent[0]["trace"]["id"] == "tr-9" and sent[0]["tenant"]["id"] == "t9" and sent[0]["vpc"]["id"] == "vpc-9"
    assert sent[0]["file"]["hash"]["sha256"] == result.sha256 and sent[0]["event"]["action"] == "alerted"
