"""The errors erpdata raises on purpose: each says what is wrong, where, and what to do.

Why a module of its own: the CLI and the workbench catch :class:`ErpdataError` and show its text
as it is, while any other exception is a bug and shows a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ErpdataError(Exception):
    """Base of all expected, user-facing errors."""


class WorkspaceError(ErpdataError):
    """A workspace cannot be opened or written; the message says what to do about it."""


def column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class IngestError(ErpdataError):
    """A file cannot be loaded. Names the file, the row and the column, like a spreadsheet.

    ``row`` is 1-based as a spreadsheet shows it (the header is row 1, so the first data row is
    row 2); for JSON and Parquet it is the 1-based record number and ``row_label`` is "record".
    ``column`` is the header text, ``column_index`` its 0-based position (shown as a letter).
    """

    def __init__(
        self,
        file: str | Path,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        column_index: int | None = None,
        row_label: str = "row",
    ) -> None:
        self.file = str(file)
        self.message = message
        self.row = row
        self.column = column
        self.column_index = column_index
        self.row_label = row_label
        super().__init__(self.__str__())

    def where(self) -> str:
        """``file, row 5, column 'Navn' (B)``: the location part of the message."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"{self.row_label} {self.row}")
        if self.column is not None:
            col = f"column '{self.column}'"
            if self.column_index is not None:
                col += f" ({column_letter(self.column_index)})"
            parts.append(col)
        elif self.column_index is not None:
            parts.append(f"column {column_letter(self.column_index)}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"
