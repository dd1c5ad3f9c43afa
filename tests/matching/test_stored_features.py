"""Stored features: the records' digests are hashed where the records are stored, and only
new or changed records are read and normalised, streamed a chunk at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from erpdata.demo import build_demo
from erpdata.matching import stored_features
from erpdata.matching.runs import _sources, explain
from erpdata.matching.spec import Comparison
from erpdata.matching.stored_features import read_features, update_features
from erpdata.sql import read_frame, row_hashes
from erpdata.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("normalised") / "demo.duckdb"
    with Workspace.open(path) as ws:
        build_demo(ws, size=600, seed=3)
    return path


@contextlib.contextmanager
def _opened(demo: Path, tmp_path: Path, kind: str = "company") -> Iterator[
        tuple[Workspace, duckdb.DuckDBPyConnection, list[Comparison], tuple[str, str]]]:
    """A copy of the demo workspace, open: a cursor, the kind's comparisons, and the queries
    of its CRM and ERP records."""
    path = tmp_path / "w.duckdb"
    path.write_bytes(demo.read_bytes())
    with Workspace.open(path) as ws:
        con = ws.cursor()
        compared = explain(con, kind).comparisons  # type: ignore[arg-type]
        yield ws, con, compared, _sources(kind, compared)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["company", "person", "project"])
def test_digests_are_those_of_the_records_read_as_a_frame(demo: Path, kind: str,
                                                         tmp_path: Path) -> None:
    """Hashed in SQL, a record's digest is the one a frame of it gives (dates as the frame's
    timestamps): features stored by an earlier version stay current, none is normalised
    again for it."""
    with _opened(demo, tmp_path, kind) as (ws, con, compared, sources):
        dated = 0
        for side, sql in zip(("crm", "erp"), sources, strict=True):
            frame = read_frame(con, f"SELECT * FROM ({sql}) ORDER BY id")
            raw = list(dict.fromkeys(col for c in compared for col in c.columns(side)))
            dated += sum(pd.api.types.is_datetime64_any_dtype(frame[c]) for c in raw)
            records, _ = update_features(ws, con, side, kind, sql, compared)
            assert records.ids.to_pylist() == frame["id"].tolist()
            assert (records.digests == row_hashes(frame, raw).view(np.int64)).all()
        if kind == "project":
            assert dated == 2  # the end dates of both sides are hashed as the frame has them


def test_only_new_and_changed_records_are_read_and_stored_as_in_one_piece(
        demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored_features, "CHUNK", 256)
    normalised: list[list[str]] = []
    real = stored_features.features

    def counting(frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        normalised.append(sorted(frame["id"]))
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(stored_features, "features", counting)
    with _opened(demo, tmp_path) as (ws, con, compared, (sql, _)):
        update_features(ws, con, "crm", "company", sql, compared)
        (n,) = con.execute("SELECT count(*) FROM crm_company").fetchone() or (0,)
        assert [len(c) for c in normalised] == [256] * (n // 256) + [n % 256]
        normalised.clear()
        changed = ["10", "11", "12"]
        con.execute("UPDATE crm_company SET name = name || ' AS' WHERE id IN (?, ?, ?)", changed)
        con.execute("INSERT INTO crm_company SELECT * REPLACE ('new' AS id, 'New Company AS' "
                    "AS name) FROM crm_company WHERE id = '10'")
        con.execute("UPDATE crm_company SET missing_since = load_id WHERE id = '13'")
        records, fresh = update_features(ws, con, "crm", "company", sql, compared)
        assert normalised == [sorted([*changed, "new"])]
        stored, _ = read_features(con, "crm", "company", pd.DataFrame(), records, compared)
        frame = read_frame(con, f"SELECT * FROM ({sql}) ORDER BY id")
        whole = real(frame, compared, "crm")
        assert "13" not in set(stored["id"])
        pd.testing.assert_frame_equal(stored, whole[stored.columns], check_dtype=False)
        # the rows stored are kept as the table gives them, content hash included: read
        # from them, the changed records are what reading the table gives
        rows = np.flatnonzero(np.isin(records.ids.to_numpy(zero_copy_only=False),
                                      [*changed, "new"]))
        assert sorted(fresh["id"]) == sorted([*changed, "new"])
        for columns in (None, ["name"]):
            kept = read_features(con, "crm", "company", pd.DataFrame(), records, compared,
                                 rows=rows, fresh=fresh, columns=columns)
            read = read_features(con, "crm", "company", pd.DataFrame(), records, compared,
                                 rows=rows, columns=columns)
            pd.testing.assert_frame_equal(kept[0], read[0])
            assert kept[1].tolist() == read[1].tolist()
        # rows it does not hold are read from the table
        other = read_features(con, "crm", "company", pd.DataFrame(), records, compared,
                              rows=np.arange(5), fresh=fresh)
        assert other[0]["id"].tolist() == records.ids.to_pylist()[:5]


def test_an_untouched_side_reads_no_record(demo: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with _opened(demo, tmp_path) as (ws, con, compared, (_, sql)):
        first, _ = update_features(ws, con, "erp", "company", sql, compared)
        monkeypatch.setattr(stored_features, "arrow_frame",
                            lambda _batch: pytest.fail("a record was read"))
        again, kept = update_features(ws, con, "erp", "company", sql, compared)
        assert again.ids.equals(first.ids) and (again.digests == first.digests).all()
        assert kept is not None and kept.empty


def test_the_content_hash_is_the_hash_of_the_features_as_stored(demo: Path,
                                                                 tmp_path: Path) -> None:
    """Kept with each row when it is written, a record's content hash is DuckDB's hash of
    its compared features as the table holds them: equal for records identical after
    normalisation, whatever types the frame written had."""
    with _opened(demo, tmp_path) as (ws, con, compared, (sql, _)):
        con.execute("INSERT INTO crm_company SELECT * REPLACE ('copy' AS id) FROM crm_company "
                    "WHERE id = '10'")
        records, _ = update_features(ws, con, "crm", "company", sql, compared)
        _, content = read_features(con, "crm", "company", pd.DataFrame(), records, compared)
        names = ", ".join(f'"{c.name}"' for c in compared)
        hashed = con.execute(f"SELECT hash({names}) FROM normalised_crm_company ORDER BY id"
                             ).fetchnumpy()
        assert content.tolist() == next(iter(hashed.values())).tolist()
        ids = records.ids.to_pylist()
        assert content[ids.index("copy")] == content[ids.index("10")]
        assert len(set(content.tolist())) == len(content) - 1
        # read whole by id, checked against the records: a row of a record not among them
        # (left by a run stopped before it dropped it) has the records looked up instead
        whole = read_features(con, "crm", "company", pd.DataFrame(), records, compared)[0]
        con.execute("INSERT INTO normalised_crm_company SELECT * REPLACE ('0' AS id) "
                    "FROM normalised_crm_company WHERE id = '10'")
        again = read_features(con, "crm", "company", pd.DataFrame(), records, compared)
        pd.testing.assert_frame_equal(again[0], whole)
        assert again[1].tolist() == content.tolist() and again[0]["id"].tolist() == ids
