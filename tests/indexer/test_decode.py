"""decode_alert: every way a record can be unusable gets its own reason; valid alerts pass as is."""

from __future__ import annotations

import json

import pytest

from services.indexer.decode import (REASON_EMPTY, REASON_ENCODING, REASON_JSON, REASON_KEY, REASON_SCHEMA,
                                     Rejected, decode_alert)
from tests.bus.kafka_read import make_alert


def test_valid_alert_keyed_by_its_tenant_is_returned_unchanged() -> None:
    alert = make_alert("dept-a", 7)
    assert decode_alert(b"dept-a", json.dumps(alert).encode()) == alert


def test_keyless_alert_is_accepted() -> None:
    alert = make_alert("dept-a", 7)
    assert decode_alert(None, json.dumps(alert).encode()) == alert


@pytest.mark.parametrize(("key", "value", "reason", "detail"), [
    (b"t", None, REASON_EMPTY, "no value"),
    (b"t", b"", REASON_EMPTY, "no value"),
    (b"t", b"\xff\xfe{}", REASON_ENCODING, "not UTF-8"),
    (b"t", b"{not json", REASON_JSON, "not JSON"),
    (b"t", b"[1, 2]", REASON_SCHEMA, "JSON object"),
    (b"t", json.dumps({"event": {"id": "x"}}).encode(), REASON_SCHEMA, ""),
])
def test_unusable_records_are_rejected_with_a_reason(key: bytes, value: bytes | None, reason: str,
                                                     detail: str) -> None:
    result = decode_alert(key, value)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert detail in result.detail


def test_key_naming_another_tenant_is_rejected() -> None:
    result = decode_alert(b"dept-b", json.dumps(make_alert("dept-a", 1)).encode())
    assert isinstance(result, Rejected) and result.reason == REASON_KEY
    assert "dept-a" in result.detail
