"""Read JSON (an array of records) and NDJSON (one record per line) into the staging table.

Why this module: DuckDB's JSON reader is fast, but it reads a string that looks like a UUID, a
date or a time as one and gives it back in its own spelling, and its errors do not say where a
file goes wrong. Here strings stay as the file holds them, and on error Python's parser finds
the record or line at fault, in bounded memory; nesting deeper than DuckDB reads is found by
counting brackets in a loop, since Python's parser recurses and would fail on it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from erpdata.errors import IngestError
from erpdata.ingest.staging import Source, _duck_message, _stage_typed
from erpdata.sql import sql_text

#: Types DuckDB's JSON reader gives strings that look like them.
_JSON_STRING_TYPES = ("UUID", "DATE", "TIME", "TIMESTAMP", "INTERVAL")


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, shown: str, fmt: str) -> Source:
    src = Source(path, shown, fmt, [], 0, row_label="record")
    jformat = "array" if fmt == "json" else "newline_delimited"
    relation = ("read_json(?, format = ?, records = true, sample_size = -1, "
                "maximum_object_size = 67108864{})")
    params = [str(path), jformat]
    try:
        detected = con.execute(f"DESCRIBE SELECT * FROM {relation.format('')}",  # noqa: S608 - relation a fixed read_json call; path bound as ?
                               params).fetchall()
        if any(str(t).upper().startswith(_JSON_STRING_TYPES) for _, t, *_ in detected):
            # DuckDB reads a string that looks like a UUID, a date or a time as one, and
            # would give it back in its own spelling (lower case, "2026-03-31 10:00:00"): a
            # JSON string is text, kept as the file holds it
            columns = ", ".join(
                f"{sql_text(n)}: "
                + sql_text("VARCHAR" if str(t).upper().startswith(_JSON_STRING_TYPES) else t)
                for n, t, *_ in detected)
            relation = relation.format(f", columns = {{{columns}}}")
        else:
            relation = relation.format("")
        _stage_typed(con, src, relation, params, "row_number() OVER ()", whole_doubles=True)
    except duckdb.Error as exc:
        raise _json_error(path, shown, fmt, exc) from exc
    return src


#: DuckDB's JSON reader refuses deeper nesting; so does this module's error path.
JSON_MAX_DEPTH = 128
#: The error path reads at most this much of a JSON file with Python's parser.
JSON_DIAGNOSE_BYTES = 64 * 1024 * 1024
_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{},\n]')


def _too_deep(text: str, ndjson: bool) -> int | None:
    """The record (array item, or NDJSON line) where nesting first passes JSON_MAX_DEPTH.

    Why not ``json.loads``: Python's parser recurses, and 10,000 nested brackets end in a
    RecursionError; this scan counts brackets outside strings in a loop, in bounded memory."""
    depth, record = 0, 1
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > JSON_MAX_DEPTH:
                return record
        elif token in "]}":
            depth -= 1
        elif (token == "," and depth == 1 and not ndjson) or (token == "\n" and ndjson):
            record += 1
    return None


def _json_error(path: Path, shown: str, fmt: str, exc: Exception) -> IngestError:
    """Find where a JSON file goes wrong, with Python's parser (error path only; it reads at
    most JSON_DIAGNOSE_BYTES, so a huge file cannot exhaust the memory here)."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as f:
        text = f.read(JSON_DIAGNOSE_BYTES)
        whole = not f.read(1)
    deep = _too_deep(text, fmt == "ndjson")
    if deep is not None:
        return IngestError(
            shown, f"record {deep} is nested more than {JSON_MAX_DEPTH} levels deep (lists or "
            "objects inside each other): a record must be an object of field: value pairs "
            "whose values are at most a few levels deep. Export flat records",
            row=deep, row_label="record")
    try:
        found = _json_problem(text, whole, shown, fmt)
    except RecursionError:
        found = None
    return found or IngestError(shown, f"the JSON cannot be read: {_duck_message(exc)}", row=1,
                                row_label="record")


def _json_problem(text: str, whole: bool, shown: str, fmt: str) -> IngestError | None:
    """The first problem Python's parser finds in ``text`` (the file, or its first part)."""
    if fmt == "ndjson":
        lines = text.splitlines()
        if not whole:
            lines = lines[:-1]  # cut at the diagnosis limit
        records = 0
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            records += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as jexc:
                return IngestError(shown, f"line {n} is not valid JSON: {jexc.msg} "
                                   f"(at character {jexc.colno})", row=n,
                                   row_label="record")
            if not isinstance(value, dict):
                return IngestError(shown, f"line {n} is a JSON {type(value).__name__}, "
                                   "not an object of field: value pairs", row=n,
                                   row_label="record")
        if whole and records == 0:
            return IngestError(shown, "the file holds no records: an empty export would flag "
                               "every record as missing, so it is refused", row=1,
                               row_label="record")
        return None
    if not whole:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as jexc:
        ended = " (the file ends there: was the export finished?)" \
            if jexc.pos >= len(text.rstrip()) - 1 or "Unterminated" in jexc.msg else ""
        return IngestError(shown, f"not valid JSON at line {jexc.lineno}, character "
                           f"{jexc.colno}: {jexc.msg}{ended}", row=jexc.lineno,
                           row_label="line")
    if not isinstance(value, list):
        return IngestError(shown, "expected a JSON array of records ([{...}, {...}])",
                           row=1, row_label="record")
    if not value:
        return IngestError(shown, "the JSON array is empty, so the file holds no records: an "
                           "empty export would flag every record as missing, so it is refused",
                           row=1, row_label="record")
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            return IngestError(shown, f"record {n} is a JSON {type(item).__name__}, not an "
                               "object of field: value pairs", row=n, row_label="record")
    return None
