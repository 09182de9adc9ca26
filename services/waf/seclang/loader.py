"""Loading rule files (with Include) into a ConfigBuilder.

``Include`` paths are relative to the including file's folder and may be globs (sorted, as Apache
expands them); a glob that matches nothing is an error, as is a missing file or an include cycle.
``IncludeOptional`` (Apache 2.4; CRS 4 includes its plugin folders with it) accepts a glob that
matches nothing, leaving a notice.
Reading stops at the first error, which names the file, line and column.
"""

from __future__ import annotations

import glob
from pathlib import Path

from services.waf.seclang.builder import ConfigBuilder
from services.waf.seclang.directives import DIRECTIVES
from services.waf.seclang.errors import SecLangParseError
from services.waf.seclang.source import Directive, Source, read_directives

MAX_INCLUDE_DEPTH = 32


def _read(path: Path, display: str, anchor: Directive | None) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        message = f"cannot read rule file {str(path)!r}: {exc.strerror}"
        if anchor is not None:
            raise anchor.name.error(0, message) from exc
        raise SecLangParseError(message, file=display, line=0, column=0) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecLangParseError(
            f"rule file is not valid UTF-8 (byte {exc.start})", file=display, line=0, column=0
        ) from exc


def load_text(builder: ConfigBuilder, text: str, name: str, base_dir: Path | None, stack: tuple[Path, ...] = ()) -> None:
    source = Source.from_text(text, name)
    outer_dir = builder.current_dir
    builder.current_dir = base_dir
    try:
        _load_directives(builder, source, base_dir, stack)
    finally:
        builder.current_dir = outer_dir


def _load_directives(builder: ConfigBuilder, source: Source, base_dir: Path | None, stack: tuple[Path, ...]) -> None:
    for d in read_directives(source, apache_escapes=builder.apache_escapes):
        key = d.name.text.lower()
        if builder.chain and key != "secrule":
            error = builder.open_chain_error()
            assert error is not None
            raise error
        if key in ("include", "includeoptional"):
            if len(d.args) != 1:
                raise d.name.error(0, f"{d.name.text} expects 1 argument (a path or glob); got {len(d.args)}")
            _include(builder, d, base_dir, stack, optional=key == "includeoptional")
            continue
        definition = DIRECTIVES.get(key)
        if definition is None:
            builder.notices.append(f"{d.location}: directive {d.name.text} is not supported by this engine; ignored")
            continue
        if not definition.min_args <= len(d.args) <= definition.max_args:
            raise d.name.error(
                0,
                f"{definition.name} expects {definition.min_args}"
                + (f" to {definition.max_args}" if definition.max_args != definition.min_args else "")
                + f" argument(s), got {len(d.args)}; usage: {definition.usage}",
            )
        definition.handler(builder, d)
    if builder.chain:
        error = builder.open_chain_error()
        assert error is not None
        raise error


def _include(
    builder: ConfigBuilder, d: Directive, base_dir: Path | None, stack: tuple[Path, ...], *, optional: bool = False
) -> None:
    pattern = d.args[0].text
    base = base_dir if base_dir is not None else Path.cwd()
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    if glob.has_magic(full):
        matches = sorted(glob.glob(full))
        if not matches:
            if optional:  # Apache's IncludeOptional, as CRS 4 uses for plugins/*-config.conf
                builder.notices.append(f"{d.location}: IncludeOptional {pattern!r} matches no file")
                return
            raise d.args[0].error(0, f"Include pattern {pattern!r} matches no file")
    else:
        matches = [full]
    if len(stack) >= MAX_INCLUDE_DEPTH:
        raise d.name.error(0, f"Include nested deeper than {MAX_INCLUDE_DEPTH} levels")
    for match in matches:
        path = Path(match).resolve()
        if path in stack:
            raise d.args[0].error(0, f"Include cycle: {path} is already being read")
        text = _read(path, str(path), d)
        load_text(builder, text, str(path), path.parent, stack + (path,))


def load_file(builder: ConfigBuilder, path: Path) -> None:
    resolved = path.resolve()
    text = _read(resolved, str(path), None)
    load_text(builder, text, str(path), resolved.parent, (resolved,))
