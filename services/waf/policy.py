"""Rule sets per site, built once and swapped whole on reload.

Sites name packs (``rulesets: [core]``); a pack is a folder under the rules root with a
``manifest.yaml`` (name, version, files). Sites that name the same packs share one compiled
:class:`RuleSet`. A reload builds every rule set aside; if any file fails to parse, nothing is
swapped and the previous rule sets keep serving (as Suricata keeps its old detection engine when a
reload fails), and the error names file:line:column.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.config.tenancy import Site, Tenancy

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


class PolicyStore:
    """Immutable snapshot of every site's compiled policy; ``reload`` swaps it in one assignment."""

    def __init__(self, rules_root: Path, cache_dir: Path | None = None) -> None:
        self.rules_root = rules_root
        self.cache_dir = cache_dir
        self._snapshot: dict[str, SitePolicy] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self.last_error: str | None = None

    def policy(self, site: Site) -> SitePolicy | None:
        return self._snapshot.get(site.name + "\0" + site.tenant_id)

    def build(self, tenancy: Tenancy) -> dict[str, SitePolicy]:
        from services.waf.engine import RuleSet, load_ruleset

        by_packs: dict[tuple[str, ...], tuple[Any, str]] = {}
        snapshot: dict[str, SitePolicy] = {}
        for site in tenancy.sites:
            key = site.rulesets
            if key not in by_packs:
                packs = [load_pack(self.rules_root, name) for name in key]
                paths = [p for pack in packs for p in pack.files]
                if paths:
                    ruleset = load_ruleset(paths, cache_dir=self.cache_dir)
                else:  # a site with no packs is a plain relay (still routed, limited and logged)
                    ruleset = RuleSet.from_text("", source="<no packs>", cache_dir=self.cache_dir)
                for notice in getattr(ruleset, "notices", ()):
                    log.info("rules notice: %s", notice)
                by_packs[key] = (ruleset, "+".join(p.label for p in packs))
            ruleset, label = by_packs[key]
            snapshot[site.name + "\0" + site.tenant_id] = SitePolicy(site, ruleset, label)
        return snapshot

    def reload(self, tenancy: Tenancy) -> None:
        """Build aside and swap; on any error keep the previous snapshot and re-raise."""
        with self._lock:
            try:
                snapshot = self.build(tenancy)
            except Exception as exc:
                self.last_error = str(exc)
                raise
            self._snapshot = snapshot
            self.generation += 1
            self.last_error = None
