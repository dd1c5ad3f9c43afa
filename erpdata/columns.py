"""Map an export's column headers to canonical fields, automatically or from a mapping file.

Why by synonyms: a steward should not have to write a mapping for the exports SuperOffice and
the common Nordic, Dutch and German ERPs produce. Headers are *folded* before lookup (case,
diacritics, æ/ø/ß, spaces and punctuation), so "Org.nr", "ORGNR" and "Org nr" are one key.
An explicit mapping (TOML or JSON) wins over the synonyms; the mapping actually used is
returned, shown and stored with the load, so a load can always be explained and repeated.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from erpdata.errors import IngestError, column_letter
from erpdata.schema import ID_SYNONYMS, Kind, Side, fields

_FOLD_TABLE = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "đ": "d", "ð": "d", "þ": "th",
                             "ł": "l", "œ": "oe"})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Fold a header or code for lookup: ``"Besøks-adresse"`` -> ``"besoksadresse"``."""
    t = text.casefold().translate(_FOLD_TABLE)
    t = unicodedata.normalize("NFKD", t)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", t)


def synonym_index(side: Side, kind: Kind) -> dict[str, str]:
    """Folded synonym -> canonical field name, for one side and kind (``id`` included).

    The record key's synonyms come first, so "id" is never taken by a data field; among data
    fields, the first field in schema order that lists a synonym keeps it.
    """
    index: dict[str, str] = {}
    for syn in ID_SYNONYMS[(side, kind)]:
        index.setdefault(fold(syn), "id")
    for f in fields(side, kind):
        for syn in (f.name, *f.synonyms):
            index.setdefault(fold(syn), f.name)
    return index


@dataclass
class ColumnMapping:
    """Which source column feeds which canonical field, and what is left over.

    ``fields`` maps canonical field -> position of the source column; ``extra`` lists the positions
    kept in the record's ``extra`` JSON. ``headers`` are the source headers as written.
    """

    headers: list[str]
    fields: dict[str, int] = field(default_factory=dict)
    extra: list[int] = field(default_factory=list)
    explicit: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, str]:
        """Canonical field -> header text: the form shown to users and stored with a load."""
        return {name: self.headers[pos] for name, pos in self.fields.items()}

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of (header, field or 'extra', how) in source column order, for display."""
        by_pos = {pos: name for name, pos in self.fields.items()}
        rows = []
        for pos, header in enumerate(self.headers):
            if pos in by_pos:
                how = "mapping file" if by_pos[pos] in self.explicit else "synonym"
                rows.append((header, by_pos[pos], how))
            else:
                rows.append((header, "extra", "kept as is"))
        return rows


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """Read a mapping file: TOML or JSON, ``field = "Source header"`` under ``[columns]`` or flat.

    Example (TOML)::

        [columns]
        id = "Kundenr"
        name = "Navn"
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(p, f"cannot read the mapping file: {exc}") from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        what = p.suffix.lstrip(".").upper() or "TOML"
        raise IngestError(p, f"the mapping file is not valid {what}: {exc}") from exc
    cols = data.get("columns", data)
    if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
        raise IngestError(
            p, 'expected field = "Source header" pairs (optionally under [columns]), all strings'
        )
    return {str(k): v for k, v in cols.items()}


def map_columns(
    headers: Sequence[str],
    side: Side,
    kind: Kind,
    *,
    explicit: Mapping[str, str] | None = None,
    file: str | Path = "",
    mapping_file: str | Path | None = None,
) -> ColumnMapping:
    """Map ``headers`` to canonical fields: the explicit mapping first, synonyms for the rest.

    Raises :class:`IngestError` when the explicit mapping names an unknown field or a header the
    file does not have. A header that folds to an already taken field stays in ``extra``.
    """
    known = {"id", *(f.name for f in fields(side, kind))}
    result = ColumnMapping(headers=list(headers))
    folded_headers = [fold(h) for h in headers]
    for fname, header in (explicit or {}).items():
        where = mapping_file or file
        if fname not in known:
            raise IngestError(
                where, f"the mapping names unknown field '{fname}' for {side} {kind}s; "
                f"known fields: {', '.join(sorted(known))}"
            )
        pos = _find_header(headers, folded_headers, header)
        if pos is None:
            raise IngestError(
                file, f"the mapping maps field '{fname}' to column '{header}', but the file has "
                f"no such column; its headers are: {', '.join(repr(h) for h in headers)}",
                row=1, column=header,
            )
        result.fields[fname] = pos
        result.explicit.add(fname)
    taken = set(result.fields.values())
    index = synonym_index(side, kind)
    for pos, key in enumerate(folded_headers):
        if pos in taken:
            continue
        name = index.get(key)
        if name is not None and name not in result.fields:
            result.fields[name] = pos
        else:
            result.extra.append(pos)
    return result


def _find_header(headers: Sequence[str], folded: Sequence[str], wanted: str) -> int | None:
    """Position of ``wanted``: exact header text first, then the folded form."""
    if wanted in headers:
        return list(headers).index(wanted)
    key = fold(wanted)
    return folded.index(key) if key and key in folded else None


def describe_columns(positions: Sequence[int], headers: Sequence[str], limit: int = 20) -> str:
    """``'Vår kontakt' (R), 'Registrert' (S)``: columns named as a spreadsheet user sees them;
    after ``limit`` of them, how many more (a 4,000-column file must not make a 100 KB
    warning)."""
    named = ", ".join(f"'{headers[p]}' ({column_letter(p)})" for p in positions[:limit])
    more = len(positions) - limit
    return named + (f" and {more:,} more" if more > 0 else "")
