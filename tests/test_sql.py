"""``erpdata.sql``: quoting, and frames read through Arrow."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from erpdata.sql import read_frame, read_numpy, row_hashes


def test_read_frame_is_the_frame_df_gives() -> None:
    """Same dtypes and values as DuckDB's ``.df()``: text, dates, timestamps, integers with
    and without NULLs, floats. Of no rows, the text columns are strings (``.df()`` makes
    them ``object``), the rest the same."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE t AS
        SELECT DATE '2020-01-02' AS d, TIMESTAMP '2020-01-02 03:04:05' AS ts, 1::INTEGER AS i,
               NULL::INTEGER AS j, 'x' AS s, 2.5::DOUBLE AS f, NULL::VARCHAR AS n, 5::BIGINT AS b
        UNION ALL SELECT NULL, NULL, 2, 3, NULL, NULL, 'y', NULL""")
    want = con.execute("SELECT * FROM t WHERE i >= ?", [1]).df()
    got = read_frame(con, "SELECT * FROM t WHERE i >= ?", [1])
    pd.testing.assert_frame_equal(got, want)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    none = read_frame(con, "SELECT * FROM t WHERE i > 9")
    assert none.empty and list(none.columns) == list(want.columns)
    empty = con.execute("SELECT * FROM t WHERE i > 9").df()
    assert none.dtypes.to_dict() == {**empty.dtypes.to_dict(), "s": "str", "n": "str"}


def test_read_frame_after_a_result_left_unfinished() -> None:
    """A caller's ``fetchone`` leaves its result open; the read must not trip over it."""
    con = duckdb.connect()
    con.execute("SELECT 1 UNION ALL SELECT 2").fetchone()
    assert read_frame(con, "SELECT 42 AS x")["x"].tolist() == [42]


def test_row_hashes_are_in_row_order_and_equal_for_equal_rows() -> None:
    frame = pd.DataFrame({"a": pd.array(["x", "y", "x", None], dtype="str"),
                          "b": [1, 2, 1, 1], "c": [0, 0, 9, 9]})
    h = row_hashes(frame, ["a", "b"])
    assert h.dtype == "uint64" and len(h) == 4
    assert h[0] == h[2] and len({h[0], h[1], h[3]}) == 3
    con = duckdb.connect()
    con.register("f", frame)
    assert h.tolist() == [r[0] for r in con.execute("SELECT hash(a, b) FROM f").fetchall()]


def test_the_package_opens_duckdb_only_through_erpdata_sql() -> None:
    """A database opened or closed elsewhere would switch DuckDB's allocator thread off for
    the whole process, and a match run's freed memory would pile up again (erpdata.sql)."""
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("erpdata/**/*.py"), *root.glob("pages/*.py"), *root.glob("*.py")]
    opening = sorted(str(p.relative_to(root)) for p in sources
                     if "duckdb.connect(" in p.read_text(encoding="utf-8"))
    assert len(sources) > 40
    assert opening == ["erpdata/sql.py"]


@pytest.mark.parametrize("ordered", [True, False])
def test_read_numpy_keeps_the_order_asked_for(ordered: bool) -> None:
    """Columns as NumPy arrays, in the ORDER BY's order also where the connection does not
    preserve insertion order (a blocking database): DuckDB's Arrow output of such a sorted
    temp table came back in batches out of order."""
    con = duckdb.connect(config={"threads": 2, "preserve_insertion_order": ordered})
    con.execute("CREATE TEMP TABLE pairs AS SELECT (hash(i) % 5000)::BIGINT AS lrid, "
                "(hash(i + 1) % 7000)::BIGINT AS rrid, (i % 7)::TINYINT AS g "
                "FROM range(300000) t(i)")
    got = read_numpy(con, "SELECT lrid, rrid, g FROM pairs ORDER BY lrid, rrid, g")
    want = con.execute("SELECT lrid, rrid, g FROM pairs ORDER BY lrid, rrid, g").fetchnumpy()
    assert [k for k in got] == ["lrid", "rrid", "g"]
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].tolist() == v.tolist()
    assert read_numpy(con, "SELECT lrid FROM pairs WHERE false")["lrid"].dtype == np.int64
