#!/usr/bin/env python3
"""Markdown table of qsafe-crypto's benchmarks: qsafe next to raw aws-lc-rs, from criterion's output.

Reads every <criterion-dir>/**/new/{benchmark,estimates}.json that
`cargo bench -p qsafe-crypto --bench primitives` wrote, pairs the functions "qsafe" and
"aws-lc-rs" of the same group (and size), and prints one row per operation: the median time
of each (with ops/s) and the ratio qsafe median / aws-lc-rs median. A ratio of 1.00 means our
layer costs nothing measurable; ratios above --threshold are flagged.

Python 3 standard library only. Exit status 0; 1 with --strict when a ratio is flagged; 2 when
no results are found.
"""

import argparse
import json
import os
import sys
from pathlib import Path

QSAFE = "qsafe"
BASELINE = "aws-lc-rs"
# Row order: by the first prefix that matches, then in the order of OPERATIONS, then by name.
FAMILIES = ["ml-kem", "x-wing", "ml-dsa", "ecdsa", "ed25519", "composite",
            "envelope-mlkem", "envelope-xwing", "envelope-symmetric"]
OPERATIONS = ["keygen", "keygen-from-seed", "encapsulate", "decapsulate", "sign", "verify",
              "seal", "open"]


def default_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    root = Path(__file__).resolve().parents[2]
    return (Path(target) if target else root / "target") / "criterion"


def load(criterion_dir: Path, since: float | None):
    """{(group, size): {function: median_ns}}, and how many stale results were skipped."""
    results: dict[tuple[str, str], dict[str, float]] = {}
    stale = 0
    for meta_path in sorted(criterion_dir.glob("**/new/benchmark.json")):
        est_path = meta_path.with_name("estimates.json")
        if not est_path.exists():
            continue
        if since is not None and est_path.stat().st_mtime < since:
            stale += 1
            continue
        meta = json.loads(meta_path.read_text())
        median_ns = json.loads(est_path.read_text())["median"]["point_estimate"]
        key = (meta["group_id"], meta.get("value_str") or "")
        results.setdefault(key, {})[meta["function_id"]] = median_ns
    return results, stale


def cell(ns: float | None) -> str:
    """'13.4 µs (74.6k/s)'"""
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0)):
        if ns >= scale or unit == "ns":
            time = f"{ns / scale:.3g} {unit}"
            break
    ops = 1e9 / ns
    if ops >= 1e6:
        rate = f"{ops / 1e6:.3g}M/s"
    elif ops >= 1e3:
        rate = f"{ops / 1e3:.3g}k/s"
    else:
        rate = f"{ops:.3g}/s"
    return f"{time} ({rate})"


def size_bytes(size: str) -> int:
    """'4KiB' -> 4096, for ordering rows by size."""
    for suffix, scale in (("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)):
        if size.endswith(suffix) and size[: -len(suffix)].isdigit():
            return int(size[: -len(suffix)]) * scale
    return 0


def order(item):
    (group, size), _ = item
    family = next((i for i, f in enumerate(FAMILIES) if group.startswith(f)), len(FAMILIES))
    op = group.rsplit("/", 1)[-1]
    rank = OPERATIONS.index(op) if op in OPERATIONS else len(OPERATIONS)
    return (family, group.rsplit("/", 1)[0], rank, group, size_bytes(size), size)


def median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def combine(rounds: list[dict]) -> dict:
    """{(group, size): {"qsafe": ns, "aws-lc-rs": ns, "ratios": [per-round ratio]}}: median
    times over the rounds, and each round's own ratio (both sides measured minutes apart at most,
    so a ratio is steadier than a time on a shared machine)."""
    out: dict[tuple[str, str], dict] = {}
    keys = {key for r in rounds for key in r}
    for key in keys:
        row: dict = {"ratios": []}
        for side in (QSAFE, BASELINE):
            times = [r[key][side] for r in rounds if side in r.get(key, {})]
            if times:
                row[side] = median(times)
        for r in rounds:
            q, b = r.get(key, {}).get(QSAFE), r.get(key, {}).get(BASELINE)
            if q is not None and b is not None:
                row["ratios"].append(q / b)
        out[key] = row
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criterion-dir", type=Path, default=default_dir(),
                        help="criterion's output directory (default: <target>/criterion)")
    parser.add_argument("--since", type=float, default=None,
                        help="ignore results older than this Unix time (left from earlier runs)")
    parser.add_argument("--threshold", type=float, default=1.10,
                        help="flag ratios above this (default 1.10)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a ratio is flagged")
    parser.add_argument("--save", type=Path, default=None,
                        help="also write this run's results to FILE (JSON), for --rounds")
    parser.add_argument("--rounds", type=Path, nargs="+", default=None,
                        help="report the median over files written by --save instead")
    args = parser.parse_args()

    stale = 0
    if args.rounds:
        rounds = []
        for path in args.rounds:
            saved = json.loads(path.read_text())
            rounds.append({(r["group"], r["size"]): r["medians"] for r in saved})
    else:
        results, stale = load(args.criterion_dir, args.since)
        if not results:
            print(f"no criterion results under {args.criterion_dir}", file=sys.stderr)
            return 2
        if args.save:
            args.save.write_text(json.dumps(
                [{"group": g, "size": s, "medians": m} for (g, s), m in results.items()]))
        rounds = [results]
    rows = combine(rounds)
    many = len(rounds) > 1

    spread = " | ratio range" if many else ""
    print(f"| operation | qsafe median | {BASELINE} median | ratio{spread} |")
    print("|---|---:|---:|---:|" + ("---:|" if many else ""))
    flagged = []
    for (group, size), row in sorted(rows.items(), key=order):
        name = f"{group} ({size})" if size else group
        q, b, ratios = row.get(QSAFE), row.get(BASELINE), row["ratios"]
        if q is None and b is None:
            continue
        ratio = "—"
        if ratios:
            r = median(ratios)
            ratio = f"{r:.2f}"
            if r > args.threshold:
                ratio = f"**{ratio}**"
                flagged.append(name)
        extra = ""
        if many:
            extra = f" | {min(ratios):.2f}–{max(ratios):.2f}" if ratios else " | —"
        print(f"| {name} | {cell(q)} | {cell(b)} | {ratio}{extra} |")
    print()
    what = f"medians over {len(rounds)} runs" if many else "medians of criterion samples"
    print(f"Times: {what}; ratio = qsafe / {BASELINE} time (lower is better)"
          + (", the median of each run's ratio." if many else "."))
    if stale:
        print(f"{stale} older result(s), not from this run, left out.")
    if flagged:
        print(f"Above {args.threshold:.2f}: " + ", ".join(flagged) + ".")
    return 1 if flagged and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
