"""The Splink baseline: Splink 5.0.0 (DuckDB) with its documented unsupervised recipe, link_only.

Not a test, and Splink is never a runtime or test dependency (``bench/requirements.txt``).
Run:  python bench/splink_runner.py [DATASET ...]      (default: fodors_zagats splink_fake_1000
demo_2000) prints best-threshold F1, F1 at p >= 0.5, pair completeness, wall time and peak RSS.

Why a baseline at all: a figure like "F1 0.93" means nothing alone; the same data through the
best-known open-source probabilistic linker, set up the way its documentation says, tells the
reader whether our engine is good. So the recipe below follows Splink's docs step by step and is
derived from the column types only (the same rules for every data set, no tuning per set):

1. Data preparation, as the docs ask ("standardise before linking"): in DuckDB SQL, lower case,
   punctuation to spaces, blanks to NULL; phones to their last 8 digits, codes to letters and
   digits, URLs without scheme/``www.``/path, numbers parsed, free text also as a token array.
2. Comparisons from ``splink.comparison_library`` per type: ``NameComparison`` (person names),
   ``JaroWinklerAtThresholds`` (other names, addresses), ``ExactMatch`` with term-frequency
   adjustment (city, category, country), ``ExactMatch`` (codes, numbers), ``EmailComparison``,
   ``PostcodeComparison``, ``DateOfBirthComparison``, ``LevenshteinAtThresholds`` (phone, URL),
   ``ArrayIntersectAtSizes`` on the token array (free text).
3. Blocking for predictions: several rules, as the blocking guide recommends: exact value of each
   identifying column, first token and first-4-characters of each name-like column, and the
   first 3 characters of the main name with each location/date column. A rule is kept only if
   ``splink.blocking_analysis.count_comparisons_from_blocking_rules`` says it makes at most
   ``max(1e6, 20 x records)`` comparisons (the docs warn against rules that blow up).
4. ``estimate_probability_two_random_records_match`` on strict deterministic rules (exact main
   name and second column; each e-mail/code column) with ``recall=0.7`` as in the tutorial.
5. ``estimate_u_using_random_sampling(max_pairs=5e6)`` (the docs suggest 1e6-1e7 while building).
6. ``estimate_parameters_using_expectation_maximisation`` on two of the affordable rules, one on
   the main column and one on other columns, so that every comparison gets trained m values.
7. ``predict()`` with no threshold: every blocked pair with its ``match_probability``.

The job (prep + training + predict + reading the pairs back) runs in a child process, so its wall
time and peak RSS are its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import Dataset, Field, best_threshold, load, pair_completeness, score, slug
from report import add_child_arguments, peak_mb, run_dataset_child

MAX_U_PAIRS = 5e6  # u sampling: the docs' 1e6-1e7 range for building a model
PRIOR_RECALL = 0.7  # assumed recall of the deterministic rules, as in Splink's tutorial
#: Types whose first token / first characters make a sensible block.
NAMEISH = ("person_name", "name", "address")
#: Types too coarse to block on alone, but good next to the first characters of the main name.
LOCATIONISH = ("city", "postcode", "date", "phone", "category")
#: Types whose exact value is rare enough to block on alone.
IDENTIFYING = ("person_name", "name", "address", "text", "code", "phone", "email", "url",
               "postcode", "date")

_WORDS = ("nullif(trim(regexp_replace(regexp_replace(lower({c}), '[^\\p{{L}}\\p{{N}}]+', ' ', "
          "'g'), '\\s+', ' ', 'g')), '')")
_CLEAN_SQL: dict[str, str] = {
    "person_name": _WORDS, "name": _WORDS, "address": _WORDS, "city": _WORDS,
    "category": _WORDS, "country": _WORDS, "text": _WORDS,
    "code": "nullif(regexp_replace(lower({c}), '[^\\p{{L}}\\p{{N}}]+', '', 'g'), '')",
    "phone": "nullif(right(regexp_replace({c}, '[^0-9]+', '', 'g'), 8), '')",
    "email": "nullif(lower(trim({c})), '')",
    "url": ("nullif(split_part(regexp_replace(lower(trim({c})), '^(https?://)?(www\\.)?', ''), "
            "'/', 1), '')"),
    "number": ("CAST(try_cast(regexp_extract(replace({c}, ',', ''), '[0-9]+(\\.[0-9]+)?') "
               "AS DOUBLE) AS VARCHAR)"),
    "postcode": "nullif(upper(trim(regexp_replace({c}, '\\s+', ' ', 'g'))), '')",
    "date": "nullif(trim({c}), '')",
}


def _prepare_sql(source: str, fields: Sequence[Field]) -> str:
    """SELECT that turns a raw frame into Splink's input: ``unique_id`` + cleaned columns."""
    cols = ["CAST(id AS VARCHAR) AS unique_id"]
    for f in fields:
        expr = _CLEAN_SQL[f.type].format(c=f'CAST("{f.crm}" AS VARCHAR)')
        cols.append(f"{expr} AS {slug(f.crm)}")
        if f.type == "text":
            cols.append(f"list_distinct(string_split({expr}, ' ')) AS {slug(f.crm)}_tokens")
    return f"SELECT {', '.join(cols)} FROM {source}"


def _comparison(f: Field) -> Any:
    """The ``splink.comparison_library`` comparison the docs suggest for the column's type."""
    import splink.comparison_library as cl

    c = slug(f.crm)
    match f.type:
        case "person_name":
            return cl.NameComparison(c)
        case "name" | "address":
            return cl.JaroWinklerAtThresholds(c, [0.92, 0.8, 0.7])
        case "city" | "category" | "country":
            return cl.ExactMatch(c).configure(term_frequency_adjustments=True)
        case "code" | "number":
            return cl.ExactMatch(c)
        case "email":
            return cl.EmailComparison(c)
        case "postcode":
            return cl.PostcodeComparison(c)
        case "date":
            return cl.DateOfBirthComparison(c, input_is_string=True)
        case "phone" | "url":
            return cl.LevenshteinAtThresholds(c, [1, 2])
        case "text":
            return cl.ArrayIntersectAtSizes(f"{c}_tokens", [5, 3, 1])
    raise ValueError(f"no Splink comparison for type {f.type!r}")


Rule = tuple[frozenset[str], Any]  # the columns a blocking rule reads, and the rule


def _candidate_rules(fields: Sequence[Field]) -> list[Rule]:
    """Blocking rules for predictions, from the column types (see the module doc, step 3)."""
    from splink import block_on

    rules: list[Rule] = []
    for f in fields:
        c = slug(f.crm)
        if f.type in IDENTIFYING:
            rules.append((frozenset([c]), block_on(c)))
        if f.type in (*NAMEISH, "text"):
            rules.append((frozenset([c]), block_on(f"split_part({c}, ' ', 1)")))
        if f.type in NAMEISH:
            rules.append((frozenset([c]), block_on(f"substr({c}, 1, 4)")))
    main = slug(fields[0].crm)
    for f in fields[1:]:
        if f.type in LOCATIONISH:
            rules.append((frozenset([main, slug(f.crm)]),
                          block_on(f"substr({main}, 1, 3)", slug(f.crm))))
    return rules


def _affordable(tables: list[Any], rules: list[Rule], records: int
                ) -> tuple[list[Rule], dict[str, int]]:
    """The rules whose comparison count stays within the budget (counted on a sample if big),
    and every rule's count (dropped ones too, so the report can say what was dropped)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    budget = max(1e6, 20 * records)
    kept, counts = [], {}
    for cols, rule in rules:
        record = count_comparisons_from_blocking_rules(
            tables, blocking_rules=rule, link_type="link_only",
            record_sample_proportion=1.0 if records <= 200_000 else 0.02)[0]
        counts[record["blocking_rule"]] = int(record["marginal_comparison_count"])
        if 0 < record["marginal_comparison_count"] <= budget:
            kept.append((cols, rule))
    return kept, counts


def _em_rules(rules: list[Rule], main: str) -> list[Any]:
    """Two EM training rules (step 6): one on the main column, one on other columns, taken
    from the affordable prediction rules, so each trains the comparisons the other cannot.
    With a single column the second is missing and that column keeps Splink's default m."""
    on_main = [rule for cols, rule in rules if cols == {main}]
    elsewhere = [rule for cols, rule in rules if main not in cols]
    return on_main[:1] + elsewhere[:1]


def _deterministic_rules(tables: list[Any], main: str, second: str | None,
                         fields: Sequence[Field]) -> list[Any]:
    """Strict rules for the prior (step 4): exact main and second column, or exact main column
    alone when that finds nothing (e.g. two product descriptions are never equal), plus exact
    e-mail and code columns. Rules that find no pair are left out: Splink would take a prior
    of 0 and fail in ``predict``."""
    from splink import block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    def finds_pairs(rule: Any) -> bool:
        return count_comparisons_from_blocking_rules(
            tables, blocking_rules=rule, link_type="link_only",
            record_sample_proportion=1.0)[0]["marginal_comparison_count"] > 0

    first = [r for r in ([block_on(main, second)] if second else []) if finds_pairs(r)]
    rules = first or [r for r in [block_on(main)] if finds_pairs(r)]
    rules += [r for f in fields if f.type in ("email", "code") and slug(f.crm) not in
              (main, second) and finds_pairs(r := block_on(slug(f.crm)))]
    return rules


def run(crm: pd.DataFrame, erp: pd.DataFrame, fields: Sequence[Field], *,
        keep_pairs: bool = True) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Link ``crm`` to ``erp`` with Splink's documented recipe; all scored pairs + notes.

    Returns ``(pairs, info)``: pairs with ``crm_id, erp_id, probability`` (``None`` unless
    ``keep_pairs``: the speed benchmark stops at Splink's materialised predictions, as a user
    who writes them to a file would); info with the rule counts, the pair count and any
    training step Splink refused (recorded, not hidden).
    """
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator

    con = duckdb.connect()
    con.register("crm_raw", crm)
    con.register("erp_raw", erp)
    con.execute(f"CREATE TABLE crm AS {_prepare_sql('crm_raw', fields)}")
    con.execute(f"CREATE TABLE erp AS {_prepare_sql('erp_raw', fields)}")
    con.unregister("crm_raw")
    con.unregister("erp_raw")
    db_api = DuckDBAPI(connection=con)
    tables = [db_api.register("crm", dataset_display_name="crm"),
              db_api.register("erp", dataset_display_name="erp")]
    records = len(crm) + len(erp)
    rules, counts = _affordable(tables, _candidate_rules(fields), records)
    info: dict[str, Any] = {"rule_counts": counts, "rules": len(rules), "skipped": []}
    settings = SettingsCreator(link_type="link_only",
                               comparisons=[_comparison(f) for f in fields],
                               blocking_rules_to_generate_predictions=[r for _, r in rules],
                               retain_matching_columns=False)
    linker = Linker(tables, settings, log_level=logging.ERROR)

    main, *rest = [slug(f.crm) for f in fields if f.type in IDENTIFYING] or [slug(fields[0].crm)]
    second = rest[0] if rest else None
    strict = _deterministic_rules(tables, main, second, fields)
    if strict:
        linker.training.estimate_probability_two_random_records_match(strict, recall=PRIOR_RECALL)
    else:
        info["skipped"].append("prior: no deterministic rule finds a pair; Splink's default kept")
    linker.training.estimate_u_using_random_sampling(max_pairs=MAX_U_PAIRS, seed=1)
    for rule in _em_rules(rules, slug(fields[0].crm)):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:  # recorded, not hidden: Splink keeps the values it had
            info["skipped"].append(f"EM on {rule.get_blocking_rule('duckdb').blocking_rule_sql}: "
                                   f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    predictions = linker.inference.predict()
    table = predictions.physical_name
    if not keep_pairs:
        info["pairs"] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        return None, info
    pairs = con.sql(
        f"SELECT CASE WHEN source_dataset_l = 'crm' THEN unique_id_l ELSE unique_id_r END "
        f"AS crm_id, CASE WHEN source_dataset_l = 'crm' THEN unique_id_r ELSE unique_id_l END "
        f"AS erp_id, match_probability AS probability FROM {table}").df()
    info["pairs"] = len(pairs)
    return pairs, info


def child(name: str, out: Path | None, cache: Path | None) -> dict[str, Any]:
    """Child process: load the data set, run the job timed, write the pairs to ``out`` (if
    given; without it only their count is kept)."""
    from datasets import aligned

    ds = load(name, cache)
    crm, erp = aligned(ds)
    t0 = time.perf_counter()
    pairs, info = run(crm, erp, ds.meta["fields"], keep_pairs=out is not None)
    seconds = time.perf_counter() - t0
    if pairs is not None and out is not None:
        pairs.to_parquet(out, index=False)
    return {"seconds": round(seconds, 2), "peak_mb": round(peak_mb()), **info}


def run_child(name: str, out: Path | None, cache: Path | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh process; its JSON (time, peak RSS, rules, notes)."""
    return run_dataset_child(__file__, name, out, cache)


def evaluate(ds: Dataset, pairs: pd.DataFrame) -> dict[str, float]:
    """Splink's figures on a data set: best-threshold F1, F1 at p >= 0.5, pair completeness."""
    best, threshold = best_threshold(pairs, ds)
    at_half = score(zip(*(pairs.loc[pairs["probability"] >= 0.5, c] for c in ("crm_id", "erp_id")),
                        strict=True), ds)
    return {"best_f1": best.f1, "best_threshold": threshold, "best_precision": best.precision,
            "best_recall": best.recall, "f1_05": at_half.f1, "precision_05": at_half.precision,
            "recall_05": at_half.recall, "pair_completeness": pair_completeness(pairs, ds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=["fodors_zagats", "splink_fake_1000",
                                                    "demo_2000"])
    add_child_arguments(ap)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.out, args.cache)))
        return
    print("| data set | best F1 (t) | P / R at best | F1 @ 0.5 | pair completeness | pairs "
          "| seconds | peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="erpdata-splink-") as tmp:
        for name in args.datasets:
            out = Path(tmp) / f"{name}.parquet"
            job = run_child(name, out, Path(tmp))
            m = evaluate(load(name, Path(tmp)), pd.read_parquet(out))
            print(f"| {name} | {m['best_f1']:.3f} ({m['best_threshold']:.2f}) "
                  f"| {m['best_precision']:.3f} / {m['best_recall']:.3f} | {m['f1_05']:.3f} "
                  f"| {m['pair_completeness']:.3f} | {job['pairs']:,} | {job['seconds']} "
                  f"| {job['peak_mb']:,} |", flush=True)
            for note in job["skipped"]:
                print(f"  note: {note}", file=sys.stderr)
            for rule, count in job["rule_counts"].items():
                print(f"  rule {count:>12,}  {rule}", file=sys.stderr)


if __name__ == "__main__":
    main()
