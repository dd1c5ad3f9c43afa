"""Reports: what is linked, what is not, what conflicts, and the change sets an import tool can
consume; as CSV, XLSX (one sheet per report) or Parquet.

Reports only read. Every report is a DataFrame first (:data:`REPORTS`), so a notebook gets the
same figures as the files. Text cells that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are neutralised with a leading ``'`` in
CSV and XLSX (formula injection, OWASP); Parquet keeps values as they are, since no spreadsheet
evaluates it.

CSV is written for spreadsheets: UTF-8 with a byte-order mark (``utf-8-sig``), without which
Excel reads the file in the machine's ANSI code page and garbles ``ø``/``å``; and separated by
the delimiter Excel expects where the workspace's companies are (:func:`default_delimiter`):
Excel splits a CSV at the locale's list separator, which is ``;`` in the Nordic, Dutch and
German-speaking locales, so a comma file opens there as one column. In a ``;`` file the
decimals of number columns are written with a decimal comma, as those locales read them
(text columns, such as the before/after values of the change sets, are never touched).
XLSX is built sheet by sheet with progress and Cancel (the slow format: openpyxl writes
every cell), so the workbench runs it as a background job.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.progress import Progress, reporter
from erpdata.schema import KINDS, display_name_sql
from erpdata.workspace import Workspace

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
#: CSV delimiters offered, in the order of the workbench's choice.
DELIMITERS: tuple[str, ...] = (";", ",", "\t", "|")
#: Countries whose Excel splits a CSV at ``;`` (their decimal separator is the comma): the
#: Nordic countries, and the Dutch- and German-speaking ones.
SEMICOLON_COUNTRIES: frozenset[str] = frozenset({"NO", "SE", "DK", "FI", "IS",
                                                 "NL", "DE", "AT", "CH", "BE"})
#: Rows appended to an XLSX sheet between two progress reports (and chances to cancel).
XLSX_STEP = 2000


def _names(side: str) -> str:
    """``(kind, id[, actor_type], name)`` of every record of one side, all kinds."""
    parts = []
    for kind in KINDS:
        actor = "" if side == "crm" else "actor_type, "
        parts.append(f"SELECT '{kind}' AS kind, {actor}id, {display_name_sql(kind, 'r')} AS name, "
                     f"missing_since FROM {side}_{kind} r")
    return " UNION ALL ".join(parts)


def link_report(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every link: both keys, actor type, both names, the match probability, who and when."""
    return cur.execute(f"""
        SELECT l.kind, l.crm_id, c.name AS crm_name, l.erp_actor_type, l.erp_id,
               e.name AS erp_name, s.probability, l.batch_id, l.linked_by AS committed_by,
               l.linked_at AS committed_at
        FROM links l
        LEFT JOIN ({_names('crm')}) c ON c.kind = l.kind AND c.id = l.crm_id
        LEFT JOIN ({_names('erp')}) e ON e.kind = l.kind AND e.actor_type = l.erp_actor_type
             AND e.id = l.erp_id
        LEFT JOIN suggestions s ON s.kind = l.kind AND s.crm_id = l.crm_id
             AND s.erp_actor_type = l.erp_actor_type AND s.erp_id = l.erp_id
        ORDER BY l.kind, l.crm_id""").df()


def unmatched_crm(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Present CRM records without a link: their scoring state, best candidate, and the active
    accept or create if there is one, with the batch that queued it (a create waits for the
    sync to make the ERP actor)."""
    return cur.execute(f"""
        SELECT c.kind, c.id AS crm_id, c.name AS crm_name,
               coalesce(st.state, 'not_scored') AS state,
               b.erp_actor_type || ':' || b.erp_id AS best_candidate,
               b.probability AS best_probability, d.decision, d.batch_id
        FROM ({_names('crm')}) c
        LEFT JOIN scoring_state st ON st.kind = c.kind AND st.crm_id = c.id
        LEFT JOIN suggestions b ON b.kind = c.kind AND b.crm_id = c.id AND b.rank = 1
        LEFT JOIN (SELECT kind, crm_id, arg_max(decision, decision_id) AS decision,
                          arg_max(batch_id, decision_id) AS batch_id
                   FROM decisions WHERE superseded_by IS NULL
                     AND decision IN ('accept', 'create') GROUP BY ALL) d
             ON d.kind = c.kind AND d.crm_id = c.id
        WHERE c.missing_since IS NULL
          AND NOT EXISTS (SELECT 1 FROM links l WHERE l.kind = c.kind AND l.crm_id = c.id)
        ORDER BY c.kind, c.id""").df()


def unmatched_erp(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Present ERP records without a link."""
    return cur.execute(f"""
        SELECT e.kind, e.actor_type AS erp_actor_type, e.id AS erp_id, e.name AS erp_name
        FROM ({_names('erp')}) e
        WHERE e.missing_since IS NULL AND NOT EXISTS (
            SELECT 1 FROM links l WHERE l.kind = e.kind AND l.erp_actor_type = e.actor_type
              AND l.erp_id = e.id)
        ORDER BY e.kind, e.actor_type, e.id""").df()


def conflicts(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Suggestions flagged as conflicts: two CRM records wanting one ERP record (a probable
    CRM duplicate) or identical ERP candidates (a probable ERP duplicate)."""
    return cur.execute(f"""
        SELECT s.kind, s.crm_id, c.name AS crm_name, s.erp_actor_type, s.erp_id,
               e.name AS erp_name, s.probability, s.rank, s.link
        FROM suggestions s
        LEFT JOIN ({_names('crm')}) c ON c.kind = s.kind AND c.id = s.crm_id
        LEFT JOIN ({_names('erp')}) e ON e.kind = s.kind AND e.actor_type = s.erp_actor_type
             AND e.id = s.erp_id
        WHERE s.conflict ORDER BY s.kind, s.erp_actor_type, s.erp_id, s.crm_id""").df()


def _updates(cur: duckdb.DuckDBPyConnection, action: str) -> pd.DataFrame:
    """Queued field updates of one side, one row per record and field (after, and before)."""
    rows = cur.execute(
        "SELECT batch_id, action_id, kind, crm_id, erp_actor_type, erp_id, payload FROM actions "
        "WHERE action = ? AND status = 'queued' ORDER BY action_id", [action]).df()
    out = []
    for r in rows.itertuples(index=False):
        payload = json.loads(r.payload)
        for fld, value in payload["fields"].items():
            out.append({"batch_id": r.batch_id, "action_id": r.action_id, "kind": r.kind,
                        "crm_id": r.crm_id, "erp_actor_type": r.erp_actor_type,
                        "erp_id": r.erp_id, "field": fld,
                        "before": payload.get("before", {}).get(fld), "after": value})
    cols = ["batch_id", "action_id", "kind", "crm_id", "erp_actor_type", "erp_id", "field",
            "before", "after"]
    frame = pd.DataFrame(out, columns=cols)
    return frame.drop(columns=["erp_actor_type", "erp_id"]) if action == "update_crm" else frame


def crm_updates(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Queued CRM changes: one row per CRM record and field."""
    return _updates(cur, "update_crm")


def erp_updates(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Queued ERP changes: one row per ERP record and field."""
    return _updates(cur, "update_erp")


def erp_creates(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Queued new ERP actors: one row each, one column per ERP field (what an import needs),
    the parent actor for persons and projects."""
    rows = cur.execute("SELECT batch_id, action_id, kind, crm_id, payload FROM actions "
                       "WHERE action = 'create_erp' AND status = 'queued' ORDER BY action_id"
                       ).df()
    out = []
    for r in rows.itertuples(index=False):
        payload = json.loads(r.payload)
        parent = payload.get("parent") or {}
        out.append({"batch_id": r.batch_id, "action_id": r.action_id, "kind": r.kind,
                    "crm_id": r.crm_id, "erp_actor_type": payload["actor_type"],
                    "parent_actor_type": parent.get("actor_type"),
                    "parent_erp_id": parent.get("erp_id"), **payload["fields"]})
    base = ["batch_id", "action_id", "kind", "crm_id", "erp_actor_type", "parent_actor_type",
            "parent_erp_id"]
    return pd.DataFrame(out, columns=base) if not out else pd.DataFrame(out)


#: Every report, in the order of the sheets.
REPORTS: dict[str, Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]] = {
    "links": link_report,
    "unmatched_crm": unmatched_crm,
    "unmatched_erp": unmatched_erp,
    "conflicts": conflicts,
    "crm_updates": crm_updates,
    "erp_updates": erp_updates,
    "erp_creates": erp_creates,
}


def build_reports(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Every report as a DataFrame, read in one consistent snapshot."""
    cur = ws.cursor()
    with ws.transaction(cur):  # one snapshot: reports agree with each other
        return {name: fn(cur) for name, fn in REPORTS.items()}


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would evaluate get a leading ``'``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            values = out[col]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(DANGEROUS))
            out.loc[risky, col] = "'" + values[risky].astype(str)
    return out


def workspace_country(ws: Workspace, cur: duckdb.DuckDBPyConnection | None = None
                      ) -> str | None:
    """The workspace's country: the most common country (ISO code) of its present CRM
    companies; of its ERP companies when no CRM company has one; None when none has.

    Why the companies: a workspace has no country setting (the country mapping's default
    value is only what a new ERP customer is given, the same shipped ``NO`` everywhere), and
    the steward who opens the reports works where most of the customers are. Why the CRM:
    it is the steward's own system. Names and codes count as one country ("Norge", "NO",
    "NOR" are all NO, through :func:`erpdata.normalize.country_code`); a tie goes to the
    code first in the alphabet, so the choice never depends on the order of the rows.
    """
    from erpdata.normalize import country_code

    cur = cur or ws.cursor()
    for side in ("crm", "erp"):
        rows = cur.execute(f"SELECT country, count(*) FROM {side}_company WHERE missing_since "
                           "IS NULL AND country IS NOT NULL GROUP BY country").fetchall()
        if not rows:
            continue
        codes = country_code(pd.Series([r[0] for r in rows], dtype=object))
        tally: Counter[str] = Counter()
        for code, (_, n) in zip(codes, rows, strict=True):
            if isinstance(code, str) and code:
                tally[code] += int(n)
        if tally:
            return min(tally, key=lambda c: (-tally[c], c))
    return None


def default_delimiter(ws: Workspace, cur: duckdb.DuckDBPyConnection | None = None) -> str:
    """``;`` when the workspace's country (:func:`workspace_country`) is Nordic or Dutch- or
    German-speaking (:data:`SEMICOLON_COUNTRIES`), else ``,``: the list separator of that
    country's Excel, so that a double-clicked CSV opens in columns there."""
    return ";" if workspace_country(ws, cur) in SEMICOLON_COUNTRIES else ","


def _check_delimiter(delimiter: str) -> None:
    if delimiter not in DELIMITERS:
        shown = ", ".join(repr(d) for d in DELIMITERS)
        raise ErpdataError(f"unknown CSV delimiter {delimiter!r}: use one of {shown}")


def write_csv(frame: pd.DataFrame, path: str | Path, delimiter: str = ",") -> Path:
    """One report as a spreadsheet CSV: neutralised, UTF-8 with BOM, ``delimiter``-separated;
    with ``;`` the float columns get a decimal comma (``0,97``), as Excel reads them in the
    countries that use ``;``. Only float columns: pandas applies ``decimal`` to them alone,
    so ids, postcodes and change-set values (text) are written exactly as they are."""
    _check_delimiter(delimiter)
    target = Path(path)
    neutralise(frame).to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\n",
                             sep=delimiter, decimal="," if delimiter == ";" else ".")
    return target


def export_reports(ws: Workspace, fmt: str, out: str | Path, *, delimiter: str | None = None,
                   progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> list[Path]:
    """Write every report: CSV and Parquet as one file per report in the folder ``out``, XLSX
    as one workbook ``out`` with a sheet per report. Returns the files written.

    ``delimiter``: CSV only (see :func:`write_csv`); default :func:`default_delimiter`.
    ``progress(stage, fraction)`` and ``cancel`` as elsewhere in the engine: the XLSX reports
    each sheet and every :data:`XLSX_STEP` rows, and a cancelled build writes no file."""
    if fmt not in FORMATS:
        raise ErpdataError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    if delimiter is not None and fmt != "csv":
        raise ErpdataError(f"a delimiter applies to CSV reports only, not to {fmt.upper()}")
    if delimiter is not None:
        _check_delimiter(delimiter)
    report = reporter(progress, cancel, f"the {fmt.upper()} report")
    target = Path(out)
    if fmt == "xlsx" and target.suffix.lower() != ".xlsx":
        raise ErpdataError(f"{target}: an XLSX report is one file; give a path ending in .xlsx")
    report("reading the reports", 0.0)
    reports = build_reports(ws)
    if fmt == "xlsx":
        target.parent.mkdir(parents=True, exist_ok=True)
        _xlsx({k: neutralise(v) for k, v in reports.items()}, target, report)
        return [target]
    if fmt == "csv" and delimiter is None:
        delimiter = default_delimiter(ws)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (name, frame) in enumerate(reports.items()):
        report(f"writing {name}", i / len(reports))
        path = target / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path, delimiter or ",")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written


def _xlsx(reports: dict[str, pd.DataFrame], path: Path, report: Progress) -> None:
    """One sheet per report: bold header on a fill, frozen, filtered, columns sized to their
    content (at most 60 characters wide).

    Written in openpyxl's write-only mode (rows streamed to the file, not kept as cell
    objects: a quarter faster, and memory stays flat however many rows). The workbook is
    saved to ``path`` only at the end, so a cancelled build leaves no file behind."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    try:
        _sheets(wb, reports, report)
    except BaseException:
        _discard(wb)
        raise
    report("saving the workbook", 0.95)
    wb.save(path)


def _sheets(wb: Any, reports: dict[str, pd.DataFrame], report: Progress) -> None:
    """Stream each report into a sheet of the write-only workbook ``wb``."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid",
                                                                            fgColor="1F4E78")
    total = max(sum(len(f) for f in reports.values()), 1)
    done = 0
    for name, frame in reports.items():
        report(f"writing the sheet {name}", 0.05 + 0.85 * done / total)
        ws = wb.create_sheet(name)
        # write-only: the sheet's layout goes out before its first row
        for i, col in enumerate(frame.columns, 1):
            longest = max([len(str(col)), *(len(str(v)) for v in frame[col].head(1000)
                                             if v is not None and not pd.isna(v))])
            ws.column_dimensions[get_column_letter(i)].width = min(longest + 2, 60)
        ws.freeze_panes = "A2"
        header = []
        for col in frame.columns:
            cell = WriteOnlyCell(ws, value=str(col))
            cell.font, cell.fill = header_font, header_fill
            header.append(cell)
        ws.append(header)
        for n, row in enumerate(frame.astype(object).where(frame.notna(), None)
                                .itertuples(index=False), 1):
            ws.append([v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row])
            if n % XLSX_STEP == 0:
                report(f"writing the sheet {name}", 0.05 + 0.85 * (done + n) / total)
        done += len(frame)
        last = get_column_letter(max(len(frame.columns), 1))
        ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"


def _discard(wb: Any) -> None:
    """Close the sheet streams of a workbook given up half-way (Cancel, an error) by saving
    it to a throwaway file: openpyxl's only public way to end them, without which their
    temporary files stay and their generators fail when collected."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.suppress(Exception):
        wb.save(Path(tmp) / "discarded.xlsx")


def probability_histogram(ws: Workspace, kind: str = "company", bins: int = 20
                          ) -> pd.DataFrame:
    """Suggested links per probability bin (``bin_start``) and band: the picture of how sure
    the matcher is, counted in DuckDB whatever the number of suggestions."""
    return ws.cursor().execute(
        f"""SELECT floor(probability * {int(bins)}) / {int(bins)} AS bin_start, band,
                   count(*) AS links
            FROM suggestions WHERE kind = ? AND link GROUP BY ALL ORDER BY bin_start, band""",
        [kind]).df()


def decisions_over_time(ws: Workspace) -> pd.DataFrame:
    """Decisions per day and kind of decision (superseded ones included: work done)."""
    return ws.cursor().execute(
        """SELECT CAST(decided_at AS DATE) AS day, decision, count(*) AS decisions
           FROM decisions GROUP BY ALL ORDER BY day, decision""").df()


#: Keyset of the activity log: (when, source, id) of the last row shown.
ActivityKey = tuple[Any, str, int]


def activity(ws: Workspace, *, actor: str | None = None, after: ActivityKey | None = None,
             size: int = 50) -> tuple[pd.DataFrame, ActivityKey | None]:
    """Who did what, newest first: every decision and every audited change (commits, undo,
    field overwrites, mappings, thresholds, roles) in one list, ``size`` rows at a time.

    Returns the rows (``logged_at, actor, action, kind, record, detail, batch_id``) and the key of
    the next page (None on the last)."""
    where, params = ["true"], []
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if after is not None:
        where.append("(logged_at < ? OR (logged_at = ? AND (src > ? OR (src = ? AND id < ?))))")
        params += [after[0], after[0], after[1], after[1], after[2]]
    rows = ws.cursor().execute(f"""
        SELECT * FROM (
            SELECT decided_at AS logged_at, decided_by AS actor, 'decision' AS src,
                   decision_id AS id, decision AS action, kind, crm_id AS record,
                   coalesce(erp_actor_type || ':' || erp_id, erp_actor_type) AS detail,
                   batch_id
            FROM decisions
            UNION ALL
            SELECT logged_at, actor, 'audit', audit_id, action, kind, record_id,
                   coalesce(field || ': ' || coalesce(before_value, '(empty)') || ' -> '
                            || coalesce(after_value, '(empty)'), after_value, detail::VARCHAR),
                   batch_id
            FROM audit)
        WHERE {' AND '.join(where)}
        ORDER BY logged_at DESC, src, id DESC LIMIT {int(size) + 1}""", params).df()
    more = len(rows) > size
    rows = rows.head(size)
    key = None
    if more:
        last = rows.iloc[-1]
        key = (last["logged_at"], str(last["src"]), int(last["id"]))
    return rows.drop(columns=["src", "id"]), key
