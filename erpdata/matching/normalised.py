"""Normalised features stored in the workspace: computed once, in bulk, recomputed only for
records whose compared values changed.

Why store them: normalising (legal forms, E.164 phones, org numbers with check digits) is the
costly per-value part of a match run, while a re-run after a steward's decisions or a small
re-load changes few records. Each side and kind has a table ``normalised_<side>_<kind>``: the
record's id, a digest of its raw compared values, and its features (:func:`features`). A
change of the compared fields or of :data:`FEATURES_VERSION` rebuilds the table: the
fingerprint keys on every comparison's columns, name and type, so an unmapped column that
starts (or stops) being compared, or whose values now say another type, rebuilds it too, and
the digest covers every raw column read (an unmapped column's values included).

The table is derived data: dropping it loses nothing but time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from erpdata.matching.checkpoints import Records
from erpdata.matching.prepare import FEATURES_VERSION, features
from erpdata.matching.spec import Comparison
from erpdata.progress import Progress
from erpdata.schema import check_side_kind
from erpdata.sql import read_frame, row_hashes, sql_ident
from erpdata.workspace import Workspace


def table_name(side: str, kind: str) -> str:
    """The table caching one side's features; side and kind are checked (they name it in the
    SQL of :func:`stored_features`)."""
    check_side_kind(side, kind)
    return f"normalised_{side}_{kind}"


def _fingerprint(comparisons: Sequence[Comparison], side: str) -> str:
    cols = [(c.columns(side), c.name, c.type) for c in comparisons]
    return json.dumps({"version": FEATURES_VERSION, "columns": cols})


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    (n,) = con.execute("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_schema = 'main' AND table_name = ?", [table]).fetchone() or (0,)
    return bool(n)


#: Records normalised and stored per transaction: a run that is stopped keeps the chunks it
#: finished (the next run normalises only the rest), and progress is told of each.
CHUNK = 100_000


def stored_features(ws: Workspace, con: duckdb.DuckDBPyConnection, side: str, kind: str,
                    frame: pd.DataFrame, comparisons: Sequence[Comparison],
                    progress: Progress | None = None) -> tuple[pd.DataFrame, Records]:
    """:func:`features` of ``frame`` (in its row order), normalising only the records that are
    new or changed since the last run and storing them, :data:`CHUNK` records per transaction
    (``progress`` hears of each chunk, and may stop the work between two).

    Returns the same frame :func:`features` would (``rid`` = row number), and the records as
    the checkpoints key them: ids and each one's digest of its raw compared values (row
    order)."""
    table = table_name(side, kind)
    raw = list(dict.fromkeys(col for c in comparisons for col in c.columns(side)))
    digest = row_hashes(frame, raw).view(np.int64)
    ids = frame["id"].astype(str).to_numpy()
    fingerprint = _fingerprint(comparisons, side)
    with ws.transaction(con):
        if ws.get_meta(table) != fingerprint or not _exists(con, table):
            con.execute(f"DROP TABLE IF EXISTS {table}")
            ws.set_meta(table, fingerprint, con)
            cached = pd.DataFrame({"id": pd.Series(dtype=object),
                                   "digest": pd.Series(dtype=np.int64)})
        else:
            cached = read_frame(con, f"SELECT id, digest FROM {table}")  # noqa: S608 - table from table_name() after check_side_kind()
    known = pd.Series(cached["digest"].to_numpy(), index=cached["id"].to_numpy())
    stale = np.flatnonzero(known.reindex(ids).to_numpy() != digest)
    what = f"{side.upper()} {kind} records"
    for start in range(0, len(stale), CHUNK):
        if progress is not None:
            progress(f"normalising {what}: {start:,} of {len(stale):,} new or changed",
                     start / len(stale))
        rows = stale[start:start + CHUNK]
        fresh = features(frame.iloc[rows].reset_index(drop=True), comparisons, side).drop(
            columns="rid").assign(digest=digest[rows])
        with ws.transaction(con):
            _store(con, table, fresh)
    with ws.transaction(con):
        con.register("present_ids", pd.DataFrame({"id": ids, "_pos": np.arange(len(ids))}))
        if _exists(con, table):
            con.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM present_ids)")  # noqa: S608 - table from table_name() after check_side_kind()
            out = read_frame(con, f"SELECT t.* EXCLUDE (digest) FROM present_ids p JOIN {table} t "  # noqa: S608 - table from table_name() after check_side_kind()
                             "USING (id) ORDER BY p._pos")
        else:  # no record on this side: the columns features() gives
            out = features(frame.iloc[:0], comparisons, side).drop(columns="rid")
        con.unregister("present_ids")
    out.insert(0, "rid", np.arange(len(out), dtype=np.int64))
    return out, Records(ids, digest)


def _store(con: duckdb.DuckDBPyConnection, table: str, fresh: pd.DataFrame) -> None:
    """Replace the stored features of the records in ``fresh`` (creating the table first)."""
    con.register("fresh_features", fresh)
    if not _exists(con, table):
        columns = ", ".join(
            f'{sql_ident(str(name))} '
            f'{"DOUBLE" if pd.api.types.is_float_dtype(dtype) else "VARCHAR"}'
            for name, dtype in fresh.dtypes.items() if name != "digest")
        con.execute(f"CREATE TABLE {table} ({columns}, digest BIGINT)")
    con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM fresh_features)")  # noqa: S608 - table from table_name() after check_side_kind()
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM fresh_features")  # noqa: S608 - table from table_name() after check_side_kind()
    con.unregister("fresh_features")
