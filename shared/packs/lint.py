"""``secchain rules lint PACK``: the manifest, then every rule file by the pack's kind."""

from __future__ import annotations

from pathlib import Path

from shared.packs.diagnostics import Diagnostic
from shared.packs.manifest import ManifestError, PackManifest, load_manifest


def lint_pack(folder: Path, *, cache_dir: Path | None = None) -> tuple[PackManifest | None, list[Diagnostic]]:
    """(manifest or None when it is unusable, every finding sorted by file and position)."""
    try:
        manifest = load_manifest(folder)
    except ManifestError as exc:
        return None, sorted(exc.diagnostics)
    if manifest.kind == "waf":
        from shared.packs.waf.lint import lint_waf

        found = lint_waf(manifest, cache_dir)
    elif manifest.kind == "ips":
        from shared.packs.ips import lint_ips

        found = lint_ips(manifest)
    else:
        from shared.packs.av import lint_av

        found = lint_av(manifest)
    found = [*manifest.warnings, *found]
    # one finding per position and message, however many ways a rule reaches the same pattern
    return manifest, sorted(set(found), key=lambda d: (d.file, d.line, d.column, d.code, d.message))


def lint_summary(manifest: PackManifest, found: list[Diagnostic]) -> list[str]:
    """Counts a maintainer reads first, above all for an imported pack (ET Open, CRS)."""
    out = []
    for d in found:
        if d.code == "summary":
            out.append(d.message)
    if manifest.kind == "waf":
        paths: dict[str, int] = {}
        for d in found:
            if d.code == "regex-path":
                name = d.message.rsplit("runs on the ", 1)[-1].removesuffix(" path")
                paths[name] = paths.get(name, 0) + 1
        shown = ", ".join(f"{n} on {p}" for p, n in sorted(paths.items())) or "none"
        out.append(f"regex paths: every other @rx on hyperscan; not on hyperscan: {shown}")
    return out
