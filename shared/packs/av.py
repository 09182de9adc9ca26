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
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True, slots=True)
class AvCase:
    id: str
    sample: str
    verdict: str
    detect: tuple[str, ...]
    absent: tuple[str, ...]
    where: str


def load_av_cases(paths: list[Path]) -> list[AvCase]:
    """The pack's cases (``tests.yaml``: ``cases: [{id, sample, verdict, detect, absent}]``).

    Raises ValueError with file:line for a malformed case, an unknown sample generator or a
    duplicate id, so a typo in a case file is reported where it is, not as a missed detection.
    """
    from services.av.samples import SAMPLES

    out: list[AvCase] = []
    seen: dict[str, str] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            doc, node = yaml.safe_load(text), yaml.compose(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
            raise ValueError(f"{path}:1: expected a mapping with a 'cases' list")
        items = next((v.value for k, v in node.value if k.value == "cases"), [])
        for raw, item in zip(doc["cases"], items):
            where = f"{path}:{item.start_mark.line + 1}"
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                raise ValueError(f"{where}: a case needs an id")
            if raw.get("sample") not in SAMPLES:
                raise ValueError(f"{where}: case {raw['id']}: sample {raw.get('sample')!r} is not a generator "
                                 f"in services/av/samples.py (one of {', '.join(sorted(SAMPLES))})")
            if raw.get("verdict") not in ("infected", "clean"):
                raise ValueError(f"{where}: case {raw['id']}: verdict: expected infected or clean")
            lists = {}
            for key in ("detect", "absent"):
                value = raw.get(key, [])
                if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                    raise ValueError(f"{where}: case {raw['id']}: {key}: expected a list of signature names")
                lists[key] = tuple(value)
            if raw["verdict"] == "infected" and not lists["detect"]:
                raise ValueError(f"{where}: case {raw['id']}: an infected case names what it must detect")
            if raw["id"] in seen:
                raise ValueError(f"{where}: duplicate case id {raw['id']!r} (first at {seen[raw['id']]})")
            seen[raw["id"]] = where
            out.append(AvCase(raw["id"], raw["sample"], raw["verdict"], lists["detect"], lists["absent"], where))
    return out


def _is_yara(name: str) -> bool:
    from services.av.pack import YARA_PREFIX

    return name.startswith(YARA_PREFIX)


def clamscan_allmatch(database_dir: Path, samples: Path) -> dict[str, set[str]] | None:
    """{file name: ClamAV names} from ``clamscan --allmatch`` (None when ClamAV is not installed).

    --allmatch because clamd (and clamscan by default) stops at the first signature that matches;
    a pack test must see every signature the sample triggers, as ClamAV's own sigtool --test-sigs
    does for one signature at a time. ``.UNOFFICIAL`` is how ClamAV tags third-party databases.
    """
    clamscan = shutil.which("clamscan")
    if clamscan is None:
        return None
    proc = subprocess.run([clamscan, "--allmatch", "--no-summary", "-d", str(database_dir), str(samples)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"clamscan failed: {proc.stderr.strip() or proc.stdout.strip()}")
    found: dict[str, set[str]] = {p.name: set() for p in samples.iterdir()}
    for line in proc.stdout.splitlines():
        path, _, rest = line.rpartition(": ")
        if rest.endswith(" FOUND"):
            found.setdefault(Path(path).name, set()).add(rest[: -len(" FOUND")].removesuffix(".UNOFFICIAL"))
    return found


def _clamd_results(address: tuple[str, int], samples: dict[str, bytes]) -> dict[str, list[str]] | str:
    """INSTREAM every sample to a running clamd; its answers, or why clamd could not be used."""
    import asyncio

    from services.av.clamd_client import ClamdClient, ClamdError

    client = ClamdClient(*address, timeout=30.0, connect_timeout=1.0)

    async def run() -> dict[str, list[str]]:
        if not await client.ping():
            raise ClamdError("no PONG")
        return {name: [n.removesuffix(".UNOFFICIAL") for n in await client.instream([data])]
                for name, data in samples.items()}

    try:
        return asyncio.run(run())
    except ClamdError as exc:
        return str(exc)


def run_av_cases(manifest: PackManifest, report: Any, cache_dir: Path | None, *,
                 clamd: tuple[str, int] | None = None) -> None:
    """Every case's sample through YARA in-process, ClamAV (clamscan --allmatch on the compiled
    databases) and, when ``clamd`` is given and answers, clamd INSTREAM as the AV service scans.

    clamd reports only the first ClamAV signature that matches, so through clamd a case passes
    when it reports one of the expected ClamAV names and none of the absent ones (infected cases),
    or nothing (clean ones); clamscan --allmatch checks every expected name.
    """
    import tempfile

    from services.av.archives import ArchiveLimits
    from services.av.pack import compile_packs
    from services.av.samples import SAMPLES
    from services.av.scanner import Payload, yara_scan

    cases = load_av_cases(manifest.case_paths())
    if not cases:
        raise ValueError(f"{manifest.path}: the pack has no cases (cases: {list(manifest.cases)})")
    with tempfile.TemporaryDirectory(prefix="av-pack-test-") as tmp:
        work = Path(tmp)
        packs = compile_packs([manifest.folder], work / "db", verify=True)
        (work / "samples").mkdir()
        data = {c.id: SAMPLES[c.sample]() for c in cases}
        for case_id, blob in data.items():
            (work / "samples" / case_id).write_bytes(blob)
        allmatch = clamscan_allmatch(work / "db", work / "samples")
        via_clamd = _clamd_results(clamd, data) if clamd is not None else None
    if allmatch is None:
        report.notes.append("clamscan is not installed: ClamAV signatures not checked (apt-get install clamav)")
    if clamd is None:
        report.notes.append("clamd: not used (--clamd HOST:PORT checks a running clamd serving this pack)")
    elif isinstance(via_clamd, str):
        report.notes.append(f"clamd {clamd[0]}:{clamd[1]} not used: {via_clamd}; "
                            "ClamAV signatures checked with clamscan --allmatch only")
        via_clamd = None
    else:
        report.notes.append(f"clamd {clamd[0]}:{clamd[1]}: every sample also scanned with INSTREAM")
    per_rule: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        problems: list[str] = []
        blob = data[case.id]
        found, notes = yara_scan(packs, Payload("0" * 64, len(blob), data=blob), ArchiveLimits())
        names = {s.name for s in found}
        if allmatch is not None:
            names |= allmatch.get(case.id, set())
        checked = {n for n in (*case.detect, *case.absent) if _is_yara(n) or allmatch is not None}
        missing = sorted(n for n in case.detect if n in checked and n not in names)
        unexpected = sorted(n for n in case.absent if n in checked and n in names)
        if missing:
            problems.append(f"not detected: {', '.join(missing)} (found {', '.join(sorted(names)) or 'nothing'})")
        if unexpected:
            problems.append(f"detected but must not be: {', '.join(unexpected)}")
        if notes:
            problems.append(f"archive walk: {'; '.join(notes)}")
        if case.verdict == "clean" and names:
            problems.append(f"clean sample detected as {', '.join(sorted(names))}")
        if isinstance(via_clamd, dict):
            reported = set(via_clamd[case.id])
            expected = {n for n in case.detect if not _is_yara(n)}
            if expected and not reported & expected:
                problems.append(f"clamd reported {sorted(reported) or 'nothing'}, expected one of {sorted(expected)} "
                                "(is that clamd serving this pack version?)")
            if not expected and reported:
                problems.append(f"clamd reported {sorted(reported)} for a sample with no ClamAV detection")
            if reported & set(case.absent):
                problems.append(f"clamd reported {sorted(reported & set(case.absent))}, which must not match")
        report.lines.append((not problems, case.id, "; ".join(problems)))
        for name in checked:
            per_rule[name].append(not problems)
    report.per_rule = dict(per_rule)
    from services.av.pack import YARA_PREFIX

    pack_names = set(packs.clamav_owner) | {YARA_PREFIX + r.identifier for r in packs.rules}
    report.untested = sorted(pack_names - set(per_rule))
