"""The two ways a rule fails to load: a syntax error, or a rule we read but cannot run.

Suricata stops at neither: with ``engine-analysis`` or a normal start it logs the bad rule with
its file and line and loads the rest (``detect-engine-loader.c``). We keep the two apart so the
counts are honest: a ``RuleSyntaxError`` is a broken rule; ``RuleUnsupported`` is a valid rule
using a keyword or protocol this engine does not implement, so the rule loads *disabled*.
"""

from __future__ import annotations


class RuleError(Exception):
    """Base of everything the signature loader reports about one rule."""


class RuleSyntaxError(RuleError, ValueError):
    """A malformed rule, located at the offending character.

    ``str(err)`` reads like a compiler message so editors and CI logs can jump to it::

        emerging-dns.rules:42:87: expected ';' after option 'nocase'
    """

    def __init__(self, message: str, *, file: str = "<string>", line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def __reduce__(self):  # keep pickling (multiprocessing loaders) working with keyword arguments
        return (_rebuild_syntax_error, (self.message, self.file, self.line, self.column))


def _rebuild_syntax_error(message: str, file: str, line: int, column: int) -> RuleSyntaxError:
    return RuleSyntaxError(message, file=file, line=line, column=column)


class RuleUnsupported(RuleError):
    """A well-formed rule this engine cannot run; ``reason`` is the grouping key of the counts.

    Reasons are short and stable ("unsupported keyword 'asn1'", "app-layer protocol 'smb' not
    supported") because ``RuleSet.counts_by_reason()`` groups by them.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
