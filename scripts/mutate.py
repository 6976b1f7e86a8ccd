"""Mutation testing of one module against the tests that cover it (driven by ``scripts/mutate``).

The working tree is shared with people editing it, so nothing here ever touches it: the tracked
and untracked (not ignored) files are copied to a temporary directory, ``mengchong_plugins`` is
made to resolve to the copy's ``plugins/`` (a symlink plus ``PYTHONPATH``, found before the
editable install's finder), and cosmic-ray mutates the copy's module one mutant at a time, running
pytest once per mutant. The report gives the score and every survivor as a short diff.

Mutants listed in ``scripts/mutate-equivalents.toml`` (judged equivalent, with a why) are left
out of the score and listed apart. Not generated: mutants inside type annotations (no behaviour
here depends on them) and cosmic-ray's "replacements" of the star of ``*,`` or ``*args``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import glob
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS_FILE = ROOT / "scripts" / "mutate-equivalents.toml"
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider"]
EMBEDDED_ONLY = "not services"

# The tests that cover each module (globs, so a new test_points_*.py file counts the day it lands).
DEFAULT_TESTS: dict[str, list[str]] = {
    "mengchong/economy/points.py": ["tests/economy/test_points*.py", "tests/economy/test_economy_routes*.py"],
    "mengchong/economy/inventory.py": ["tests/economy/test_inventory*.py"],
    "mengchong/accounts/tokens.py": ["tests/kernel/test_tokens*.py", "tests/accounts/test_guard*.py"],
    "mengchong/accounts/guard.py": ["tests/accounts/test_guard*.py"],
    "plugins/pets/rules.py": ["tests/plugins/pets/test_rules*.py"],
}

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


def copy_tree(dest: Path) -> None:
    """Copy the working tree's tracked and untracked, not ignored files (never the originals)."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / "mengchong_plugins").symlink_to("plugins", target_is_directory=True)


def run_pytest(copy: Path, args: list[str]) -> tuple[int, float, str]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=copy, capture_output=True, text=True)
    return proc.returncode, time.monotonic() - started, proc.stdout + proc.stderr


def list_mutants(copy: Path, module: str, all_operators: bool) -> tuple[list[Mutant], int]:
    """Every mutant cosmic-ray would make (operator set narrowed unless all_operators)."""
    from cosmic_ray.commands import init
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(copy / ".mutate-session.sqlite"), WorkDB.Mode.create) as db:
        init([copy / module], db, {})
        items = [item.mutations[0] for item in db.work_items]
    source = (copy / module).read_text()
    spans = annotation_spans(source)
    mutants, in_notes = [], 0
    for spec in items:
        mutant = Mutant(
            spec.operator_name, spec.occurrence, *spec.start_pos, spec.definition_name, spec.end_pos
        )
        if in_annotation(mutant, spans) or not_an_operator(source, mutant):
            in_notes += 1
        elif all_operators or selected(mutant.operator):
            mutants.append(mutant)
    return sorted(mutants, key=lambda m: (m.line, m.col, m.operator)), in_notes


class CleanRunFailed(Exception):
    def __init__(self, output: str) -> None:
        super().__init__("the tests fail on the unmutated copy")
        self.output = output


def choose_profile(
    copy: Path, profile: str, pytest_args: list[str], mutants: int, budget: float, report: Report
) -> tuple[float, str]:
    """Run the tests once unmutated; narrow pytest_args to the embedded profile when asked or when
    both profiles would take more than the budget. Returns the clean run's time and output."""

    def clean(args: list[str]) -> tuple[float, str]:
        code, took, output = run_pytest(copy, args)
        if code != 0:
            raise CleanRunFailed(output)
        return took, output

    if profile == "both":
        return clean(pytest_args)
    pytest_args[:0] = ["-m", EMBEDDED_ONLY]
    took, output = clean(pytest_args)
    if profile == "embedded":
        return took, output
    if "deselected" not in output.strip().splitlines()[-1]:
        del pytest_args[:2]
        report.notes.append("the tests have no services-profile variant")
        return took, output
    estimate = took * mutants / 60
    if estimate <= budget / 2:  # the services profile at least doubles it
        both_took, both_output = clean(pytest_args[2:])
        estimate = both_took * mutants / 60
        if estimate <= budget:
            del pytest_args[:2]
            return both_took, both_output
    report.notes.append(
        f"embedded profile only: both profiles would take over {budget:g} min for {mutants} mutants"
        f" (~{estimate:.0f} min on the clean runs' times; --profile both to insist)"
    )
    return took, output


def mutated_line(path: Path, mutant: Mutant) -> str:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    mutated = mutate_code(path.read_text(), get_operator(mutant.operator)(), mutant.occurrence)
    return mutated.splitlines()[mutant.line - 1] if mutated else ""


def run_mutant(copy: Path, module: str, mutant: Mutant, command: str, timeout: float) -> Outcome:
    from cosmic_ray.mutating import mutate_and_test, mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_item import MutationSpec, TestOutcome

    path = copy / module
    end = mutant.end or (mutant.line, mutant.col + 1)
    spec = MutationSpec(path, mutant.operator, mutant.occurrence, (mutant.line, mutant.col), end)
    original = path.read_text()
    result = mutate_and_test([spec], command, timeout)
    if path.read_text() != original:  # cosmic-ray restores the file; make sure, or every later run is wrong
        path.write_text(original)
        raise RuntimeError(f"{module} was not restored after {mutant}")
    if result.test_outcome == TestOutcome.SURVIVED:
        mutated = mutate_code(original, get_operator(mutant.operator)(), mutant.occurrence)
        return Outcome(mutant, "survived", short_diff(original, mutated, module))
    if result.output == "timeout":
        return Outcome(mutant, "timeout")
    return Outcome(mutant, "killed" if result.test_outcome == TestOutcome.KILLED else "incompetent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="path of the module to mutate, e.g. mengchong/economy/points.py")
    parser.add_argument("--tests", nargs="+", help="test files (globs) to run; default: the module's map")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument(
        "--profile",
        choices=["auto", "both", "embedded"],
        default="auto",
        help="auto: both profiles unless the estimated run exceeds --budget-minutes",
    )
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: 3x the clean run, >= 30)")
    parser.add_argument("--all-operators", action="store_true", help="every cosmic-ray replacement")
    parser.add_argument("--max-minutes", type=float, help="start no mutant after this; report what ran")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)

    path = Path(args.module).resolve()  # the copy's module is mutated: never let it name the original
    if not path.is_relative_to(ROOT) or not path.is_file():
        parser.error(f"{args.module}: no such file in {ROOT}")
    module = path.relative_to(ROOT).as_posix()
    if not (ROOT / module).is_file():
        parser.error(f"{module}: no such file")
    patterns = args.tests or DEFAULT_TESTS.get(module)
    if not patterns:
        parser.error(f"no default tests for {module}: pass --tests")
    tests = sorted(
        {t for p in patterns for t in ([p] if "::" in p else glob.glob(p, root_dir=ROOT))},  # :: a test id
        key=patterns_order(patterns),
    )
    if not tests:
        parser.error(f"no test file matches {' '.join(patterns)}")
    equivalents = parse_equivalents(EQUIVALENTS_FILE.read_text()) if EQUIVALENTS_FILE.exists() else []

    # SIGTERM unwinds like Ctrl-C, so the temporary copy is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="mengchong-mutate-") as tmp:
        copy = Path(tmp)
        copy_tree(copy)
        os.environ.update(
            CI="true", PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=f"{copy}{os.pathsep}{copy / 'tests'}"
        )
        os.chdir(copy)  # cosmic-ray runs the test command in the current directory
        pytest_args = [*PYTEST_ARGS, *(["-k", args.keyword] if args.keyword else []), *tests]
        mutants, in_notes = list_mutants(copy, module, args.all_operators)
        report = Report(module, tests, pytest_args)
        report.notes.append(
            f"{len(mutants)} mutants ({in_notes} in annotations or no-operator stars skipped)"
        )
        try:
            took, output = choose_profile(
                copy, args.profile, pytest_args, len(mutants), args.budget_minutes, report
            )
        except CleanRunFailed as failed:
            print(failed.output, file=sys.stderr)
            print("mutate: the tests fail on the unmutated copy; fix them first", file=sys.stderr)
            return 1
        report.notes.append(f"clean run {took:.1f} s; {output.strip().splitlines()[-1]}")
        timeout = args.timeout or max(30.0, 3 * took)
        report.notes.append(f"timeout per mutant {timeout:.0f} s")
        command = shlex.join([sys.executable, "-m", "pytest", *pytest_args])
        if args.max_minutes:  # a cut-short run then samples the whole module, not its first lines
            random.Random(0).shuffle(mutants)
            report.notes.append(f"at most {args.max_minutes:g} min of mutants, in a shuffled order")
        started = time.monotonic()
        for number, mutant in enumerate(mutants, start=1):
            if args.max_minutes and time.monotonic() - started > args.max_minutes * 60:
                report.not_run = len(mutants) - number + 1
                break
            changed = mutated_line(copy / module, mutant) if any(e.to for e in equivalents) else ""
            entry = next((e for e in equivalents if e.matches(module, mutant, changed)), None)
            if entry is not None:
                report.equivalents.append((mutant, entry))
                continue
            outcome = run_mutant(copy, module, mutant, command, timeout)
            report.outcomes.append(outcome)
            print(f"[{number}/{len(mutants)}] {outcome.status:<11} line {mutant.line} {mutant.operator}",
                  file=sys.stderr, flush=True)  # fmt: skip
        report.notes.append(f"mutants ran in {(time.monotonic() - started) / 60:.1f} min")
    text = format_report(report)
    print(text, end="")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


def patterns_order(patterns: list[str]):
    """Sort key keeping the map's order (fast unit tests first, so -x stops a killed mutant early)."""

    def key(test: str) -> tuple[int, str]:
        return next(i for i, p in enumerate(patterns) if fnmatch.fnmatch(test, p)), test

    return key


if __name__ == "__main__":
    sys.exit(main())
