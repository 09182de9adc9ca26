"""The operator CLI against the live API: tables, JSON, If-Match updates, import / export."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import yaml

from services.control.cli import main
from shared.config.tenancy import load_tenancy
from tests.control.conftest import ControlPlane

REPO = Path(__file__).resolve().parents[2]


async def cli(cp: ControlPlane, key: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(main, [*argv, "--api-url", cp.url, "--key", key], out)
    return code, out.getvalue()


async def test_operator_builds_a_tenant_from_the_command_line(cp: ControlPlane, capsys) -> None:
    p = cp.provider
    assert (await cli(cp, p, "tenants", "create", "dept", "--name", "Department"))[0] == 0
    code, out = await cli(cp, p, "keys", "create", "--role", "tenant-admin", "--tenant", "dept", "--id", "dept-admin")
    assert code == 0 and "shown once" in out
    admin = out.strip().splitlines()[-1]
    assert (await cli(cp, admin, "vpcs", "create", "dept", "vpc-1", "--ips", "--retention-days", "30"))[0] == 0
    code, out = await cli(cp, admin, "sites", "create", "dept", "vpc-1", "shop", "--host", "shop.dept.example",
                          "--host", "www.dept.example", "--upstream", "http://10.0.0.7:8080", "--mode", "detect")
    assert code == 0
    code, out = await cli(cp, admin, "sites", "set", "dept", "vpc-1", "shop", "--mode", "prevent")
    assert code == 0
    code, out = await cli(cp, admin, "sites", "list", "dept", "vpc-1")
    header, row = out.strip().splitlines()
    assert header.split()[:5] == ["NAME", "VPC", "HOSTS", "UPSTREAM", "MODE"]
    assert row.split()[:5] == ["shop", "vpc-1", "shop.dept.example,www.dept.example", "http://10.0.0.7:8080", "prevent"]
    code, out = await cli(cp, admin, "vpcs", "get", "dept", "vpc-1", "--json")
    assert json.loads(out)["auditing"] == {"retention_days": 30} and json.loads(out)["firewall"]["ips"] is True
    code, out = await cli(cp, admin, "listeners", "create", "dept", "vpc-1", "pg", "--listen", "127.0.0.1:19432",
                          "--upstream", "10.0.0.8:5432")
    assert code == 0 and "127.0.0.1:19432" in out
    code, out = await cli(cp, admin, "changes", "--tenant", "dept", "--kind", "site")
    assert [line.split()[3] for line in out.strip().splitlines()[1:]] == ["create", "update"]


async def test_errors_name_the_field_and_exit_1(cp: ControlPlane, capsys) -> None:
    p = cp.provider
    await cli(cp, p, "tenants", "create", "dept")
    await cli(cp, p, "vpcs", "create", "dept", "vpc-1")
    code, _ = await cli(cp, p, "sites", "create", "dept", "vpc-1", "shop", "--host", "bad host", "--upstream", "http://h")
    assert code == 1
    assert "HTTP 422: invalid host name 'bad host' (field hosts)" in capsys.readouterr().err
    code, _ = await cli(cp, "wrong-key", "tenants", "list")
    assert code == 1 and "HTTP 401" in capsys.readouterr().err


async def test_config_export_import_round_trip(cp: ControlPlane, tmp_path: Path) -> None:
    p = cp.provider
    source = tmp_path / "in.yaml"
    # the file format stays the import/export format: the example file imports as it is
    text = (REPO / "deploy" / "tenancy.yaml").read_text().replace("http://upstream:8081", "http://127.0.0.1:8081")
    source.write_text(text)
    code, out = await cli(cp, p, "config", "import", str(source))
    assert code == 0, out
    exported = tmp_path / "out.yaml"
    assert (await cli(cp, p, "config", "export", "-o", str(exported)))[0] == 0
    before, after = load_tenancy(source), load_tenancy(exported)
    assert after.sites == before.sites and after.tenants == before.tenants
    assert {k.id: k.sha256 for k in before.api_keys}.items() <= {k.id: k.sha256 for k in after.api_keys}.items()
    # the imported keys work against the API
    r = await cp.call("GET", "/v1/alerts", "replace-me-analyst")
    assert r.status == 200
    # a bad document is refused whole, naming the field
    doc = yaml.safe_load(text)
    doc["tenants"][0]["vpcs"][0]["sites"][0]["mode"] = "block"
    source.write_text(yaml.safe_dump(doc))
    r = await cp.call("PUT", "/v1/config", p, doc, headers={"If-Match": "*"})
    assert r.status == 422 and r.body["error"]["field"] == "tenants[0].vpcs[0].sites[0].mode"
    r = await cp.call("PUT", "/v1/config", p, yaml.safe_load(text), headers={"If-Match": '"0"'})
    assert r.status == 412
