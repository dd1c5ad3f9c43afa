"""``match-files``: match any two export files and write the suggestions as CSV.

Why files and not only workspaces: a steward (or a benchmark) often just wants to know which
rows of two spreadsheets are the same, without setting up a workspace. Both files are read by
the same readers as ``erpdata load`` (any format, encoding and delimiter), so the errors are
the same clear ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from erpdata.errors import IngestError
from erpdata.ingest.sources import STAGE, drop_stage, read_source
from erpdata.matching.engine import MatchResult, match_frames
from erpdata.matching.spec import Comparison, Inference, explain_comparisons
from erpdata.sql import scratch

#: Output columns, in order: a contract for scripts (``explanation`` may be dropped).
OUTPUT_COLUMNS = ["crm_id", "erp_id", "probability", "rank", "band", "match", "explanation"]


def read_table(path: str | os.PathLike[str], id_col: str = "id") -> pd.DataFrame:
    """A whole export file as a frame of strings with its own headers."""
    con = scratch()
    try:
        src = read_source(con, path)
        frame = con.execute(f"SELECT * EXCLUDE (_row) FROM {STAGE} ORDER BY _row").df()  # noqa: S608 - the constant staging view STAGE
        drop_stage(con)
    finally:
        con.close()
    frame.columns = src.headers
    if id_col not in frame.columns:
        raise IngestError(path, f"no '{id_col}' column; the headers are "
                          f"{', '.join(repr(h) for h in src.headers)}", row=1)
    ids = frame[id_col]
    if ids.isna().any():
        row = int(ids.isna().to_numpy().argmax()) + 2
        raise src.error("the id is empty; every record needs an id", row=row,
                        column_index=src.headers.index(id_col))
    if ids.duplicated().any():
        row = int(ids.duplicated().to_numpy().argmax()) + 2
        raise src.error(f"id '{ids.iloc[row - 2]}' appears twice; ids must be unique",
                        row=row, column_index=src.headers.index(id_col))
    return frame


def match_files(
    crm_file: str | os.PathLike[str], erp_file: str | os.PathLike[str],
    out: str | os.PathLike[str], *, compare: Sequence[Comparison] = (),
    many_to_many: bool = False, progress: Callable[[str, float], None] | None = None,
    inferred: Callable[[list[Inference]], None] | None = None,
) -> MatchResult:
    """Match ``crm_file`` against ``erp_file`` and write ``out`` (:data:`OUTPUT_COLUMNS`).

    ``inferred`` is called with what is compared and why before the (long) matching starts,
    so a wrong guess can be seen and the run stopped; ``result.stats["inference"]`` has it
    too."""
    crm, erp = read_table(crm_file), read_table(erp_file)
    comps, inference = explain_comparisons(crm, erp, given=compare)
    if inferred is not None:
        inferred(inference)
    result = match_frames(crm, erp, comps, many_to_many=many_to_many, progress=progress)
    result.stats["inference"] = inference
    target = Path(out)
    tmp = target.with_name(target.name + ".part")
    result.candidates[OUTPUT_COLUMNS].to_csv(tmp, index=False)
    tmp.replace(target)  # never a half-written OUT.csv
    return result
