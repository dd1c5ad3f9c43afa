"""Map an export's column headers to canonical fields, automatically or from a mapping file.

Why by synonyms: a steward should not have to write a mapping for the exports SuperOffice and
the common Nordic, Dutch and German ERPs produce. Headers are *folded* before lookup (case,
diacritics, æ/ø/ß, spaces and punctuation), so "Org.nr", "ORGNR" and "Org nr" are one key.
An explicit mapping (TOML or JSON) wins over the synonyms; the mapping actually used is
returned, shown and stored with the load, so a load can always be explained and repeated.

Every mapped field remembers *why* it was mapped (mapping file, the header's meaning, or the
column's values when :mod:`erpdata.ingest.proposals` proposed it), so the CLI and the Load page can
say "key: column 'CustomerNo' (header: customer number)" instead of leaving a steward to guess.
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
from erpdata.schema import ERP_NUMBER_HEADERS, ID_SYNONYMS, Kind, Side, fields

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
    return {key: cands[0][0] for key, cands in synonym_candidates(side, kind).items()}


def synonym_candidates(side: Side, kind: Kind) -> dict[str, list[tuple[str, str]]]:
    """Folded synonym -> every (field, label) that lists it, in priority order: the record key
    first, then data fields in schema order. ``label`` says what the header means, for
    messages: the meaning of an ERP number header ("customer number"), else the synonym as the
    schema writes it. Why a list: a header that names the key when the file has no other key
    column ("CustomerNo" on ERP companies) names the next field that lists it (``number2``)
    when an "id" column is there too, instead of being lost in ``extra``."""
    meaning = {fold(h): label for label, group in ERP_NUMBER_HEADERS.items() for h in group}
    index: dict[str, list[tuple[str, str]]] = {}

    def add(syn: str, name: str) -> None:
        key = fold(syn)
        cands = index.setdefault(key, [])
        if all(n != name for n, _ in cands):
            cands.append((name, meaning.get(key, syn)))

    for syn in ID_SYNONYMS[(side, kind)]:
        add(syn, "id")
    for f in fields(side, kind):
        for syn in (f.name, *f.synonyms):
            add(syn, f.name)
    return index


#: The field that names a record's parent, per side (persons and projects only).
PARENT_FIELD: dict[Side, str] = {"crm": "company_id", "erp": "parent_key"}


@dataclass
class ColumnMapping:
    """Which source column feeds which canonical field, and what is left over.

    ``fields`` maps canonical field -> position of the source column; ``extra`` lists the positions
    kept in the record's ``extra`` JSON. ``headers`` are the source headers as written.
    ``explicit``: fields the caller's mapping named; ``proposed``: fields chosen from the
    column's values (:mod:`erpdata.ingest.proposals`); ``reasons``: field -> why it was mapped
    ("header: customer number", "values: 2,000 unique, never empty").
    """

    headers: list[str]
    fields: dict[str, int] = field(default_factory=dict)
    extra: list[int] = field(default_factory=list)
    explicit: set[str] = field(default_factory=set)
    proposed: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        """Canonical field -> header text: the form shown to users and stored with a load."""
        return {name: self.headers[pos] for name, pos in self.fields.items()}

    def how(self, name: str) -> str:
        """How field ``name`` was mapped: 'mapping file', 'synonym' or the values' reason."""
        if name in self.explicit:
            return "mapping file"
        if name in self.proposed:
            return self.reasons[name]
        return "synonym"

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of (header, field or 'extra', how) in source column order, for display."""
        by_pos: dict[int, list[str]] = {}
        for name, pos in self.fields.items():
            by_pos.setdefault(pos, []).append(name)
        rows = []
        for pos, header in enumerate(self.headers):
            if pos in by_pos:  # a key column that also feeds its number field shows as the key
                names = sorted(by_pos[pos], key=lambda n: n != "id")
                how = self.how(names[0]) + "".join(f"; also {n}" for n in names[1:])
                rows.append((header, names[0], how))
            else:
                rows.append((header, "extra", "kept as is"))
        return rows

    def assign(self, name: str, pos: int, reason: str, *, proposed: bool = False,
               keep: bool = False) -> None:
        """Map column ``pos`` to field ``name`` (taking it from ``extra``, or from the field it
        fed before unless ``keep``), remembering why."""
        for other, p in list(self.fields.items()):
            if p == pos and not keep:
                del self.fields[other]
                self.reasons.pop(other, None)
        if pos in self.extra:
            self.extra.remove(pos)
        old = self.fields.get(name)
        if old is not None:
            self.extra.append(old)
            self.extra.sort()
        self.fields[name] = pos
        self.reasons[name] = reason
        if proposed:
            self.proposed.add(name)

    def key_lines(self, side: Side, kind: Kind) -> list[str]:
        """The record key and (persons, projects) the parent column, and why each was chosen:
        ``key: column 'CustomerNo' (header: customer number)``. For the CLI and the Load page."""
        roles = [("id", "key")]
        if kind != "company":
            roles.append((PARENT_FIELD[side], "parent"))
        lines = []
        for name, role in roles:
            pos = self.fields.get(name)
            if pos is None:
                why = self.reasons.get(name, "no header names it")
                lines.append(f"{role}: none found ({why})")
                continue
            why = "mapping file" if name in self.explicit else self.reasons.get(name, "synonym")
            lines.append(f"{role}: column '{self.headers[pos]}' ({why})")
        return lines


@dataclass
class MappingFile:
    """A mapping file's content: ``columns`` (field -> source header) and ``types`` (field or
    source header -> comparison type, see :data:`erpdata.matching.spec.TYPES`)."""

    columns: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """Read a mapping file's column mapping (see :func:`read_mapping`)."""
    return read_mapping(path).columns


def read_mapping(path: str | Path) -> MappingFile:
    """Read a mapping file: TOML or JSON, ``field = "Source header"`` under ``[columns]`` or flat,
    and optionally ``[types]``: how ``erpdata match`` compares a field.

    Example (TOML)::

        [columns]
        id = "Kundenr"
        name = "Navn"

        [types]
        number2 = "code"      # a canonical field, or a source header the file maps to one

    A type that :data:`erpdata.matching.spec.TYPES` does not know is an error naming the file
    and the entry; which field a header entry means is settled at load time
    (:func:`erpdata.ingest.load.load_file`), when the file's columns are known.
    """
    from erpdata.matching.spec import TYPES  # here: matching imports much that columns need not

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
    if not isinstance(data, dict):
        raise IngestError(p, 'expected field = "Source header" pairs (optionally under '
                          '[columns]), all strings')
    types = data.get("types", {})
    cols = data["columns"] if "columns" in data else {
        k: v for k, v in data.items() if k != "types"}
    if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
        raise IngestError(
            p, 'expected field = "Source header" pairs (optionally under [columns]), all strings'
        )
    if not isinstance(types, dict):
        raise IngestError(p, 'expected [types] to hold field = "type" pairs, e.g. '
                          'number2 = "code"')
    for entry, type_ in types.items():
        if not isinstance(type_, str) or type_ not in TYPES or type_ == "location":
            usable = ", ".join(t for t in TYPES if t != "location")
            raise IngestError(
                p, f"[types] entry {entry} = {json.dumps(type_, ensure_ascii=False)}: "
                f"unknown comparison type; use one of {usable}"
                + (" (a location compares two columns: use match-files --compare)"
                   if type_ == "location" else "")
            )
    return MappingFile({str(k): v for k, v in cols.items()},
                       {str(k): str(v) for k, v in types.items()})


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
    # The key first: of the columns whose header names the key, the one whose synonym ranks
    # highest in ID_SYNONYMS (generic "id" before "customer number"), leftmost on a tie.
    cands = synonym_candidates(side, kind)
    taken = set(result.fields.values())
    if "id" not in result.fields:
        rank = {fold(syn): i for i, syn in reversed(list(enumerate(ID_SYNONYMS[(side, kind)])))}
        keyed = [(rank[key], pos) for pos, key in enumerate(folded_headers)
                 if pos not in taken and key in rank]
        if keyed:
            pos = min(keyed)[1]
            result.fields["id"] = pos
            result.reasons["id"] = "header: " + cands[folded_headers[pos]][0][1]
            taken.add(pos)
    for pos, key in enumerate(folded_headers):
        if pos in taken:
            continue
        for name, label in cands.get(key, []):
            if name not in result.fields:
                result.fields[name] = pos
                result.reasons[name] = f"header: {label}"
                break
        else:
            result.extra.append(pos)
    return result


def header_position(headers: Sequence[str], wanted: str) -> int | None:
    """Position of header ``wanted`` in ``headers`` (exact text first, then folded), or None."""
    return _find_header(headers, [fold(h) for h in headers], wanted)


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
