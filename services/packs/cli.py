"""``secchain rules ...``: the rule maintainer's commands, from edit to rollback.

    secchain rules lint rules/waf/core
    secchain rules test rules/waf/core
    secchain rules compile rules/waf/core
    secchain rules publish rules/waf/core --changelog "..." --api http://127.0.0.1:8000
    secchain rules versions waf/core --api ...
    secchain rules shadow  --site demo/vpc-demo/demo-site core@1.3.0 --api ...
    secchain rules diff-report --site demo-site --since 1h
    secchain rules diff-report --listener demo-tcp --since 1h
    secchain rules promote --site demo/vpc-demo/demo-site --api ...
    secchain rules rollback --site demo/vpc-demo/demo-site --api ...

Policy changes (shadow, promote, rollback) go through the control plane's site API with If-Match,
so they are authorised, logged in the change log and distributed to every WAF like any other
policy change. Exit status: 0 success, 1 a gate failed (lint errors, failing cases, refused), 2
usage or connection errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_ENV = "SECCHAIN_API_KEY"


class CliError(Exception):
    """Exit 2 with this message."""


# -- local commands ---------------------------------------------------------------------------------

def _pack(spec: str, rules_root: Path) -> Path:
    from shared.packs.manifest import find_pack

    try:
        return find_pack(spec, rules_root)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def cmd_lint(args: argparse.Namespace) -> int:
    from shared.packs.diagnostics import has_errors, summary
    from shared.packs.lint import lint_pack, lint_summary

    folder = _pack(args.pack, args.rules_root)
    manifest, found = lint_pack(folder, cache_dir=args.cache_dir)
    shown = [d for d in found if (args.notes or d.severity != "info") and d.code != "summary"]
    for d in shown:
        print(d)
    label = manifest.label if manifest else str(folder)
    for line in lint_summary(manifest, found) if manifest else []:
        print(f"{label}: {line}")
    print(f"{label}: {summary(found)}")
    return 1 if has_errors(found) or (args.strict and any(d.severity == "warning" for d in found)) else 0


def cmd_test(args: argparse.Namespace) -> int:
    from shared.packs.manifest import ManifestError, load_manifest
    from shared.packs.testing import test_pack

    try:
        manifest = load_manifest(_pack(args.pack, args.rules_root))
    except ManifestError as exc:
        print(exc)
        return 1
    report = test_pack(manifest, cache_dir=args.cache_dir, clamd=_clamd(args))
    print(report.render(verbose=args.verbose))
    return 0 if report.ok else 1


def _clamd(args: argparse.Namespace) -> tuple[str, int] | None:
    if args.clamd == "off":
        return None
    host, _, port = args.clamd.rpartition(":")
    if not host or not port.isdigit():
        raise CliError(f"--clamd: expected HOST:PORT or off, got {args.clamd!r}")
    return host, int(port)


def cmd_import(args: argparse.Namespace) -> int:
    from shared.packs.importer import PackImportError, import_pack

    try:
        done = import_pack(args.kind, args.source, args.name, args.version, args.into, force=args.force)
    except PackImportError as exc:
        raise CliError(str(exc)) from None
    print(f"imported {args.kind}/{args.name}@{args.version} from {args.source}: {len(done.files)} rule files "
          f"({done.copied} files copied) into {done.folder}")
    print(f"next: secchain rules lint {done.folder}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from shared.packs.bundle import compile_bundle
    from shared.packs.manifest import ManifestError, load_manifest

    try:
        manifest = load_manifest(_pack(args.pack, args.rules_root))
    except ManifestError as exc:
        print(exc)
        return 1
    started = time.monotonic()
    try:
        bundle = compile_bundle(manifest, args.bundles_dir)
    except Exception as exc:  # noqa: BLE001 - reported with the engine's own file:line:column text
        print(f"{manifest.label}: compile failed: {exc}")
        return 1
    _print_bundle(bundle, time.monotonic() - started)
    return 0


def _print_bundle(bundle: Any, seconds: float) -> None:
    meta = bundle.meta
    paths = ", ".join(f"{n} {p}" for p, n in sorted(meta.get("paths", {}).items()))
    print(f"{bundle.label} ({meta['kind']}) compiled in {seconds:.1f} s")
    print(f"  bundle   {bundle.root}")
    print(f"  sha256   {bundle.sha256}")
    extra = f", {len(meta.get('databases', []))} Hyperscan databases" if meta.get("databases") else ""
    if "rules" in meta:
        extra += f", {meta['rules']} rules"
    if "clamav_signatures" in meta:
        extra += f", {meta['clamav_signatures']} ClamAV signatures, {meta['yara_rules']} YARA rules"
    print(f"  contents {len(meta['files'])} files{extra}" + (f"; regex paths: {paths}" if paths else ""))


def cmd_publish(args: argparse.Namespace) -> int:
    from shared.packs.diagnostics import summary
    from shared.packs.publish import archive_b64, publish_local, run_gates

    folder = _pack(args.pack, args.rules_root)
    result = run_gates(folder, args.bundles_dir, cache_dir=args.cache_dir, clamd=_clamd(args))
    label = result.manifest.label if result.manifest else str(folder)
    print(f"lint     {summary(result.diagnostics)}")
    for d in result.diagnostics:
        if d.severity == "error":
            print(f"  {d}")
    if result.tests is not None:
        print(f"test     {result.tests.passed} passed, {result.tests.failed} failed")
        for note in result.tests.notes:
            print(f"  note: {note}")
        if not result.tests.ok:
            print("\n".join("  " + line for line in result.tests.render().splitlines() if line.startswith(("FAIL", "ERROR"))))
    if result.bundle is not None:
        print(f"compile  {result.bundle.sha256}")
    if result.failure:
        print(f"publish  refused: {label}: {result.failure}")
        return 1
    m, bundle = result.manifest, result.bundle
    assert m is not None and bundle is not None
    if args.api:
        body = {"version": m.version, "sha256": bundle.sha256, "changelog": args.changelog, "bundle": archive_b64(bundle)}
        status, answer = _call(args, "POST", f"/v1/packs/{m.kind}/{m.name}/versions", body, ok=(200, 201, 409))
        if status == 409:
            print(f"publish  refused: {answer['error']['message']}")
            return 1
        record, created = answer, status == 201
    else:
        from shared.control.errors import Conflict
        from shared.packs.registry import PackRegistry

        try:
            registry = PackRegistry.from_url(args.control_db)
            rec, created = publish_local(result, registry, args.bundles_dir, changelog=args.changelog,
                                         actor_key=args.actor, actor_role="rule-maintainer")
        except Conflict as exc:
            print(f"publish  refused: {exc}")
            return 1
        record = rec.to_dict()
    verb = "published" if created else "already published (same bundle)"
    print(f"publish  {m.kind}/{label} {verb} by {record['published_by']} at {record['published_at']}")
    return 0


# -- control-plane commands -------------------------------------------------------------------------

def _key(args: argparse.Namespace) -> str:
    if args.key_file:
        return Path(args.key_file).read_text().strip()
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise CliError(f"an API key is needed: --key-file FILE or ${KEY_ENV}")
    return key


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
          ok: tuple[int, ...] = (200, 201)) -> tuple[int, Any]:
    if not args.api:
        raise CliError("this command talks to the control plane: give --api URL (e.g. http://127.0.0.1:8000)")
    data = None if body is None else json.dumps(body).encode()
    h = {"Authorization": f"Bearer {_key(args)}", **(headers or {})}
    if data is not None:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(args.api.rstrip("/") + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            status, raw, etag = resp.status, resp.read(), resp.headers.get("ETag")
    except urllib.error.HTTPError as exc:
        status, raw, etag = exc.code, exc.read(), exc.headers.get("ETag")
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"control plane {args.api} unreachable: {exc}") from None
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"error": {"message": raw[:300].decode(errors="replace")}}
    if status not in ok:
        message = answer.get("error", {}).get("message", "") if isinstance(answer, dict) else ""
        raise CliError(f"{method} {path}: HTTP {status}: {message}")
    if isinstance(answer, dict) and etag:
        answer["_etag"] = etag
    return status, answer


def _site_path(spec: str) -> str:
    parts = spec.split("/")
    if len(parts) != 3 or not all(parts):
        raise CliError(f"--site: expected TENANT/VPC/SITE such as demo/vpc-demo/demo-site, got {spec!r}")
    return f"/v1/tenants/{parts[0]}/vpcs/{parts[1]}/sites/{parts[2]}"


def _patch_site(args: argparse.Namespace, change: Any) -> dict[str, Any]:
    path = _site_path(args.site)
    _, site = _call(args, "GET", path)
    patch = change(site)
    _, updated = _call(args, "PATCH", path, patch, headers={"If-Match": site["_etag"]})
    return updated


def _pin_of(site: dict[str, Any], name: str) -> str | None:
    for ref in site.get("rulesets", []):
        if ref.partition("@")[0] == name:
            return ref
    return None


def _await_dataplane(args: argparse.Namespace, started: float) -> None:
    """Wait until every WAF instance reports the new configuration version (the 2 s promise)."""
    if args.no_wait:
        return
    try:
        _, status = _call(args, "GET", "/v1/dataplane/status")
    except CliError:
        return  # a rule-maintainer key may not read data-plane status; the change is committed
    target = status["version"]
    deadline = time.monotonic() + args.wait
    while True:
        waf = [i for i in status["instances"] if i["service"] == "waf"]
        behind = [i for i in waf if i["version"] < target]
        failed = [i for i in waf if i["version"] >= target and not i["ok"]]
        if failed:
            raise CliError(f"WAF {failed[0]['instance']} rejected configuration v{target}: {failed[0].get('error')}")
        if not waf:
            print(f"configuration v{target} committed; no WAF instance reports to this control plane")
            return
        if not behind:
            print(f"live on {len(waf)} WAF instance(s) after {time.monotonic() - started:.2f} s (configuration v{target})")
            return
        if time.monotonic() > deadline:
            print(f"configuration v{target} committed; {len(behind)} WAF instance(s) not yet on it")
            return
        time.sleep(0.1)
        _, status = _call(args, "GET", "/v1/dataplane/status")


def cmd_shadow(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.candidate == "off":
        updated = _patch_site(args, lambda site: {"shadow": None})
        print(f"site {args.site}: shadow off; active {', '.join(updated['rulesets'])}")
    else:
        updated = _patch_site(args, lambda site: {"shadow": args.candidate})
        print(f"site {args.site}: shadowing {updated['shadow']} beside {', '.join(updated['rulesets'])}")
    _await_dataplane(args, started)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    started = time.monotonic()
    chosen: dict[str, str] = {}

    def change(site: dict[str, Any]) -> dict[str, Any]:
        pin = args.pin or site.get("shadow")
        if not pin or "@" not in pin:
            raise CliError(f"site {args.site} has no shadow version to promote; name one: promote --site S core@1.3.0")
        name = pin.partition("@")[0]
        chosen["from"], chosen["to"] = _pin_of(site, name) or "(none)", pin
        rulesets = [pin if r.partition("@")[0] == name else r for r in site.get("rulesets", [])]
        if pin not in rulesets:
            rulesets.append(pin)
        patch: dict[str, Any] = {"rulesets": rulesets}
        if site.get("shadow", "").partition("@")[0] == name:
            patch["shadow"] = None
        return patch

    updated = _patch_site(args, change)
    print(f"site {args.site}: promoted {chosen['to']} (was {chosen['from']}); rulesets {', '.join(updated['rulesets'])}")
    _await_dataplane(args, started)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    started = time.monotonic()
    chosen: dict[str, str] = {}

    def change(site: dict[str, Any]) -> dict[str, Any]:
        pins = [r for r in site.get("rulesets", []) if "@" in r and (args.pack is None or r.partition("@")[0] == args.pack)]
        if len(pins) != 1:
            raise CliError(f"site {args.site} pins {pins or 'no pack version'}; name the pack with --pack")
        name, _, current = pins[0].partition("@")
        target = args.to
        if target is None:
            from shared.packs.manifest import version_key

            _, listing = _call(args, "GET", f"/v1/packs/waf/{name}/versions")
            lower = [v["version"] for v in listing["items"] if version_key(v["version"]) < version_key(current)]
            if not lower:
                raise CliError(f"no published version of {name} below {current} to roll back to")
            target = lower[-1]
        chosen["from"], chosen["to"] = pins[0], f"{name}@{target}"
        return {"rulesets": [chosen["to"] if r == pins[0] else r for r in site["rulesets"]]}

    _patch_site(args, change)
    print(f"site {args.site}: rolled back {chosen['from']} -> {chosen['to']}")
    _await_dataplane(args, started)
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    kind, _, name = args.pack.partition("/")
    if not name:
        kind, name = "waf", kind
    if args.api:
        _, listing = _call(args, "GET", f"/v1/packs/{kind}/{name}/versions")
        items = listing["items"]
    else:
        from shared.packs.registry import PackRegistry

        items = [v.to_dict() for v in PackRegistry.from_url(args.control_db).versions(kind, name)]
    if not items:
        print(f"no published versions of {kind}/{name}")
    for v in items:
        first = v["changelog"].strip().splitlines()[0] if v["changelog"].strip() else ""
        print(f"{v['name']}@{v['version']:<10} {v['sha256'][:12]}  {v['published_at']}  {v['published_by']:<16} {first}")
    return 0


def cmd_diff_report(args: argparse.Namespace) -> int:
    from services.packs.shadow import diff_report, parse_window

    try:
        window = parse_window(args.since)
    except ValueError as exc:
        raise CliError(f"--since: {exc}") from None
    name, what = (args.site, "site") if args.site else (args.listener, "listener")
    db = args.shadow_db or Path("var/shadow/waf.db" if what == "site" else "var/shadow/ips.db")
    if not db.exists():
        writer = "the WAF writes them" if what == "site" else "the IPS writes them, $SECCHAIN_IPS_SHADOW_DB"
        raise CliError(f"{db}: no shadow results yet ({writer}; --shadow-db names another file)")
    report = diff_report(db, name, time.time() - window, tenant=args.tenant)
    if args.json:
        print(json.dumps({what: report.site, "evaluated": report.evaluated, "differed": report.differed,
                          "dropped": report.dropped, "pairs": report.pairs,
                          "rules": [{"rule_id": r.rule_id, "candidate_only": r.candidate_only,
                                     "active_only": r.active_only} for r in report.rules]}, indent=2))
    else:
        print(report.render(args.since, what=what, unit="requests" if what == "site" else "flows"))
    return 0


# -- parser -----------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain rules", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def local(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("pack", help="a pack folder (rules/waf/core) or KIND/NAME under --rules-root")
        sp.add_argument("--rules-root", type=Path, default=REPO_ROOT / "rules")
        sp.add_argument("--cache-dir", type=Path, default=Path("var/cache/matching"))
        return sp

    def remote(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--api", default=os.environ.get("SECCHAIN_API_URL"),
                        help="control-plane URL, e.g. http://127.0.0.1:8000 (or $SECCHAIN_API_URL)")
        sp.add_argument("--key-file", help=f"the API key (or ${KEY_ENV})")

    def policy(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--site", required=True, help="TENANT/VPC/SITE, e.g. demo/vpc-demo/demo-site")
        remote(sp)
        sp.add_argument("--wait", type=float, default=10.0, help="seconds to wait for every WAF to apply it")
        sp.add_argument("--no-wait", action="store_true")

    def clamd(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--clamd", default=os.environ.get("SECCHAIN_CLAMD", "127.0.0.1:3310"),
                        help="AV packs: also scan the samples with this running clamd when it answers "
                             "(HOST:PORT, or off; default $SECCHAIN_CLAMD or 127.0.0.1:3310)")

    sp = local("lint", "parse every file; errors and warnings with file:line:column")
    sp.add_argument("--notes", action="store_true", help="also print notes (the regex path of every pattern Hyperscan rejects)")
    sp.add_argument("--strict", action="store_true", help="warnings fail too")
    sp.set_defaults(func=cmd_lint)
    sp = local("test", "run the pack's test cases through the real engine")
    sp.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    clamd(sp)
    sp.set_defaults(func=cmd_test)
    sp = local("compile", "build the content-addressed bundle")
    sp.add_argument("--bundles-dir", type=Path, default=Path("var/bundles"))
    sp.set_defaults(func=cmd_compile)
    sp = local("publish", "lint + test + compile, then record the version in the registry")
    sp.add_argument("--changelog", required=True, help="what changed in this version")
    clamd(sp)
    sp.add_argument("--bundles-dir", type=Path, default=Path("var/bundles"))
    sp.add_argument("--control-db", default="sqlite:///var/control.db",
                    help="without --api: the control-plane database to record the version in")
    sp.add_argument("--actor", default=os.environ.get("USER", "local-maintainer"),
                    help="without --api: who publishes (recorded in the registry)")
    remote(sp)
    sp.set_defaults(func=cmd_publish)
    sp = sub.add_parser("import", help="make a pack from OWASP CRS or a Suricata rules folder (ET Open)")
    sp.add_argument("--kind", required=True, choices=("waf", "ips"))
    sp.add_argument("--from", dest="source", type=Path, required=True,
                    help="e.g. /usr/share/modsecurity-crs or an ET Open rules folder")
    sp.add_argument("--name", required=True)
    sp.add_argument("--version", required=True, help="the pack version, e.g. the upstream release 4.0.0")
    sp.add_argument("--into", type=Path, default=Path("var/packs"),
                    help="packs folder outside the repository (default var/packs, ignored by git)")
    sp.add_argument("--force", action="store_true", help="replace an earlier import of the same name")
    sp.set_defaults(func=cmd_import)
    sp = sub.add_parser("versions", help="published versions of a pack")
    sp.add_argument("pack", help="KIND/NAME, e.g. waf/core")
    sp.add_argument("--control-db", default="sqlite:///var/control.db")
    remote(sp)
    sp.set_defaults(func=cmd_versions)
    sp = sub.add_parser("shadow", help="run a published version beside a site's active packs without acting")
    sp.add_argument("candidate", help="e.g. core@1.3.0, or 'off'")
    policy(sp)
    sp.set_defaults(func=cmd_shadow)
    sp = sub.add_parser("promote", help="pin the shadowed version (or the one named) as the site's active pack")
    sp.add_argument("pin", nargs="?", help="default: the site's shadow version")
    policy(sp)
    sp.set_defaults(func=cmd_promote)
    sp = sub.add_parser("rollback", help="re-pin the previous published version of a site's pack")
    sp.add_argument("--pack", help="which pinned pack (when the site pins several)")
    sp.add_argument("--to", help="the version to pin (default: the highest published below the current one)")
    policy(sp)
    sp.set_defaults(func=cmd_rollback)
    sp = sub.add_parser("diff-report", help="shadow differences by rule over a time window")
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("--site", help="a WAF site's name")
    which.add_argument("--listener", help="an IPS listener's name")
    sp.add_argument("--tenant", help="only this tenant's site or listener of that name")
    sp.add_argument("--since", default="1h", help="window: 15m, 1h, 7d ...")
    sp.add_argument("--shadow-db", type=Path, default=None,
                    help="default var/shadow/waf.db (sites) or var/shadow/ips.db (listeners)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_diff_report)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"secchain rules: {exc}", file=sys.stderr)
        return 2
