"""``erpdata.sql``: quoting, and frames read through Arrow."""

from __future__ import annotations

import duckdb
import pandas as pd

from erpdata.sql import read_frame


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
