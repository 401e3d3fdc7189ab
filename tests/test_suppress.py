"""# noqa comments."""
import pytest

from rnnshape.diagnostic import Diagnostic
from rnnshape.suppress import filter_suppressed, is_suppressed, noqa_map, unused_noqa


@pytest.mark.parametrize("comment, codes", [
    ("# noqa", None),
    ("# NOQA", None),
    ("#noqa", None),
    ("# noqa:", None),                       # flake8 reads a colon without codes as bare
    ("# noqa RNN001", None),                 # ... and codes without a colon too
    ("# noqa: RNN001", {"RNN001"}),
    ("#noqa:RNN001", {"RNN001"}),
    ("# noqa: RNN001, RNN002", {"RNN001", "RNN002"}),
    ("# noqa:rnn001 RNN002,E501", {"RNN001", "RNN002", "E501"}),
    ("# NoQA: RNN101 -- eval is intended here", {"RNN101"}),
    ("# type: ignore  # noqa: RNN005", {"RNN005"}),
])
def test_noqa_forms(comment, codes):
    assert noqa_map(f"x = f()  {comment}\n") == {1: codes}


def test_comments_that_are_not_noqa():
    assert noqa_map("x = 1  # no qa\ny = 2  # noqaa is not a word we know\n") == {}
    assert noqa_map("x = 1  # see noqa docs\n") == {}


def test_noqa_inside_strings_does_not_count():
    source = (
        's = "# noqa"\n'
        'doc = """\n'
        '# noqa: RNN001\n'
        '"""\n'
        "t = f'{x}  # noqa'  # noqa: RNN002\n"
    )
    assert noqa_map(source) == {5: {"RNN002"}}


def test_rows_are_one_based_and_multi_line_statements_count_per_line():
    source = "a = 1\nb = f(\n    x,  # noqa: RNN003\n)\n"
    assert noqa_map(source) == {3: {"RNN003"}}


def test_comments_in_an_unclosed_bracket_are_still_read_as_tokens():
    source = 's = "# noqa: RNN009"\ny = (\nz,  # noqa: RNN002\n'
    assert noqa_map(source) == {3: {"RNN002"}}


def test_tokenize_error_keeps_earlier_rows_and_guesses_the_rest_line_by_line():
    source = (
        "x = 1  # noqa: RNN001\n"
        's = "# noqa: RNN009"\n'      # before the error: read properly, not a comment
        "b = \'\'\'\n"                  # an unterminated string: tokenize gives up here
        "c = 2  # noqa: RNN005\n"     # after it only the regex sees this (a guess)
    )
    assert noqa_map(source) == {1: {"RNN001"}, 4: {"RNN005"}}


def test_is_suppressed():
    noqa = {3: None, 5: {"RNN001"}}
    assert is_suppressed(3, "RNN104", noqa)
    assert is_suppressed(5, "RNN001", noqa)
    assert is_suppressed(5, "rnn001", noqa)
    assert not is_suppressed(5, "RNN002", noqa)
    assert not is_suppressed(4, "RNN001", noqa)


def diag(code, row):
    return Diagnostic(code, "n", "m", "error", "a.py", row, 1, row, 2)


def test_filter_suppressed_keeps_order_and_drops_only_matches():
    ds = [diag("RNN001", 1), diag("RNN002", 1), diag("RNN001", 2), diag("RNN005", 3)]
    kept = filter_suppressed(ds, noqa_map("a  # noqa: RNN001\nb  # noqa\nc\n"))
    assert [(d.code, d.row) for d in kept] == [("RNN002", 1), ("RNN005", 3)]


def test_unused_noqa_reports_only_our_codes_and_unused_bare_comments():
    source = ("a  # noqa: RNN001, RNN002, E501\n"
              "b  # noqa\n"
              "c  # noqa\n"
              "d  # noqa: RNN005\n")
    ds = [diag("RNN001", 1), diag("RNN104", 3), diag("RNN005", 4)]
    assert unused_noqa(noqa_map(source), ds) == [(1, {"RNN002"}), (2, None)]
    assert unused_noqa(noqa_map(source), ds, known_codes={"RNN001", "E501"}) == [(1, {"E501"}), (2, None)]
