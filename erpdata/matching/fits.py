"""A kind's kept :class:`~erpdata.matching.engine.Fit` in the workspace: what a run learnt
from all the records (the model, its thresholds, the name frequencies), reused by later runs
so that a re-load re-scores only the pairs of the records that changed.

Why a fit is learnt anew only now and then: learnt again after every re-load, the model moves
a little and with it every pair's probability, so every suggestion would be new and a run
could never be cheaper than the first. Kept, a pair's score follows from its two records
alone. It is learnt anew on ``refit`` (``erpdata match --refit``, the Match page's "Learn
anew"), when there is none or it compared other fields, and when half or more of either side's
records are new, changed or gone since it was learnt (:data:`STALE_SHARE`): it then describes fewer
of the records it scores than it does not, and a run re-scores about as much as a first run
anyway.

A fit is valid with the blocking statistics learnt with it only (``statistics_run``, kept by
:mod:`.checkpoints`): blocking with them, a record's candidates depend on itself and the other
side alone, as its scores do with the model.

Stored as a meta entry (the model, thresholds, how many records were counted, the comparisons
it is valid for, the run that learnt its blocking statistics),
``match_fit_<kind>_frequencies`` (comparison, value, records holding it) and
``match_fit_<kind>_records`` (side, rid, id, digest: the records it was learnt from, to count
what changed since; with the same record ids, by row, else joined by id). Like the checkpoints
it is derived data, written in the run's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pandas as pd

from erpdata.matching.checkpoints import Records, levels_key, records_table, statistics_run
from erpdata.matching.engine import Fit
from erpdata.matching.model import Model
from erpdata.matching.spec import Comparison
from erpdata.schema import check_side_kind
from erpdata.sql import read_frame, read_numpy
from erpdata.workspace import Workspace

#: A fit is learnt anew when at least this share of either side's records are new, changed or
#: gone since it was learnt (see the module docstring).
STALE_SHARE = 0.5


def table_name(kind: str) -> str:
    """The fit's meta key and table prefix of ``kind`` (checked: it names tables in SQL)."""
    check_side_kind("crm", kind)
    return f"match_fit_{kind}"


def load(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: str,
         comparisons: Sequence[Comparison], crm: Records, erp: Records
         ) -> tuple[Fit | None, str, int]:
    """The kept fit of ``kind``, how many records changed since it was learnt, and the first
    run whose stored suggestions' explanations are its own (:func:`explained_since`); or
    None and why a run must learn anew."""
    name = table_name(kind)
    raw = ws.get_meta(name)
    meta = json.loads(raw) if raw else {}
    if not meta:
        return None, "no model learnt yet", 0
    if meta.get("levels_key") != levels_key(comparisons):
        return None, "the fields compared changed since the model was learnt", 0
    if meta.get("statistics_run") != statistics_run(ws, kind, comparisons):
        return None, "the blocking statistics learnt with the model are gone", 0
    con.register("fit_now", records_table(crm, erp))
    try:
        # per side: records new, changed or gone since, and how many the fit was learnt from
        rows = _changed_in_place(con, name, meta, crm, erp) or con.execute(
            f"""SELECT coalesce(n.side, o.side),
                       count(*) FILTER (WHERE n.id IS NULL OR o.id IS NULL
                                        OR n.digest <> o.digest), count(o.id)
                FROM fit_now n FULL JOIN {name}_records o ON n.side = o.side AND n.id = o.id
                GROUP BY ALL""").fetchall()  # noqa: S608 - name from table_name() after check_side_kind()
        freq = read_frame(con, f"SELECT name, value, n FROM {name}_frequencies")  # noqa: S608 - name from table_name() after check_side_kind()
    except duckdb.CatalogException:  # derived data someone dropped: learn anew
        return None, "the model's tables are missing", 0
    finally:
        con.unregister("fit_now")
    changed = {int(side): int(n) for side, n, _ in rows}
    for side, n, before in rows:
        if n and n >= STALE_SHARE * max(before, len((crm, erp)[side].ids)):
            return None, (f"{n:,} of the {before:,} {'CRM' if side == 0 else 'ERP'} records "
                          f"it was learnt from are new, changed or gone since run "
                          f"{meta['run_id']} learnt the model"), 0
    frequencies = {c.name: pd.Series(dtype="int64") for c in comparisons}
    for comp, group in freq.groupby("name", sort=False):
        frequencies[str(comp)] = pd.Series(group["n"].to_numpy(), index=group["value"].array)
    fit = Fit(Model.from_json(meta["model"]), {k: float(v) for k, v in meta["chosen"].items()},
              None if meta["best_f1"] is None else float(meta["best_f1"]), frequencies,
              int(meta["total"]), int(meta["run_id"]), int(meta["statistics_run"]))
    return fit, (f"{sum(changed.values()):,} records new, changed or gone since run "
                 f"{meta['run_id']} learnt it"), int(meta.get("explained_since", fit.run_id))


def _changed_in_place(con: duckdb.DuckDBPyConnection, name: str, meta: dict, crm: Records,
                      erp: Records) -> list[tuple[int, int, int]] | None:
    """Per side (side, records changed since, records the fit was learnt from) when the fit
    was learnt from these very record ids: each record kept its row, so the changed ones are
    those whose digest differs there, found without joining two million ids (0.2 s at
    1,000,000 per side); None otherwise."""
    if meta.get("ids") != [r.ids_digest for r in (crm, erp)]:
        return None
    try:
        stored = read_numpy(con, f"SELECT side, rid, digest FROM {name}_records")  # noqa: S608 - name from table_name() after check_side_kind()
    except duckdb.BinderException:  # kept before the rows were
        return None
    rows = []
    for side, records in enumerate((crm, erp)):
        mine = stored["side"] == side
        unchanged = records.unchanged(stored["rid"][mine], stored["digest"][mine])
        rows.append((side, int((~unchanged).sum()), int(mine.sum())))
    return rows


def save(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: str, fit: Fit,
         comparisons: Sequence[Comparison], crm: Records, erp: Records, *,
         explained_since: int) -> None:
    """Keep ``fit`` (learnt from ``crm`` and ``erp``) as the kind's; the caller holds the
    transaction. ``explained_since``: see :func:`explained_since`."""
    name = table_name(kind)
    freq = pd.concat([pd.DataFrame({"name": comp, "value": counts.index.astype(str),
                                    "n": counts.to_numpy(dtype="int64")})
                      for comp, counts in fit.frequencies.items()]
                     or [pd.DataFrame({"name": [], "value": [], "n": []})], ignore_index=True)
    con.register("fit_frequencies", freq.astype({"name": str, "value": str, "n": "int64"}))
    con.register("fit_records", records_table(crm, erp))
    con.execute(f"CREATE OR REPLACE TABLE {name}_frequencies AS SELECT * FROM fit_frequencies")  # noqa: S608 - name from table_name() after check_side_kind()
    con.execute(f"CREATE OR REPLACE TABLE {name}_records AS "  # noqa: S608 - name from table_name() after check_side_kind()
                "SELECT side, rid, id, digest FROM fit_records")
    con.unregister("fit_frequencies")
    con.unregister("fit_records")
    ws.set_meta(name, json.dumps({
        "run_id": fit.run_id, "levels_key": levels_key(comparisons),
        "model": fit.model.to_json(), "chosen": fit.chosen, "best_f1": fit.best_f1,
        "total": fit.total, "explained_since": explained_since,
        "statistics_run": fit.statistics_run,
        "ids": [r.ids_digest for r in (crm, erp)]}), con)


def explained_since(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: str, run_id: int
                    ) -> None:
    """Say that the kind's stored suggestions written by run ``run_id`` or later carry the
    kept fit's explanations (a run with the fit keeps those). A run that learnt the fit and
    wrote its suggestions gives its own id; a run whose output equalled the stored rows,
    explanations included, gives 0: every stored row is then the fit's, whichever run wrote
    it (marking each row instead would update them all, a minute at 1,000,000 records)."""
    name = table_name(kind)
    raw = ws.get_meta(name)
    if raw:
        ws.set_meta(name, json.dumps({**json.loads(raw), "explained_since": run_id}), con)
