"""SQL text built from data: the one place identifiers and literals are quoted.

Why one module: a column name from an export ("Kunde nr", a header with a quote) and a value
from a file are data, never SQL; three hand-written copies of the quoting had drifted apart.
Everything else passes values as parameters (``?``); these two are for what DuckDB cannot take
as a parameter (a column name) or where a statement is built once for many values.
"""

from __future__ import annotations

import threading
import warnings

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

#: What every DuckDB this package opens is opened with, on top of its own settings.
#:
#: ``allocator_background_threads``: DuckDB's allocator keeps what a query freed for the next
#: query unless its background thread hands it back to the system. Without it, a match run's
#: reads piled up: reading the 660 MB of stored features of 2,000,000 records left 3.1 GB
#: resident, 0.9 GB with the thread. The thread is one switch for the whole process, and
#: DuckDB sets it again whenever a database is opened (as that database's settings say) or
#: closed (off): hence one scratch database for short work (:func:`scratch`), and
#: :func:`connect` and :func:`close` for the databases that need their own.
CONFIG: dict[str, str | bool | int | float | list[str]] = {"allocator_background_threads": True}

_scratch: duckdb.DuckDBPyConnection | None = None
_scratch_lock = threading.Lock()


def scratch() -> duckdb.DuckDBPyConnection:
    """A new cursor of the process's in-memory scratch DuckDB (opened with :data:`CONFIG` on
    first use, open for the process's life), for work that needs no database of its own; close
    the cursor when done. Its other settings are DuckDB's defaults: it keeps row order, which
    the demo's generating queries (projections only) rely on."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = duckdb.connect(config=CONFIG)
        return _scratch.cursor()


def connect(database: str = ":memory:", *, read_only: bool = False,
            config: dict[str, str | bool | int | float | list[str]] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """A database of its own (a workspace file; an in-memory one with its own memory cap),
    opened with :data:`CONFIG` and ``config``. Close it with :func:`close`."""
    return duckdb.connect(database, read_only=read_only, config={**CONFIG, **(config or {})})


def close(con: duckdb.DuckDBPyConnection) -> None:
    """Close a database :func:`connect` opened, and turn the allocator's background thread on
    again, which closing it turned off for the whole process (see :data:`CONFIG`)."""
    con.close()
    cur = scratch()
    try:
        cur.execute("SET allocator_background_threads = true")
    finally:
        cur.close()


def sql_ident(name: str) -> str:
    '''A quoted SQL identifier: the header ``Kunde "nr"`` becomes ``"Kunde ""nr"""``.'''
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """A SQL string literal: ``O'Brien`` -> ``'O''Brien'``."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    """A DuckDB list literal of strings: ``['a', 'b''c']``."""
    return "[" + ", ".join(sql_text(v) for v in values) + "]"


def read_frame(con: duckdb.DuckDBPyConnection, sql: str,
               params: list[object] | None = None) -> pd.DataFrame:
    """The result of ``sql`` as the frame DuckDB's ``.df()`` gives (same dtypes), read
    through Arrow.

    Why: ``.df()`` makes a Python string of every text value, which pandas then turns back
    into Arrow strings: 7.0 s for 1,000,000 records of 16 text columns, 0.8 s this way. Dates
    become microsecond timestamps and integer columns holding a NULL nullable integers, as
    ``.df()`` has them."""
    return arrow_frame(read_arrow(con, sql, params))


def read_arrow(con: duckdb.DuckDBPyConnection, sql: str,
               params: list[object] | dict[str, object] | None = None) -> pa.Table:
    """The result of ``sql`` as an Arrow table, text as large strings (see :func:`read_frame`)."""
    # large strings, as pandas holds them: else each text column is cast (copied) on the way
    (large,) = con.execute("SELECT current_setting('arrow_large_buffer_size')").fetchall()[0]
    con.execute("SET arrow_large_buffer_size = true")
    try:
        with warnings.catch_warnings():
            # execute(), not sql(): a result the caller left unfinished (a fetchone) must not
            # block this read; the extra copy DuckDB warns of costs 0.1 s per million records
            warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
            table = con.execute(sql, params or []).to_arrow_table()
    finally:
        con.execute(f"SET arrow_large_buffer_size = {'true' if large else 'false'}")
    return table


def read_numpy(con: duckdb.DuckDBPyConnection, sql: str,
               params: list[object] | dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """The result of ``sql`` (numbers, no NULL) as one NumPy array per column.

    Why not ``fetchnumpy``: on a DB-API result it converts batch by batch (2,400,000 stored
    pairs with ten levels: 0.16 s); read through Arrow and joined, 0.06 s. Only where the
    connection preserves insertion order (a workspace's): without it, DuckDB's Arrow output
    of a query with an ORDER BY came in batches out of order (a blocking database's), and
    ``fetchnumpy`` is taken."""
    ((ordered,),) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    if not ordered:
        return {k: np.asarray(v) for k, v in con.execute(sql, params or []).fetchnumpy().items()}
    table = read_arrow(con, sql, params)
    return {name: np.concatenate([chunk.to_numpy() for chunk in column.chunks])
            if column.num_chunks else np.zeros(0, dtype=column.type.to_pandas_dtype())
            for name, column in zip(table.column_names, table.columns, strict=True)}


def arrow_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow result as the frame DuckDB's ``.df()`` gives (see :func:`read_frame`)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_date(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp("us")))
    nullable = {f.name for f, col in zip(table.schema, table.columns, strict=True)
                if pa.types.is_integer(f.type) and col.null_count}
    out = table.to_pandas(date_as_object=False, ignore_metadata=True, types_mapper=None)
    for name in nullable:
        out[name] = pd.array(table.column(name).to_numpy(zero_copy_only=False),
                             dtype=f"Int{table.schema.field(name).type.bit_width}")
    return out


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """DuckDB's 64-bit ``hash`` of each row's ``columns``, in row order (``uint64``): equal for
    rows whose values are equal. Computed in parallel by DuckDB; pandas' hash of a million
    records' text columns took 7 s."""
    cols = ", ".join(sql_ident(c) for c in columns) if columns else "NULL"
    con = scratch()
    try:
        con.register("side", frame[list(columns)].assign(_pos=np.arange(len(frame))))
        (out,) = con.execute(f"SELECT hash({cols}) FROM side ORDER BY _pos").fetchnumpy(  # noqa: S608 - columns via sql_ident
        ).values()
    finally:
        con.close()
    return np.asarray(out, dtype=np.uint64)
