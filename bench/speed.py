"""Benchmark: wall time and peak memory of a whole match job on the demo companies, ours vs Splink.

Not a test. Run:  python bench/speed.py [--sizes 10000,100000,1000000] [--no-splink]
                  [--write docs/BENCHMARKS.md]

Why: the tool promises bulk matching on a laptop-sized machine, so what matters is how the whole
job (normalise, block, score, link) grows with the data, next to the well-known fast
probabilistic linker on the very same frames. For each size the demo (seed 42) is generated
once and kept as Parquet; then our job (``match_frames`` with its defaults on the demo company
frames, see ``bench/datasets.py``) and Splink's (``bench/splink_runner.py``: prep, training,
``predict()`` materialised in DuckDB) each run in a child process of their own, one at a time
(Splink at 1M per side needs ~14 GB; the machine has 24 GB). Time is the job alone (not loading
the Parquet); memory is the child's peak RSS (``VmHWM``), loading included.

Growth: time(largest)/time(previous size) next to what an n·log n job would show,
``(n2/n1) · log(n2)/log(n1)`` (12.0 for 100k -> 1M).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import splink_runner
from datasets import import_engine, load
from quality import run_ours_child
from report import machine, run_json_child, write_section

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def measure(size: int, cache: Path, *, splink: bool) -> dict[str, Any]:
    """Generate the demo at ``size`` (cached), then time our job and Splink's, one at a time."""
    name = f"demo_{size}"
    # Generated in a child too, so this process stays small while the jobs run.
    run_json_child([sys.executable, __file__, "--prepare", name, "--cache", str(cache)])
    row: dict[str, Any] = {"size": size, "ours": run_ours_child(name, None, cache)}
    print(f"{name} ours: {row['ours']}", file=sys.stderr, flush=True)
    if splink:
        row["splink"] = splink_runner.run_child(name, None, cache)
        print(f"{name} splink: {row['splink']['seconds']} s, {row['splink']['peak_mb']} MB, "
              f"{row['splink']['pairs']:,} pairs", file=sys.stderr, flush=True)
    return row


def _growth(rows: list[dict[str, Any]], who: str) -> str:
    """``t(n2)/t(n1)`` for the two largest sizes, or ``—``."""
    done = [r for r in rows if who in r]
    if len(done) < 2:
        return "—"
    a, b = done[-2], done[-1]
    return f"{b[who]['seconds'] / a[who]['seconds']:.1f}"


def render(rows: list[dict[str, Any]]) -> str:
    """The Markdown section: machine line, one row per size, the growth line."""
    lines = [
        f"{machine()} Demo companies (seed 42), the same frames for both; each job in its own "
        "process, one at a time. Ours: `match_frames` with its defaults (one-to-one), result "
        "in memory. Splink 5.0.0: DuckDB, documented unsupervised recipe (prep, blocking "
        "analysis, prior, u sampling 5e6 pairs, 2 EM passes, `predict()` materialised).",
        "",
        "| companies per side | ours s | ours peak MB | ours candidate pairs | Splink s "
        "| Splink peak MB | Splink scored pairs | Splink s / ours s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        o, s = r["ours"], r.get("splink")
        pairs = o["stats"].get("pairs", "—")
        cells = [f"{r['size']:,}", f"{o['seconds']:.1f}", f"{o['peak_mb']:,}",
                 f"{pairs:,}" if isinstance(pairs, int) else str(pairs)]
        if s:
            cells += [f"{s['seconds']:.1f}", f"{s['peak_mb']:,}", f"{s['pairs']:,}",
                      f"{s['seconds'] / o['seconds']:.1f}"]
        else:
            cells += ["—"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) >= 2:
        n1, n2 = rows[-2]["size"], rows[-1]["size"]
        nlogn = n2 / n1 * math.log(n2) / math.log(n1)
        lines += ["", f"Growth {n1:,} -> {n2:,} per side: ours ×{_growth(rows, 'ours')}, "
                      f"Splink ×{_growth(rows, 'splink')}; n·log n would be ×{nlogn:.1f}, "
                      f"linear ×{n2 / n1:.0f}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                    help="comma-separated companies per side")
    ap.add_argument("--no-splink", action="store_true", help="skip the Splink baseline")
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        load(args.prepare, args.cache)  # writes the Parquet cache the children read
        print("{}")
        return
    import_engine()  # says so and exits non-zero if the engine is not there
    rows = []
    with tempfile.TemporaryDirectory(prefix="erpdata-speed-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, Path(tmp), splink=not args.no_splink))
    table = render(rows)
    print(table)
    if args.write:
        write_section(args.write, "speed", table)


if __name__ == "__main__":
    main()
