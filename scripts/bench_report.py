"""How ``scripts/bench`` prints its table: each endpoint followed by the baselines measured in
its rounds, then the same-work and ceiling ratios, the RSS and the start time."""

from __future__ import annotations

from typing import Any


def print_table(report: dict[str, Any]) -> None:
    print()
    for note in report["notes"]:
        print(f"# {note}")
    header = (
        f"{'endpoint':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'CPU µs':>7} {'ratio':>6}"
        "  baseline"
    )
    print(header)
    print("-" * len(header))
    pending = list(report["baselines"])
    for row in report["results"]:
        print_row(row)
        beside = [row["baseline"], report["same_work"].get(row["endpoint"], {}).get("baseline")]
        for name in filter(None, beside):
            print_row(
                pending.pop(next(i for i, b in enumerate(pending) if b["endpoint"] == f"baseline: {name}"))
            )
    for row in report["ceiling"]:
        print(
            f"{row['baseline']}: {row['ratio']:.2f} of the Python ceiling's {row['ceiling'][9:]}"
            f" ({row['baseline_rps']:.0f} against {row['ceiling_rps']:.0f} req/s, the same rounds)"
        )
    for endpoint, same in report["same_work"].items():
        print(f"{endpoint}: {same['ratio']:.2f} of {same['baseline']} (the same statements, bare)")
    print(f"server RSS after the runs: {report['server_rss_mib']} MiB")
    print(f"process start to first 200 on /healthz: {report['startup_to_first_healthz_200_s']} s")


def print_row(row: dict[str, Any]) -> None:
    ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
    rps, p50, p99 = row["requests_per_second"], row["p50_ms"], row["p99_ms"]
    cpu = f"{row['cpu_us_per_request']:.0f}" if row["cpu_us_per_request"] is not None else "-"
    print(
        f"{row['endpoint']:30} {rps:9.1f} {p50:8.2f} {p99:8.2f} {row['non_2xx']:8d} {cpu:>7} {ratio:>6}  ",
        end="",
    )
    print(row["baseline"] or "")
