"""The pack manifest: what a pack is, which files it has, which engines can read it, its cases.

``rules/waf/core/manifest.yaml``::

    name: core
    kind: waf                       # waf | ips | av
    version: 1.2.0                  # semver; a published version is immutable
    description: secchain core WAF pack ...
    engine: ">=1.0.0,<2.0.0"        # rule-language versions this pack needs (shared.packs.engines)
    files: [setup.conf, sqli.conf]  # load order matters for SecLang (SecDefaultAction first)
    cases: [tests/*.yaml]           # globs relative to the pack

IPS packs list ``.rules`` files (and ``classification``); AV packs keep their ``clamav`` and
``yara`` lists, which are their files. Errors carry the manifest's line and column (from the YAML
node marks), so ``name: Core Pack`` is reported where it is written, not as "invalid manifest".
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.packs.diagnostics import Diagnostic
from shared.packs.engines import ENGINE_VERSIONS, KINDS
from shared.packs.semver import Version, check_constraint, is_version, satisfies

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
DEFAULT_CASES = {"waf": ("tests/*.yaml",), "ips": ("cases.yaml",), "av": ("tests.yaml",)}
KNOWN_FIELDS = {"name", "kind", "version", "description", "engine", "files", "cases", "classification",
                "clamav", "yara"}


class ManifestError(ValueError):
    """The manifest cannot be used; ``diagnostics`` says where and why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


@dataclass(frozen=True, slots=True)
class PackManifest:
    folder: Path
    name: str
    kind: str
    version: str
    description: str
    engine: str
    files: tuple[str, ...]
    cases: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def path(self) -> Path:
        return self.folder / "manifest.yaml"

    def file_paths(self) -> list[Path]:
        return [self.folder / f for f in self.files]

    def case_paths(self) -> list[Path]:
        out: list[Path] = []
        for pattern in self.cases:
            out += sorted(Path(p) for p in glob.glob(str(self.folder / pattern)))
        return out

    def inputs(self) -> list[Path]:
        """Every file whose bytes define the pack (what a bundle hash covers)."""
        paths = [self.path, *self.file_paths()]
        classification = self.extra.get("classification")
        if isinstance(classification, str):
            paths.append(self.folder / classification)
        return paths


class _Marks:
    """Line and column of the manifest's top-level keys and list items, from the YAML nodes."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = str(path)
        self.keys: dict[str, tuple[int, int]] = {}
        self.values: dict[str, tuple[int, int]] = {}
        self.items: dict[str, list[tuple[int, int]]] = {}
        node = yaml.compose(text)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    self.keys[k.value] = (k.start_mark.line + 1, k.start_mark.column + 1)
                    self.values[k.value] = (v.start_mark.line + 1, v.start_mark.column + 1)
                    if isinstance(v, yaml.SequenceNode):
                        self.items[k.value] = [(i.start_mark.line + 1, i.start_mark.column + 1) for i in v.value]

    def at(self, key: str, index: int | None = None, *, value: bool = True) -> tuple[int, int]:
        if index is not None and index < len(self.items.get(key, [])):
            return self.items[key][index]
        table = self.values if value else self.keys
        return table.get(key, (1, 1))


def load_manifest(folder: Path, *, kind: str | None = None) -> PackManifest:
    """Read and validate ``folder/manifest.yaml``; raise ManifestError with every problem found."""
    path = folder / "manifest.yaml"
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError([Diagnostic(display, 0, 0, "error", "manifest", f"cannot read the manifest: {exc.strerror}")]) from exc
    try:
        data = yaml.safe_load(text)
        marks = _Marks(path, text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise ManifestError([Diagnostic(display, line, col, "error", "manifest",
                                        f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    problems: list[Diagnostic] = []

    def fail(key: str, message: str, index: int | None = None, *, value: bool = True) -> None:
        line, col = marks.at(key, index, value=value)
        problems.append(Diagnostic(display, line, col, "error", "manifest", f"{key}: {message}"))

    if not isinstance(data, dict):
        raise ManifestError([Diagnostic(display, 1, 1, "error", "manifest",
                                        "expected a mapping with name, kind, version, description, engine, files")])
    for key in data:
        if key not in KNOWN_FIELDS:
            fail(str(key), f"unknown field; expected one of {', '.join(sorted(KNOWN_FIELDS))}", value=False)
    name = data.get("name")
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS or not name[0].isalnum():
        fail("name", f"expected a lower-case identifier such as 'core' ([a-z0-9._-]), got {name!r}")
    written_kind = data.get("kind", kind)
    if written_kind not in KINDS:
        fail("kind", f"expected one of {', '.join(KINDS)}, got {written_kind!r}")
    elif kind is not None and written_kind != kind:
        fail("kind", f"this folder holds {kind} packs, the manifest says {written_kind!r}")
    version = data.get("version")
    if not isinstance(version, str) or not is_version(version):
        fail("version", f"expected a semantic version such as 1.2.0 (quoted if YAML reads it as a number), got {version!r}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        fail("description", "expected a description of what the pack detects")
    engine = data.get("engine")
    warnings: list[Diagnostic] = []
    if engine is None:
        # packs written before manifests carried it (and imported ones) still load
        engine = ">=1.0.0"
        warnings.append(Diagnostic(display, 1, 1, "warning", "manifest",
                                   "engine: not declared; assuming \">=1.0.0\" (declare e.g. \">=1.0.0,<2.0.0\")"))
    if not isinstance(engine, str):
        fail("engine", "expected the engine versions the pack works with, e.g. \">=1.0.0,<2.0.0\"")
    else:
        try:
            check_constraint(engine)
            if written_kind in ENGINE_VERSIONS and not satisfies(ENGINE_VERSIONS[written_kind], engine):
                fail("engine", f"this {written_kind} engine is {ENGINE_VERSIONS[written_kind]}, "
                               f"which does not satisfy {engine!r}")
        except ValueError as exc:
            fail("engine", str(exc))
    files = _files(data, written_kind, fail)
    for i, f in enumerate(files):
        p = folder / f
        if not p.is_file():
            fail("files" if "files" in data else _av_key(data, f), f"{f} does not exist in {folder}",
                 _index(data, f))
        elif p.resolve().parent != folder.resolve() and folder.resolve() not in p.resolve().parents:
            fail("files", f"{f} is outside the pack folder", i)
    cases = data.get("cases", list(DEFAULT_CASES.get(str(written_kind), ())))
    if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
        fail("cases", "expected a list of case files or globs relative to the pack")
        cases = []
    if problems:
        raise ManifestError(problems)
    extra = {k: v for k, v in data.items() if k in ("classification", "clamav", "yara")}
    return PackManifest(folder=folder, name=name, kind=written_kind, version=version, description=description.strip(),
                        engine=engine, files=tuple(files), cases=tuple(cases), extra=extra,
                        warnings=tuple(warnings))


def _av_key(data: dict[str, Any], f: str) -> str:
    return "yara" if f in (data.get("yara") or []) else "clamav"


def _index(data: dict[str, Any], f: str) -> int | None:
    for key in ("files", "clamav", "yara"):
        seq = data.get(key)
        if isinstance(seq, list) and f in seq:
            return seq.index(f)
    return None


def _files(data: dict[str, Any], kind: Any, fail: Any) -> list[str]:
    if kind == "av" and "files" not in data:
        out: list[str] = []
        for key in ("clamav", "yara"):
            seq = data.get(key, [])
            if not isinstance(seq, list) or not all(isinstance(x, str) for x in seq):
                fail(key, "expected a list of file names")
                continue
            out += seq
        if not out:
            fail("clamav", "an AV pack needs clamav and/or yara files")
        return out
    files = data.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(x, str) for x in files):
        fail("files", "expected a non-empty list of rule file names, in load order")
        return []
    seen: set[str] = set()
    for i, f in enumerate(files):
        if f in seen:
            fail("files", f"{f} is listed twice", i)
        seen.add(f)
    return list(files)


def find_pack(spec: str, rules_root: Path) -> Path:
    """A pack folder from what a user typed: a path, or ``waf/core`` / ``core`` under rules_root."""
    p = Path(spec)
    if (p / "manifest.yaml").is_file():
        return p
    for candidate in (rules_root / spec, *(rules_root / k / spec for k in KINDS)):
        if (candidate / "manifest.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no pack {spec!r}: give a folder with a manifest.yaml, or kind/name under {rules_root}")


def version_key(version: str) -> tuple:
    return Version.parse(version).key()
