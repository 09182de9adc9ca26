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
    return manifest, sorted(found, key=lambda d: (d.file, d.line, d.column, d.code))
