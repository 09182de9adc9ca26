"""Per-pattern paths of the hyperscan backend: prefilter+confirm, regex-only, compile errors."""

from __future__ import annotations

import pytest

from shared.matching import Match, Pattern, PatternCompileError, PatternFlag, compile_patterns

F = PatternFlag


def test_backreference_runs_prefiltered_and_confirms_only_real_backreferences() -> None:
    db = compile_patterns([Pattern(7, r"<(\w+)>[^<]*</\1>"), Pattern(8, "plain")], backend="hyperscan")
    assert db.path_of(7) == "prefilter+confirm"
    assert db.path_of(8) == "hyperscan"
    assert db.report == {"hyperscan": 1, "prefilter+confirm": 1, "regex": 0}
    # The prefilter approximation of \1 is "any word": <b>x</i> is a candidate, not a match.
    assert db.matched_ids(b"<b>x</i>") == set()
    assert db.matched_ids(b"<b>x</b>") == {7}
    assert db.scan(b"..<b>x</i> <i>y</i>") == [Match(7, 11, 19)]


@pytest.mark.parametrize(
    ("expression", "hit", "miss"),
    [
        (r"(?<=user=)admin", b"user=admin", b"role=admin"),
        (r"select(?!\s+1)", b"select *", b"select 1"),
        (r"a++b", b"aab", b"ac"),
        (r"(?>a|ab)c", b"ac", b"abc"),  # atomic: no backtracking into the group
    ],
)
def test_constructs_hyperscan_rejects_are_confirmed(expression: str, hit: bytes, miss: bytes) -> None:
    db = compile_patterns([Pattern(1, expression)], backend="hyperscan")
    assert db.path_of(1) == "prefilter+confirm"
    assert db.matched_ids(hit) == {1}
    assert db.matched_ids(miss) == set()


def test_regex_only_fallback_when_even_prefilter_fails() -> None:
    db = compile_patterns([Pattern(1, r"x{2,70000}y"), Pattern(2, "z")], backend="hyperscan")
    assert db.path_of(1) == "regex"
    assert db.report["regex"] == 1
    assert db.matched_ids(b"axxy z") == {1, 2}
    assert db.matched_ids(b"axy") == set()
    assert db.scan(b"axxy") == [Match(1, 1, 4)]


def test_pcre_only_syntax_runs_on_python_side() -> None:
    # Back reference plus PCRE-only syntax Python re lacks: translated for the confirm step.
    db = compile_patterns([Pattern(1, r"(?<q>['\x22])[[:alpha:]]+\k<q>\z")], backend="hyperscan")
    assert db.path_of(1) == "prefilter+confirm"
    assert db.matched_ids(b"x='abc'") == {1}
    assert db.matched_ids(b"x='abc\"") == set()
    assert db.matched_ids(b"x='abc'\n") == set()  # \z: no final newline allowed


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_compile_error_names_pattern_and_both_engines(backend: str) -> None:
    patterns = [Pattern(1, "ok"), Pattern(42, r"a(?|b|c)\G"), Pattern(43, "(unclosed")]
    with pytest.raises(PatternCompileError) as info:
        compile_patterns(patterns, backend=backend)
    err = info.value
    assert err.pattern_id == 42 and err.expression == r"a(?|b|c)\G"
    assert "pattern 42" in str(err) and "branch reset" in str(err)
    assert err.python_error is not None and "branch reset" in err.python_error
    if backend == "hyperscan":
        assert err.hyperscan_error is not None and "hyperscan:" in str(err)
    assert [e.pattern_id for e in err.all_errors] == [42, 43]
    assert "missing closing parenthesis" in str(err.all_errors[1]) or "missing )" in str(err.all_errors[1])
    assert isinstance(err, ValueError)


def test_pattern_python_cannot_translate_still_runs_on_hyperscan() -> None:
    # \p{L} has no Python bytes equivalent; Hyperscan runs it itself (ASCII letters, non-UCP).
    db = compile_patterns([Pattern(1, r"id=\p{L}+")], backend="hyperscan")
    assert db.path_of(1) == "hyperscan"
    assert db.matched_ids(b"id=abc") == {1} and db.matched_ids(b"id=123") == set()
    with pytest.raises(PatternCompileError, match=r"unsupported escape \\p"):
        compile_patterns([Pattern(1, r"id=\p{L}+")], backend="python")
