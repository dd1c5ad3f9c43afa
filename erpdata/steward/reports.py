"""Reports: what is linked, what is not, what conflicts, and the change sets an import tool can
consume; as CSV, XLSX (one sheet per report) or Parquet.

Reports only read. Every report is a DataFrame first (:data:`REPORTS`), so a notebook gets the
same figures as the files.

Spreadsheet safety (formula injection, OWASP) only where a spreadsheet opens the file, and never
at the cost of the data:

- the human-facing CSV reports (links, unmatched, conflicts) neutralise a true formula start
  with a leading ``'`` (:func:`neutralise_cell`): ``=``, ``@``, a tab, a carriage return, and
  ``+``/``-`` unless a number follows (``+47 22 33 44 55`` and ``-12.5`` stay as they are);
- the change sets (:data:`CHANGE_SETS`) are written byte-exact in CSV: an import tool reads
  them, and a prefix would go into the ERP as part of the value;
- XLSX writes every text as a text cell (never a formula), with Excel's "quote prefix" style
  on the ones that start like a formula, so the value is exactly the text and nothing runs;
- Parquet keeps values as they are, since no spreadsheet evaluates it.

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
import re
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
from erpdata.schema import KINDS, display_name_sql, table_name
from erpdata.workspace import Workspace

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
#: What makes a spreadsheet run a CSV cell as a formula (or a DDE command) whatever follows.
FORMULA_STARTS = ("=", "@", "\t", "\r")
#: A sign followed by a number: a phone number (``+47 22 33 44 55``, ``+1 (555) 123-4567``) or
#: an amount (``-12.5``, ``-1 234,50``). Only digits, spaces and number punctuation, so no
#: function, cell reference or DDE command can hide in it; ``-2+3`` is arithmetic at worst.
SIGNED_NUMBER = re.compile(r"[+-][(.]?\d[\d .,()/+\-\u00a0\u202f]*")
#: The reports an import tool reads: written byte-exact, never neutralised.
CHANGE_SETS: frozenset[str] = frozenset({"crm_updates", "erp_updates", "erp_creates"})
#: Text starting with one of these goes into an XLSX as an explicit text cell with Excel's
#: quote prefix: openpyxl would store a text starting with ``=`` as a formula, and Excel would
#: turn ``-12.5`` into a number or ``+47 ...`` into a formula when the cell is edited.
XLSX_GUARDED = ("=", "+", "-", "@", "\t", "\r")
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
        parts.append(f"SELECT '{kind}' AS kind, {actor}id, {display_name_sql(kind, 'r')} AS name, "  # noqa: S608 - table_name() checks side and kind; display_name_sql() over schema fields
                     f"missing_since FROM {table_name(side, kind)} r")  # type: ignore[arg-type]
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
        ORDER BY l.kind, l.crm_id""").df()  # noqa: S608 - _names() of constant sides


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
        ORDER BY c.kind, c.id""").df()  # noqa: S608 - _names() of constant sides


def unmatched_erp(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Present ERP records without a link."""
    return cur.execute(f"""
        SELECT e.kind, e.actor_type AS erp_actor_type, e.id AS erp_id, e.name AS erp_name
        FROM ({_names('erp')}) e
        WHERE e.missing_since IS NULL AND NOT EXISTS (
            SELECT 1 FROM links l WHERE l.kind = e.kind AND l.erp_actor_type = e.actor_type
              AND l.erp_id = e.id)
        ORDER BY e.kind, e.actor_type, e.id""").df()  # noqa: S608 - _names() of constant sides


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
        WHERE s.conflict ORDER BY s.kind, s.erp_actor_type, s.erp_id, s.crm_id""").df()  # noqa: S608 - _names() of constant sides


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
    """Every report as a DataFrame, read in one consistent snapshot: the reports agree with
    each other, and reading them never waits for (or holds up) a write."""
    with ws.snapshot() as cur:
        return {name: fn(cur) for name, fn in REPORTS.items()}


def is_formula(text: str) -> bool:
    """Whether a spreadsheet opening a CSV would run ``text`` as a formula: it starts with
    one of :data:`FORMULA_STARTS`, or with ``+``/``-`` not followed by a number.

    Why a sign followed by a number is left alone: phone numbers (``+47 22 33 44 55``) and
    amounts (``-12.5``) are the common case, and prefixing them corrupted real data; a text of
    a sign, digits, spaces and number punctuation (:data:`SIGNED_NUMBER`) cannot call a
    function or a DDE command. ``-2+3`` counts as a number (it is one, or arithmetic at
    worst); ``-2+3+cmd|' /C calc'!A0`` does not, its letters make it a formula."""
    if text.startswith(FORMULA_STARTS):
        return True
    return text.startswith(("+", "-")) and SIGNED_NUMBER.fullmatch(text) is None


def neutralise_cell(value: Any) -> Any:
    """One CSV report cell made safe for a spreadsheet: a formula (:func:`is_formula`) gets a
    leading ``'``; anything else, non-text included, is returned unchanged."""
    return "'" + value if isinstance(value, str) and is_formula(value) else value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A human-facing CSV report with every text cell passed through :func:`neutralise_cell`
    (never the change sets: :data:`CHANGE_SETS`)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            values = out[col]
            risky = values.map(lambda v: isinstance(v, str) and is_formula(v))
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
        rows = cur.execute(f"SELECT country, count(*) FROM {side}_company WHERE missing_since "  # noqa: S608 - side: the constant pair crm, erp
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


def write_csv(frame: pd.DataFrame, path: str | Path, delimiter: str = ",", *,
              neutralised: bool = True) -> Path:
    """One report as a spreadsheet CSV: UTF-8 with BOM, ``delimiter``-separated, formulas
    neutralised (:func:`neutralise`) unless ``neutralised=False`` (the change sets, which an
    import tool reads byte-exact); with ``;`` the float columns get a decimal comma (``0,97``),
    as Excel reads them in the countries that use ``;``. Only float columns: pandas applies
    ``decimal`` to them alone, so ids, postcodes and change-set values (text) are written
    exactly as they are."""
    _check_delimiter(delimiter)
    target = Path(path)
    (neutralise(frame) if neutralised else frame).to_csv(
        target, index=False, encoding="utf-8-sig", lineterminator="\n", sep=delimiter,
        decimal="," if delimiter == ";" else ".")
    return target


def export_reports(ws: Workspace, fmt: str, out: str | Path, *, delimiter: str | None = None,
                   progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> list[Path]:
    """Write every report: CSV and Parquet as one file per report in the folder ``out``, XLSX
    as one workbook ``out`` with a sheet per report. Returns the files written.

    ``delimiter``: CSV only (see :func:`write_csv`); default :func:`default_delimiter`. The
    CSV change sets (:data:`CHANGE_SETS`) are byte-exact, the other CSV reports neutralised.
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
        _xlsx(reports, target, report)  # text cells: nothing to neutralise (_xlsx_cell)
        return [target]
    if fmt == "csv" and delimiter is None:
        delimiter = default_delimiter(ws)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (name, frame) in enumerate(reports.items()):
        report(f"writing {name}", i / len(reports))
        path = target / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path, delimiter or ",", neutralised=name not in CHANGE_SETS)
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
            ws.append([_xlsx_cell(ws, v) for v in row])
            if n % XLSX_STEP == 0:
                report(f"writing the sheet {name}", 0.05 + 0.85 * (done + n) / total)
        done += len(frame)
        last = get_column_letter(max(len(frame.columns), 1))
        ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"


def _xlsx_cell(ws: Any, value: Any) -> Any:
    """One value as an XLSX cell: a text that starts like a formula (:data:`XLSX_GUARDED`)
    becomes an explicit text cell (``data_type`` ``s``: openpyxl would otherwise store a text
    starting with ``=`` as a formula) with Excel's quote prefix (an edit keeps it text), its
    value untouched: ``+47 22 33 44 55`` reads back as exactly that, and nothing runs. Other
    values go in as they are (openpyxl writes any other text as text); timestamps as
    datetimes."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, str) and value.startswith(XLSX_GUARDED):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    return value


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
            FROM suggestions WHERE kind = ? AND link GROUP BY ALL ORDER BY bin_start, band""",  # noqa: S608 - bins: an int
        [kind]).df()


def decisions_over_time(ws: Workspace) -> pd.DataFrame:
    """Decisions per day and kind of decision (superseded ones included: work done)."""
    return ws.cursor().execute(
        """SELECT CAST(decided_at AS DATE) AS day, decision, count(*) AS decisions
           FROM decisions GROUP BY ALL ORDER BY day, decision""").df()


#: Keyset of the activity log: (when, source, id) of the last row shown.
ActivityKey = tuple[Any, str, int]


def _activity_rows(ws: Workspace, *, actor: str | None, after: ActivityKey | None,
                   size: int) -> tuple[pd.DataFrame, ActivityKey | None]:
    """One page of the activity log with every column a sentence needs (the ERP record of a
    decision, an audit row's side, field and values), plus the keyset columns."""
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
                   batch_id, 'both' AS side, erp_actor_type AS actor_type, NULL AS field,
                   NULL AS before_value, erp_id AS after_value, NULL AS raw
            FROM decisions
            UNION ALL
            SELECT logged_at, actor, 'audit', audit_id, action, kind, record_id,
                   coalesce(field || ': ' || coalesce(before_value, '(empty)') || ' -> '
                            || coalesce(after_value, '(empty)'), after_value, detail::VARCHAR),
                   batch_id, side, actor_type, field, before_value, after_value,
                   detail::VARCHAR
            FROM audit)
        WHERE {' AND '.join(where)}
        ORDER BY logged_at DESC, src, id DESC LIMIT {int(size) + 1}""", params).df()  # noqa: S608 - where: constants, values bound as ?
    more = len(rows) > size
    rows = rows.head(size)
    key = None
    if more:
        last = rows.iloc[-1]
        key = (last["logged_at"], str(last["src"]), int(last["id"]))
    return rows, key


def activity(ws: Workspace, *, actor: str | None = None, after: ActivityKey | None = None,
             size: int = 50) -> tuple[pd.DataFrame, ActivityKey | None]:
    """Who did what, newest first: every decision and every audited change (commits, undo,
    field overwrites, mappings, thresholds, roles) in one list, ``size`` rows at a time.

    Returns the rows (``logged_at, actor, action, kind, record, detail, batch_id``) and the key of
    the next page (None on the last). The codes, for scripts; a page shows
    :func:`activity_in_words`."""
    rows, key = _activity_rows(ws, actor=actor, after=after, size=size)
    return rows[["logged_at", "actor", "action", "kind", "record", "detail", "batch_id"]], key


#: Kinds as a sentence names them.
_KIND_PLURAL = {"company": "companies", "person": "persons", "project": "projects"}
#: A decision in the activity log: the verb before the pair it decided.
_DECIDED = {"accept": "accepted the link", "reject": "rejected the link",
            "skip": "skipped the link"}


def _json(text: Any) -> Any:
    """A JSON cell, or ``{}`` when it is empty or not JSON (old rows, plain values)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def _limits(value: Any) -> str:
    """Thresholds as stored (JSON) in words: ``auto 0.990, review 0.600`` or ``the model's``."""
    data = _json(value)
    return ", ".join(f"{k} {float(v):.3f}" for k, v in data.items()) or "the model's"


def activity_sentence(row: dict[str, Any], crm_name: Any = None, erp_name: Any = None) -> str:
    """One row of the activity log (:func:`_activity_rows`) as a sentence with names and field
    labels, e.g. ``accepted the link CRM company 12 Nordisk Rør AS → customer 100071 Nordisk
    Rør ASA`` or ``ERP record updated: ERP customer 100071 Nordisk Rør ASA — Phone: 22 33 44
    55 → +47 22 33 44 55``. Why: the log is read by stewards and auditors, who should not
    have to decode ``customer:100071`` or a JSON cell."""
    from erpdata.steward.commit import crm_words, erp_words, field_label
    from erpdata.steward.states import plain

    action, kind = str(row.get("action")), row.get("kind")
    kind_word = str(kind) if isinstance(kind, str) else ""
    record = row.get("record")
    crm = (crm_words(kind_word, record, crm_name)
           if kind_word and record is not None and not pd.isna(record) else "")
    erp_type, erp_id = row.get("actor_type"), row.get("after_value")
    if row.get("src") == "decision":
        if action == "create":
            return f"asked for a new {erp_words(erp_type, None, side=True)} for {crm}"
        return f"{_DECIDED.get(action, plain('decision', action))} {crm} → " + erp_words(
            erp_type, erp_id, erp_name)
    if action in ("link", "unlink") and isinstance(erp_id, str) and ":" in erp_id:
        erp_type, erp_id = erp_id.split(":", 1)
        joint = "→" if action == "link" else "from"
        return f"{plain('audit', action)} {crm} {joint} {erp_words(erp_type, erp_id, erp_name)}"
    if action in ("update_crm", "update_erp", "resolve_conflict"):
        side = "crm" if action == "update_crm" else "erp"
        record = (crm if side == "crm" else
                  erp_words(erp_type, row.get("record"), erp_name, side=True))
        fld = field_label(side, kind_word, str(row.get("field"))) if kind_word else row.get(
            "field")
        before, after = (("(empty)" if v is None or v != v or str(v).strip() == "" else str(v))
                         for v in (row.get("before_value"), row.get("after_value")))
        if action == "resolve_conflict":
            return f"conflict settled, the ERP's value taken: {record} — {fld}: {before} → {after}"
        return f"{plain('audit', action)}: {record} — {fld}: {before} → {after}"
    if action == "create_erp":
        return f"new {erp_words(erp_type, None, side=True)} for {crm}"
    if action == "undo":
        d = _json(row.get("raw"))
        return (f"undid batch {row.get('batch_id')}: {int(d.get('links', 0)):,} link(s) "
                f"removed, {int(d.get('fields', 0)):,} value(s) restored")
    if action == "withdraw":
        return f"withdrew a decision on {crm}"
    if action == "mapping":
        return f"changed the field mappings of the {_KIND_PLURAL.get(kind_word, kind_word)}"
    if action == "thresholds":
        return (f"changed the thresholds of the {_KIND_PLURAL.get(kind_word, kind_word)}: "
                f"{_limits(row.get('before_value'))} → {_limits(row.get('after_value'))}")
    if action == "role":
        was = row.get("before_value")
        return (f"gave {row.get('record')} the role {row.get('after_value')}"
                + (f" (was {was})" if isinstance(was, str) and was else ""))
    if action == "connection":
        if row.get("before_value") == "removed":
            return f"removed the connection {row.get('record')}"
        return f"saved the connection {row.get('record')} ({row.get('after_value')})"
    if action == "retry_failed":
        n = len(_json(row.get("raw")).get("actions", []))
        return f"queued {n:,} failed action(s) again"
    return " ".join(x for x in (plain("audit", action), crm) if x)


def activity_in_words(ws: Workspace, *, actor: str | None = None,
                      after: ActivityKey | None = None, size: int = 50
                      ) -> tuple[pd.DataFrame, ActivityKey | None]:
    """:func:`activity` as a steward reads it: ``When, Who, What, Batch``, each row a sentence
    (:func:`activity_sentence`) with the records' names, looked up by id for the page only."""
    from erpdata.steward.commit import record_names

    rows, key = _activity_rows(ws, actor=actor, after=after, size=size)
    cur = ws.cursor()
    names: dict[str, Any] = {}
    for kind, g in rows[rows["kind"].isin(KINDS)].groupby("kind", sort=False):
        erp_keys = []
        for r in g.itertuples(index=False):
            if r.src == "decision":
                erp_keys.append((r.actor_type, r.after_value))
            elif r.action in ("link", "unlink") and isinstance(r.after_value, str):
                erp_keys.append(tuple(r.after_value.split(":", 1)))
            elif r.action in ("update_erp", "resolve_conflict"):
                erp_keys.append((r.actor_type, r.record))
        crm_ids = g.loc[(g["side"] != "erp") | (g["action"] == "create_erp"), "record"]
        names[str(kind)] = record_names(cur, str(kind), crm_ids,
                                        [k for k in erp_keys if len(k) == 2])
    what = []
    for r in rows.to_dict("records"):
        crm_names, erp_names = names.get(str(r["kind"]), ({}, {}))
        erp_key = (r["actor_type"], r["after_value"])
        if r["src"] == "audit":
            if r["action"] in ("link", "unlink") and isinstance(r["after_value"], str):
                erp_key = tuple(r["after_value"].split(":", 1))
            else:
                erp_key = (r["actor_type"], r["record"])
        erp_name = erp_names.get(tuple(str(x) for x in erp_key))  # type: ignore[arg-type]
        crm_name = (crm_names.get(str(r["record"]))
                    if r["side"] != "erp" or r["action"] == "create_erp" else None)
        what.append(activity_sentence(r, crm_name, erp_name))
    return pd.DataFrame({"When": rows["logged_at"], "Who": rows["actor"], "What": what,
                         "Batch": rows["batch_id"]}), key
