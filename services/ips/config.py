"""IPS rule packs and the detection engines built from them, swapped whole on reload.

A pack is a folder under ``rules/ips/`` with a ``manifest.yaml``::

    name: core
    kind: ips
    version: 0.1.0
    description: our own signatures
    files: [http.rules, dns.rules]          # default: every *.rules file, sorted
    classification: classification.config   # optional

Listeners that name the same packs and the same rule variables share one engine. A reload builds
every engine aside and swaps the whole table in one assignment (Suricata's detect-engine reload);
flows already open keep the detector, hence the engine, they started with. When a build fails the
previous table keeps serving and the error is reported. A rule that does not parse never fails a
build: it is counted and reported (as Suricata does unless ``engine.init-failure-fatal``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.config.tenancy import IpsListener

log = logging.getLogger("secchain.ips")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES_ROOT = REPO_ROOT / "rules" / "ips"


class PackError(ValueError):
    """A pack is missing or its manifest is invalid; the message names the file."""


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    version: str
    files: tuple[Path, ...]
    classification: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def load_pack(root: Path, name: str) -> Pack:
    folder = root / name
    if not folder.is_dir():
        raise PackError(f"{folder}: no such IPS rule pack")
    manifest = folder / "manifest.yaml"
    doc: dict[str, Any] = {}
    if manifest.exists():
        try:
            doc = yaml.safe_load(manifest.read_text()) or {}
        except yaml.YAMLError as exc:
            raise PackError(f"{manifest}: invalid YAML: {exc}") from exc
        if not isinstance(doc, dict):
            raise PackError(f"{manifest}: expected a mapping")
        if doc.get("kind", "ips") != "ips":
            raise PackError(f"{manifest}: kind: expected ips, got {doc.get('kind')!r}")
    files_doc = doc.get("files")
    if files_doc is None:
        files = tuple(sorted(folder.glob("*.rules")))
    else:
        if not isinstance(files_doc, list) or not all(isinstance(f, str) for f in files_doc):
            raise PackError(f"{manifest}: files: expected a list of file names")
        files = tuple(folder / f for f in files_doc)
        for f in files:
            if not f.is_file():
                raise PackError(f"{manifest}: files: {f.name} does not exist")
    classification = doc.get("classification")
    cls_path = folder / classification if isinstance(classification, str) else None
    if cls_path is None and (folder / "classification.config").is_file():
        cls_path = folder / "classification.config"
    return Pack(name=str(doc.get("name", name)), version=str(doc.get("version", "0")), files=files,
                classification=cls_path)


@dataclass(frozen=True, slots=True)
class EngineKey:
    """What makes two listeners' engines identical: the packs (in order), the rule variables and
    the shadow candidate (``core@1.1.0``) inspecting beside them."""

    rulesets: tuple[str, ...]
    variables: tuple[tuple[str, str], ...] = ()
    shadow: str | None = None

    @classmethod
    def of(cls, listener: IpsListener) -> EngineKey:
        return cls(tuple(listener.rulesets), tuple(sorted(listener.variables)), listener.shadow)

    def candidate(self) -> EngineKey | None:
        """The shadow engine's key: these packs with the candidate in place of the same pack."""
        if self.shadow is None:
            return None
        from shared.packs.pins import with_candidate

        return EngineKey(with_candidate(self.rulesets, self.shadow), self.variables)


@dataclass(slots=True)
class BuiltEngine:
    engine: Any                     # services.ips.detect.DetectEngine
    rulesets: dict[str, str]        # rule file -> pack@version, for rule.ruleset in alerts
    label: str                      # "core@0.1.0,extra@2"
    loaded: int = 0
    disabled: int = 0
    errors: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    ruleset: Any = None             # the parsed RuleSet (signatures, disabled, errors)
    shadow: BuiltEngine | None = None   # the candidate of ``shadow: core@1.1.0``; never acts
    shadow_error: str | None = None     # why the candidate is not running (the listener runs without it)


def build_engine(files: Iterable[Path], *, labels: Mapping[str, str] | None = None, label: str = "",
                 variables: Mapping[str, str] | None = None, classification: Path | None = None,
                 cache_dir: Path | None = None) -> BuiltEngine:
    """Parse ``files`` and build one detection engine (the expensive step: run it off the loop)."""
    from services.ips.detect import DetectEngine
    from services.ips.signatures.parser import load_rules
    from services.ips.signatures.variables import RuleVariables

    started = time.perf_counter()
    rule_vars = None
    if variables:
        # suricata.yaml splits vars into address-groups and port-groups; every port group Suricata
        # ships (HTTP_PORTS, SSH_PORTS, ORACLE_PORTS...) ends in _PORTS, so the name tells them apart.
        rule_vars = RuleVariables({k: v for k, v in variables.items() if not k.endswith("_PORTS")},
                                  {k: v for k, v in variables.items() if k.endswith("_PORTS")})
    ruleset = load_rules([Path(f) for f in files], variables=rule_vars, classification=classification)
    engine = DetectEngine.build(ruleset, cache_dir=cache_dir)
    errors = [str(e) for e in ruleset.errors]
    for message in errors[:20]:
        log.warning("rule not loaded: %s", message)
    return BuiltEngine(engine=engine, rulesets=dict(labels or {}), label=label,
                       loaded=len(ruleset.signatures), disabled=len(ruleset.disabled), errors=errors,
                       build_seconds=time.perf_counter() - started, ruleset=ruleset)


def load_pinned_pack(bundles_dir: Path, ref: str, cache_dir: Path | None) -> Pack:
    """``core@1.2.0``: the published bundle's rule files, its compiled databases seeded into the cache.

    The bundle is found by the hash the version was published with and re-hashed before use
    (shared.packs.bundle), so a listener runs exactly what ``secchain rules publish`` tested.
    """
    from shared.packs.bundle import BundleError, resolve_pin

    try:
        bundle = resolve_pin(bundles_dir, "ips", ref)
        manifest = bundle.manifest()
    except (BundleError, ValueError) as exc:
        raise PackError(str(exc)) from exc
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for db in bundle.hsdb_dir.glob("*.hsdb"):
            dest = cache_dir / db.name
            if not dest.exists():
                tmp = dest.with_name(f".{db.name}.{os.getpid()}.tmp")
                tmp.write_bytes(db.read_bytes())
                tmp.replace(dest)
    classification = manifest.extra.get("classification")
    return Pack(name=bundle.meta["name"], version=bundle.meta["version"], files=tuple(bundle.rule_files()),
                classification=bundle.files_dir / classification if isinstance(classification, str) else None)


def default_bundles_dir() -> Path:
    return Path(os.environ.get("SECCHAIN_BUNDLES_DIR", "var/bundles"))


def build_for_packs(root: Path, names: tuple[str, ...], variables: Mapping[str, str] | None,
                    cache_dir: Path | None, bundles_dir: Path | None = None) -> BuiltEngine:
    """``names``: packs of the working tree (``core``) or published versions (``core@1.2.0``)."""
    packs = [load_pinned_pack(bundles_dir or default_bundles_dir(), n, cache_dir) if "@" in n else load_pack(root, n)
             for n in names]
    files: list[Path] = []
    labels: dict[str, str] = {}
    classification = None
    for pack in packs:
        files.extend(pack.files)
        labels.update({str(f): pack.label for f in pack.files})
        classification = classification or pack.classification
    return build_engine(files, labels=labels, label=",".join(p.label for p in packs), variables=variables,
                        classification=classification, cache_dir=cache_dir)


class EngineTable:
    """The engines every listener uses; replaced whole by :meth:`rebuild`."""

    def __init__(self, rules_root: Path = DEFAULT_RULES_ROOT, cache_dir: Path | None = None, *,
                 rule_files: list[Path] | None = None, classification: Path | None = None,
                 bundles_dir: Path | None = None) -> None:
        self.rules_root = rules_root
        self.cache_dir = cache_dir
        self.bundles_dir = bundles_dir or default_bundles_dir()
        # ``secchain ips run --rules FILE``: these files for every listener instead of its packs
        self.rule_files = rule_files
        self.classification = classification
        self.engines: dict[EngineKey, BuiltEngine] = {}
        self.generation = 0
        self.last_error: str | None = None

    def rebuild(self, listeners: Iterable[IpsListener], *, reuse: bool = False) -> dict[EngineKey, BuiltEngine]:
        """Build every engine the listeners need, then swap; on error keep the old table and raise.

        ``reuse``: keep the engines whose packs and variables did not change (a control-plane
        snapshot that only moved a listener or switched its mode rebuilds nothing); SIGHUP and
        POST /reload rebuild everything, re-reading the packs from disk.
        """
        keys = {EngineKey.of(lst) for lst in listeners}
        built: dict[EngineKey, BuiltEngine] = {}  # one build per pack set, shared by shadow keys
        try:
            fresh = {key: (self.engines[key] if reuse and key in self.engines else self._with_shadow(key, built, reuse))
                     for key in sorted(keys, key=repr)}
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PackError) else str(exc)
            raise
        self.engines = fresh  # one assignment: new flows see the new table, open flows keep theirs
        self.generation += 1
        self.last_error = None
        return fresh

    def _with_shadow(self, key: EngineKey, built: dict[EngineKey, BuiltEngine], reuse: bool) -> BuiltEngine:
        """The active engine (a failure raises: the listener cannot run) plus its shadow candidate
        (a failure is logged and kept in ``shadow_error``: the listener runs without it)."""
        base = EngineKey(key.rulesets, key.variables)
        if base not in built:
            built[base] = (self.engines.get(base) if reuse else None) or self._build(base)
        active = built[base]
        candidate = key.candidate()
        if candidate is None:
            return active
        if self.rule_files is not None:
            return dataclasses.replace(active, shadow=None, shadow_error="rule files given (--rules): no packs to shadow")
        try:
            if candidate not in built:
                built[candidate] = self._build(candidate)
            return dataclasses.replace(active, shadow=built[candidate], shadow_error=None)
        except Exception as exc:  # noqa: BLE001 - a broken candidate never takes the listener down
            log.error("shadow %s not loaded, listeners of %s run without it: %s", key.shadow, active.label, exc)
            return dataclasses.replace(active, shadow=None, shadow_error=f"{type(exc).__name__}: {exc}")

    def _build(self, key: EngineKey) -> BuiltEngine:
        if self.rule_files is None:
            return build_for_packs(self.rules_root, key.rulesets, dict(key.variables), self.cache_dir,
                                   self.bundles_dir)
        return build_engine(self.rule_files, label="files", variables=dict(key.variables),
                            classification=self.classification, cache_dir=self.cache_dir)

    def get(self, listener: IpsListener) -> BuiltEngine:
        return self.engines[EngineKey.of(listener)]
