"""Summarise a ``scripts/bench --py-spy DIR`` profile: where one endpoint's CPU time goes.

``python scripts/bench_profile.py DIR/GET_v1_users_profile.txt [--top 25] [--under FUNC]``

py-spy's raw format is one line per distinct stack, ``frame;frame;...;frame COUNT``, each frame
``function (file:line)``. Printed: the share of samples in which a function is on the stack
(inclusive) and at the top of it (self), with lines folded into the function. ``--under``
keeps only the samples whose stack passes through a function whose name contains the text.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def function_of(frame: str) -> str:
    """``name (path/to/module.py:12)`` -> ``name (module.py)``: lines folded, paths shortened."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    parts = path.split("/")
    short = "/".join(parts[-2:]) if "site-packages" in path or "mengchong" in path else parts[-1]
    return f"{match.group('function')} ({short})"


def summarise(lines: list[str], under: str | None) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [function_of(frame) for frame in stack.split(";")]
        if under is not None and not any(under in frame for frame in frames):
            continue
        samples = int(count)
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        self_time[frames[-1]] += samples
    return total, inclusive, self_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--under", help="only stacks through a function whose name contains this")
    args = parser.parse_args()
    total, inclusive, self_time = summarise(args.profile.read_text().splitlines(), args.under)
    if not total:
        raise SystemExit("no samples")
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", self_time)):
        print(f"\n{title}:")
        for name, samples in counter.most_common(args.top):
            print(f"  {100 * samples / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
