"""Field mappings: which fields synchronise, in which direction, which side wins a conflict by
default, and what a new ERP actor gets. SuperOffice's Settings > Quote/Sync > Mappings, per kind,
stored in the workspace (table ``field_mappings``) and exchanged as TOML.

Why here and not in each step: review (which fields to compare, the pre-filled pick), create
(the payload and its defaults), commit (which system a chosen value is written to) and reports
(which changes go where) all read the same rows, so a steward changes a direction once.

Validation follows SuperOffice, where activating a connection with a bad mapping fails with a
descriptive error: a field the ERP requires (``mandatory``) must have a direction, and a field is
either synchronised or shown live in the ERP tab, never both (shown fields are read live from
the ERP and never stored in the CRM). Every problem is reported at once, naming the field.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import tomli_w

from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.schema import KINDS, Kind, check_side_kind, synced_fields
from erpdata.workspace import Workspace

Direction = Literal["to_crm", "to_erp", "both", "none"]
Winner = Literal["crm", "erp", "newest"]
DIRECTIONS: tuple[Direction, ...] = ("to_crm", "to_erp", "both", "none")
WINNERS: tuple[Winner, ...] = ("crm", "erp", "newest")


class MappingError(ErpdataError):
    """A field mapping that SuperOffice would refuse to activate; says every problem."""


@dataclass(frozen=True)
class FieldMapping:
    """One ERP field of one kind and what happens to it.

    ``direction``: ``to_crm`` (ERP values overwrite the CRM), ``to_erp``, ``both`` or ``none``
    (never synchronised). ``winner``: the pre-filled pick when the two sides differ
    (``newest``: the side changed last). ``mandatory``: the ERP requires the field (the
    connector's ``Access = Mandatory``). ``default_value`` / ``ask_user`` /
    ``default_mandatory``: what a new ERP actor gets when the CRM has no value: a fixed value,
    a question to the steward, and whether an answer is required.
    """

    erp_field: str
    crm_field: str | None = None
    direction: Direction = "none"
    show_in_search: bool = False
    show_in_erp_tab: bool = False
    winner: Winner = "crm"
    mandatory: bool = False
    default_value: str | None = None
    ask_user: bool = False
    default_mandatory: bool = False

    @property
    def to_crm(self) -> bool:
        """Whether a chosen value is written to the CRM."""
        return self.direction in ("to_crm", "both")

    @property
    def to_erp(self) -> bool:
        """Whether a chosen value is written to the ERP."""
        return self.direction in ("to_erp", "both")

    @property
    def synced(self) -> bool:
        return self.direction != "none"


_KEYS = tuple(f.name for f in fields(FieldMapping))


def _m(field: str, direction: Direction = "both", winner: Winner = "crm", **kw: Any
       ) -> FieldMapping:
    """A mapping between same-named fields (a mapped field without a direction is what
    SuperOffice's automatic mapping proposes: nothing syncs until someone says so)."""
    return FieldMapping(field, field, direction, winner=winner, **kw)


#: Shipped defaults (also the demo's): names and contact details both ways with the CRM
#: winning, registry facts (org number, country) both ways with the ERP winning, the ERP's own
#: numbers only into the CRM, and what a new customer must be given.
DEFAULTS: dict[Kind, tuple[FieldMapping, ...]] = {
    "company": (
        _m("name", show_in_search=True, mandatory=True),
        _m("vatno", winner="erp", show_in_search=True),
        _m("number2", "to_crm", "erp", show_in_search=True),
        _m("department"),
        _m("phone"), _m("fax"), _m("email"), _m("url"),
        _m("streetad1"), _m("streetad2"), _m("streetad3"), _m("streetzip"), _m("streetcity"),
        _m("postalad1"), _m("postalad2"), _m("postalad3"), _m("postalzip"), _m("postalcity"),
        _m("country", winner="erp", mandatory=True, default_value="NO"),
        _m("category", "none", ask_user=True, default_mandatory=True),
        _m("number1", "none"),
    ),
    "person": (
        _m("firstname", show_in_search=True),
        _m("middlename"),
        _m("lastname", show_in_search=True, mandatory=True),
        _m("title"),
        _m("email", show_in_search=True),
        _m("phone_direct"), _m("phone_mobile"),
        _m("birthdate", "to_crm", "erp"),
        _m("position", "none", ask_user=True),
        _m("number", "none"),
    ),
    "project": (
        _m("name", show_in_search=True, mandatory=True),
        _m("number", "to_crm", "erp", show_in_search=True),
        _m("text"),
        _m("enddate", winner="erp"),
        _m("status", "to_crm", "erp"),
    ),
}


def _known(kind: Kind, side: str) -> set[str]:
    return {f.name for f in synced_fields(kind) if f.side in (None, side)}


def validate(kind: str, mappings: list[FieldMapping], source: str = "field mapping") -> None:
    """Raise :class:`MappingError` listing every problem of one kind's mappings."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    erp_known, crm_known = _known(k, "erp"), _known(k, "crm")
    problems: list[str] = []
    seen: set[str] = set()
    writers: dict[str, str] = {}
    for m in mappings:
        where = f"{kind} field {m.erp_field!r}"
        if m.erp_field in seen:
            problems.append(f"{where} is mapped twice")
        seen.add(m.erp_field)
        if m.erp_field not in erp_known:
            problems.append(f"{where}: not an ERP {kind} field (known: "
                            f"{', '.join(sorted(erp_known))})")
        if m.crm_field is not None and m.crm_field not in crm_known:
            problems.append(f"{where}: CRM field {m.crm_field!r} is not a CRM {kind} field "
                            f"(known: {', '.join(sorted(crm_known))})")
        if m.direction not in DIRECTIONS:
            problems.append(f"{where}: direction {m.direction!r} is not one of "
                            f"{', '.join(DIRECTIONS)}")
        if m.winner not in WINNERS:
            problems.append(f"{where}: winner {m.winner!r} is not one of {', '.join(WINNERS)}")
        if m.synced and m.crm_field is None:
            problems.append(f"{where}: direction {m.direction!r} needs a CRM field to sync with")
        if m.synced and m.show_in_erp_tab:
            problems.append(f"{where} is both synchronised ({m.direction}) and shown live in "
                            "the ERP tab: choose one (shown fields are read live from the ERP "
                            "and never stored in the CRM)")
        if m.mandatory and not m.synced:
            problems.append(f"{where} is mandatory in the ERP but has no sync direction: give "
                            "it one (to_erp or both), or the ERP cannot receive it")
        if m.to_crm and m.crm_field is not None:
            if m.crm_field in writers:
                problems.append(f"{where} and {kind} field {writers[m.crm_field]!r} both write "
                                f"CRM field {m.crm_field!r}")
            writers[m.crm_field] = m.erp_field
    if problems:
        raise MappingError(f"{source}: " + "; ".join(problems))


@guarded
def mappings(ws: Workspace, kind: str, con: duckdb.DuckDBPyConnection | None = None
             ) -> list[FieldMapping]:
    """The workspace's mappings of ``kind`` in rank order, or the shipped defaults if none
    were ever saved."""
    check_side_kind("crm", kind)
    return stored(con or ws.cursor(), kind) or list(DEFAULTS[kind])  # type: ignore[index]


@guarded
def save_mappings(ws: Workspace, kind: str, new: list[FieldMapping], *, user: str | None = None,
         con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Validate and replace the mappings of ``kind`` in one transaction, audited."""
    validate(kind, new)
    cur = con or ws.cursor()
    with ws.transaction(cur):
        _replace(cur, kind, new, require_for(ws, "save_mappings", user, cur))


def _replace(cur: duckdb.DuckDBPyConnection, kind: str, new: list[FieldMapping],
             user: str) -> None:
    before = [asdict(m) for m in stored(cur, kind)]
    cur.execute("DELETE FROM field_mappings WHERE kind = ?", [kind])
    frame = pd.DataFrame([asdict(m) for m in new], columns=list(_KEYS))
    frame.insert(0, "kind", kind)
    frame["rank"] = range(len(frame))
    cur.register("new_mappings", frame)
    cur.execute("INSERT INTO field_mappings BY NAME SELECT * FROM new_mappings")
    cur.unregister("new_mappings")
    cur.execute(
        "INSERT INTO audit (logged_at, actor, action, kind, detail) VALUES (?, ?, 'mapping', ?, ?)",
        [datetime.now(), user, kind,
         json.dumps({"before": before, "after": [asdict(m) for m in new]})])


def stored(cur: duckdb.DuckDBPyConnection, kind: str) -> list[FieldMapping]:
    """The stored mappings of ``kind`` only (no defaults): what an audit row calls "before"."""
    rows = cur.execute(f"SELECT {', '.join(_KEYS)} FROM field_mappings WHERE kind = ? "  # noqa: S608 - columns: the constant _KEYS
                       "ORDER BY rank, erp_field", [kind]).fetchall()
    return [FieldMapping(*row) for row in rows]


# --- TOML ------------------------------------------------------------------------------------


def to_toml(ws: Workspace) -> str:
    """Every kind's mappings as TOML: one ``[[kind]]`` table per ERP field, default values
    left out (the file reads like the settings screen). Written by ``tomli_w``, not by hand:
    a hand-made writer got control characters wrong (a DEL in a label made the file
    unreadable), and the reader is ``tomllib``, so the two must agree on every string."""
    blank = FieldMapping("")
    doc: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        tables = [{key: value if isinstance(value, bool) else str(value)
                   for key in _KEYS if (value := getattr(m, key)) is not None
                   and (key == "erp_field" or value != getattr(blank, key))}
                  for m in mappings(ws, kind)]
        if tables:
            doc[kind] = tables
    return ("# erpdata field mappings: one [[kind]] table per ERP field.\n"
            "# direction: to_crm | to_erp | both | none; winner: crm | erp | newest\n\n"
            + tomli_w.dumps(doc))


def export_toml(ws: Workspace, path: str | Path) -> Path:
    """Write :func:`to_toml` to ``path``."""
    out = Path(path)
    out.write_text(to_toml(ws), encoding="utf-8")
    return out


@guarded
def import_toml(ws: Workspace, path: str | Path, *, user: str | None = None
                ) -> dict[str, int]:
    """Replace the mappings of every kind the file names, all or nothing.

    Errors name the file, the ``[[kind]]`` entry (1-based, as a reader counts them) and the
    field; nothing is written unless every kind in the file is valid."""
    src = Path(path)
    try:
        data = tomllib.loads(src.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{src}: cannot read a TOML mapping file: {exc}") from exc
    unknown = sorted(set(data) - set(KINDS))
    if unknown:
        raise MappingError(f"{src}: unknown section(s) {', '.join(map(repr, unknown))}; use "
                           f"{', '.join(f'[[{k}]]' for k in KINDS)}")
    parsed: dict[str, list[FieldMapping]] = {}
    for kind, entries in data.items():
        if not isinstance(entries, list):
            raise MappingError(f"{src}: {kind!r} must be a list of tables ([[{kind}]])")
        parsed[kind] = [_entry(src, kind, i, e) for i, e in enumerate(entries, 1)]
        validate(kind, parsed[kind], source=str(src))
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "import_toml", user, cur)
        for kind, new in parsed.items():
            _replace(cur, kind, new, who)
    return {kind: len(new) for kind, new in parsed.items()}


def _entry(src: Path, kind: str, i: int, entry: Any) -> FieldMapping:
    where = f"{src}, [[{kind}]] entry {i}"
    if not isinstance(entry, dict) or "erp_field" not in entry:
        raise MappingError(f"{where}: every entry needs erp_field = \"...\"")
    where += f" ({entry['erp_field']!r})"
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: "
                           f"{', '.join(_KEYS)}")
    for key, value in entry.items():
        want = bool if key in ("show_in_search", "show_in_erp_tab", "mandatory", "ask_user",
                               "default_mandatory") else str
        if not isinstance(value, want):
            expected = "true or false" if want is bool else "a string"
            raise MappingError(f"{where}: {key} must be {expected}")
    return FieldMapping(**entry)


def to_frame(items: list[FieldMapping]) -> pd.DataFrame:
    """Mappings as a table (one row per ERP field), e.g. for an editor."""
    return pd.DataFrame([asdict(m) for m in items], columns=list(_KEYS))


def from_frame(frame: pd.DataFrame) -> list[FieldMapping]:
    """Mappings from a table like :func:`to_frame`'s, blanks read as "not set"; not validated
    (:func:`save_mappings` does that)."""
    out = []
    for row in frame.to_dict("records"):
        values = {k: (None if pd.isna(v) or v == "" else v) if not isinstance(v, bool) else v
                  for k, v in row.items() if k in _KEYS}
        for flag in ("show_in_search", "show_in_erp_tab", "mandatory", "ask_user",
                     "default_mandatory"):
            values[flag] = bool(values.get(flag) or False)
        values["direction"] = values.get("direction") or "none"
        values["winner"] = values.get("winner") or "crm"
        if values.get("erp_field"):
            out.append(FieldMapping(**values))
    return out
