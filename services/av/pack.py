"""AV packs (``rules/av/<pack>/``): load the manifest, compile, and hold the compiled form.

Compiling a pack does two things, as the manifest lists them: the ClamAV signature files (.hdb, .hsb,
.ndb, .ldb) are copied into clamd's ``DatabaseDirectory`` (clamd then loads them itself, on start or on
RELOAD), and the YARA sources are compiled once into an immutable ``yara.Rules``. Like Suricata's
detect-engine reload, a reload builds a new :class:`CompiledPacks` aside and the service swaps it in
one assignment; if the build fails the old one stays in use.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
import yara

CLAMAV_EXTENSIONS = (".hdb", ".hsb", ".ndb", ".ldb")
YARA_PREFIX = "Secchain.YARA."
DEFAULT_PACK_DIR = Path(__file__).resolve().parents[2] / "rules" / "av" / "core"


class PackError(ValueError):
    """A pack cannot be loaded or compiled; the message names the file."""


@dataclass(frozen=True, slots=True)
class PackManifest:
    name: str
    version: str
    description: str
    directory: Path
    clamav_files: tuple[str, ...]
    yara_files: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class CompiledPacks:
    """Immutable: hot paths read it, reload replaces it whole."""

    manifests: tuple[PackManifest, ...]
    rules: yara.Rules
    database_dir: Path
    digest: str  # hash of every source file, so an edited pack without a version bump is still new
    clamav_owner: dict[str, str] = field(default_factory=dict)  # ClamAV signature name -> pack label

    @property
    def label(self) -> str:
        """The cache-key and ``rule.ruleset`` value: ``core@0.1.0`` (several packs joined by ``+``)."""
        return "+".join(m.label for m in self.manifests)

    def pack_of_yara_namespace(self, namespace: str) -> str:
        for m in self.manifests:
            if m.name == namespace:
                return m.label
        return self.label

    def pack_of_clamav(self, name: str) -> str:
        return self.clamav_owner.get(name, self.label)


def load_manifest(pack_dir: Path) -> PackManifest:
    path = pack_dir / "manifest.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot read manifest: {exc}") from exc
    if not isinstance(doc, dict):
        raise PackError(f"{path}: manifest must be a mapping")
    for key in ("name", "version"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise PackError(f"{path}: '{key}' must be a non-empty string")
    if doc.get("kind", "av") != "av":
        raise PackError(f"{path}: kind is {doc.get('kind')!r}, expected 'av'")
    clamav = tuple(doc.get("clamav") or ())
    yara_files = tuple(doc.get("yara") or ())
    for name in clamav:
        if not name.endswith(CLAMAV_EXTENSIONS):
            raise PackError(f"{path}: clamav file {name!r} must end with one of {', '.join(CLAMAV_EXTENSIONS)}")
    for name in (*clamav, *yara_files):
        if not (pack_dir / name).is_file():
            raise PackError(f"{path}: listed file {name!r} does not exist")
    return PackManifest(doc["name"], doc["version"], str(doc.get("description", "")).strip(), pack_dir,
                        clamav, yara_files)


def _clamav_names(path: Path) -> list[str]:
    """Signature names in a ClamAV text database (name is field 3 in .hdb/.hsb, field 1 in .ndb/.ldb)."""
    names = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if path.suffix in (".hdb", ".hsb"):
            parts = line.split(":")
            if len(parts) < 3:
                raise PackError(f"{path}:{lineno}: expected hash:size:name")
            names.append(parts[2])
        else:
            names.append(line.split(";" if path.suffix == ".ldb" else ":", 1)[0])
    return names


def compile_packs(pack_dirs: list[Path], database_dir: Path, *, verify: bool = False) -> CompiledPacks:
    """Copy ClamAV files into ``database_dir`` (as ``<pack>_<file>``) and compile YARA.

    ``verify`` runs ``clamscan -d`` on the copied folder so a malformed ClamAV signature fails here,
    with clamscan's message, rather than later as a clamd that refuses to start or reload.
    """
    manifests = [load_manifest(d) for d in pack_dirs]
    if len({m.name for m in manifests}) != len(manifests):
        raise PackError("two packs share a name: " + ", ".join(m.name for m in manifests))
    digest = hashlib.sha256()
    sources: dict[str, str] = {}
    owner: dict[str, str] = {}
    database_dir.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for m in manifests:
        for name in m.clamav_files:
            src = m.directory / name
            digest.update(src.read_bytes())
            for sig in _clamav_names(src):
                owner[sig] = m.label
            target = f"{m.name}_{name}"
            wanted.add(target)
            shutil.copyfile(src, database_dir / target)
        text = []
        for name in m.yara_files:
            src = m.directory / name
            digest.update(src.read_bytes())
            text.append(src.read_text())
        if text:
            sources[m.name] = "\n".join(text)
    # Files of packs no longer configured must not linger in clamd's database.
    for stale in database_dir.iterdir():
        if stale.suffix in CLAMAV_EXTENSIONS and stale.name not in wanted:
            stale.unlink()
    try:
        rules = yara.compile(sources=sources)
    except yara.Error as exc:
        raise PackError(f"YARA compile failed for {', '.join(m.label for m in manifests)}: {exc}") from exc
    if verify:
        verify_clamav_database(database_dir)
    return CompiledPacks(tuple(manifests), rules, database_dir, digest.hexdigest(), owner)


def verify_clamav_database(database_dir: Path) -> None:
    clamscan = shutil.which("clamscan")
    if clamscan is None:
        return
    with tempfile.NamedTemporaryFile(prefix="av-verify-") as probe:
        proc = subprocess.run([clamscan, "--no-summary", "-d", str(database_dir), probe.name],
                              capture_output=True, text=True, timeout=60)
    if proc.returncode not in (0, 1):
        raise PackError(f"clamscan rejected the database in {database_dir}: {proc.stderr.strip() or proc.stdout.strip()}")
