"""The pure half of ``scripts/mutate``: which mutants are generated (selected operators, none in
type annotations, no star that is not an operator), the equivalents file, and the report. No I/O
beyond what it is handed, so ``tests/kernel/test_mutate_smoke.py`` checks it in milliseconds."""

from __future__ import annotations

import ast
import difflib
import tomllib
from dataclasses import dataclass, field

# cosmic-ray replaces each binary/comparison operator by every other one (11 and 7 mutants per
# site). One or two replacements per operator find the same missing tests (selective mutation)
# at a fraction of the run time; --all-operators uses the full set.
SELECTED_REPLACEMENTS = {
    "ReplaceBinaryOperator": {
        "Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Mul", "Mod_FloorDiv", "Pow_Mul",
        "BitOr_BitAnd", "BitAnd_BitOr", "BitXor_BitOr", "LShift_RShift", "RShift_LShift",
    },
    "ReplaceComparisonOperator": {
        "Eq_NotEq", "NotEq_Eq", "Lt_LtE", "Lt_GtE", "LtE_Lt", "LtE_Gt", "Gt_GtE", "Gt_LtE",
        "GtE_Gt", "GtE_Lt", "Is_IsNot", "IsNot_Is", "In_NotIn", "NotIn_In",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    """One mutation of the module: cosmic-ray's operator and occurrence, and where it applies."""

    operator: str
    occurrence: int
    line: int
    col: int
    definition: str | None = None
    end: tuple[int, int] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Equivalent:
    """An entry of the equivalents file: mutants judged to behave exactly like the original."""

    module: str
    line: int
    operator: str
    why: str
    col: int | None = None
    to: str | None = None  # text the mutated line contains (NumberReplacer makes +1 and -1 at one spot)

    def matches(self, module: str, mutant: Mutant, mutated_line: str = "") -> bool:
        return (
            self.module == module
            and self.line == mutant.line
            and self.operator == mutant.operator
            and (self.col is None or self.col == mutant.col)
            and (self.to is None or "".join(self.to.split()) in "".join(mutated_line.split()))
        )


@dataclass
class Outcome:
    """What happened to one mutant: ``killed``, ``survived``, ``timeout`` or ``incompetent``."""

    mutant: Mutant
    status: str
    diff: str = ""


@dataclass
class Report:
    """Everything the report prints."""

    module: str
    tests: list[str]
    pytest_args: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    equivalents: list[tuple[Mutant, Equivalent]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_run: int = 0


def parse_equivalents(text: str) -> list[Equivalent]:
    """Read the equivalents file; a malformed entry is an error, not silently ignored."""
    entries = []
    for number, raw in enumerate(tomllib.loads(text).get("equivalent", []), start=1):
        missing = {"module", "line", "operator", "why"} - raw.keys()
        if missing:
            raise ValueError(f"equivalent #{number}: missing {', '.join(sorted(missing))}")
        unknown = raw.keys() - {"module", "line", "operator", "why", "col", "to"}
        if unknown:
            raise ValueError(f"equivalent #{number}: unknown key {', '.join(sorted(unknown))}")
        entries.append(Equivalent(**raw))
    return entries


def selected(operator: str) -> bool:
    """Whether the default (selective) operator set keeps this cosmic-ray operator."""
    name = operator.split("/", 1)[-1]
    family, _, pair = name.partition("_")
    return family not in SELECTED_REPLACEMENTS or pair in SELECTED_REPLACEMENTS[family]


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(line, column) spans of every type annotation, columns in characters like cosmic-ray's."""
    lines = source.splitlines()

    def char_col(line: int, byte_col: int) -> int:
        return len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg | ast.AnnAssign):
            note = node.annotation
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            note = node.returns
        else:
            continue
        if note is not None and note.end_lineno is not None and note.end_col_offset is not None:
            start = (note.lineno, char_col(note.lineno, note.col_offset))
            spans.append((start, (note.end_lineno, char_col(note.end_lineno, note.end_col_offset))))
    return spans


def in_annotation(mutant: Mutant, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    return any(start <= (mutant.line, mutant.col) < end for start, end in spans)


def not_an_operator(source: str, mutant: Mutant) -> bool:
    """cosmic-ray also "replaces" the * of a keyword-only marker or of *args/**kwargs unpacking,
    which no operator can stand in for: a star with nothing (or a bracket or comma) before it."""
    if not mutant.operator.split("/")[-1].startswith(
        ("ReplaceBinaryOperator_Mul_", "ReplaceBinaryOperator_Pow_")
    ):
        return False
    lines = source.splitlines()
    before = "\n".join([*lines[: mutant.line - 1], lines[mutant.line - 1][: mutant.col]]).rstrip()
    return before == "" or before[-1] in "(,[{"


def short_diff(original: str, mutated: str, module: str) -> str:
    lines = difflib.unified_diff(
        original.splitlines(), mutated.splitlines(), f"a/{module}", f"b/{module}", n=1, lineterm=""
    )
    return "\n".join(lines)


def format_report(report: Report) -> str:
    """The text printed at the end of a run (and written to the survivors files)."""
    counted = report.outcomes
    killed = [o for o in counted if o.status != "survived"]
    survivors = sorted((o for o in counted if o.status == "survived"), key=lambda o: o.mutant.line)
    total = len(counted)
    percent = f"{100 * len(killed) / total:.1f} %" if total else "n/a"
    by_status = {s: sum(o.status == s for o in counted) for s in ("killed", "timeout", "incompetent")}
    out = [
        f"mutation testing of {report.module}",
        f"tests: {' '.join(report.tests)}",
        f"pytest {' '.join(report.pytest_args)}",
        *(f"note: {note}" for note in report.notes),
        "",
        f"score: {len(killed)} / {total} killed ({percent})"
        f" [{by_status['killed']} failed a test, {by_status['timeout']} timed out,"
        f" {by_status['incompetent']} could not run]; {len(report.equivalents)} equivalent left out",
    ]
    if report.not_run:
        out.append(f"INCOMPLETE: {report.not_run} mutants not run (time budget reached)")
    out.append(f"\nsurvivors ({len(survivors)}):")
    for outcome in survivors:
        m = outcome.mutant
        where = f" in {m.definition}" if m.definition else ""
        out += ["", f"- line {m.line}, col {m.col}{where}: {m.operator} #{m.occurrence}", outcome.diff]
    if report.equivalents:
        out.append(f"\nequivalent, left out of the score ({len(report.equivalents)}):")
        for m, entry in sorted(report.equivalents, key=lambda pair: pair[0].line):
            out.append(f"- line {m.line}, col {m.col}: {m.operator}: {entry.why}")
    return "\n".join(out) + "\n"
