"""Errors raised while reading SecLang.

ModSecurity refuses to start on a configuration error and names the file and line; we do the same
and add the column and what was expected, because a rule line in CRS is often a few hundred
characters long and "line 412" alone does not say which action is wrong.
"""

from __future__ import annotations


class SecLangParseError(ValueError):
    """A rule file cannot be loaded; nothing from it is applied.

    ``str(err)`` reads ``file:line:column: message``, the format compilers use, so editors and CI
    logs link straight to the position.
    """

    def __init__(self, message: str, *, file: str, line: int, column: int) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        super().__init__(f"{file}:{line}:{column}: {message}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the error picklable (worker processes report load failures to their parent).
        return (_rebuild, (self.message, self.file, self.line, self.column))


def _rebuild(message: str, file: str, line: int, column: int) -> SecLangParseError:
    return SecLangParseError(message, file=file, line=line, column=column)
