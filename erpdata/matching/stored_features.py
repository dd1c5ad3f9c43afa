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

Each row also keeps its ``_content``: DuckDB's ``hash`` of its features as stored (equal for
records identical after normalisation, the engine's copies), computed when the row is
written: hashing every record's features on every run took 0.4 s per side at 1,000,000.

The table is derived data: dropping it loses nothing but time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from erpdata.matching.checkpoints import Records
from erpdata.matching.prepare import FEATURES_VERSION, features
from erpdata.matching.spec import Comparison
from erpdata.progress import Progress
from erpdata.schema import check_side_kind
from erpdata.sql import arrow_frame, read_arrow, read_frame, sql_ident
from erpdata.workspace import Workspace


def table_name(side: str, kind: str) -> str:
    """The table caching one side's features; side and kind are checked (they name it in the
    SQL of :func:`update_features`)."""
    check_side_kind(side, kind)
    return f"normalised_{side}_{kind}"


#: The layout of the stored table (2: each row's ``_content`` hash), in its fingerprint.
LAYOUT = 2


def _fingerprint(comparisons: Sequence[Comparison], side: str) -> str:
    cols = [(c.columns(side), c.name, c.type) for c in comparisons]
    return json.dumps({"version": FEATURES_VERSION, "layout": LAYOUT, "columns": cols})


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    # fetchall: a result left unfinished would block the next register() on this connection
    ((n,),) = con.execute("SELECT count(*) FROM information_schema.tables "
                          "WHERE table_schema = 'main' AND table_name = ?", [table]).fetchall()
    return bool(n)


#: Records normalised and stored per transaction: a run that is stopped keeps the chunks it
#: finished (the next run normalises only the rest), and progress is told of each.
CHUNK = 100_000


#: A run keeps the features it stored (as :func:`read_features` gives them) when it
#: normalised at most this many records: a re-load's few changed ones, which the engine reads
#: next, while reading them back means scanning the whole table (0.3 s at 1,000,000).
KEEP_FRESH = CHUNK


def update_features(ws: Workspace, con: duckdb.DuckDBPyConnection, side: str, kind: str,
                    source: str, comparisons: Sequence[Comparison],
                    progress: Progress | None = None) -> tuple[Records, pd.DataFrame | None]:
    """Normalise the records of ``source`` (a query of their ids and raw columns) that are new
    or changed since the last run and store their :func:`features`, :data:`CHUNK` records per
    transaction (``progress`` hears of each chunk, and may stop the work between two); drop
    those of records no longer present.

    Returns the records as the checkpoints key them: ids and each one's digest of its raw
    compared values, by id (the engine's row order, which :func:`read_features` keeps); and
    the rows it stored, as the table returned them, when there were at most
    :data:`KEEP_FRESH` (else None; see :func:`read_features`' ``fresh``).

    Only the ids and digests of all records are read (DuckDB hashes the raw values where they
    are stored); the new and changed records' raw values stream in, a chunk at a time, so
    memory does not grow with the records that did not change (nor, in a first run, with
    the side: 10,000,000 records' raw values were 2.3 GB)."""
    table = table_name(side, kind)
    raw = list(dict.fromkeys(col for c in comparisons for col in c.columns(side)))
    listed = read_arrow(
        con, f"SELECT id, hash({_hashed(con, source, raw)}) AS digest "  # noqa: S608 - the caller's query; columns via sql_ident
             f"FROM ({source}) ORDER BY id")
    ids = listed.column("id").combine_chunks().cast(pa.large_string())
    digest = listed.column("digest").to_numpy().view(np.int64)
    del listed
    fingerprint = _fingerprint(comparisons, side)
    with ws.transaction(con):
        if ws.get_meta(table) != fingerprint or not _exists(con, table):
            con.execute(f"DROP TABLE IF EXISTS {table}")
            ws.set_meta(table, fingerprint, con)
    # which records are new or changed, and how many stored ones are gone, in SQL (a pandas
    # reindex on a million ids took 0.7 s)
    con.register("now_digests", pa.table({"id": ids, "digest": digest}))
    try:
        if _exists(con, table):
            found = read_arrow(
                con, f"""SELECT n.id, n.digest, t.id IS NULL AS new FROM now_digests n
                         LEFT JOIN {table} t USING (id)
                         WHERE t.digest IS DISTINCT FROM n.digest""")  # noqa: S608 - table from table_name() after check_side_kind()
            stale = found.select(["id", "digest"])
            new = int(pc.sum(found.column("new")).as_py() or 0)
            ((stored,),) = con.execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608 - table from table_name() after check_side_kind()
        else:
            stale, new, stored = pa.table({"id": ids, "digest": digest}), len(ids), 0
    finally:
        con.unregister("now_digests")
    what = f"{side.upper()} {kind} records"
    stored_rows: list[pa.Table] | None = [] if stale.num_rows <= KEEP_FRESH else None
    if stale.num_rows:
        # read on a cursor of its own: this connection writes each chunk meanwhile
        reader = ws.cursor()
        try:
            reader.register("stale_records", stale)
            batches = reader.sql(
                f"SELECT s.*, t.digest FROM ({source}) s JOIN stale_records t USING (id)"  # noqa: S608 - the caller's query
            ).to_arrow_reader(CHUNK)
            done = 0
            for batch in batches:
                if progress is not None:
                    progress(f"normalising {what}: {done:,} of {stale.num_rows:,} new or "
                             "changed", done / stale.num_rows)
                records = arrow_frame(pa.Table.from_batches([batch]))
                fresh = features(records.drop(columns="digest"), comparisons, side).drop(
                    columns="rid").assign(digest=records["digest"].to_numpy())
                with ws.transaction(con):
                    written = _store(con, table, fresh, comparisons)
                if stored_rows is not None:
                    stored_rows.append(written)
                done += batch.num_rows
        finally:
            reader.close()
    if stored + new > len(ids):  # some records are gone
        with ws.transaction(con):
            con.register("present_ids", pa.table({"id": ids}))
            con.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM present_ids)")  # noqa: S608 - table from table_name() after check_side_kind()
            con.unregister("present_ids")
    kept = None if stored_rows is None else (
        arrow_frame(pa.concat_tables(stored_rows)) if stored_rows else pd.DataFrame())
    return Records(ids, digest), kept


def _hashed(con: duckdb.DuckDBPyConnection, source: str, columns: list[str]) -> str:
    """The ``hash`` arguments of a record's digest: its ``columns`` as the engine's frames
    hold them (dates as timestamps, see :func:`~erpdata.sql.read_frame`), so that a digest is
    the same whether the values were hashed here or from a frame."""
    if not columns:
        return "NULL"
    schema = read_arrow(con, f"SELECT * FROM ({source}) LIMIT 0").schema  # noqa: S608 - the caller's query
    return ", ".join(f"CAST({sql_ident(c)} AS TIMESTAMP)" if pa.types.is_date(schema.field(c).type)
                     else sql_ident(c) for c in columns)


def read_features(con: duckdb.DuckDBPyConnection, side: str, kind: str, frame: pd.DataFrame,
                  records: Records, comparisons: Sequence[Comparison], *,
                  columns: Sequence[str] | None = None, rows: np.ndarray | None = None,
                  fresh: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The stored :func:`features` of ``records`` (``frame``'s, as :func:`update_features`
    returned them: in their order, ``rid`` = row number;
    ``columns``: these feature columns only, default all; ``rows``: of these rows only
    (ascending), ``rid`` then being theirs), and each record's content hash: DuckDB's
    ``hash`` of its compared values as stored, equal for records identical after
    normalisation (the engine's ``contents``). ``fresh``: the rows this run stored
    (:func:`update_features`); when they hold every record asked for, those are taken
    instead of reading the table."""
    table = table_name(side, kind)
    rid = np.arange(len(records.ids), dtype=np.int64) if rows is None else np.asarray(
        rows, dtype=np.int64)
    ids = records.ids if rows is None else records.ids.take(pa.array(rid))
    at = None if fresh is None or fresh.empty else pc.index_in(
        ids.cast(pa.large_string()), value_set=pa.array(fresh["id"].array, pa.large_string()))
    if at is not None and at.null_count == 0:
        out = fresh.take(at.to_numpy()).reset_index(drop=True).drop(columns="digest")
        if columns is not None:
            out = out[["id", *columns, "_content"]]
    else:
        out = _read(con, table, ids, rid, columns, frame, comparisons, side, rows is None)
    content = np.asarray(out.pop("_content").to_numpy(), dtype=np.uint64)
    out.insert(0, "rid", rid[:len(out)])
    return out, content


def _read(con: duckdb.DuckDBPyConnection, table: str, ids: pa.Array, rid: np.ndarray,
          columns: Sequence[str] | None, frame: pd.DataFrame,
          comparisons: Sequence[Comparison], side: str, every: bool) -> pd.DataFrame:
    """The stored rows of ``ids`` (in their order) for :func:`read_features`.

    ``every`` record's: :func:`update_features` leaves the table holding exactly the present
    records and lists them by id, so the table read by id is in their order, checked by
    comparing the ids (no join on a million of them: 0.17 s against 0.07 s)."""
    if not _exists(con, table):  # no record on this side: the columns features() gives
        return features(frame.iloc[:0], comparisons, side).drop(columns="rid").assign(
            _content=np.uint64(0))
    wanted = "t.* EXCLUDE (digest)" if columns is None else ", ".join(
        ["t.id", *(f"t.{sql_ident(c)}" for c in columns), "t._content"])
    if every:
        whole = read_arrow(con, f"SELECT {wanted} FROM {table} t ORDER BY t.id")  # noqa: S608 - table from table_name() after check_side_kind(); columns via sql_ident
        if whole.column("id").combine_chunks().equals(ids.cast(pa.large_string())):
            return arrow_frame(whole)
    con.register("present_ids", pa.table({"id": ids, "_pos": rid}))
    try:
        return read_frame(con, f"SELECT {wanted} FROM present_ids p JOIN {table} t "  # noqa: S608 - table from table_name() after check_side_kind(); columns via sql_ident
                               "USING (id) ORDER BY p._pos")
    finally:
        con.unregister("present_ids")


def _store(con: duckdb.DuckDBPyConnection, table: str, fresh: pd.DataFrame,
           comparisons: Sequence[Comparison]) -> pa.Table:
    """Replace the stored features of the records in ``fresh`` (creating the table first),
    each with its ``_content`` hashed from the values as the table holds them (cast to its
    column types); return the rows as stored."""
    con.register("fresh_features", fresh)
    try:
        if not _exists(con, table):
            columns = ", ".join(
                f'{sql_ident(str(name))} '
                f'{"DOUBLE" if pd.api.types.is_float_dtype(dtype) else "VARCHAR"}'
                for name, dtype in fresh.dtypes.items() if name != "digest")
            con.execute(f"CREATE TABLE {table} ({columns}, digest BIGINT, _content UBIGINT)")
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_schema = 'main' AND table_name = ?", [table]
                                 ).fetchall())
        content = ", ".join(f"CAST({sql_ident(c.name)} AS {types[c.name]})"
                            for c in comparisons) or "NULL"
        con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM fresh_features)")  # noqa: S608 - table from table_name() after check_side_kind()
        return read_arrow(con, f"INSERT INTO {table} BY NAME SELECT *, hash({content}) AS _content "  # noqa: S608 - table from table_name() after check_side_kind(); names via sql_ident, types from the catalog
                               "FROM fresh_features RETURNING *")
    finally:
        con.unregister("fresh_features")
