"""scripts/mutate's pure parts: the equivalents file, the operator selection, the report.

The mutation runs themselves take minutes and are not part of the suite.
"""

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # mutate.py imports mutants.py from beside it, as when run
_spec = importlib.util.spec_from_file_location("mutate_script", ROOT / "scripts" / "mutate.py")
assert _spec is not None
assert _spec.loader is not None
mutate = importlib.util.module_from_spec(_spec)
sys.modules["mutate_script"] = mutate  # dataclasses look their module up while the class is built
_spec.loader.exec_module(mutate)
import mutants  # noqa: E402  (scripts/mutants.py, found through the path set above)

MODULE = "mengchong/economy/points.py"


def test_the_shipped_equivalents_file_parses():
    mutants.parse_equivalents((ROOT / "scripts" / "mutate-equivalents.toml").read_text())


def test_an_equivalent_matches_on_module_line_operator_and_optional_column():
    (entry, exact) = mutants.parse_equivalents(
        f"""
[[equivalent]]
module = "{MODULE}"
line = 10
operator = "core/ReplaceComparisonOperator_Lt_LtE"
why = "the bound is never reached"

[[equivalent]]
module = "{MODULE}"
line = 12
col = 8
operator = "core/NumberReplacer"
why = "any positive number does"
"""
    )
    assert entry.matches(MODULE, mutants.Mutant("core/ReplaceComparisonOperator_Lt_LtE", 3, 10, 4))
    assert not entry.matches(MODULE, mutants.Mutant("core/ReplaceComparisonOperator_Lt_LtE", 3, 11, 4))
    assert not entry.matches("other.py", mutants.Mutant("core/ReplaceComparisonOperator_Lt_LtE", 3, 10, 4))
    assert not entry.matches(MODULE, mutants.Mutant("core/ReplaceComparisonOperator_Lt_Gt", 3, 10, 4))
    assert exact.matches(MODULE, mutants.Mutant("core/NumberReplacer", 0, 12, 8))
    assert not exact.matches(MODULE, mutants.Mutant("core/NumberReplacer", 1, 12, 9))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[equivalent]]\nmodule = "m.py"\nline = 1\noperator = "core/AddNot"\n', "missing why"),
        (
            '[[equivalent]]\nmodule = "m.py"\nline = 1\noperator = "o"\nwhy = "w"\noccurence = 2\n',
            "unknown key occurence",
        ),
    ],
)
def test_a_malformed_equivalent_is_an_error(text, message):
    with pytest.raises(ValueError, match=message):
        mutants.parse_equivalents(text)


def test_the_equivalents_format_is_valid_toml_when_uncommented():
    example = "\n".join(
        line.removeprefix("# ")
        for line in (ROOT / "scripts" / "mutate-equivalents.toml").read_text().splitlines()
        if line.startswith("# ") and ("=" in line or line == "# [[equivalent]]")
    )
    tomllib.loads(example)
    (entry,) = mutants.parse_equivalents(example)
    assert entry.col == 17


def test_the_selective_operator_set():
    assert mutants.selected("core/ReplaceComparisonOperator_Lt_LtE")
    assert not mutants.selected("core/ReplaceComparisonOperator_Lt_IsNot")
    assert mutants.selected("core/ReplaceBinaryOperator_Add_Sub")
    assert not mutants.selected("core/ReplaceBinaryOperator_Add_BitXor")
    assert mutants.selected("core/NumberReplacer")
    assert mutants.selected("core/AddNot")


def test_mutants_inside_type_annotations_are_recognised():
    source = 'def f(a: int | None, b="é") -> int | None:\n    x: int | str = a | 1\n    return x\n'
    spans = mutants.annotation_spans(source)
    assert mutants.in_annotation(mutants.Mutant("o", 0, 1, 13), spans)  # the | in a's annotation
    assert mutants.in_annotation(mutants.Mutant("o", 0, 1, 35), spans)  # the | in the return annotation
    assert mutants.in_annotation(mutants.Mutant("o", 0, 2, 11), spans)  # the | in x's annotation
    assert not mutants.in_annotation(mutants.Mutant("o", 0, 2, 21), spans)  # a | 1: code


def test_the_report_gives_the_score_survivors_as_diffs_and_equivalents_apart():
    survivor = mutants.Mutant("core/ReplaceComparisonOperator_Lt_LtE", 0, 2, 7, "spend")
    equivalent = mutants.Mutant("core/NumberReplacer", 1, 1, 4)
    report = mutants.Report(MODULE, ["tests/economy/test_points.py"], ["-x", "-q"])
    report.outcomes = [
        mutants.Outcome(mutants.Mutant("core/AddNot", 0, 1, 0), "killed"),
        mutants.Outcome(mutants.Mutant("core/AddNot", 1, 3, 0), "timeout"),
        mutants.Outcome(mutants.Mutant("core/AddNot", 2, 4, 0), "killed"),
        mutants.Outcome(
            survivor, "survived", mutants.short_diff("a = 1\nif a < b:\n", "a = 1\nif a <= b:\n", MODULE)
        ),
    ]
    report.equivalents = [(equivalent, mutants.Equivalent(MODULE, 1, "core/NumberReplacer", "any value"))]
    text = mutants.format_report(report)
    assert "score: 3 / 4 killed (75.0 %)" in text
    assert "1 timed out" in text
    assert "1 equivalent left out" in text
    assert "- line 2, col 7 in spend: core/ReplaceComparisonOperator_Lt_LtE #0" in text
    assert "-if a < b:\n+if a <= b:" in text
    assert "- line 1, col 4: core/NumberReplacer: any value" in text


def test_stars_that_are_no_operator_are_recognised():
    source = "def f(a, *, b):\n    return g(*a, **b) * 2 ** (\n        *c,)\n"
    assert mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Mul_Div", 0, 1, 9))
    assert mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Mul_Div", 0, 2, 13))
    assert mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Pow_Mul", 0, 2, 17))
    assert mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Mul_Div", 0, 3, 8))
    assert not mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Mul_Div", 0, 2, 22))
    assert not mutants.not_an_operator(source, mutants.Mutant("core/ReplaceBinaryOperator_Pow_Mul", 0, 2, 26))


def test_an_equivalent_with_to_matches_only_the_mutant_whose_line_contains_it():
    (entry,) = mutants.parse_equivalents(
        f'[[equivalent]]\nmodule = "{MODULE}"\nline = 5\noperator = "core/NumberReplacer"\n'
        'to = "rows[-1]"\nwhy = "one row"\n'
    )
    mutant = mutants.Mutant("core/NumberReplacer", 0, 5, 11)
    assert entry.matches(MODULE, mutant, "    return rows[ -1]['id']")
    assert not entry.matches(MODULE, mutant, "    return rows[1]['id']")


def test_the_mutated_line_is_cosmic_rays(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("x = 1\ny = rows[0]\n")
    lines = {mutate.mutated_line(path, mutants.Mutant("core/NumberReplacer", n, 2, 9)) for n in (2, 3)}
    assert {"".join(line.split()) for line in lines} == {"y=rows[1]", "y=rows[-1]"}
