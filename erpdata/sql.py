"""SQL text built from data: the one place identifiers and literals are quoted.

Why one module: a column name from an export ("Kunde nr", a header with a quote) and a value
from a file are data, never SQL; three hand-written copies of the quoting had drifted apart.
Everything else passes values as parameters (``?``); these two are for what DuckDB cannot take
as a parameter (a column name) or where a statement is built once for many values.
"""

from __future__ import annotations


def sql_ident(name: str) -> str:
    '''A quoted SQL identifier: the header ``Kunde "nr"`` becomes ``"Kunde ""nr"""``.'''
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """A SQL string literal: ``O'Brien`` -> ``'O''Brien'``."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    """A DuckDB list literal of strings: ``['a', 'b''c']``."""
    return "[" + ", ".join(sql_text(v) for v in values) + "]"
