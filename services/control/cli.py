"""Operator CLI over the control-plane API: ``secchain tenants|vpcs|sites|listeners|keys|config|changes``.

Every command is one or two API calls (an update reads the ETag first and sends it as If-Match,
so two operators never overwrite each other silently). Output is a table, or the API's JSON with
``--json``. The API and key come from ``--api-url`` / ``--key`` or SECCHAIN_API_URL /
SECCHAIN_API_KEY. Example::

    export SECCHAIN_API_KEY=sk_...
    secchain vpcs create demo vpc-2 --ips --retention-days 30
    secchain sites create demo vpc-2 shop --host shop.example.gov --upstream http://10.0.3.7:8080 --mode detect
    secchain sites set demo vpc-2 shop --mode prevent
    secchain config export -o tenancy.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

COMMANDS = ("tenants", "vpcs", "sites", "listeners", "keys", "config", "changes")


class CliError(Exception):
    pass


class Client:
    def __init__(self, url: str, key: str | None) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: Any = None, etag: str | None = None) -> tuple[Any, str | None]:
        if not self.key:
            raise CliError("no API key: pass --key or set SECCHAIN_API_KEY")
        headers = {"Authorization": f"Bearer {self.key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if etag is not None:
            headers["If-Match"] = etag
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return (json.loads(raw) if raw else None), resp.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)["error"]
                where = f" (field {err['field']})" if err.get("field") else (
                    f" (parameter {err['parameter']})" if err.get("parameter") else "")
                raise CliError(f"HTTP {exc.code}: {err['message']}{where}") from None
            except (ValueError, KeyError, TypeError):
                raise CliError(f"HTTP {exc.code}: {raw[:300].decode(errors='replace')}") from None
        except urllib.error.URLError as exc:
            raise CliError(f"cannot reach the API at {self.url}: {exc.reason}") from None

    def update(self, path: str, patch: dict[str, Any]) -> Any:
        _, etag = self.call("GET", path)
        body, _ = self.call("PATCH", path, patch, etag=etag)
        return body

    def delete(self, path: str) -> None:
        _, etag = self.call("GET", path)
        self.call("DELETE", path, etag=etag)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A plain text table: ``columns`` are (header, key) with dotted keys into nested objects."""
    def cell(row: dict[str, Any], key: str) -> str:
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, list):
            return ",".join(str(v) for v in value) or "-"
        return "-" if value is None else str(value)

    cells = [[cell(r, k) for _, k in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _) in enumerate(columns)]
    lines = ["  ".join(h.upper().ljust(w) for (h, _), w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


COLUMNS = {
    "tenants": [("id", "id"), ("name", "name"), ("revision", "revision"), ("updated", "updated_at")],
    "vpcs": [("id", "id"), ("waf", "firewall.waf"), ("ips", "firewall.ips"), ("av", "firewall.av"),
             ("retention days", "auditing.retention_days"), ("revision", "revision")],
    "sites": [("name", "name"), ("vpc", "vpc"), ("hosts", "hosts"), ("upstream", "upstream"), ("mode", "mode"),
              ("rulesets", "rulesets"), ("revision", "revision")],
    "listeners": [("name", "name"), ("vpc", "vpc"), ("listen", "listen"), ("upstream", "upstream"),
                  ("mode", "mode"), ("rulesets", "rulesets"), ("revision", "revision")],
    "keys": [("id", "id"), ("role", "role"), ("tenant", "tenant"), ("created", "created_at"),
             ("by", "created_by"), ("description", "description")],
    "changes": [("seq", "seq"), ("at", "at"), ("actor", "actor.key_id"), ("action", "action"), ("path", "path")],
}


def _flags(p: argparse.ArgumentParser, names: list[str]) -> None:
    for name in names:
        p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=f"{name} on or off")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", default=os.environ.get("SECCHAIN_API_URL", "http://127.0.0.1:8000"))
    common.add_argument("--key", default=os.environ.get("SECCHAIN_API_KEY"), help="API key (or SECCHAIN_API_KEY)")
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    root = argparse.ArgumentParser(prog="secchain", description="control-plane operations over the API")
    groups = root.add_subparsers(dest="group", required=True)

    g = groups.add_parser("tenants", help="tenants (provider-admin)").add_subparsers(dest="action", required=True)
    g.add_parser("list", parents=[common])
    for action in ("get", "delete"):
        g.add_parser(action, parents=[common]).add_argument("tenant")
    c = g.add_parser("create", parents=[common])
    c.add_argument("tenant")
    c.add_argument("--name")

    g = groups.add_parser("vpcs", help="VPCs and their subscriptions").add_subparsers(dest="action", required=True)
    g.add_parser("list", parents=[common]).add_argument("tenant")
    for action in ("get", "delete", "create", "set"):
        p = g.add_parser(action, parents=[common])
        p.add_argument("tenant")
        p.add_argument("vpc")
        if action in ("create", "set"):
            _flags(p, ["waf", "ips", "av"])
            p.add_argument("--retention-days", type=int, help="cloud auditing retention (0: keep forever)")

    for group, noun in (("sites", "site"), ("listeners", "listener")):
        g = groups.add_parser(group, help=f"{noun}s of a VPC").add_subparsers(dest="action", required=True)
        p = g.add_parser("list", parents=[common])
        p.add_argument("tenant")
        p.add_argument("vpc")
        for action in ("get", "delete", "create", "set"):
            p = g.add_parser(action, parents=[common])
            p.add_argument("tenant")
            p.add_argument("vpc")
            p.add_argument("name")
            if action not in ("create", "set"):
                continue
            if group == "sites":
                p.add_argument("--host", action="append", help="host name (repeat for several)")
            else:
                p.add_argument("--listen", help="HOST:PORT")
            p.add_argument("--upstream")
            p.add_argument("--mode", choices=("detect", "prevent"))
            p.add_argument("--ruleset", action="append", help="rule pack (repeat for several)")
            p.add_argument("-f", "--file", type=Path, help="JSON or YAML with more fields (a merge patch for set)")

    g = groups.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    p = g.add_parser("list", parents=[common])
    p.add_argument("--tenant")
    p = g.add_parser("create", parents=[common])
    p.add_argument("--role", required=True,
                   choices=("provider-admin", "tenant-admin", "analyst", "rule-maintainer", "dataplane"))
    p.add_argument("--tenant")
    p.add_argument("--id")
    p.add_argument("--description")
    p = g.add_parser("delete", parents=[common])
    p.add_argument("key_id")
    p.add_argument("--tenant", help="the key's tenant (a tenant-admin must give it)")

    g = groups.add_parser("config", help="import / export the whole configuration").add_subparsers(
        dest="action", required=True)
    p = g.add_parser("export", parents=[common])
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p = g.add_parser("import", parents=[common])
    p.add_argument("file", type=Path, help="a tenancy YAML or JSON document")

    p = groups.add_parser("changes", parents=[common], help="the control-plane change log")
    p.add_argument("--tenant")
    p.add_argument("--kind")
    p.add_argument("--action", dest="change_action")
    p.add_argument("--size", type=int, default=50)
    return root


def _read_doc(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise CliError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None


def _object_fields(args: argparse.Namespace, group: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if getattr(args, "file", None):
        doc = _read_doc(args.file)
        if not isinstance(doc, dict):
            raise CliError(f"{args.file}: expected a mapping of fields")
        body.update(doc)
    if group == "sites" and args.host:
        body["hosts"] = args.host
    if group == "listeners" and args.listen:
        body["listen"] = args.listen
    for name in ("upstream", "mode"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    if args.ruleset:
        body["rulesets"] = args.ruleset
    return body


def run(args: argparse.Namespace, out: Any) -> int:
    api = Client(args.api_url, args.key)
    group, action = args.group, getattr(args, "action", None)
    result: Any = None
    listing: list[dict[str, Any]] | None = None
    if group == "tenants":
        path = "/v1/tenants" + (f"/{args.tenant}" if action != "list" else "")
        if action == "list":
            listing = api.call("GET", path)[0]["items"]
        elif action == "get":
            result = api.call("GET", path)[0]
        elif action == "create":
            result = api.call("POST", "/v1/tenants", {"id": args.tenant, **({"name": args.name} if args.name else {})})[0]
        else:
            api.delete(path)
    elif group == "vpcs":
        base = f"/v1/tenants/{args.tenant}/vpcs"
        if action == "list":
            listing = api.call("GET", base)[0]["items"]
        else:
            path = f"{base}/{args.vpc}"
            fields: dict[str, Any] = {}
            if action in ("create", "set"):
                firewall = {k: getattr(args, k) for k in ("waf", "ips", "av") if getattr(args, k) is not None}
                if firewall:
                    fields["firewall"] = firewall
                if args.retention_days is not None:
                    fields["auditing"] = {"retention_days": args.retention_days or None}
            if action == "get":
                result = api.call("GET", path)[0]
            elif action == "create":
                result = api.call("POST", base, {"id": args.vpc, **fields})[0]
            elif action == "set":
                result = api.update(path, fields)
            else:
                api.delete(path)
    elif group in ("sites", "listeners"):
        base = f"/v1/tenants/{args.tenant}/vpcs/{args.vpc}/{group}"
        if action == "list":
            listing = api.call("GET", base)[0]["items"]
        else:
            path = f"{base}/{args.name}"
            if action == "get":
                result = api.call("GET", path)[0]
            elif action == "create":
                result = api.call("POST", base, {"name": args.name, **_object_fields(args, group)})[0]
            elif action == "set":
                result = api.update(path, _object_fields(args, group))
            else:
                api.delete(path)
    elif group == "keys":
        if action == "list":
            path = f"/v1/tenants/{args.tenant}/keys" if args.tenant else "/v1/keys"
            listing = api.call("GET", path)[0]["items"]
        elif action == "create":
            body = {k: v for k, v in (("id", args.id), ("role", args.role), ("description", args.description))
                    if v is not None}
            if args.role in ("tenant-admin", "analyst") and args.tenant:
                result = api.call("POST", f"/v1/tenants/{args.tenant}/keys", body)[0]
            else:
                result = api.call("POST", "/v1/keys", {**body, **({"tenant": args.tenant} if args.tenant else {})})[0]
            if not args.json:
                print(f"key {result['id']} ({result['role']}) created; its secret is shown once:", file=out)
                print(result["secret"], file=out)
                return 0
        else:
            path = f"/v1/tenants/{args.tenant}/keys/{args.key_id}" if args.tenant else f"/v1/keys/{args.key_id}"
            api.call("DELETE", path)
    elif group == "config":
        if action == "export":
            doc, etag = api.call("GET", "/v1/config")
            text = json.dumps(doc, indent=2) + "\n" if args.json else (
                f"# secchain configuration version {etag.strip(chr(34)) if etag else '?'}; "
                "keys are stored as SHA-256 only\n" + yaml.safe_dump(doc, sort_keys=False))
            if args.output:
                args.output.write_text(text)
            else:
                out.write(text)
            return 0
        result = api.call("PUT", "/v1/config", _read_doc(args.file), etag="*")[0]
        if not args.json:
            print(f"imported {args.file} as configuration version {result['version']}", file=out)
            return 0
    elif group == "changes":
        path = f"/v1/tenants/{args.tenant}/changes" if args.tenant else "/v1/changes"
        params = [f"size={args.size}"] + [f"{k}={v}" for k, v in (("kind", args.kind), ("action", args.change_action))
                                          if v]
        listing = api.call("GET", path + "?" + "&".join(params))[0]["changes"]
    if args.json:
        json.dump(listing if listing is not None else result, out, indent=2)
        out.write("\n")
    elif listing is not None:
        print(table(listing, COLUMNS[group]), file=out)
    elif result is not None:
        print(table([result], COLUMNS[group]), file=out)
    else:
        print("done", file=out)
    return 0


def main(argv: list[str] | None = None, out: Any = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, out or sys.stdout)
    except CliError as exc:
        print(f"secchain {args.group}: {exc}", file=sys.stderr)
        return 1
