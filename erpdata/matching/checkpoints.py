"""Checkpoints of a match run's costly stages, kept in the workspace: a run that was stopped
(Ctrl-C, a kill, Cancel on the page) resumes after the last stage it finished, and a run on
records that did not change since the last one skips blocking and comparing altogether.

Why after blocking and after comparing: those are the stages that cost (at 1,000,000 per side
about 28 s and 14 s of a run of 90), and what they produce depends only on the normalised
records and the comparisons, not on stewards' decisions, settings or the model. So their
output (the candidate pairs, then each pair's agreement levels) is valid for as long as the
records' compared values and the plan are unchanged, which the :class:`Checkpoint`'s
``fingerprint`` states: the comparisons, both sides' record ids in order with a digest of each
record's compared values (:func:`erpdata.matching.stored_features.update_features`), the blocking
cap and :data:`VERSION`. Normalising has its own per-record store and resumes per chunk.

When the records did change (a re-load), blocking runs again, but a pair's levels depend on
its two records' values alone: a pair whose two records have the same id and digest as when
the stored levels were compared keeps them (:meth:`Checkpoint.known_levels`), and only the
pairs of new or changed records are compared. For that the comparing stage also keeps the
records it compared, ``match_checkpoint_<kind>_records`` (side, row number, id, digest).

Blocking with a kept fit's statistics (:class:`~erpdata.matching.blocking.Statistics`), a CRM
record's candidates depend on itself and the ERP side alone. So after a re-load of the CRM side
only, a run blocks only the CRM records that are new or changed and carries the stored pairs
of the others over (:meth:`Checkpoint.carried`): the stored pairs must have been blocked with
the same statistics, against the same ERP records.

A checkpoint is one table per kind, ``match_checkpoint_<kind>`` (``lrid, rrid`` and, once
compared, one ``TINYINT`` level column per comparison), its records' table, one meta entry
saying which stage it holds, and the statistics blocking learnt (``match_blocking_<kind>``: a
meta entry and four tables, kept until a run learns them anew); all are written in one
transaction, so a kill leaves the previous checkpoint or the new one, never half of one.
Beside them, the ERP side's 3-gram rows under those statistics (``_erp_grams``), so that a
run on the same ERP records does not read all their text again, and the rest of what blocking
derives from the ERP records alone under them (``_erp_*``: their words, rarest words, date
keys and rule keys with their holders; :func:`~erpdata.matching.blocking.erp_tables`), kept
by the run that blocked against the ERP records (:meth:`Checkpoint.keeping_erp_side`). A run
after a CRM re-load then blocks its changed records against those tables where they are
stored (:meth:`Checkpoint.erp_side`), and reads of the records' features only what it
blocks and compares. Like the normalised features they are derived data: dropping them
loses nothing but time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from erpdata.matching import blocking
from erpdata.matching.spec import Comparison
from erpdata.schema import check_side_kind
from erpdata.sql import read_numpy
from erpdata.workspace import Workspace

#: Raise it when blocking or comparing changes what it produces from the same records, so that
#: older checkpoints are not reused (2: pairs blocked with kept statistics).
VERSION = 2
#: The level of a pair not compared yet (:meth:`Checkpoint.known_levels`).
UNKNOWN = -2


def table_name(kind: str) -> str:
    """The checkpoint table of ``kind`` (checked: it names the table in SQL)."""
    check_side_kind("crm", kind)
    return f"match_checkpoint_{kind}"


def statistics_name(kind: str) -> str:
    """The meta key and table prefix of ``kind``'s kept blocking statistics (checked)."""
    check_side_kind("crm", kind)
    return f"match_blocking_{kind}"


def _statistics_meta(ws: Workspace, name: str) -> dict:
    """The meta entry of the blocking statistics stored under ``name`` (empty: none)."""
    raw = ws.get_meta(name)
    return json.loads(raw) if raw else {}


def statistics_run(ws: Workspace, kind: str, comparisons: Sequence[Comparison]) -> int | None:
    """The run that learnt ``kind``'s stored blocking statistics, when they are stored for
    these comparisons (a kept fit is valid only with the statistics learnt with it)."""
    meta = _statistics_meta(ws, statistics_name(kind))
    return int(meta["run_id"]) if meta.get("levels_key") == levels_key(comparisons) else None


def content_digest(ids: pa.Array | pa.ChunkedArray, digest: np.ndarray) -> str:
    """A digest of one side's records in frame order: their ids (which fix each record's row
    number, the ``rid`` the pairs are stored by) and each record's compared-values digest.
    The ids are hashed as Arrow holds them, each one's end offset and the text: no Python
    string per id."""
    h = _hashed_ids(ids)
    h.update(np.ascontiguousarray(digest, dtype=np.int64).tobytes())
    return h.hexdigest()


def ids_digest(ids: pa.Array | pa.ChunkedArray) -> str:
    """A digest of one side's record ids in frame order: equal, the records have the same
    row numbers (``rid``)."""
    return _hashed_ids(ids).hexdigest()


def _hashed_ids(ids: pa.Array | pa.ChunkedArray) -> hashlib.blake2b:
    h = hashlib.blake2b(digest_size=16)
    arr = (ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).cast(
        pa.large_string())
    if arr.null_count:
        raise ValueError("a record without an id")
    _, offsets, data = arr.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    h.update((ends - ends[0]).tobytes())
    if data is not None:
        h.update(memoryview(data)[int(ends[0]):int(ends[-1])])
    return h


class Carried(NamedTuple):
    """What :meth:`Checkpoint.carried` returns: the unchanged CRM records' stored pairs
    (``lrid``: their rows now, ``rrid``), the stored levels of those pairs (the stage stored
    was compared; their ERP records did not change either, so these are what
    :meth:`Checkpoint.known_levels` would find, read in the same pass), and the rows of the
    CRM records to block again (``rows``)."""

    lrid: np.ndarray
    rrid: np.ndarray
    rows: np.ndarray
    levels: np.ndarray | None


@dataclass(frozen=True)
class Records:
    """One side's records as a run sees them: ids in frame order (a record's ``rid`` is its
    place here; Arrow strings, as the frames hold them) and each record's compared-values
    digest."""

    ids: pa.Array
    digests: np.ndarray

    def digest(self) -> str:
        return content_digest(self.ids, self.digests)

    @functools.cached_property
    def ids_digest(self) -> str:
        """:func:`ids_digest` of the ids, hashed once: a run's checkpoint and fit both ask
        whether their stored rows are of these ids (0.03 s a side at 1,000,000)."""
        return ids_digest(self.ids)

    def unchanged(self, rid: np.ndarray, digests: np.ndarray) -> np.ndarray:
        """Per record (row), whether ``digests`` stored by row ``rid`` hold its digest now:
        of these very ids (same :attr:`ids_digest`), exactly the records that did not
        change."""
        stored = np.zeros(len(self.ids), dtype=np.int64)
        stored[np.asarray(rid, dtype=np.int64)] = np.asarray(digests, dtype=np.int64)
        return stored == np.asarray(self.digests, dtype=np.int64)


def records_table(crm: Records, erp: Records) -> pa.Table:
    """Both sides' records as (side, rid, id, digest), ``side`` 0 for the CRM: an Arrow table
    over the ids as they are (5 ms for two million records; a pandas frame of them took 0.8 s)
    for DuckDB to join on."""
    return pa.concat_tables([pa.table({
        "side": np.full(len(r.ids), at, dtype=np.int8),
        "rid": np.arange(len(r.ids), dtype=np.int64),
        "id": r.ids.cast(pa.large_string()),
        "digest": np.asarray(r.digests, dtype=np.int64)}) for at, r in enumerate((crm, erp))])


def levels_key(comparisons: Sequence[Comparison]) -> str:
    """What a pair's levels depend on besides its two records' values."""
    return json.dumps({"version": VERSION,
                       "comparisons": [(c.name, c.type, c.columns("crm"), c.columns("erp"))
                                       for c in comparisons]})


def _without_crm(fingerprint_json: str) -> dict:
    """A :func:`fingerprint` but for the CRM records' digest."""
    return {k: v for k, v in json.loads(fingerprint_json).items() if k != "crm"}


def fingerprint(comparisons: Sequence[Comparison], crm: Records, erp: Records,
                per_record: int) -> str:
    """What a checkpoint's pairs and levels depend on (see the module docstring)."""
    return json.dumps({"levels": levels_key(comparisons), "per_record": per_record,
                       "crm": crm.digest(), "erp": erp.digest()})


@dataclass(frozen=True)
class Stage:
    """What the blocking stage or the comparing stage left: the candidate pairs as row numbers
    of the two sides, sorted by ``lrid, rrid``, each pair's level per comparison, and the rows
    each blocking rule produced (the run's stats). ``run_id``: the run that computed it.
    After blocking, ``gamma`` is None, or holds the levels known from an earlier run
    (:meth:`Checkpoint.known_levels`) with :data:`UNKNOWN` in the rows still to compare."""

    lrid: np.ndarray
    rrid: np.ndarray
    gamma: np.ndarray | None
    rule_counts: dict[str, int]
    run_id: int = 0
    #: the run that learnt the blocking statistics the pairs were found with
    statistics_run: int = 0

    @property
    def name(self) -> str:
        return ("compared" if self.gamma is not None and not (self.gamma == UNKNOWN).any()
                else "blocked")


class Checkpoint:
    """The checkpoint of one kind's run in a workspace, valid for ``fingerprint`` only."""

    def __init__(self, ws: Workspace, con: duckdb.DuckDBPyConnection, kind: str,
                 comparisons: Sequence[Comparison], crm: Records, erp: Records,
                 per_record: int, run_id: int) -> None:
        self.ws, self.con, self.table = ws, con, table_name(kind)
        self.statistics_table = statistics_name(kind)
        #: the meta entry saying which ERP side's blocking tables are kept (see erp_side)
        self._erp_side_key = f"{self.statistics_table}_erp"
        self.fingerprint = fingerprint(comparisons, crm, erp, per_record)
        self._erp_digest = json.loads(self.fingerprint)["erp"]
        self.levels_key, self.records, self.run_id = levels_key(comparisons), (crm, erp), run_id
        self.per_record = per_record

    def _meta(self) -> dict:
        raw = self.ws.get_meta(self.table)
        return json.loads(raw) if raw else {}

    def holds_compared(self) -> bool:
        """Whether the stored stage is these records' compared pairs (a run then neither
        blocks nor compares, and needs few of the records' features)."""
        meta = self._meta()
        return meta.get("fingerprint") == self.fingerprint and meta.get("stage") == "compared"

    def stored_run(self) -> int | None:
        """The run that left the stored stage (None: nothing stored)."""
        run = self._meta().get("run_id")
        return None if run is None else int(run)

    def load(self) -> Stage | None:
        """The stage stored for this fingerprint, or None (none stored, or stored for other
        records or comparisons)."""
        meta = self._meta()
        if meta.get("fingerprint") != self.fingerprint:
            return None
        # saved in (lrid, rrid) order, and DuckDB scans a table in the order it was written
        # (preserve_insertion_order): sorted again only should that not hold (sorting 2.4M
        # pairs in SQL cost a second at 1,000,000 records)
        cols = read_numpy(self.con, f"SELECT * FROM {self.table}")  # noqa: S608 - table from table_name() after check_side_kind()
        lrid = np.asarray(cols["lrid"], dtype=np.int64)
        rrid = np.asarray(cols["rrid"], dtype=np.int64)
        order = None
        if len(lrid) > 1 and not (np.all(lrid[1:] >= lrid[:-1]) and np.all(
                (lrid[1:] > lrid[:-1]) | (rrid[1:] > rrid[:-1]))):
            # a patched stage (see save): one key per pair, sorted once
            order = np.argsort(lrid * (int(rrid.max()) + 1) + rrid)
            lrid, rrid = lrid[order], rrid[order]
        levels = [np.asarray(cols[f"g{k}"], dtype=np.int8) for k in range(meta["levels"])]
        if order is not None:
            levels = [x[order] for x in levels]
        return Stage(lrid, rrid, np.column_stack(levels) if levels else None,
                     {str(k): int(v) for k, v in meta["rule_counts"].items()},
                     int(meta["run_id"]), int(meta["statistics_run"]))

    def learnt_here(self, stage: Stage) -> bool:
        """Whether ``stage``'s pairs were blocked with statistics learnt from these very
        records (a run that learns anew may then reuse them: it would learn the same)."""
        meta = _statistics_meta(self.ws, self.statistics_table)
        return (meta.get("fingerprint") == self.fingerprint
                and meta.get("run_id") == stage.statistics_run)

    def statistics(self, run_id: int) -> blocking.Statistics | None:
        """The stored blocking statistics, when run ``run_id`` learnt them for these
        comparisons and this cap; else None."""
        meta = _statistics_meta(self.ws, self.statistics_table)
        if (meta.get("run_id"), meta.get("levels_key"), meta.get("per_record")) != (
                run_id, self.levels_key, self.per_record):
            return None
        try:
            tables = {name: self.con.table(f"{self.statistics_table}_{name}").to_arrow_table()
                      for name in (*blocking.STATISTICS_TABLES, "grams")}
        except duckdb.CatalogException:  # derived data someone dropped
            return None
        grams = np.zeros(blocking.GRAM_CODES + 1, dtype=np.float32)
        grams[tables["grams"].column("gram").to_numpy()] = tables["grams"].column(
            "weight").to_numpy()
        return blocking.Statistics(int(meta["cap"]), int(meta["quota"]),
                                   float(meta["min_share"]),
                                   *(tables[n] for n in blocking.STATISTICS_TABLES), grams)

    def erp_grams(self, statistics_run: int) -> sparse.csr_matrix | None:
        """The ERP side's 3-gram rows (:class:`~erpdata.matching.blocking.Blocked`) that a run
        blocking with the statistics run ``statistics_run`` learnt kept, when they are of
        these very ERP records and comparisons; else None."""
        meta = _statistics_meta(self.ws, f"{self.statistics_table}_erp_grams")
        if (meta.get("statistics_run"), meta.get("erp"), meta.get("levels_key")) != (
                statistics_run, self._erp_digest, self.levels_key):
            return None
        try:
            rows = self.con.table(f"{self.statistics_table}_erp_grams").fetchnumpy()
        except duckdb.CatalogException:  # derived data someone dropped
            return None
        return sparse.csr_matrix(
            (np.asarray(rows["weight"], dtype=np.float32),
             (np.asarray(rows["row"], dtype=np.int64), np.asarray(rows["gram"], dtype=np.int64))),
            shape=(len(self.records[1].ids), blocking.GRAM_CODES))

    def save_erp_grams(self, grams: sparse.csr_matrix, statistics_run: int) -> None:
        """Keep the ERP side's 3-gram rows a run computed with the statistics run
        ``statistics_run`` learnt (in a transaction of their own: they are valid whatever
        stage the run reaches). About 200,000 entries at 1,000,000 ERP records: the grams the
        statistics weigh are the rare ones."""
        coo = grams.tocoo()
        rows = pa.table({"row": coo.row.astype(np.int32), "gram": coo.col.astype(np.int32),
                         "weight": coo.data.astype(np.float32)})
        with self.ws.transaction(self.con):
            self.con.register("gram_rows", rows)
            self.con.execute(f"CREATE OR REPLACE TABLE {self.statistics_table}_erp_grams AS "  # noqa: S608 - statistics_name() after check_side_kind()
                             "SELECT * FROM gram_rows")
            self.con.unregister("gram_rows")
            self.ws.set_meta(f"{self.statistics_table}_erp_grams", json.dumps({
                "statistics_run": statistics_run, "erp": self._erp_digest,
                "levels_key": self.levels_key}), self.con)

    def _erp_side_meta(self, statistics_run: int, comparisons: Sequence[Comparison]) -> dict:
        return {"statistics_run": statistics_run, "erp": self._erp_digest,
                "levels_key": self.levels_key, "tables": blocking.erp_tables(comparisons)}

    def holds_erp_side(self, statistics_run: int, comparisons: Sequence[Comparison]) -> bool:
        """Whether the ERP side's blocking tables (:func:`~erpdata.matching.blocking.erp_tables`)
        kept are of these ERP records, comparisons and the statistics run
        ``statistics_run`` learnt."""
        return _statistics_meta(self.ws, self._erp_side_key) == self._erp_side_meta(
            statistics_run, comparisons)

    @contextlib.contextmanager
    def keeping_erp_side(self, comparisons: Sequence[Comparison], statistics_run: int
                         ) -> Iterator[Callable[[duckdb.DuckDBPyConnection, str], None]]:
        """What keeps each of the ERP side's blocking tables that
        :func:`~erpdata.matching.blocking.block` hands over (``keep_erp``: its connection and
        the table's name), blocking these ERP records with the statistics run
        ``statistics_run`` learnt; they replace those kept before, and are valid (their meta
        entry written) once the block exits cleanly. Each streams into the workspace in a
        transaction of its own: at 1,000,000 ERP companies about 10 million rows, 2.3 s.
        Derived data, like the 3-gram rows: a run after a CRM re-load blocks against them
        instead of reading the ERP records and deriving them again (:meth:`erp_side`)."""
        tables = blocking.erp_tables(comparisons)
        meta_key, prefix = self._erp_side_key, f"{self._erp_side_key}_"
        with self.ws.transaction(self.con):
            self.con.execute("DELETE FROM meta WHERE key = ?", [meta_key])
            for (t,) in self.con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                    "'main' AND starts_with(table_name, ?)", [prefix]).fetchall():
                if t != f"{prefix}grams" and t.removeprefix(f"{self.statistics_table}_") not in (
                        tables):
                    self.con.execute(f"DROP TABLE {t}")

        def keep(con: duckdb.DuckDBPyConnection, name: str) -> None:
            if name not in tables:
                raise ValueError(f"not one of the ERP side's tables: {name}")
            rows = con.table(name).to_arrow_reader(1_000_000)
            with self.ws.transaction(self.con):
                self.con.register("erp_side_rows", rows)
                self.con.execute(f"CREATE OR REPLACE TABLE {self.statistics_table}_{name} AS "  # noqa: S608 - statistics_name() after check_side_kind(); name one of erp_tables()
                                 "SELECT * FROM erp_side_rows")
                self.con.unregister("erp_side_rows")

        yield keep
        with self.ws.transaction(self.con):
            self.ws.set_meta(meta_key, json.dumps(self._erp_side_meta(statistics_run,
                                                                       comparisons)), self.con)

    @contextlib.contextmanager
    def erp_side(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the workspace in which the ERP side's kept blocking tables go by the
        names :func:`~erpdata.matching.blocking.block` reads (temporary views), for it to
        block with ``erp_kept`` (check :meth:`holds_erp_side` first): the joins then read
        them where they are stored, and nothing of the ERP records is copied. Closed on exit,
        with whatever blocking made in it."""
        meta = _statistics_meta(self.ws, self._erp_side_key)
        cur = self.ws.cursor()
        try:
            for name in meta["tables"]:
                cur.execute(f"CREATE TEMP VIEW {name} AS "  # noqa: S608 - names from erp_tables() as saved; statistics_name() after check_side_kind()
                            f"SELECT * FROM main.{self.statistics_table}_{name}")
            yield cur
        finally:
            cur.close()

    def _save_statistics(self, statistics: blocking.Statistics) -> None:
        """Keep ``statistics``, learnt by this run from these records (caller's transaction)."""
        kept = np.flatnonzero(statistics.grams).astype(np.int32)
        tables = {name: getattr(statistics, name) for name in blocking.STATISTICS_TABLES}
        tables["grams"] = pa.table({"gram": kept, "weight": statistics.grams[kept]})
        for name, table in tables.items():
            self.con.register("statistics_rows", table)
            self.con.execute(f"CREATE OR REPLACE TABLE {self.statistics_table}_{name} AS "  # noqa: S608 - statistics_name() after check_side_kind(); name a fixed one
                             "SELECT * FROM statistics_rows")
            self.con.unregister("statistics_rows")
        self.ws.set_meta(self.statistics_table, json.dumps({
            "run_id": self.run_id, "levels_key": self.levels_key, "per_record": self.per_record,
            "fingerprint": self.fingerprint, "cap": statistics.cap, "quota": statistics.quota,
            "min_share": statistics.min_share}), self.con)

    def save(self, stage: Stage, statistics: blocking.Statistics | None = None,
             reblocked: np.ndarray | None = None) -> None:
        """Replace the stored stage with ``stage``, in one transaction, with the blocking
        ``statistics`` this run learnt for it, if it did.

        ``reblocked``: the CRM rows whose pairs were blocked and compared anew, every other
        pair of ``stage`` being a stored one with its stored levels (a re-load's run, see
        :meth:`carried`). When the stored stage is compared and of these very record ids,
        only those rows' pairs and digests are written: at 1,000,000 per side with 1% of
        the CRM records changed, 0.05 s against 0.9 s for every pair and record. The rows
        are then no longer in pair order; :meth:`load` sorts them."""
        data = {"lrid": stage.lrid, "rrid": stage.rrid}
        n_levels = 0 if stage.gamma is None else stage.gamma.shape[1]
        for k in range(n_levels):
            data[f"g{k}"] = stage.gamma[:, k]  # type: ignore[index]
        ids = [r.ids_digest for r in self.records]
        meta = {"fingerprint": self.fingerprint, "levels_key": self.levels_key,
                "stage": stage.name, "levels": n_levels, "rule_counts": stage.rule_counts,
                "run_id": self.run_id, "statistics_run": stage.statistics_run, "ids": ids}
        stored = self._meta()
        patch = (reblocked is not None and statistics is None and stage.name == "compared"
                 and stored.get("stage") == "compared" and stored.get("ids") == ids
                 and {k: stored.get(k) for k in ("levels_key", "levels", "statistics_run")}
                 == {k: meta[k] for k in ("levels_key", "levels", "statistics_run")}
                 and _without_crm(stored["fingerprint"]) == _without_crm(self.fingerprint))
        with self.ws.transaction(self.con):
            if patch:
                self._patch(data, reblocked)  # type: ignore[arg-type]
            else:
                self.con.register("checkpoint_rows", pd.DataFrame(data))
                self.con.execute(f"CREATE OR REPLACE TABLE {self.table} AS "  # noqa: S608 - table from table_name() after check_side_kind()
                                 "SELECT * FROM checkpoint_rows")
                self.con.unregister("checkpoint_rows")
            if statistics is not None:
                self._save_statistics(statistics)
            if not patch and stored.get("fingerprint") != self.fingerprint:
                # the records the pairs (and levels) are of
                self.con.register("checkpoint_records", records_table(*self.records))
                self.con.execute(f"CREATE OR REPLACE TABLE {self.table}_records AS "  # noqa: S608 - table from table_name() after check_side_kind()
                                 "SELECT * FROM checkpoint_records")
                self.con.unregister("checkpoint_records")
            self.ws.set_meta(self.table, json.dumps(meta), self.con)

    def _patch(self, data: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Replace the stored pairs and digests of CRM ``rows`` with those in ``data`` (see
        :meth:`save`; caller's transaction)."""
        crm = self.records[0]
        chosen = np.zeros(len(crm.ids), dtype=bool)
        chosen[rows] = True
        mask = chosen[data["lrid"]]
        self.con.register("patch_rows", pd.DataFrame({k: v[mask] for k, v in data.items()}))
        self.con.register("patch_records", pa.table({
            "rid": rows.astype(np.int64), "digest": np.asarray(crm.digests, np.int64)[rows]}))
        try:
            self.con.execute(f"DELETE FROM {self.table} WHERE lrid IN "  # noqa: S608 - table from table_name() after check_side_kind()
                             "(SELECT rid FROM patch_records)")
            self.con.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM patch_rows")  # noqa: S608 - table from table_name() after check_side_kind()
            self.con.execute(f"""UPDATE {self.table}_records o SET digest = p.digest
                                 FROM patch_records p WHERE o.side = 0 AND o.rid = p.rid""")  # noqa: S608 - table from table_name() after check_side_kind()
        finally:
            self.con.unregister("patch_rows")
            self.con.unregister("patch_records")

    def carried(self, statistics_run: int) -> Carried | None:
        """The stored pairs of the CRM records that did not change since they were blocked
        (same id and digest; renumbered to their rows now, in no set order), with their
        stored levels when the stage stored holds them (see :class:`Carried`), and the rows
        of the CRM records to block (new or changed); None when the stored pairs cannot be
        carried over: not blocked with the statistics run ``statistics_run`` learnt, or
        against other ERP records, comparisons or cap, or as the small tables' cross product
        (see :mod:`.blocking`), or nothing stored."""
        meta = self._meta()
        if "fingerprint" not in meta or meta.get("statistics_run") != statistics_run:
            return None
        was, now = json.loads(meta["fingerprint"]), json.loads(self.fingerprint)
        if any(was[k] != now[k] for k in ("levels", "per_record", "erp")):
            return None
        compared = meta.get("stage") == "compared" and meta.get("levels_key") == self.levels_key
        levels = [f"g{k}" for k in range(int(meta["levels"]))] if compared else []
        if meta.get("ids") == [r.ids_digest for r in self.records]:
            return self._carried_in_place(levels)
        self.con.register("now_records", records_table(*self.records))
        try:
            ((n_l, n_r),) = self.con.execute(
                f"SELECT count(*) FILTER (WHERE side = 0), count(*) FILTER (WHERE side = 1) "  # noqa: S608 - table from table_name() after check_side_kind()
                f"FROM {self.table}_records").fetchall()
            if n_l * n_r <= blocking.CROSS_PRODUCT_BELOW:
                return None
            self.con.execute(f"""CREATE OR REPLACE TEMP TABLE carried_rows AS
                SELECT n.rid AS now, o.rid AS was FROM now_records n
                JOIN {self.table}_records o USING (side, id, digest) WHERE side = 0""")  # noqa: S608 - table from table_name() after check_side_kind()
            pairs = read_numpy(self.con, f"""
                SELECT m.now, c.rrid{''.join(f', c.{g}' for g in levels)}
                FROM carried_rows m JOIN {self.table} c ON c.lrid = m.was""")  # noqa: S608 - table from table_name() after check_side_kind(); levels g<int>
            unchanged = read_numpy(self.con, "SELECT now FROM carried_rows")["now"]
        except duckdb.CatalogException:  # derived data someone dropped: block them all
            return None
        finally:
            self.con.execute("DROP TABLE IF EXISTS carried_rows")
            self.con.unregister("now_records")
        changed = np.ones(len(self.records[0].ids), dtype=bool)
        changed[np.asarray(unchanged, dtype=np.int64)] = False
        lrid = np.asarray(pairs["now"], dtype=np.int64)
        known = None if not compared else np.zeros((len(lrid), len(levels)), dtype=np.int8)
        for k, g in enumerate(levels):
            known[:, k] = pairs[g]  # type: ignore[index]
        return Carried(lrid, np.asarray(pairs["rrid"], np.int64), np.flatnonzero(changed), known)

    def _carried_in_place(self, levels: list[str]) -> Carried | None:
        """:meth:`carried` when the stored pairs are of these very record ids (a re-load that
        changed values, not records): each record keeps its row, so the unchanged CRM
        records are those whose stored digest is their digest now, and their pairs are read
        as stored, without joining a million records' ids (0.3 s at 1,000,000 per side)."""
        crm, erp = self.records
        if len(crm.ids) * len(erp.ids) <= blocking.CROSS_PRODUCT_BELOW:
            return None
        try:
            was = read_numpy(self.con, f"SELECT rid, digest FROM {self.table}_records "  # noqa: S608 - table from table_name() after check_side_kind()
                                       "WHERE side = 0")
            pairs = read_numpy(self.con, f"SELECT lrid, rrid{''.join(f', {g}' for g in levels)} "  # noqa: S608 - table from table_name() after check_side_kind(); levels g<int>
                                         f"FROM {self.table}")
        except duckdb.CatalogException:  # derived data someone dropped: block them all
            return None
        unchanged = crm.unchanged(was["rid"], was["digest"])
        lrid = np.asarray(pairs["lrid"], dtype=np.int64)
        keep = unchanged[lrid]
        known = None if not levels else np.empty((int(keep.sum()), len(levels)), dtype=np.int8)
        for k, g in enumerate(levels):
            known[:, k] = np.asarray(pairs[g], dtype=np.int8)[keep]  # type: ignore[index]
        return Carried(lrid[keep], np.asarray(pairs["rrid"], np.int64)[keep],
                       np.flatnonzero(~unchanged), known)

    def known_levels(self, lrid: np.ndarray, rrid: np.ndarray) -> np.ndarray | None:
        """The stored levels of the pairs whose two records are unchanged since the stored
        comparing stage (same id, same digest) and were compared then, :data:`UNKNOWN` in
        every other row; None when no comparing stage of these comparisons is stored.

        Why this is exact: a pair's level for a comparison depends on its two records'
        normalised values alone (:func:`erpdata.matching.compare.levels`), and those follow
        from the raw values the digest covers. So after a re-load that changed 1% of the
        records, only the pairs of changed or new records are compared again."""
        meta = self._meta()
        if meta.get("stage") != "compared" or meta.get("levels_key") != self.levels_key:
            return None
        out = np.full((len(lrid), int(meta["levels"])), UNKNOWN, dtype=np.int8)
        levels = ", ".join(f"c.g{k}" for k in range(int(meta["levels"])))
        self.con.register("now_records", records_table(*self.records))
        self.con.register("now_pairs", pd.DataFrame({"i": np.arange(len(lrid)), "lrid": lrid,
                                                     "rrid": rrid}))
        try:
            found = read_numpy(self.con, f"""
                WITH moved AS (
                    SELECT n.side, n.rid AS now, o.rid AS was FROM now_records n
                    JOIN {self.table}_records o USING (side, id, digest))
                SELECT p.i, {levels} FROM now_pairs p
                JOIN moved l ON l.side = 0 AND l.now = p.lrid
                JOIN moved r ON r.side = 1 AND r.now = p.rrid
                JOIN {self.table} c ON c.lrid = l.was AND c.rrid = r.was""")  # noqa: S608 - table from table_name() after check_side_kind(); levels g<int>
        except duckdb.CatalogException:  # derived data someone dropped: compare them all
            return None
        finally:
            self.con.unregister("now_records")
            self.con.unregister("now_pairs")
        rows = np.asarray(found.pop("i"), dtype=np.int64)
        for k, column in enumerate(found.values()):
            out[rows, k] = np.asarray(column, dtype=np.int8)
        return out
