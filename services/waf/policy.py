"""Rule sets per site, built once and swapped whole on reload.

Sites name packs (``rulesets: [core]``); a pack is a folder under the rules root with a
``manifest.yaml`` (name, version, files). Sites that name the same packs share one compiled
:class:`RuleSet`. A reload builds every rule set aside; if any file fails to parse, nothing is
swapped and the previous rule sets keep serving (as Suricata keeps its old detection engine when a
reload fails), and the error names file:line:column.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.config.tenancy import CrsSettings, Exclusion, Site, Tenancy

log = logging.getLogger("secchain.waf.policy")


class PackError(ValueError):
    """A pack named by a site is missing or its manifest is invalid."""


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    version: str
    files: tuple[Path, ...]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def load_pack(rules_root: Path, name: str) -> Pack:
    folder = rules_root / name
    manifest = folder / "manifest.yaml"
    try:
        data = yaml.safe_load(manifest.read_text())
    except OSError as exc:
        raise PackError(f"{manifest}: cannot read pack manifest: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PackError(f"{manifest}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PackError(f"{manifest}: expected a mapping with name, version and files")
    version = str(data.get("version", "0"))
    files = data.get("files")
    if files is None:
        paths = sorted(folder.glob("*.conf"))
    elif isinstance(files, list) and all(isinstance(f, str) for f in files):
        paths = [folder / f for f in files]
    else:
        raise PackError(f"{manifest}: files: expected a list of file names")
    if not paths:
        raise PackError(f"{manifest}: the pack has no rule files")
    return Pack(name=str(data.get("name", name)), version=version, files=tuple(paths))


@dataclass(frozen=True, slots=True)
class SitePolicy:
    site: Site
    ruleset: Any  # services.waf.engine.RuleSet (immutable)
    ruleset_label: str
    # ``shadow: core@1.3.0``: the site's rule sets with that pack version in place of the active
    # one, evaluated after the response without acting (services.packs.shadow)
    shadow: Any = None
    shadow_label: str | None = None


def shadow_rulesets(rulesets: tuple[str, ...], candidate: str) -> tuple[str, ...]:
    """The site's packs with the candidate in place of the same pack (appended if absent)."""
    name = candidate.partition("@")[0]
    if any(r.partition("@")[0] == name for r in rulesets):
        return tuple(candidate if r.partition("@")[0] == name else r for r in rulesets)
    return (*rulesets, candidate)


def fetch_bundle(bundles_dir: Path, ref: str, control_url: str, key: str) -> None:
    """Fetch a published version's bundle from the control plane into ``bundles_dir`` (by hash).

    A WAF on another machine than the control plane has no shared bundles folder: it asks the
    registry which hash the version was published with, downloads that bundle, and keeps it only
    if its files hash to that name (shared.packs.publish.unpack_archive), then indexes it.
    """
    import base64
    import json
    import urllib.error
    import urllib.request

    from shared.packs.bundle import write_index
    from shared.packs.publish import unpack_archive

    name, _, version = ref.partition("@")

    def get(path: str) -> dict[str, Any]:
        req = urllib.request.Request(control_url.rstrip("/") + path, headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise PackError(f"waf pack {ref}: the control plane answered HTTP {exc.code} to {path}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PackError(f"waf pack {ref}: cannot fetch {path} from {control_url}: {exc}") from None

    sha = get(f"/v1/packs/waf/{name}/versions/{version}")["sha256"]
    archive = get(f"/v1/packs/bundles/{sha}")["archive"]
    unpack_archive(base64.b64decode(archive), bundles_dir, sha)
    write_index(bundles_dir, "waf", name, version, sha)
    log.info("fetched bundle %s of waf pack %s from the control plane", sha[:12], ref)


def load_pinned_pack(bundles_dir: Path, ref: str, cache_dir: Path | None,
                     source: tuple[str, str] | None = None) -> Pack:
    """``core@1.2.0``: the published bundle's rule files, its compiled databases seeded into the cache.

    The bundle is found by the hash its version was published with and re-hashed before use
    (shared.packs.bundle); copying its Hyperscan databases into the matching cache makes the load
    a cache hit instead of a compile, which is what lets a re-pin take effect in well under 2 s.
    """
    from shared.packs.bundle import BundleError, resolve_pin

    from shared.packs.bundle import index_path

    name, _, version = ref.partition("@")
    if source is not None and not index_path(bundles_dir, "waf", name, version).exists():
        try:
            fetch_bundle(bundles_dir, ref, *source)
        except BundleError as exc:
            raise PackError(f"waf pack {ref}: {exc}") from exc
    try:
        bundle = resolve_pin(bundles_dir, "waf", ref)
    except BundleError as exc:
        raise PackError(str(exc)) from exc
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for db in bundle.hsdb_dir.glob("*.hsdb"):
            dest = cache_dir / db.name
            if not dest.exists():
                tmp = dest.with_name(f".{db.name}.{os.getpid()}.tmp")
                tmp.write_bytes(db.read_bytes())
                tmp.replace(dest)
    return Pack(name=bundle.meta["name"], version=bundle.meta["version"], files=tuple(bundle.rule_files()))


CRS_PACK = "crs"
DEFAULT_CRS_ROOT = Path("/usr/share/modsecurity-crs")
DEFAULT_CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")

# The host engine settings CRS expects (ModSecurity's recommended base configuration); shared with
# `secchain rules import`, which writes them beside an imported CRS pack.
CRS_HOST_SETTINGS = """\
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml application/json
SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\\+|/)|text/)xml" \\
    "id:1190001,phase:1,pass,nolog,t:none,t:lowercase,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.+-]+\\+)?json" \\
    "id:1190002,phase:1,pass,nolog,t:none,t:lowercase,ctl:requestBodyProcessor=JSON"
"""

# The per-site prelude: the host settings, then the site's CRS variables. CRS's REQUEST-901 only sets
# a tx variable that is still unset, so values set here win over its defaults; crs-setup.conf itself
# is loaded unmodified right after.
_CRS_PRELUDE = (
    "# Generated by secchain for one site's managed CRS settings; not part of CRS.\n"
    + CRS_HOST_SETTINGS.replace("{", "{{").replace("}", "}}")
    + """\
SecAction "id:1190010,phase:1,pass,nolog,t:none,\\
    setvar:tx.paranoia_level={pl},\\
    setvar:tx.inbound_anomaly_score_threshold={inbound},\\
    setvar:tx.outbound_anomaly_score_threshold={outbound}"
"""
)


def crs_files(settings: CrsSettings, *, crs_root: Path, crs_setup: Path, work_dir: Path) -> list[Path]:
    """The files of a CRS installation in ModSecurity's load order, after a generated prelude.

    Order as Debian's owasp-crs.load: crs-setup.conf, REQUEST-900 exclusions (in /etc beside the
    setup when present), rules/*.conf, RESPONSE-999 exclusions.
    """
    rules_dir = crs_root / "rules"
    if not crs_setup.is_file() or not rules_dir.is_dir():
        raise PackError(f"CRS not found: need {crs_setup} and {rules_dir}/*.conf (Debian package modsecurity-crs)")
    text = _CRS_PRELUDE.format(pl=settings.paranoia_level, inbound=settings.inbound_threshold,
                               outbound=settings.outbound_threshold)
    files = [_generated(work_dir, "crs-prelude", text), crs_setup]
    before = crs_setup.parent / "REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
    after = crs_setup.parent / "RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    if before.is_file():
        files.append(before)
    files += sorted(p for p in rules_dir.glob("*.conf") if p.name not in (before.name, after.name))
    if after.is_file():
        files.append(after)
    return files


EXCLUSION_ID_BASE = 1191000


def exclusion_text(exclusions: tuple[Exclusion, ...]) -> tuple[str, str]:
    """SecLang for a site's exclusions: (before every pack, after every pack).

    Path-scoped ones become phase-1 rules with ctl: actions that must run before the packs' own
    phase-1 rules (so they go first); unconditional ones are configure-time directives that act on
    rules already defined (so they go last), as in CRS's RESPONSE-999 exclusion file.
    """
    before, after = [], []
    for i, e in enumerate(exclusions):
        what = str(e.rule_id) if e.rule_id is not None else e.tag
        if e.path is not None:
            if e.target is None:
                ctl = f"ruleRemoveById={what}" if e.rule_id is not None else f"ruleRemoveByTag={what}"
            else:
                ctl = (f"ruleRemoveTargetById={what};{e.target}" if e.rule_id is not None
                       else f"ruleRemoveTargetByTag={what};{e.target}")
            before.append(f'SecRule REQUEST_FILENAME "@beginsWith {e.path}" '
                          f'"id:{EXCLUSION_ID_BASE + i},phase:1,pass,nolog,t:none,ctl:{ctl}"')
        elif e.target is None:
            after.append(f"SecRuleRemoveById {what}" if e.rule_id is not None else f'SecRuleRemoveByTag "{what}"')
        else:
            after.append(f'SecRuleUpdateTargetById {what} "!{e.target}"' if e.rule_id is not None
                         else f'SecRuleUpdateTargetByTag "{what}" "!{e.target}"')
    head = "# Generated by secchain from the site's exclusions; not part of any pack.\n"
    return (head + "\n".join(before) + "\n" if before else "", head + "\n".join(after) + "\n" if after else "")


IP_LIST_DENY_ID, IP_LIST_ALLOW_ID = 1192001, 1192002


def ip_list_text(allow: tuple[str, ...], deny: tuple[str, ...]) -> str:
    """A site's IP allow and deny lists as the first phase-1 rules of its rule set.

    Written as rules rather than checked in the proxy so a listed address is logged and alerted
    like any rule match, and so detect mode only reports it (as AWS WAF's count action does).
    The networks were canonicalised by the tenancy parser, so nothing else reaches the SecLang.
    """
    rules = []
    if deny:
        rules.append(f'SecRule REMOTE_ADDR "@ipMatch {",".join(deny)}" "id:{IP_LIST_DENY_ID},phase:1,deny,status:403,'
                     "log,msg:'Source address on the site deny list',tag:'secchain/ip-deny',severity:'WARNING'\"")
    if allow:
        rules.append(f'SecRule REMOTE_ADDR "!@ipMatch {",".join(allow)}" "id:{IP_LIST_ALLOW_ID},phase:1,deny,status:403,'
                     "log,msg:'Source address not on the site allow list',tag:'secchain/ip-allow',severity:'WARNING'\"")
    if not rules:
        return ""
    return "# Generated by secchain from the site's IP allow and deny lists; not part of any pack.\n" + "\n".join(rules) + "\n"


def _file_stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)  # missing: the build reports it
    return (str(path), st.st_mtime_ns, st.st_size)


def _generated(work_dir: Path, stem: str, text: str) -> Path:
    """A generated rule file, content-addressed so concurrent workers write the same bytes."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.conf"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


class PolicyStore:
    """Immutable snapshot of every site's compiled policy; ``reload`` swaps it in one assignment."""

    def __init__(self, rules_root: Path, cache_dir: Path | None = None, *,
                 crs_root: Path = DEFAULT_CRS_ROOT, crs_setup: Path = DEFAULT_CRS_SETUP,
                 bundles_dir: Path | None = None) -> None:
        self.rules_root = rules_root
        # published pack versions (core@1.2.0), see shared.packs.bundle
        self.bundles_dir = bundles_dir or Path(os.environ.get("SECCHAIN_BUNDLES_DIR", "var/bundles"))
        # (control-plane URL, data-plane key): where pinned bundles missing here are fetched from
        self.bundle_source: tuple[str, str] | None = None
        self.cache_dir = cache_dir
        self.crs_root = crs_root
        self.crs_setup = crs_setup
        self._snapshot: dict[str, SitePolicy] = {}
        # Rule sets of the last successful build by (policy key, fingerprint of every rule file):
        # a control-plane change that leaves a site's rules as they were (a mode switch, another
        # site's change) reuses its compiled rule set instead of rebuilding it, so the change is
        # live in milliseconds; a rule file edited on disk changes the fingerprint and rebuilds.
        self._built: dict[tuple[Any, ...], tuple[Any, str]] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self.last_error: str | None = None

    def policy(self, site: Site) -> SitePolicy | None:
        return self._snapshot.get(site.name + "\0" + site.tenant_id)

    def build(self, tenancy: Tenancy) -> dict[str, SitePolicy]:
        snapshot, _ = self._build(tenancy)
        return snapshot

    def _build(self, tenancy: Tenancy) -> tuple[dict[str, SitePolicy], dict[tuple[Any, ...], tuple[Any, str]]]:
        by_packs: dict[tuple[Any, ...], tuple[Any, str]] = {}
        built: dict[tuple[Any, ...], tuple[Any, str]] = {}
        snapshot: dict[str, SitePolicy] = {}
        for site in tenancy.sites:
            ruleset, label = self._ruleset_for(site.rulesets, site, by_packs, built)
            shadow, shadow_label = None, None
            if site.shadow:
                try:
                    shadow, shadow_label = self._ruleset_for(shadow_rulesets(site.rulesets, site.shadow), site,
                                                             by_packs, built)
                except Exception as exc:  # noqa: BLE001 - a broken candidate must not stop the active rules
                    log.error("site %s: shadow %s not loaded, the site runs without it: %s", site.name, site.shadow, exc)
            snapshot[site.name + "\0" + site.tenant_id] = SitePolicy(site, ruleset, label, shadow, shadow_label)
        return snapshot, built

    def _ruleset_for(self, rulesets: tuple[str, ...], site: Site, by_packs: dict[tuple[Any, ...], tuple[Any, str]],
                     built: dict[tuple[Any, ...], tuple[Any, str]]) -> tuple[Any, str]:
        from services.waf.engine import RuleSet, load_ruleset

        key = (rulesets, site.crs, site.exclusions, site.ip_allow, site.ip_deny)
        if key in by_packs:
            return by_packs[key]
        work_dir = (self.cache_dir or Path("var/cache")) / "generated"
        paths: list[Path] = []
        crs_paths: list[Path] = []
        labels: list[str] = []
        before, after = exclusion_text(site.exclusions)
        for name in rulesets:
            if name == CRS_PACK:
                assert site.crs is not None
                crs_paths = crs_files(site.crs, crs_root=self.crs_root, crs_setup=self.crs_setup,
                                      work_dir=work_dir)
                paths += crs_paths
                labels.append(f"crs@{self._crs_version()}/pl{site.crs.paranoia_level}")
            else:
                pack = (load_pinned_pack(self.bundles_dir, name, self.cache_dir, self.bundle_source)
                        if "@" in name else load_pack(self.rules_root, name))
                paths += pack.files
                labels.append(pack.label)
        if paths and before:
            paths.insert(0, _generated(work_dir, "exclusions-before", before))
        if paths and after:
            paths.append(_generated(work_dir, "exclusions-after", after))
        ip_rules = ip_list_text(site.ip_allow, site.ip_deny)
        if ip_rules:
            paths.insert(0, _generated(work_dir, "ip-lists", ip_rules))
        fingerprint = (key, tuple(_file_stamp(p) for p in paths))
        if fingerprint in self._built:
            by_packs[key] = built[fingerprint] = self._built[fingerprint]
            return by_packs[key]
        if paths:
            # CRS is written for ModSecurity v2's reading of backslashes in quoted
            # arguments; our own packs use libmodsecurity v3's.
            ruleset = load_ruleset(paths, cache_dir=self.cache_dir, apache_escapes=crs_paths)
        else:  # a site with no packs is a plain relay (still routed, limited and logged)
            ruleset = RuleSet.from_text("", source="<no packs>", cache_dir=self.cache_dir)
        for notice in getattr(ruleset, "notices", ()):
            log.info("rules notice: %s", notice)
        by_packs[key] = built[fingerprint] = (ruleset, "+".join(labels))
        return by_packs[key]

    def _crs_version(self) -> str:
        # crs-setup.conf declares its version in SecAction 900990 (tx.crs_setup_version=334).
        try:
            text = self.crs_setup.read_text(errors="replace")
        except OSError:
            return "unknown"
        import re

        m = re.search(r"tx\.crs_setup_version=(\d)(\d)(\d+)", text)
        return f"{m.group(1)}.{m.group(2)}.{m.group(3)}" if m else "unknown"

    def reload(self, tenancy: Tenancy) -> None:
        """Build aside and swap; on any error keep the previous snapshot and re-raise."""
        with self._lock:
            try:
                snapshot, built = self._build(tenancy)
            except Exception as exc:
                self.last_error = str(exc)
                raise
            self._snapshot, self._built = snapshot, built
            self.generation += 1
            self.last_error = None
