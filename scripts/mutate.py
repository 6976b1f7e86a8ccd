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
from pathlib import Path

from mutants import (  # scripts/mutants.py, beside this file
    Mutant,
    Outcome,
    Report,
    annotation_spans,
    format_report,
    in_annotation,
    not_an_operator,
    parse_equivalents,
    selected,
    short_diff,
)

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS_FILE = ROOT / "scripts" / "mutate-equivalents.toml"
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider"]
EMBEDDED_ONLY = "not services"

# The tests that cover each module (globs, so a new test_points_*.py file counts the day it lands).
DEFAULT_TESTS: dict[str, list[str]] = {
    "mengchong/economy/points.py": ["tests/economy/test_points*.py", "tests/economy/test_economy_routes*.py"],
    "mengchong/economy/inventory.py": ["tests/economy/test_inventory*.py"],
    "mengchong/accounts/tokens.py": ["tests/kernel/test_tokens*.py", "tests/accounts/test_guard*.py"],
    "mengchong/accounts/jws.py": ["tests/kernel/test_jws.py", "tests/kernel/test_tokens*.py"],
    "mengchong/accounts/guard.py": ["tests/accounts/test_guard*.py"],
    "plugins/pets/rules.py": ["tests/plugins/pets/test_rules*.py"],
    "plugins/checkin/rules.py": [
        "tests/plugins/checkin/test_checkin_rules.py",
        "tests/plugins/checkin/test_rules*.py",
    ],
    "plugins/leaderboard/scoring.py": ["tests/plugins/leaderboard/test_scoring.py"],
    "plugins/notifications/fields.py": ["tests/plugins/notifications/test_fields*.py"],
}


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
