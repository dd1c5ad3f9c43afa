"""Read a Parquet file into the staging table.

Why this module: Parquet carries its own types and DuckDB reads it directly; the typed columns
are written as the text an export would hold (:func:`~erpdata.ingest.staging._stage_typed`), and
a damaged or incomplete file (a copy or download that stopped) is told apart from one that
cannot be read for another reason, so the steward knows to fetch it again.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from erpdata.errors import IngestError
from erpdata.ingest.staging import Source, _duck_message, _stage_typed

_DAMAGED = re.compile(r"magic bytes|footer|metadata|corrupt|truncat|out of range|too small",
                      re.IGNORECASE)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    try:
        _stage_typed(con, src, "read_parquet(?, file_row_number = true)", [str(path)],
                     "file_row_number + 1")
    except duckdb.Error as exc:
        reason = _duck_message(exc)
        if _DAMAGED.search(reason):
            message = (f"the Parquet file is damaged or incomplete ({reason}): was the copy or "
                       "download finished? Export it again")
        else:
            message = f"the Parquet file cannot be read: {reason}"
        raise IngestError(shown, message, row=1, row_label="record") from exc
    return src
