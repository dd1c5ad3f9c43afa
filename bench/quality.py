"""Benchmark: match quality of our engine on every data set, side by side with Splink.

Not a test. Run:
    python bench/quality.py [--datasets a,b] [--no-splink] [--no-ours] [--write docs/BENCHMARKS.md]

Why: the engine's figures only mean something next to a known reference, on data whose answer is
known and was not made by us. Every data set of ``/work/shared/datasets`` and the demo (2,000 and
10,000 companies, seed 42) goes through ``erpdata.matching.match_frames`` with its defaults
(``comparisons=None``: the shared columns of :func:`datasets.aligned`; ``many_to_many`` as
documented for the set) and through Splink's documented unsupervised recipe
(``bench/splink_runner.py``). Each job runs in its own child process (time and peak RSS are its
own; loading the data is not timed).

Our figures: precision, recall and F1 of the pairs with ``match == 1`` (the links the tool makes
at its default thresholds); recall@5 (a true match among a CRM record's top 5 candidates, over
CRM records that have one); precision of the auto band (pairs with ``band == "auto"`` and
``match == 1``: what a steward would accept unseen); pair completeness (true pairs that survived
blocking, from ``result.blocked_pairs``). Splink's: best F1 over all probability thresholds (an
oracle cut), F1 at ``match_probability >= 0.5``, its own pair completeness. Scoring rules
(labelled-only sets, many-to-many sets, the demo's CRM duplicates) are in ``bench/datasets.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import splink_runner
from datasets import (
    Dataset,
    best_threshold,
    import_engine,
    load,
    names,
    pair_completeness,
    recall_at_k,
    run_ours,
    score,
)
from report import add_child_arguments, finish, machine, peak_mb, run_dataset_child


def ours_child(name: str, out: Path | None, cache: Path | None) -> dict[str, Any]:
    """Child process: our whole job on one data set, timed; candidates and blocked pairs to
    ``out/ours_candidates.parquet`` and ``out/ours_blocked.parquet`` when ``out`` is given."""
    ds = load(name, cache)
    t0 = time.perf_counter()
    result = run_ours(ds)
    seconds = time.perf_counter() - t0
    if out is not None:
        result.candidates.drop(columns=["explanation"], errors="ignore").to_parquet(
            out / "ours_candidates.parquet", index=False)
        result.blocked_pairs[["crm_id", "erp_id"]].astype(str).to_parquet(
            out / "ours_blocked.parquet", index=False)
    stats = {k: v for k, v in result.stats.items() if isinstance(v, int | float | str)}
    return {"seconds": round(seconds, 2), "peak_mb": round(peak_mb()), "stats": stats,
            "thresholds": result.thresholds}


def run_ours_child(name: str, out: Path | None, cache: Path | None = None) -> dict[str, Any]:
    """Run :func:`ours_child` in a fresh process and return its JSON."""
    return run_dataset_child(__file__, name, out, cache)


def evaluate_ours(ds: Dataset, candidates: pd.DataFrame, blocked: pd.DataFrame
                  ) -> dict[str, float]:
    """Our figures on one data set (see the module doc)."""
    candidates = candidates.astype({"crm_id": str, "erp_id": str})
    linked = candidates[candidates["match"] == 1]
    auto = linked[linked["band"] == "auto"]

    def pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
        return list(zip(df["crm_id"], df["erp_id"], strict=True))

    links = score(pairs(linked), ds)
    best, _ = best_threshold(candidates, ds)
    return {"precision": links.precision, "recall": links.recall, "f1": links.f1,
            "best_f1": best.f1,
            "recall_at_5": recall_at_k(candidates, ds), "auto_precision": score(
                pairs(auto), ds).precision, "auto_n": len(auto), "links": len(linked),
            "pair_completeness": pair_completeness(blocked, ds), "blocked": len(blocked)}


def run_dataset(name: str, tmp: Path, *, ours: bool, splink: bool) -> dict[str, Any]:
    """Both engines on one data set (one at a time); the figures for its table row."""
    row: dict[str, Any] = {"name": name}
    ds = load(name, tmp)
    row["ds"] = ds
    if ours:
        job = run_ours_child(name, tmp, tmp)
        row["ours"] = {**job, **evaluate_ours(
            ds, pd.read_parquet(tmp / "ours_candidates.parquet"),
            pd.read_parquet(tmp / "ours_blocked.parquet"))}
    if splink and not ds.meta["variant"]:  # a variant's Splink run is its base set's
        out = tmp / "splink_pairs.parquet"
        job = splink_runner.run_child(name, out, tmp)
        row["splink"] = {**job, **splink_runner.evaluate(ds, pd.read_parquet(out))}
    return row


def _cardinality(ds: Dataset) -> str:
    if ds.meta["many_to_many"]:
        return "m:n"
    return "1:1" if ds.meta["one_to_one_ceiling"] == 1 else "≈1:1"


def _recall(value: float, ds: Dataset) -> str:
    """Recall, with the one-to-one ceiling when the truth makes 1.0 unreachable."""
    ceiling = ds.meta["one_to_one_ceiling"]
    if ceiling is not None and ceiling < 1:
        return f"{value:.3f} (≤{ceiling:.3f})"
    return f"{value:.3f}"


def render(rows: list[dict[str, Any]]) -> str:
    """The Markdown section: machine line, how to read it, one row per data set."""
    lines = [
        f"{machine()} Seed 42 for the demo. `—`: not run.",
        "",
        "Ours: P / R / F1 of the links (`match == 1`) at the default thresholds; R@5: a true "
        "match among the top 5 candidates; auto P: precision of the auto band's links (n); "
        "PC: pair completeness after blocking; best F1: the best F1 over all thresholds on our "
        "candidates' probabilities (oracle, as Splink's). Splink 5.0.0 (DuckDB, unsupervised, "
        "link_only): best F1 over all thresholds (oracle) and F1 at p ≥ 0.5. Labelled-only "
        "sets (beer, itunes_amazon): recall on the truth pairs, precision on the labelled pairs. "
        "card.: the cardinality documented for the set (the engine runs one-to-one unless m:n); "
        "≈1:1: documented 1-to-1 but the truth has some records with two partners (CRM "
        "duplicates in the demo). `R (≤c)`: c is the most a one-to-one linker can reach on "
        "that truth. `name:m2m`: the same set run many-to-many (every pair above the "
        "threshold is a link, as Splink links); its Splink figures are the row above.",
        "",
        "| data set | domain | rows crm / erp | true pairs | card. | P | R | F1 | best F1 | R@5 "
        "| auto P (n) | PC | s | MB | Splink best F1 | Splink F1 @0.5 | Splink PC | Splink s "
        "| Splink MB |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
        "|---:|",
    ]
    for row in rows:
        ds: Dataset = row["ds"]
        cells = [row["name"], ds.meta["domain"], f"{len(ds.crm):,} / {len(ds.erp):,}",
                 f"{len(ds.truth):,}", _cardinality(ds)]
        o = row.get("ours")
        if o:
            cells += [f"{o['precision']:.3f}", _recall(o["recall"], ds), f"{o['f1']:.3f}",
                      f"{o['best_f1']:.3f}",
                      f"{o['recall_at_5']:.3f}", f"{o['auto_precision']:.3f} ({o['auto_n']:,})",
                      f"{o['pair_completeness']:.3f}", f"{o['seconds']:.1f}",
                      f"{o['peak_mb']:,}"]
        else:
            cells += ["—"] * 9
        s = row.get("splink")
        if s:
            cells += [f"{s['best_f1']:.3f}", f"{s['f1_05']:.3f}",
                      f"{s['pair_completeness']:.3f}", f"{s['seconds']:.1f}",
                      f"{s['peak_mb']:,}"]
        else:
            cells += ["—"] * 5
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", help="comma-separated subset (default: all and the demo)")
    ap.add_argument("--no-splink", action="store_true", help="skip the Splink baseline")
    ap.add_argument("--no-ours", action="store_true", help="skip our engine")
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    ap.add_argument("--json", type=Path, help="also dump the raw figures here")
    add_child_arguments(ap)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(ours_child(args.child, args.out, args.cache)))
        return
    if not args.no_ours:
        import_engine()  # says so and exits non-zero if the engine is not there
    chosen = args.datasets.split(",") if args.datasets else names()
    rows = []
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"erpdata-quality-{name}-") as tmp:
            t0 = time.perf_counter()
            rows.append(run_dataset(name, Path(tmp), ours=not args.no_ours,
                                    splink=not args.no_splink))
            print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            print(render(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    finish(render(rows), rows, json_path=args.json, write=args.write, section="quality")


if __name__ == "__main__":
    main()
