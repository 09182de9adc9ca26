"""The core pack itself: manifest, compile, and every test case against real ClamAV (clamscan
--allmatch, so each ClamAV signature is checked, not only the first match clamd reports) and YARA."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.av.archives import ArchiveLimits
from services.av.pack import DEFAULT_PACK_DIR, PackError, compile_packs, load_manifest
from services.av.scanner import Payload, yara_scan
from tests.av.conftest import CASES, is_yara
from services.av.samples import SAMPLES
from tests.plugins.clamd import ClamdServer


def test_manifest_lists_existing_files() -> None:
    m = load_manifest(DEFAULT_PACK_DIR)
    assert m.label.startswith("core@")
    assert {Path(f).suffix for f in m.clamav_files} == {".hdb", ".hsb", ".ndb", ".ldb"}
    assert m.yara_files == ("core.yar",)


def test_repository_never_holds_eicar_whole() -> None:
    eicar = SAMPLES["eicar"]()
    root = Path(__file__).resolve().parents[2]
    for folder in ("rules/av", "tests/av", "services/av", "loadtest"):
        for path in (root / folder).rglob("*"):
            if path.is_file():
                assert eicar not in path.read_bytes(), path


def test_every_signature_has_a_positive_and_a_negative_case(tmp_path: Path) -> None:
    packs = compile_packs([DEFAULT_PACK_DIR], tmp_path / "db")
    names = set(packs.clamav_owner) | {"Secchain.YARA." + r.identifier for r in packs.rules}
    positive = {n for c in CASES for n in c.get("detect", [])}
    negative = {n for c in CASES for n in c.get("absent", [])}
    assert names - positive == set(), "signatures without a positive case"
    assert names - negative == set(), "signatures without a negative case"
    assert set(c["sample"] for c in CASES) <= set(SAMPLES)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    for case in CASES:
        (folder / case["id"]).write_bytes(SAMPLES[case["sample"]]())
    return folder


def test_clamscan_allmatch_on_every_case(clamd_server: ClamdServer, sample_dir: Path) -> None:
    clamscan = shutil.which("clamscan")
    assert clamscan, "clamscan missing (apt-get install clamav)"
    proc = subprocess.run([clamscan, "--allmatch", "--no-summary", "-d", str(clamd_server.database_dir),
                           str(sample_dir)], capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    found: dict[str, set[str]] = {c["id"]: set() for c in CASES}
    for line in proc.stdout.splitlines():
        path, _, rest = line.partition(": ")
        if rest.endswith(" FOUND"):
            found[Path(path).name].add(rest[: -len(" FOUND")].removesuffix(".UNOFFICIAL"))
    for case in CASES:
        expected = {n for n in case.get("detect", []) if not is_yara(n)}
        absent = {n for n in case.get("absent", []) if not is_yara(n)}
        assert expected <= found[case["id"]], (case["id"], found[case["id"]])
        assert not absent & found[case["id"]], (case["id"], found[case["id"]])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_yara_in_process(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    packs = compile_packs([DEFAULT_PACK_DIR], tmp_path / "db")
    data = SAMPLES[case["sample"]]()
    found, notes = yara_scan(packs, Payload("0" * 64, len(data), data=data), ArchiveLimits())
    names = {s.name for s in found}
    assert {n for n in case.get("detect", []) if is_yara(n)} <= names, names
    assert not {n for n in case.get("absent", []) if is_yara(n)} & names, names
    assert notes == []


def test_broken_yara_names_the_pack(tmp_path: Path) -> None:
    pack = tmp_path / "broken"
    shutil.copytree(DEFAULT_PACK_DIR, pack)
    (pack / "core.yar").write_text("rule Broken { condition: $missing }\n")
    with pytest.raises(PackError, match=r"YARA compile failed for core@.*undefined string"):
        compile_packs([pack], tmp_path / "db")


def test_missing_listed_file_is_reported(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    shutil.copytree(DEFAULT_PACK_DIR, pack)
    (pack / "core.ndb").unlink()
    with pytest.raises(PackError, match=r"manifest.yaml: listed file 'core.ndb' does not exist"):
        load_manifest(pack)


def test_malformed_clamav_signature_rejected_by_clamscan(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    shutil.copytree(DEFAULT_PACK_DIR, pack)
    (pack / "core.ldb").write_text("Bad.Sig;Engine:81-255,Target:0;(0&1);4142\n")
    with pytest.raises(PackError, match="clamscan rejected the database"):
        compile_packs([pack], tmp_path / "db", verify=True)
