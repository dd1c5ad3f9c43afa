"""Checkpoints of a match run's costly stages, kept in the workspace: a run that was stopped
(Ctrl-C, a kill, Cancel on the page) resumes after the last stage it finished, and a run on
records that did not change since the last one skips blocking and comparing altogether.

Why after blocking and after comparing: those are the stages that cost (at 1,000,000 per side
about 28 s and 14 s of a run of 90), and what they produce depends only on the normalised
records and the comparisons, not on stewards' decisions, settings or the model. So their
output (the candidate pairs, then each pair's agreement levels) is valid for as long as the
records' compared values and the plan are unchanged, which the :class:`Checkpoint`'s
``fingerprint`` states: the comparisons, both sides' record ids in order with a digest of each
record's compared values (:func:`erpdata.matching.normalised.stored_features`), the blocking
cap and :data:`VERSION`. Normalising has its own per-record store and resumes per chunk.

A checkpoint is one table per kind, ``match_checkpoint_<kind>`` (``lrid, rrid`` and, once
compared, one ``TINYINT`` level column per comparison), and one meta entry saying which stage it
holds; both are written in one transaction, so a kill leaves the previous checkpoint or the new
one, never half of one. Like the normalised features it is derived data: dropping it loses
nothing but time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from erpdata.matching.spec import Comparison
from erpdata.schema import check_side_kind
from erpdata.workspace import Workspace

#: Raise it when blocking or comparing changes what it produces from the same records, so that
#: older checkpoints are not reused.
VERSION = 1


def table_name(kind: str) -> str:
    """The checkpoint table of ``kind`` (checked: it names the table in SQL)."""
    check_side_kind("crm", kind)
    return f"match_checkpoint_{kind}"


def content_digest(ids: np.ndarray, digest: np.ndarray) -> str:
    """A digest of one side's records in frame order: their ids (which fix each record's row
    number, the ``rid`` the pairs are stored by) and each record's compared-values digest."""
    h = hashlib.blake2b(digest_size=16)
    h.update(pd.util.hash_array(ids.astype(object)).tobytes())
    h.update(np.ascontiguousarray(digest, dtype=np.int64).tobytes())
    return h.hexdigest()


def fingerprint(comparisons: Sequence[Comparison], crm_digest: str, erp_digest: str,
                per_record: int) -> str:
    """What a checkpoint's pairs and levels depend on (see the module docstring)."""
    return json.dumps({
        "version": VERSION, "per_record": per_record, "crm": crm_digest, "erp": erp_digest,
        "comparisons": [(c.name, c.type, c.columns("crm"), c.columns("erp"))
                        for c in comparisons]})


@dataclass(frozen=True)
class Stage:
    """What the blocking stage (``gamma`` None) or the comparing stage left: the candidate
    pairs as row numbers of the two sides, sorted by ``lrid, rrid``, each pair's level per
    comparison, and the rows each blocking rule produced (the run's stats). ``run_id``: the
    run that computed it."""

    lrid: np.ndarray
    rrid: np.ndarray
    gamma: np.ndarray | None
    rule_counts: dict[str, int]
    run_id: int = 0

    @property
    def name(self) -> str:
        return "compared" if self.gamma is not None else "blocked"


class Checkpoint:
    """The checkpoint of one kind's run in a workspace, valid for ``fingerprint`` only."""

    def __init__(self, ws: Workspace, con: duckdb.DuckDBPyConnection, kind: str,
                 fingerprint: str, run_id: int) -> None:
        self.ws, self.con, self.table = ws, con, table_name(kind)
        self.fingerprint, self.run_id = fingerprint, run_id

    def load(self) -> Stage | None:
        """The stage stored for this fingerprint, or None (none stored, or stored for other
        records or comparisons)."""
        raw = self.ws.get_meta(self.table)
        meta = json.loads(raw) if raw else {}
        if meta.get("fingerprint") != self.fingerprint:
            return None
        cols = self.con.execute(f"SELECT * FROM {self.table} ORDER BY lrid, rrid"  # noqa: S608 - table from table_name() after check_side_kind()
                                ).fetchnumpy()
        levels = [np.asarray(cols[f"g{k}"], dtype=np.int8) for k in range(meta["levels"])]
        return Stage(np.asarray(cols["lrid"], dtype=np.int64),
                     np.asarray(cols["rrid"], dtype=np.int64),
                     np.column_stack(levels) if meta["stage"] == "compared" else None,
                     {str(k): int(v) for k, v in meta["rule_counts"].items()},
                     int(meta["run_id"]))

    def save(self, stage: Stage) -> None:
        """Replace the stored stage with ``stage``, in one transaction."""
        data = {"lrid": stage.lrid, "rrid": stage.rrid}
        n_levels = 0 if stage.gamma is None else stage.gamma.shape[1]
        for k in range(n_levels):
            data[f"g{k}"] = stage.gamma[:, k]  # type: ignore[index]
        frame = pd.DataFrame(data)
        meta = {"fingerprint": self.fingerprint, "stage": stage.name, "levels": n_levels,
                "rule_counts": stage.rule_counts, "run_id": self.run_id}
        with self.ws.transaction(self.con):
            self.con.register("checkpoint_rows", frame)
            self.con.execute(f"CREATE OR REPLACE TABLE {self.table} AS "  # noqa: S608 - table from table_name() after check_side_kind()
                             "SELECT * FROM checkpoint_rows")
            self.con.unregister("checkpoint_rows")
            self.ws.set_meta(self.table, json.dumps(meta), self.con)
