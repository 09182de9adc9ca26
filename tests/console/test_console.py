"""The SOC console in headless Chromium, against the real chain: an attack sent through the WAF
reaches the console, and an analyst finds it, reads it, acknowledges it and exports it; a tenant's
key never shows another tenant's alerts. Screenshots of the main views go to docs/screenshots/.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

from tests.console.conftest import SCREENSHOTS
from tests.e2e.conftest import Chain
from tests.e2e.test_chain import waf_request


def console(chain: Chain) -> str:
    return f"{chain.api}/console/"


def sign_in(page: Any, chain: Chain, key: str) -> None:
    page.goto(console(chain))
    page.fill("#api-key", key)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("#who:not([hidden])")


def shot(page: Any, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def send_attack(chain: Chain) -> tuple[str, str]:
    """A SQL injection through the WAF to acme's site; returns (marker, request id)."""
    marker = "m" + uuid.uuid4().hex[:12]
    status, headers, _ = waf_request(chain, "GET", f"/search?marker={marker}&id=1%27%20OR%20%271%27=%271",
                                     host="acme.local", headers=[("User-Agent", "console-test/1.0")])
    assert status == 403
    return marker, headers["x-request-id"]


def test_analyst_finds_reads_acknowledges_and_exports_an_attack(seeded_chain: Chain, page: Any) -> None:
    chain = seeded_chain
    marker, request_id = send_attack(chain)
    chain.wait_alerts(f"/v1/alerts?q={marker}", chain.keys["acme"], 1)

    page.goto(console(chain))
    page.fill("#api-key", "sk_wrong")
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("text=This API key is not valid.")
    shot(page, "sign-in")
    page.fill("#api-key", chain.keys["acme"])
    page.click("form.signin button[type=submit]")
    # /v1/me answers after the click returns: wait for the name rather than reading it at once
    page.wait_for_selector("#who-name:has-text('acme-analyst')")

    # The list: the attack is the newest alert; the seeded history is below it.
    page.wait_for_selector("#alerts tbody tr[data-event-id]")
    shot(page, "alerts")
    assert re.search(r"[0-9,]+ alerts", page.inner_text("#total"))

    # Filter to it with the free-text search: the URL carries the query.
    page.fill("input[name=q]", marker)
    page.select_option("select[name=module]", "waf")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(rf".*q={marker}.*"))
    page.wait_for_selector(f"#alerts tbody tr[data-event-id]:has-text('{marker}')")
    assert "module=waf" in page.url
    rows = page.locator("#alerts tbody tr[data-event-id]")
    assert all(marker in text for text in rows.all_inner_texts())
    first_row_text = rows.first.inner_text()
    assert "waf" in first_row_text and "blocked" in first_row_text and "acme-web" in first_row_text

    # The detail: request line and headers, matched data, the trace id it shares with nothing else.
    rows.first.click()
    page.wait_for_selector("#summary")
    request_text = page.inner_text("#request-line")
    assert request_text.startswith("GET /search?marker=" + marker) and "User-Agent: console-test/1.0" in request_text
    assert request_id in page.inner_text("#summary")
    page.wait_for_selector("#related")
    shot(page, "alert-detail", full_page=True)

    # Acknowledge, then close with a comment: who and when are shown and stored.
    page.click("#acknowledge")
    page.wait_for_selector("#triage .badge[data-status=acknowledged]")
    page.fill("#triage textarea", "blocked by the WAF; source reported to CERT")
    page.click("#close")
    page.wait_for_selector("#triage .badge[data-status=closed]")
    history = page.inner_text("#triage-history")
    assert "acknowledged by acme-analyst" in history and "closed by acme-analyst" in history
    status, stored = chain.api_get(f"/v1/alerts?q={marker}", chain.keys["acme"])
    waf_hit = next(h for h in stored["hits"] if h["event"]["module"] == "waf")
    assert waf_hit["triage"]["status"] == "closed" and waf_hit["triage"]["by"] == "acme-analyst"
    assert waf_hit["triage"]["comment"] == "blocked by the WAF; source reported to CERT"

    # The status filter finds it among the closed alerts.
    page.goto(console(chain) + f"#/alerts?from=now-1h&status=closed&q={marker}")
    page.wait_for_selector("#alerts tbody tr[data-event-id] .badge[data-status=closed]")

    # Export of the current query, as the browser downloads it.
    with page.expect_download() as info:
        page.click("button[data-export=csv]")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows_csv = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows_csv and {r["tenant.id"] for r in rows_csv} == {"acme"}
    assert waf_hit["event"]["id"] in {r["event.id"] for r in rows_csv}
    assert {r["triage.status"] for r in rows_csv} == {"closed"}
    with page.expect_download() as info:
        page.click("button[data-export=ndjson]")
    lines = [json.loads(line) for line in Path(info.value.path()).read_text(encoding="utf-8").splitlines()]
    assert [d["event"]["id"] for d in lines] == [r["event.id"] for r in rows_csv]


def test_overview_and_groups_filter_on_click(seeded_chain: Chain, page: Any) -> None:
    chain = seeded_chain
    sign_in(page, chain, chain.keys["acme"])
    page.goto(console(chain) + "#/overview?from=now-24h")
    page.wait_for_selector("#top-rules li")
    page.wait_for_selector("#histogram rect.bar")
    shot(page, "overview")
    total_before = int(page.inner_text("#total").replace(",", ""))
    top_rule = page.locator("#top-rules li").first
    rule_id = top_rule.get_attribute("data-value")
    top_rule.click()
    page.wait_for_url(re.compile(rf".*rule_id={re.escape(rule_id)}.*"))
    page.wait_for_function("([before]) => { const el = document.querySelector('#total');"
                           " return el !== null && Number(el.textContent.replace(/,/g, '')) < before; }",
                           arg=[total_before])
    assert [li.get_attribute("data-value") for li in page.locator("#top-rules li").all()] == [rule_id]
    status, stats = chain.api_get(f"/v1/alerts/stats?from=now-24h&rule_id={rule_id}", chain.keys["acme"])
    assert int(page.inner_text("#total").replace(",", "")) == stats["total"]

    page.goto(console(chain) + "#/groups?from=now-24h")
    page.wait_for_selector("#groups tbody tr")
    shot(page, "groups")
    counts = [int(c.replace(",", "")) for c in page.locator("#groups tbody td.num").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts[0] > 1
    page.locator("#groups tbody tr").first.click()
    page.wait_for_url(re.compile(r".*#/alerts\?.*rule_id=.*source_ip=.*"))
    page.wait_for_selector("#alerts tbody tr[data-event-id]")
    assert page.inner_text("#total").startswith(f"{counts[0]:,} ")


def test_tenant_sees_only_its_tenant_and_provider_sees_all(seeded_chain: Chain, page: Any) -> None:
    chain = seeded_chain
    marker, _ = send_attack(chain)
    chain.wait_alerts(f"/v1/alerts?q={marker}", chain.keys["acme"], 1)

    sign_in(page, chain, chain.keys["beta"])
    page.goto(console(chain) + "#/alerts?from=now-7d")
    page.wait_for_selector("#alerts tbody tr[data-event-id]")
    shown = page.locator("#alerts tbody tr[data-event-id]").count()
    _, beta = chain.api_get("/v1/alerts?from=now-7d&size=50", chain.keys["beta"])
    assert shown == len(beta["hits"]) and {h["tenant"]["id"] for h in beta["hits"]} == {"beta"}
    assert page.locator("select[name=tenant]").count() == 0
    # Nothing of acme's, not even the attack just sent, and naming acme is refused.
    page.goto(console(chain) + f"#/alerts?from=now-1h&q={marker}")
    page.wait_for_selector("text=No alerts match these filters.")
    page.goto(console(chain) + "#/overview?from=now-7d&tenant=acme")
    page.wait_for_selector("#view-error")
    assert "scoped to tenant 'beta'" in page.inner_text("#view-error")
    page.click("#sign-out")
    page.wait_for_selector("#api-key")

    sign_in(page, chain, chain.keys["provider"])
    page.goto(console(chain) + "#/overview?from=now-24h")
    page.wait_for_selector("#top-targets li")
    tenants = page.locator("select[name=tenant] option").all_inner_texts()
    assert {"acme", "beta"} <= {t.split(" ")[0] for t in tenants}
    page.select_option("select[name=tenant]", "beta")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*tenant=beta.*"))
    page.goto(console(chain) + "#/alerts?from=now-24h&tenant=beta")
    page.wait_for_selector("#alerts tbody tr[data-event-id]")
    tenant_cells = page.locator("#alerts tbody tr[data-event-id] td:nth-child(5)").all_inner_texts()
    assert tenant_cells and set(tenant_cells) == {"beta"}


def _holder(held: list[Any]) -> Any:
    """A route handler that answers nothing: the request waits until the test continues it."""
    def hold(route: Any) -> None:
        held.append(route)
    return hold


def test_first_view_asks_for_its_data_together_with_the_key_check(seeded_chain: Chain, page: Any) -> None:
    """With a key already in the tab, the list's page (or the overview's stats) is requested at
    once, not after /v1/me has answered: here /v1/me is held until the data request is seen."""
    chain = seeded_chain
    page.context.add_init_script(f"if (location.protocol.startsWith('http'))"
                                 f" sessionStorage.setItem('secchain.apiKey', {chain.keys['acme']!r});")
    for fragment, api_path, selector in (("#/alerts?from=now-24h", "/v1/alerts?", "#alerts tbody tr[data-event-id]"),
                                         ("#/overview?from=now-24h", "/v1/alerts/stats?", "#top-rules li")):
        held: list[Any] = []
        page.route("**/v1/me", _holder(held))
        page.goto("about:blank")
        # /v1/me is never answered until the test continues it: the old console, which asked
        # for the data only after /v1/me, times out here.
        with page.expect_request(lambda request, path=api_path: path in request.url, timeout=10_000):
            page.goto(console(chain) + fragment)
        for _ in range(200):
            if held:
                break
            page.wait_for_timeout(10)
        assert len(held) == 1
        held[0].continue_()
        page.unroute("**/v1/me")
        page.wait_for_selector(selector)
        page.wait_for_selector("#who-name:has-text('acme-analyst')")
