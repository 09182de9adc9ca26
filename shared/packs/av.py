"""AV packs (ClamAV signature databases and YARA): lint and bundle compilation.

ClamAV reports a malformed database line only as "Malformed database" when clamd loads it, and a
clamd that cannot load its databases does not start; lint checks each line's shape by file type
(the formats of ClamAV's signatures documentation: ``.hdb``/``.hsb`` hash:size:name, ``.ndb``
name:target:offset:hex, ``.ldb`` name;target;expression;subsigs) at file:line:column, and compiles
each YARA file with yara-python, whose errors carry the line. Compile verifies the copied
databases with ``clamscan -d`` when ClamAV is installed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from shared.packs.diagnostics import Diagnostic
from shared.packs.manifest import PackManifest
from shared.packs.progress import Progress

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_NDB_BODY = re.compile(r"^[0-9a-fA-F?*{}()|!\[\]\-,;]+$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_HASH_LENGTHS = {".hdb": (32,), ".hsb": (40, 64)}


def _clamav_line(suffix: str, line: str) -> tuple[int, str] | None:
    """(column, problem) or None."""
    if suffix in (".hdb", ".hsb"):
        parts = line.split(":")
        if len(parts) < 3:
            return 1, "expected HASH:SIZE:NAME"
        if not _HEX.match(parts[0]) or len(parts[0]) not in _HASH_LENGTHS[suffix]:
            lengths = " or ".join(str(n) for n in _HASH_LENGTHS[suffix])
            return 1, f"expected a hex hash of {lengths} digits"
        if not (parts[1].isdigit() or parts[1] == "*"):
            return len(parts[0]) + 2, "expected the file size in bytes (or *)"
        if not _NAME.match(parts[2]):
            return len(parts[0]) + len(parts[1]) + 3, "expected a signature name ([A-Za-z0-9._-])"
        return None
    if suffix == ".ndb":
        parts = line.split(":")
        if len(parts) < 4:
            return 1, "expected NAME:TARGET:OFFSET:HEXSIGNATURE"
        if not _NAME.match(parts[0]):
            return 1, "expected a signature name ([A-Za-z0-9._-])"
        if not (parts[1].isdigit() and 0 <= int(parts[1]) <= 14):
            return len(parts[0]) + 2, "expected a target type 0-14"
        at = len(parts[0]) + len(parts[1]) + len(parts[2]) + 4
        if not _NDB_BODY.match(parts[3]):
            return at, "expected a hex body signature (hex digits, ??, *, {n-m}, (a|b))"
        return None
    if suffix == ".ldb":
        parts = line.split(";")
        if len(parts) < 4:
            return 1, "expected NAME;TARGETDESCRIPTION;LOGICALEXPRESSION;SUBSIG0[;...]"
        if not _NAME.match(parts[0]):
            return 1, "expected a signature name ([A-Za-z0-9._-])"
        return None
    return 1, f"unknown ClamAV database type {suffix}"


def lint_av(manifest: PackManifest) -> list[Diagnostic]:
    import yara

    out: list[Diagnostic] = []
    names: dict[str, str] = {}
    for rel in manifest.files:
        path = manifest.folder / rel
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix in (".yar", ".yara"):
            try:
                rules = yara.compile(source=text)
            except yara.SyntaxError as exc:
                m = re.search(r"line (\d+): (.*)", str(exc))
                line, message = (int(m.group(1)), m.group(2)) if m else (1, str(exc))
                out.append(Diagnostic(str(path), line, 1, "error", "parse", message))
                continue
            for rule in rules:
                where = names.get(rule.identifier)
                if where is not None:
                    out.append(Diagnostic(str(path), _line_of(text, rf"rule\s+{re.escape(rule.identifier)}\b"), 1,
                                          "error", "duplicate-id", f"YARA rule {rule.identifier} also in {where}"))
                names[rule.identifier] = str(path)
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            problem = _clamav_line(path.suffix, line.strip())
            if problem is not None:
                out.append(Diagnostic(str(path), lineno, problem[0], "error", "parse", problem[1]))
                continue
            fields = line.strip().split(";" if path.suffix == ".ldb" else ":")
            name = fields[0 if path.suffix in (".ndb", ".ldb") else 2]
            # one family may repeat its name per target type (raw file, normalised HTML, ...)
            key = name + "\0" + (fields[1] if path.suffix in (".ndb", ".ldb") else "")
            where = names.get(key)
            if where is not None:
                out.append(Diagnostic(str(path), lineno, 1, "warning", "duplicate-id",
                                      f"signature {name} for the same target is also at {where}"))
            names[key] = f"{path}:{lineno}"
    return out


def _line_of(text: str, pattern: str) -> int:
    m = re.search(pattern, text)
    return text[:m.start()].count("\n") + 1 if m else 1


def compile_av(work: Path, manifest: PackManifest, bar: Progress | None) -> dict[str, Any]:
    import yara

    from services.av.pack import verify_clamav_database

    clamav = work / "clamav"
    clamav.mkdir()
    sources = []
    signatures = 0
    for rel in manifest.files:
        src = work / "files" / rel
        if src.suffix in (".yar", ".yara"):
            sources.append(src.read_text())
        else:
            shutil.copyfile(src, clamav / f"{manifest.name}_{Path(rel).name}")
            signatures += sum(1 for line in src.read_text().splitlines() if line.strip() and not line.startswith("#"))
        if bar is not None:
            bar.step(rel)
    yara_rules = 0
    if sources:
        rules = yara.compile(source="\n".join(sources))
        rules.save(str(work / "rules.yarc"))
        yara_rules = sum(1 for _ in rules)
    verify_clamav_database(clamav)  # clamscan's own reading, when ClamAV is installed
    if bar is not None:
        bar.step("verify")
    return {"clamav_signatures": signatures, "yara_rules": yara_rules}


def run_av_cases(manifest: PackManifest, report: Any, cache_dir: Path | None) -> None:
    # The cases name sample generators kept beside the AV tests (the repository holds no live
    # malware); until they move into the AV package the CLI cannot build the samples.
    raise NotImplementedError("AV pack cases run under pytest (tests/av/test_pack.py); "
                              "`secchain rules test` does not run them yet")
