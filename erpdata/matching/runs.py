"""Matching inside a workspace: one kind at a time, with decisions in and suggestions out.

Why a layer of its own: the engine matches two tables; a workspace adds what stewards rely on.
Rejected pairs are never suggested again and accepted or linked records are never handed to
someone else (invariant 5); every CRM record ends in one of three honest states, ``scored``,
``no_candidate`` or ``failed`` with the reason (invariant 6); and a run is one transaction, so
a crash leaves the previous suggestions in place.

Each sound model is kept (table ``match_models``, one per kind): when a later run's data has
nothing left to learn from (its fit is degenerate, see :func:`erpdata.matching.model.degenerate`),
the run scores with the last good model's weights and says so in its stats.

Persons and projects are matched in the context of their companies: the ERP parent that a
person's CRM company is linked (or suggested) to is compared like a field, so persons are
matched within their companies' links first, and by e-mail and name elsewhere.

What is compared (:func:`explain`): the canonical fields the headers were mapped to, and the
columns no header mapped (kept in each record's ``extra``) that carry the same header on both
sides, typed from their values exactly as ``match-files`` types them
(:func:`erpdata.matching.spec.explain_comparisons`). Why both: an export whose headers say
nothing ("c1".."c6", "Felt 3") still holds names, phones and org numbers, and two exports of
one system share their headers; matching only what the synonyms recognised would leave such a
workspace with nothing to compare. A canonical field blank on one side in every record is
paired by its values with that side's own unmapped columns (a CRM's first and last name against
an ERP's whole "Name", a birth date against year, month and day columns), as ``match-files``
pairs columns whose headers differ; one with no such partner is left out (it can never agree,
and would only dilute the model), with the reason.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.matching import fits
from erpdata.matching.checkpoints import Checkpoint, Records, records_table
from erpdata.matching.engine import MatchResult, match_frames
from erpdata.matching.model import Model
from erpdata.matching.spec import (
    NAME_TYPES,
    Comparison,
    Inference,
    drop_derived,
    explain_comparisons,
)
from erpdata.matching.stored_features import read_features, update_features
from erpdata.progress import Cancelled, Progress, reporter
from erpdata.roles import guarded, require_for
from erpdata.schema import SIDES, Kind, check_side_kind, display_name_sql, fields
from erpdata.sql import read_frame, read_numpy, sql_ident, sql_text
from erpdata.steward.decisions import display_order_key
from erpdata.steward.states import refresh as refresh_states
from erpdata.steward.thresholds import thresholds
from erpdata.workspace import Workspace

# SQL built here (ruff S608): tables are crm_<kind> / erp_<kind> (kind checked against KINDS by
# check_side_kind()) and the fixed match tables; canonical columns come from fields() and
# COMPARISONS, an unmapped column's header is quoted by sql_ident / sql_text; values are ``?``.


def _c(name: str, type_: str) -> Comparison:
    return Comparison(name, name, name, type_)


#: What is compared for each kind (canonical field names; ``parent`` is derived, see above).
COMPARISONS: dict[Kind, list[Comparison]] = {
    "company": [
        _c("name", "company"), _c("vatno", "orgno"), _c("phone", "phone"), _c("email", "email"),
        _c("url", "url"), _c("streetad1", "address"), _c("postalad1", "address"),
        _c("postalzip", "postcode"), _c("postalcity", "city"), _c("country", "country"),
    ],
    "person": [
        _c("firstname", "person"), _c("lastname", "person"), _c("email", "email"),
        _c("phone_mobile", "phone"), _c("phone_direct", "phone"), _c("birthdate", "date"),
        _c("parent", "code"),
    ],
    "project": [
        _c("name", "text"), _c("number", "code"), _c("enddate", "date"), _c("parent", "code"),
    ],
}


def _canonical(con: duckdb.DuckDBPyConnection, kind: Kind) -> list[Comparison]:
    """:data:`COMPARISONS` of ``kind`` with the types that mapping files fixed (``[types]``,
    stored at load time, :func:`erpdata.ingest.load.field_types`): a compared field takes the given
    type, and a typed field not compared yet is compared too. Why: an export's "Kundenr" is a
    code to be compared exactly, and only the steward who knows the export can say so."""
    from erpdata.ingest.load import field_types, typable_fields  # here: not needed to match frames

    # the names become SQL column names (_blank_sides): only fields [types] may name, as
    # ingest checked before storing them
    allowed = set(typable_fields(kind))
    types = {n: t for n, t in field_types(con, kind).items() if n in allowed}
    out = [Comparison(c.name, c.crm_col, c.erp_col, types.get(c.name, c.type))
           if c.name in types and not c.crm_lng_col else c for c in COMPARISONS[kind]]
    named = {c.name for c in out}
    out += [_c(name, type_) for name, type_ in types.items() if name not in named]
    return out


@dataclass(frozen=True)
class Plan:
    """What a run of one kind compares, and why: ``comparisons`` in the order they are
    compared, and ``inference``, one :class:`~erpdata.matching.spec.Inference` per comparison
    (same order) followed by the fields and columns left out (empty type), each with its
    reason."""

    comparisons: list[Comparison]
    inference: list[Inference]
    #: The typing of the unmapped columns from their values (the costly part: 1.5 s at
    #: 1,000,000 records) as a run keeps it, when this plan typed them itself; a later plan
    #: of the same columns and values takes it from the workspace (:func:`explain`).
    typing: str | None = field(default=None, compare=False, repr=False)

    @property
    def compares_anything(self) -> bool:
        """A field or column of the records themselves is compared (the derived ``parent``
        alone says nothing about a person or a project)."""
        return any(c.name != "parent" for c in self.comparisons)


def nothing_to_compare(kind: str) -> str:
    """Why a kind cannot be matched when :attr:`Plan.compares_anything` is false, and what to
    do about it: the steward who knows the export names its columns in a mapping file."""
    return (f"nothing to compare for {kind} records: no canonical field is filled on both "
            "sides, and the two sides share no unmapped column name. Write a mapping file "
            "naming the fields the headers hold ([columns] name = \"Your header\", see "
            "'erpdata mapping') and load both files again with --mapping FILE")


#: Columns of the frames and of the stored features that an unmapped column must not take
#: (its frame column is then ``extra.<header>``): the record key, the derived parent, and the
#: bookkeeping columns of :mod:`erpdata.matching.stored_features`.
_RESERVED = ("id", "parent", "rid", "digest", "_pos")
_EXTRA_PREFIX = "extra."


def _reserved(kind: Kind) -> set[str]:
    """Case-folded names an unmapped column must not take in the frames: DuckDB compares
    column names without case, so "Name" would collide with the canonical ``name``."""
    names = {f.name for side in SIDES for f in fields(side, kind)}
    return {n.casefold() for n in (*names, *_RESERVED, *(c.name for c in COMPARISONS[kind]))}


def _frame_column(header: str, reserved: set[str]) -> str:
    """The frame column of unmapped column ``header``: the header itself (so explanations say
    "c3"), unless it would collide with a canonical or bookkeeping column or holds ``__`` (the
    features' suffix), then ``extra.<header>``. :func:`_extra_header` inverts it."""
    if header.casefold() in reserved or "__" in header or header.startswith(_EXTRA_PREFIX):
        return _EXTRA_PREFIX + header
    return header


def _extra_header(column: str) -> str:
    return column[len(_EXTRA_PREFIX):] if column.startswith(_EXTRA_PREFIX) else column


def _json_path(header: str) -> str:
    """A JSON pointer to key ``header`` (``~`` and ``/`` escaped), as a SQL literal."""
    return sql_text("/" + header.replace("~", "~0").replace("/", "~1"))


def _extra_sql(header: str, alias: str = "") -> str:
    """SQL reading unmapped column ``header`` from a record's ``extra`` (NULL when empty)."""
    return f"nullif(json_extract_string({alias}extra, {_json_path(header)}), '')"


_EXTRA_KEYS = """SELECT k FROM (
    SELECT unnest(json_keys(extra)) AS k, generate_subscripts(json_keys(extra), 1) AS i
    FROM {table} WHERE missing_since IS NULL AND extra IS NOT NULL) GROUP BY k ORDER BY min(i), k"""


def _extra_headers(con: duckdb.DuckDBPyConnection, kind: Kind
                   ) -> tuple[list[str], dict[str, list[str]]]:
    """Headers kept in ``extra`` by present records: those of both sides (in the CRM file's
    column order: an export's order; the key of a date over three columns is its first one),
    and per side those of that side only (in its file's order)."""
    # the table names: side from this tuple, kind checked by check_side_kind() in the entry
    # point (the query itself has no f-string: S608 does not apply)
    keys = {side: [str(r[0]) for r in con.execute(
        _EXTRA_KEYS.format(table=f"{side}_{kind}")).fetchall()] for side in ("crm", "erp")}
    shared = [k for k in keys["crm"] if k in set(keys["erp"])]
    return shared, {side: [k for k in ks if k not in shared] for side, ks in keys.items()}


def _canonical_values(con: duckdb.DuckDBPyConnection, side: str, kind: Kind,
                      names: list[str]) -> pd.DataFrame:
    """The present records' values of canonical fields ``names`` (one frame column each)."""
    cols = ", ".join(sql_ident(n) for n in names)
    return read_frame(con, f"SELECT {cols} FROM {side}_{kind} WHERE missing_since IS NULL "  # noqa: S608 - kind checked by check_side_kind(); names from COMPARISONS via sql_ident
                      "ORDER BY id")


def _side_values(con: duckdb.DuckDBPyConnection, side: str, kind: Kind, headers: list[str],
                 canonical: list[str]) -> pd.DataFrame:
    """The present records' values of unmapped columns ``headers`` and canonical fields
    ``canonical``, one frame column each (both read in id order, so the rows align)."""
    parts = ([_extra_values(con, side, kind, headers)] if headers else []) + (
        [_canonical_values(con, side, kind, canonical)] if canonical else [])
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


def _extra_values(con: duckdb.DuckDBPyConnection, side: str, kind: Kind,
                  headers: list[str]) -> pd.DataFrame:
    """The present records' values of unmapped columns ``headers`` (one frame column each,
    named by its header)."""
    cols = ", ".join(f"{_extra_sql(h)} AS {sql_ident(h)}" for h in headers)
    return read_frame(con, f"SELECT {cols} FROM {side}_{kind} WHERE missing_since IS NULL "  # noqa: S608 - kind checked by check_side_kind() in the entry point; headers via sql_ident and sql_text
                      "ORDER BY id")


def _blank_sides(con: duckdb.DuckDBPyConnection, kind: Kind,
                 canonical: list[Comparison]) -> dict[str, list[str]]:
    """Canonical comparison name -> the sides ("CRM", "ERP") on which every present record has
    it blank. Why leave those out: a field that is empty on a side can never agree or disagree,
    so it only dilutes the model (``match-files`` leaves such columns out too)."""
    out: dict[str, list[str]] = {}
    for side in ("crm", "erp"):
        comps = [c for c in canonical if c.name != "parent"]
        if not comps:
            continue
        counts = ", ".join(
            "count(*) FILTER (" + " OR ".join(f"{col} IS NOT NULL" for col in c.columns(side))
            + ")" for c in comps)
        row = con.execute(f"SELECT {counts} FROM {side}_{kind} WHERE missing_since IS NULL"  # noqa: S608 - kind checked by check_side_kind() in the entry point; columns from COMPARISONS and typable_fields()
                          ).fetchone() or ()
        for c, n in zip(comps, row, strict=True):
            if not n:
                out.setdefault(c.name, []).append(side.upper())
    return out


def explain(con: duckdb.DuckDBPyConnection, kind: Kind) -> Plan:
    """What a run of ``kind`` compares and why (see the module docstring): the canonical fields
    not blank on a side, the person's or project's ``parent``, and the unmapped columns both
    sides share by header, typed from their values by
    :func:`~erpdata.matching.spec.explain_comparisons` (as ``match-files`` types them)."""
    from erpdata.ingest.load import field_types

    check_side_kind("crm", kind)  # kind names the tables read below: only a known one
    fixed = field_types(con, kind)
    canonical = _canonical(con, kind)
    blank = _blank_sides(con, kind, canonical)
    comps: list[Comparison] = []
    why: list[Inference] = []
    left_out: list[Inference] = []
    for c in canonical:
        cols = (tuple(c.columns("crm")), tuple(c.columns("erp")))
        if c.name in blank:
            left_out.append(Inference(*cols, "", f"canonical field {c.name}: all blank in the "
                                                 f"{blank[c.name][0]} records"))
            continue
        comps.append(c)
        why.append(Inference(*cols, c.type, "mapping file [types]" if c.name in fixed
                             else "parent: the ERP company the CRM company is linked to"
                             if c.name == "parent" else f"canonical field {c.name}"))
    shared, own = _extra_headers(con, kind)
    # Columns of one side only (its own unmapped columns, and canonical fields blank on the
    # other side) are paired by what they hold, as match-files pairs columns whose headers
    # differ: an ERP that exports a person's name whole ("Name") or a birth date as three
    # columns still holds what the CRM's first name, last name and birth date hold, and a
    # Norwegian export's "Postnr" what an English one's "ZIP" holds.
    one_sided = {side: [c.name for c in canonical if blank.get(c.name) == [other.upper()]
                        and len(c.columns(side)) == 1 and c.name != "parent"]
                 for side, other in (("crm", "erp"), ("erp", "crm"))}
    pairable = all(one_sided[side] or own[side] for side in ("crm", "erp"))
    typing = None
    if shared or pairable:
        headers = {side: shared + (own[side] if pairable else []) for side in ("crm", "erp")}
        read = {side: one_sided[side] if pairable else [] for side in ("crm", "erp")}
        canonical_cols = {n for names in one_sided.values() for n in names} if pairable else set()
        key = _typing_key(con, kind, headers, read, canonical_cols)
        kept = _kept_typing(con, kind, key)
        if kept is not None:
            extra, inferred = kept
        else:
            crm, erp = (_side_values(con, side, kind, headers[side], read[side])
                        for side in ("crm", "erp"))
            try:
                extra, inferred = explain_comparisons(crm, erp, id_col="",
                                                      trusted=canonical_cols)
            except ValueError as exc:  # no shared column can be compared: say why, compare none
                extra, inferred = [], ([Inference(tuple(shared), tuple(shared), "", str(exc))]
                                       if shared else [])
            if not _derived_names(comps, extra):  # else the canonical names were read too
                typing = json.dumps({"key": key, "extra": [asdict(c) for c in extra],
                                     "inferred": [asdict(i) for i in inferred]})
            extra, inferred = _without_derived(con, kind, comps, extra, inferred, (crm, erp))
        reserved = _reserved(kind)
        used = {col for c in extra for side in ("crm", "erp") for col in c.columns(side)}
        # a canonical field paired this way is compared, no longer left out as blank
        left_out = [i for i in left_out if not (set(i.crm_columns) & used & canonical_cols)]

        def framed(cols: list[str]) -> list[str]:
            return [col if col in canonical_cols else _frame_column(col, reserved)
                    for col in cols]

        for c in extra:
            crm_cols, erp_cols = framed(c.columns("crm")), framed(c.columns("erp"))
            name = "+".join(crm_cols) if crm_cols == erp_cols else (
                "+".join(crm_cols) + "=" + "+".join(erp_cols))
            lng = bool(c.crm_lng_col)
            comps.append(replace(
                c, name=name, crm_col=crm_cols[0], erp_col=erp_cols[0],
                crm_lng_col=crm_cols[1] if lng else "", erp_lng_col=erp_cols[1] if lng else "",
                crm_more=tuple(crm_cols[1 + lng:]), erp_more=tuple(erp_cols[1 + lng:])))
        for i in inferred:
            if i.crm_columns == i.erp_columns:
                what = (f"unmapped column{'s' if len(i.crm_columns) > 1 else ''} "
                        f"{', '.join(repr(h) for h in i.crm_columns)} in both files: ")
            elif canonical_cols & {*i.crm_columns, *i.erp_columns}:
                what = (f"CRM {_described(i.crm_columns, canonical_cols)} against ERP "
                        f"{_described(i.erp_columns, canonical_cols)}: ")
            else:  # the evidence names both sides' columns
                what = ""
            note = Inference(i.crm_columns, i.erp_columns, i.type, what + i.evidence)
            if i.type or set(i.crm_columns) & set(shared):  # one side's own column: no note
                (why if i.type else left_out).append(note)
    return Plan(comps, why + left_out, typing)


#: Raise it when typing unmapped columns from their values (:func:`explain_comparisons`)
#: changes what it finds, so that typings kept by a workspace are not reused.
TYPING_VERSION = 1


def typing_meta_key(kind: Kind) -> str:
    """The meta entry keeping ``kind``'s typing of its unmapped columns (see :class:`Plan`)."""
    return f"match_typing_{kind}"


def _typing_key(con: duckdb.DuckDBPyConnection, kind: Kind, headers: dict[str, list[str]],
                canonical: dict[str, list[str]], trusted: set[str]) -> str:
    """What typing the unmapped columns depends on: the columns read (per side the unmapped
    ``headers`` and ``canonical`` fields), the ``trusted`` ones, and per side a digest of
    every present record's id, ``extra`` (where the unmapped columns are) and canonical
    fields read. The values are read in id order, so the records' (id, values) fix what is
    read; a sum of 64-bit row hashes that stays the same while they change is a 1 in 2^64
    chance. 0.05 s a side at 1,000,000 records, where typing them took 1.5 s."""
    records = {}
    for side in ("crm", "erp"):
        cols = ", ".join(["id", "extra", *(sql_ident(n) for n in canonical[side])])
        row = con.execute(f"SELECT count(*), sum(hash({cols}))::HUGEINT FROM {side}_{kind} "  # noqa: S608 - kind checked by check_side_kind() in explain; names from COMPARISONS via sql_ident
                          "WHERE missing_since IS NULL").fetchone() or ()
        records[side] = [str(v) for v in row]
    return json.dumps({"version": TYPING_VERSION, "kind": kind,
                       "headers": headers, "canonical": canonical, "trusted": sorted(trusted),
                       "records": records})


def _kept_typing(con: duckdb.DuckDBPyConnection, kind: Kind, key: str
                 ) -> tuple[list[Comparison], list[Inference]] | None:
    """The unmapped columns' comparisons and reasons kept for ``key``, if a run kept them."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", [typing_meta_key(kind)]
                      ).fetchone()
    kept = json.loads(row[0]) if row else {}
    if kept.get("key") != key:
        return None
    return ([Comparison(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()})
             for c in kept["extra"]],
            [Inference(tuple(i["crm_columns"]), tuple(i["erp_columns"]), i["type"],
                       i["evidence"]) for i in kept["inferred"]])


def _derived_names(canonical: list[Comparison], extra: list[Comparison]) -> list[Comparison]:
    """The canonical name comparisons an unmapped name column may be built from (none: no
    unmapped column is typed as a name), which :func:`_without_derived` reads."""
    if not any(c.type in NAME_TYPES for c in extra):
        return []
    return [c for c in canonical if c.type in NAME_TYPES and c.name != "parent"]


def _without_derived(con: duckdb.DuckDBPyConnection, kind: Kind, canonical: list[Comparison],
                     extra: list[Comparison], inferred: list[Inference],
                     frames: tuple[pd.DataFrame, pd.DataFrame]
                     ) -> tuple[list[Comparison], list[Inference]]:
    """``extra`` without the unmapped name columns built from the canonical names (a "Full
    name" beside the first and last name a header mapped), as match-files leaves out a name
    built from others (:func:`~erpdata.matching.spec.drop_derived`): comparing it too would
    count one agreement twice."""
    names = _derived_names(canonical, extra)
    if not names:
        return extra, inferred
    sides = [pd.concat([frame, _side_values(con, side, kind, [], [
        c.name for c in names if c.name not in frame.columns])], axis=1)
             for side, frame in zip(("crm", "erp"), frames, strict=True)]
    kept, inferred = drop_derived(*sides, names + extra, inferred, keep={c.name for c in names})
    return [c for c in kept if c not in names], inferred


def _described(columns: tuple[str, ...], canonical: set[str]) -> str:
    """Columns in words: a canonical field by its name, an unmapped one by its header."""
    return " + ".join(f"field {c}" if c in canonical else f"unmapped column {c!r}"
                      for c in columns)


def comparisons(con: duckdb.DuckDBPyConnection, kind: Kind) -> list[Comparison]:
    """The comparisons of a run of ``kind`` (:func:`explain` without the reasons)."""
    return explain(con, kind).comparisons


def _erp_key(actor_type: str, erp_id: str) -> str:
    return f"{actor_type}:{erp_id}"


def _sources(kind: Kind, compared: list[Comparison] | None = None) -> tuple[str, str]:
    """Both sides' present records as queries of the id and the compared raw columns, in no
    set order (the engine's row order is by ``id``: for ERP companies, ``actor_type:id`` sorts
    as actor type, then id, as no actor type holds a colon or begins another); ERP ids as
    ``actor_type:id``; parents mapped.
    A compared column that is no canonical field is an unmapped one, read from ``extra``
    (see :func:`_frame_column`).

    Queries, not frames: the raw records are read whole only to be normalised, and a run
    normalises the new and changed ones (:func:`update_features` streams them), so a run
    holds no side's raw records in memory (at 10,000,000 per side they were 4.6 GB)."""
    canonical = {f.name for side in SIDES for f in fields(side, kind)}
    cols = list(dict.fromkeys(
        col for c in (compared or COMPARISONS[kind]) if c.name != "parent"
        for col in (*c.columns("crm"), *c.columns("erp"))))

    def select(alias: str = "") -> str:
        return ", ".join(alias + col if col in canonical
                         else f"{_extra_sql(_extra_header(col), alias)} AS {sql_ident(col)}"
                         for col in cols)

    def head(alias: str = "") -> str:
        return f", {select(alias)}" if cols else ""

    if kind == "company":
        return (f"SELECT id{head()} FROM crm_company WHERE missing_since IS NULL",  # noqa: S608 - canonical columns from fields(), others via sql_ident
                f"SELECT actor_type || ':' || id AS id{head()} FROM erp_company "  # noqa: S608 - canonical columns from fields(), others via sql_ident
                "WHERE missing_since IS NULL")
    # The ERP actor each CRM company is linked to, else its suggested link.
    parent_map = """
        SELECT crm_id, erp_actor_type || ':' || erp_id AS erp_key FROM links
        WHERE kind = 'company'
        UNION ALL
        SELECT s.crm_id, s.erp_actor_type || ':' || s.erp_id FROM suggestions s
        WHERE s.kind = 'company' AND s.link
          AND s.crm_id NOT IN (SELECT crm_id FROM links WHERE kind = 'company')"""
    return (f"""SELECT p.id{head('p.')}, m.erp_key AS parent
                FROM crm_{kind} p LEFT JOIN ({parent_map}) m ON m.crm_id = p.company_id
                WHERE p.missing_since IS NULL""",  # noqa: S608 - kind checked by check_side_kind() in the entry point; columns from fields() or via sql_ident
            f"""SELECT actor_type || ':' || id AS id{head()},
                       parent_actor_type || ':' || parent_key AS parent
                FROM erp_{kind} WHERE missing_since IS NULL""")  # noqa: S608 - kind checked by check_side_kind() in the entry point; columns from fields() or via sql_ident


#: Labels for the model: accepted (1) and rejected (0) pairs, and linked pairs no decision
#: speaks for (a link synchronised from a live system): a link is a match a person made.
_LABELS = """
    SELECT crm_id, erp_actor_type || ':' || erp_id AS erp_id,
           CASE decision WHEN 'accept' THEN 1 ELSE 0 END AS label
    FROM decisions WHERE kind = $kind AND superseded_by IS NULL
      AND decision IN ('accept', 'reject')
    UNION ALL
    SELECT DISTINCT l.crm_id, l.erp_actor_type || ':' || l.erp_id, 1 FROM links l
    WHERE l.kind = $kind AND NOT EXISTS (
        SELECT 1 FROM decisions d WHERE d.kind = l.kind AND d.crm_id = l.crm_id
          AND d.erp_actor_type = l.erp_actor_type AND d.erp_id = l.erp_id
          AND d.superseded_by IS NULL AND d.decision IN ('accept', 'reject'))"""

#: Records that already have a link or an accepted decision, per side (0: CRM, 1: ERP).
_TAKEN = """
    SELECT crm_id, erp_actor_type || ':' || erp_id AS erp_id FROM links WHERE kind = $kind
    UNION SELECT crm_id, erp_actor_type || ':' || erp_id FROM decisions
    WHERE kind = $kind AND superseded_by IS NULL AND decision = 'accept'"""


@dataclass(frozen=True)
class _Coded:
    """What a run is told of stewards' work, as the engine's pair codes and row masks (see
    :func:`_coded`)."""

    #: Labelled pairs (``code, label``), sorted by code.
    labels: pd.DataFrame
    #: Per side, the rows of records already taken.
    taken: tuple[np.ndarray, np.ndarray]
    #: The pairs whose explanations the kept fit's runs stored (None: no fit).
    explained: np.ndarray | None


def _coded(con: duckdb.DuckDBPyConnection, kind: Kind, crm: Records, erp: Records,
           since: int | None) -> _Coded:
    """The decisions and links as the engine takes them: the labelled pairs and the
    explanations stored by runs since ``since`` (None: none asked) as pair codes (``crm row *
    ERP records + ERP row``, rows in the records' order; see match_frames' ``explained``),
    the taken records as a mask per side. Joined in DuckDB to the records' rows, not read as
    800,000 pairs of ids for the engine to look up (after a bulk accept at 1,000,000 per side:
    1.5 s for the labels and the taken records, 0.8 s for the explanations)."""
    span = max(len(erp.ids), 1)
    con.register("coded_records", records_table(crm, erp))
    try:
        labels = con.execute(
            f"""SELECT l.rid * $span + r.rid AS code, d.label FROM ({_LABELS}) d
                JOIN coded_records l ON l.side = 0 AND l.id = d.crm_id
                JOIN coded_records r ON r.side = 1 AND r.id = d.erp_id ORDER BY code""",  # noqa: S608 - fixed SQL
            {"span": span, "kind": kind}).df()
        taken = read_numpy(
            con, f"""WITH pairs AS MATERIALIZED ({_TAKEN})
                     SELECT r.side, r.rid FROM (SELECT 0 AS side, crm_id AS id FROM pairs
                                                UNION ALL SELECT 1, erp_id FROM pairs) t
                     JOIN coded_records r USING (side, id)""", {"kind": kind})  # noqa: S608 - fixed SQL
        explained = None if since is None else np.asarray(read_numpy(
            con, """SELECT l.rid * $span + r.rid AS code FROM explanations x
                    JOIN coded_records l ON l.side = 0 AND l.id = x.crm_id
                    JOIN coded_records r
                      ON r.side = 1 AND r.id = x.erp_actor_type || ':' || x.erp_id
                    WHERE x.kind = $kind AND x.run_id >= $since""",
            {"span": span, "kind": kind, "since": since})["code"], dtype=np.int64)
    finally:
        con.unregister("coded_records")
    masks = []
    for side, records in enumerate((crm, erp)):
        mask = np.zeros(len(records.ids), dtype=bool)
        mask[np.asarray(taken["rid"], dtype=np.int64)[np.asarray(taken["side"]) == side]] = True
        masks.append(mask)
    return _Coded(labels.astype({"code": np.int64, "label": np.int8}), (masks[0], masks[1]),
                  explained)


def _last_good_model(con: duckdb.DuckDBPyConnection, kind: Kind) -> tuple[int, Model] | None:
    """The run id and model of the kind's last good fit, if a run has stored one."""
    row = con.execute("SELECT run_id, model FROM match_models WHERE kind = ?", [kind]
                      ).fetchone()
    return None if row is None else (int(row[0]), Model.from_json(json.loads(row[1])))


@guarded
def match_workspace(ws: Workspace, kind: str = "company", *, user: str | None = None,
                    progress: Progress | None = None,
                    cancel: threading.Event | None = None,
                    plan: Plan | None = None, refit: bool = False) -> MatchResult:
    """Match one kind of the workspace and store its suggestions and scoring states.

    ``cancel``: set it (from another thread) to stop the run at its next progress point; the
    run is recorded as cancelled and the previous run's suggestions stay as they were.
    ``plan``: what :func:`explain` said of this kind, when the caller already asked (the CLI
    shows it before the run), so that the unmapped columns are not typed from their values
    twice. ``refit``: learn the model and its thresholds anew from all records and decisions
    instead of scoring with the kept ones (see :mod:`.fits`)."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    # A run stopped earlier in this process (the page's Cancel, then Run) leaves its arrays
    # (1 GB at 1,000,000 per side) in reference cycles: a snapshot of its frame's locals
    # holds the exception, whose traceback holds the frames (what takes the snapshot is not
    # known; turning off DuckDB's lookup of Python variables did not remove it). Collected
    # now, not at Python's next collection, they are not in memory beside this run's (its
    # peak: 4.4 GB, 3.5 GB collected; 35 ms).
    gc.collect()
    con = ws.cursor()
    try:
        who = require_for(ws, "match_workspace", user, con)  # before the run is recorded
        with ws.transaction(con), _LIVE_LOCK:
            _end_dead_runs(ws, con)
            (run_id,) = con.execute(
                "INSERT INTO match_runs (kind, started_by, started_at, status) "
                "VALUES (?, ?, ?, 'running') RETURNING run_id", [k, who, datetime.now()]
            ).fetchone() or (0,)
            _LIVE.add((str(ws.path), run_id))
        try:
            plan = plan or explain(con, k)
            if plan.typing is not None:  # derived data: valid whatever becomes of the run
                with ws.transaction(con):
                    ws.set_meta(typing_meta_key(k), plan.typing, con)
            compared = plan.comparisons
            sources = _sources(k, compared)
            # the records' headers (the comparisons are checked against them) and counts
            crm, erp = (read_frame(con, f"SELECT * FROM ({sql}) LIMIT 0") for sql in sources)  # noqa: S608 - the queries of _sources()
            (n_crm,), (n_erp,) = (con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0]  # noqa: S608 - the queries of _sources()
                                  for sql in sources)
            if not n_crm or not n_erp:
                raise ErpdataError(f"nothing to match: the workspace has {n_crm} CRM and "
                                   f"{n_erp} ERP {k} records; load both sides first")
            if not plan.compares_anything:
                raise ErpdataError(nothing_to_compare(k))
            last_good = _last_good_model(con, k)
            report = reporter(progress, cancel, f"matching {k}",
                              "the suggestions are as they were; the stages it finished are "
                              "kept, and the next run resumes after them")
            report("normalising new and changed records", 0.0)
            (crm_records, crm_fresh), (erp_records, erp_fresh) = (
                update_features(ws, con, side, k, sql, compared,
                                lambda label, f, at=at: report(label, (at + f) * 0.15))
                for at, (side, sql) in enumerate(zip(("crm", "erp"), sources, strict=True)))
            checkpoint = Checkpoint(ws, con, k, compared, crm_records, erp_records, PER_RECORD,
                                    run_id)
            fit, why, since = ((None, "asked to learn anew", 0) if refit
                               else fits.load(ws, con, k, compared, crm_records, erp_records))
            # the decisions, and the suggestions stored under this fit (their explanations
            # are kept)
            coded = _coded(con, k, crm_records, erp_records, None if fit is None else since)
            # scored with a fit from stored compared pairs, a run reads only the ids and the
            # names (their term frequencies) of the records' features
            lean = fit is not None and checkpoint.holds_compared()
            # blocking with the fit against the ERP side's kept blocking tables (after a CRM
            # re-load), a run reads the features of the records it blocks and compares only
            read_lazily = not lean and fit is not None and checkpoint.holds_erp_side(
                fit.statistics_run, compared)
            names = [c.name for c in compared if c.type in NAME_TYPES]
            sides = (("crm", crm, crm_records, crm_fresh), ("erp", erp, erp_records, erp_fresh))
            (left, crm_content), (right, erp_content) = (
                read_features(con, side, k, frame, records, compared,
                              columns=((names if side == "crm" else []) if lean or read_lazily
                                       else None))
                for side, frame, records, _ in sides)

            def rows_of(side: str, frame: pd.DataFrame, records: Records,
                        fresh: pd.DataFrame | None
                        ) -> Callable[[np.ndarray | None], pd.DataFrame]:
                return lambda rows: read_features(con, side, k, frame, records, compared,
                                                  rows=rows, fresh=fresh)[0]

            prepared = [left, right]  # handed over: the engine lets go of them once scored
            del left, right
            result = match_frames(
                crm, erp, compared, decisions=coded.labels,
                exclude=coded.labels[coded.labels["label"] == 0][["code"]],
                taken=coded.taken, progress=report, prepared=prepared,
                limits=thresholds(ws, k, con),
                fallback=None if last_good is None else last_good[1],
                checkpoint=checkpoint, per_record=PER_RECORD, fit=fit, run_id=run_id,
                explained=coded.explained, contents=(crm_content, erp_content),
                lazy={how[0]: rows_of(*how) for how in sides}
                if read_lazily else None,
            )
            result.stats["fit_note"] = why
            if result.stats.get("model") == "kept" and last_good is not None:
                result.stats["model_from_run"] = last_good[0]
            report("storing the suggestions", 1.0)  # the last point where cancelling stops it
            _store(ws, con, k, run_id, result,
                   (compared, crm_records, erp_records) if fit is None else None)
        except (Cancelled, KeyboardInterrupt) as exc:  # Cancel on the page, Ctrl-C
            with ws.transaction(con):
                con.execute("UPDATE match_runs SET status = 'cancelled', finished_at = ?, "
                            "error = ? WHERE run_id = ?",
                            [datetime.now(), str(exc) or "interrupted (Ctrl-C)", run_id])
            raise
        except Exception as exc:
            _failed(ws, con, k, run_id, exc)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard((str(ws.path), run_id))
    finally:
        con.close()
    return result


#: Blocking keeps this many candidates per CRM record (the engine's one-to-one default): part of
#: what a checkpoint's pairs depend on.
PER_RECORD = 10

#: Runs going on in this process, as (workspace file, run id). A workspace file is open for
#: writing in one process at a time, so a run still marked ``running`` that is not among these
#: was stopped without a word (the process was killed or the machine went down).
_LIVE: set[tuple[str, int]] = set()
_LIVE_LOCK = threading.Lock()


def _end_dead_runs(ws: Workspace, con: duckdb.DuckDBPyConnection) -> None:
    """Mark runs left ``running`` by a process that ended as failed, saying so (caller holds
    the transaction and :data:`_LIVE_LOCK`)."""
    con.execute(
        "UPDATE match_runs SET status = 'failed', error = ? WHERE status = 'running' "
        "AND NOT list_contains(?::INTEGER[], run_id)",
        ["interrupted: the process running it ended before it finished (killed, or the "
         "machine stopped); a later run resumes after the stages it had finished",
         [r for path, r in _LIVE if path == str(ws.path)]])


def run_notes(stats: dict[str, Any], refit: str = "run with --refit") -> list[str]:
    """What a steward should know about a run's model and thresholds, one sentence each: the
    run scored with a kept fit (``refit``: how to learn anew, in the caller's words) or learnt
    anew and why, the last good model was kept, the fit learnt nothing and there was none to
    keep, or the review threshold was raised to its floor."""
    notes = []
    if stats.get("reused"):
        what = ("blocked and compared" if stats["reused"]["stage"] == "compared"
                else "blocked")
        notes.append(f"the pairs run {stats['reused']['run']} {what} were reused: the records' "
                     "compared values have not changed since")
    if stats.get("blocked_again"):
        again = stats["blocked_again"]
        notes.append(f"blocked only the {again['records']:,} of {again['of']:,} CRM records new "
                     f"or changed since run {again['run']} blocked them; the others kept their "
                     "candidates (the ERP records had not changed)")
    if stats.get("levels_reused") and stats["levels_reused"]["pairs"]:
        done = stats["levels_reused"]
        notes.append(f"{done['pairs']:,} of {done['of']:,} candidate pairs kept the levels run "
                     f"{done['run']} compared: neither record changed since")
    if stats.get("model") == "fit":
        notes.append(f"scored with the model and thresholds run {stats['fit_run']} learnt "
                     f"({stats.get('fit_note')}); {refit} to learn them anew, from "
                     "decisions taken since too")
    elif stats.get("fit_note") and stats.get("fit_note") != "no model learnt yet":
        notes.append(f"learnt the model anew: {stats['fit_note']}")
    if stats.get("model") == "kept":
        notes.append(f"the records left had nothing to learn from ({stats.get('degenerate')}): "
                     f"kept the weights of the last good model (run "
                     f"{stats.get('model_from_run', '?')})")
    elif stats.get("degenerate"):
        notes.append(f"the model learnt little ({stats['degenerate']}) and "
                     + (stats.get("fallback") or "there is no earlier good model to keep")
                     + ": its probabilities are rough")
    if stats.get("review_floor") is not None:
        notes.append(f"the review threshold the model chose ({stats['review_best_f1']:.3f}) "
                     f"was raised to its floor {stats['review_floor']:g}: links below it are too "
                     "unlikely to be worth a review")
    return notes


def _store(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: Kind, run_id: int,
           result: MatchResult,
           learnt: tuple[list[Comparison], Records, Records] | None) -> None:
    """Replace the kind's suggestions and scoring states with this run's, in one transaction;
    ``learnt``: the run learnt its fit from these comparisons and records, and it is kept."""
    cand = result.candidates
    rows = pd.DataFrame({
        "crm_id": cand["crm_id"], "erp": cand["erp_id"], "rank": cand["rank"],
        "probability": cand["probability"], "match_weight": cand["match_weight"],
        "band": cand["band"], "conflict": cand["conflict"],
        "explanation": cand["explanation"], "link": cand["match"].astype(bool),
    })
    # the ERP key split, and each record's state, in SQL: pandas' split and isin on Arrow
    # strings go value by value in Python (6 s at 1,000,000 records)
    with ws.transaction(con):
        con.register("new_rows", rows)
        con.execute(
            """CREATE OR REPLACE TEMP TABLE new_suggestions AS
               SELECT ? AS kind, crm_id, split_part(erp, ':', 1) AS erp_actor_type,
                      substr(erp, strpos(erp, ':') + 1) AS erp_id, rank, probability,
                      match_weight, band, conflict, explanation, link FROM new_rows""", [kind])
        con.unregister("new_rows")
        keys = ("o.kind = n.kind AND o.crm_id = n.crm_id AND o.erp_actor_type = n.erp_actor_type "
                "AND o.erp_id = n.erp_id")
        # The stored rows no new row equals, and the new rows no stored row equals, in one
        # join: what the run changed (a re-load's few thousand rows of 870,000). A candidate
        # without an explanation keeps the stored one (see match_frames' ``explained``); the
        # new explanations are compared as text.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE moved_rows AS
                SELECT o.stored, n.rowid AS new FROM new_suggestions n
                FULL JOIN (SELECT rowid AS stored, * FROM suggestions WHERE kind = ?) o
                  ON {keys} AND o.rank = n.rank AND o.probability = n.probability
                 AND o.match_weight IS NOT DISTINCT FROM n.match_weight AND o.band = n.band
                 AND o.conflict = n.conflict AND o.link = n.link
                WHERE o.stored IS NULL OR n.rowid IS NULL""", [kind])  # noqa: S608 - fixed column names
        ((gone, added),) = con.execute("SELECT count(stored), count(new) FROM moved_rows"
                                       ).fetchall()
        ((rewritten,),) = con.execute(
            f"""SELECT count(*) FROM new_suggestions n LEFT JOIN explanations o ON {keys}
                WHERE n.explanation IS NOT NULL
                  AND CAST(o.explanation AS VARCHAR) IS DISTINCT FROM n.explanation""").fetchall()  # noqa: S608 - fixed column names
        moved = gone + added + rewritten > 0
        if moved:
            _write_suggestions(ws, con, kind, run_id, added)
            # the explanations kept are those of pairs still suggested without a new one
            # (see erpdata.workspace._v10); the new ones join them, by CRM record
            con.execute(
                f"""DELETE FROM explanations WHERE rowid IN (
                        SELECT o.rowid FROM explanations o
                        ANTI JOIN (SELECT * FROM new_suggestions WHERE explanation IS NULL) n
                          ON {keys}
                        WHERE o.kind = ?)""", [kind])  # noqa: S608 - fixed column names
            con.execute("INSERT INTO explanations SELECT kind, crm_id, erp_actor_type, erp_id, "
                        "explanation, ? FROM new_suggestions WHERE explanation IS NOT NULL "
                        "ORDER BY crm_id", [run_id])
        elif result.fit is not None and learnt is None:
            # the stored rows are exactly this run's, explanations included, whichever run
            # wrote them: later runs with the fit keep all their explanations
            fits.explained_since(ws, con, kind, 0)
        # each present record's state; only the states that changed are written (a row's
        # run is the one that gave the record its state): 1,000,000 rows rewritten on every
        # run cost 0.4 s and a larger commit
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE state_changes AS
                SELECT o.stored, n.crm_id, n.state FROM (
                    SELECT c.id AS crm_id,
                           CASE WHEN c.id IN (SELECT crm_id FROM new_suggestions)
                                THEN 'scored' ELSE 'no_candidate' END AS state
                    FROM crm_{kind} c WHERE c.missing_since IS NULL) n
                FULL JOIN (SELECT rowid AS stored, crm_id, state, reason FROM scoring_state
                           WHERE kind = ?) o
                  ON o.crm_id = n.crm_id AND o.state = n.state AND o.reason IS NULL
                WHERE o.stored IS NULL OR n.crm_id IS NULL""", [kind])  # noqa: S608 - kind checked by check_side_kind() in the entry point
        con.execute("DELETE FROM scoring_state WHERE rowid IN "
                    "(SELECT stored FROM state_changes WHERE stored IS NOT NULL)")
        con.execute("INSERT INTO scoring_state SELECT ?, crm_id, state, NULL, ? "
                    "FROM state_changes WHERE crm_id IS NOT NULL", [kind, run_id])
        for temporary in ("state_changes", "moved_rows", "new_suggestions"):
            con.execute(f"DROP TABLE {temporary}")
        con.execute(
            "UPDATE match_runs SET status = 'done', finished_at = ?, thresholds = ?, stats = ? "
            "WHERE run_id = ?",
            [datetime.now(), json.dumps(result.thresholds),
             json.dumps(result.stats, default=str), run_id])
        if result.stats.get("model") == "fitted" and result.stats.get("degenerate") is None:
            # a sound fit becomes the model later runs fall back on (see match_frames)
            con.execute("INSERT OR REPLACE INTO match_models VALUES (?, ?, ?, ?)",
                        [kind, run_id, datetime.now(), json.dumps(result.model.to_json())])
        if learnt is not None and result.fit is not None:
            # the rows it left in place are its own output (see above)
            fits.save(ws, con, kind, result.fit, *learnt, explained_since=run_id if moved else 0)


#: A run that changed few suggested pairs writes only those (see :func:`_write_suggestions`)
#: while the rows outside the queue's stored order stay under this share of the kind's rows.
UNORDERED_SHARE = 0.1


def _write_suggestions(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: Kind, run_id: int,
                       added: int) -> None:
    """Replace the kind's stored suggestions with ``new_suggestions`` (``moved_rows``: which
    stored rows go, which new rows come; ``added`` of the latter), in the caller's
    transaction.

    The queue reads the rows of the run named in the meta entry
    :func:`~erpdata.steward.decisions.display_order_key` in their stored order, as that run inserted
    them sorted as the queue lists them, and sorts the rows of every later run (see
    :func:`erpdata.steward.decisions.queue_page`). So a run deletes the rows it changed and appends
    the new ones, as long as the rows a page sorts stay under :data:`UNORDERED_SHARE` of all
    (a page then costs what reading in order costs; at 1,000,000 per side a re-load changes
    about 20,000 of 870,000, and rewriting them all took 1 s with the commit). Past that, or
    with no rows in stored order, it writes them all, in order, and names itself in the
    meta entry. Only the new rows' decision states are computed: a decision refreshes the
    states of the rows it touches when it is taken."""
    meta = con.execute("SELECT value FROM meta WHERE key = ?", [display_order_key(kind)]
                       ).fetchall()
    base = meta[0][0] if meta else None
    if base is not None:
        ((unordered, total),) = con.execute(
            """SELECT count(*) FILTER (WHERE run_id IS DISTINCT FROM ?), count(*)
               FROM suggestions WHERE kind = ?
                 AND rowid NOT IN (SELECT stored FROM moved_rows WHERE stored IS NOT NULL)""",
            [int(base), kind]).fetchall()
        if unordered + added > UNORDERED_SHARE * (total + added):
            base = None
    if base is None:
        con.execute("DELETE FROM suggestions WHERE kind = ?", [kind])
        chosen = ""
    else:
        con.execute("DELETE FROM suggestions WHERE rowid IN "
                    "(SELECT stored FROM moved_rows WHERE stored IS NOT NULL)")
        chosen = "WHERE rowid IN (SELECT new FROM moved_rows WHERE new IS NOT NULL)"
    # in the order the queue lists them (see erpdata.steward.decisions.queue_page)
    con.execute(f"""INSERT INTO suggestions BY NAME
                    SELECT * EXCLUDE (explanation), ? AS run_id FROM new_suggestions {chosen}
                    ORDER BY probability DESC, crm_id, rank""", [run_id])  # noqa: S608 - a fixed condition
    if base is None:
        ws.set_meta(display_order_key(kind), str(run_id), con)
        refresh_states(con, kind)
    else:
        refresh_states(con, kind, con.execute(
            f"SELECT DISTINCT crm_id FROM new_suggestions {chosen}").df()["crm_id"])  # noqa: S608 - a fixed condition


def _failed(ws: Workspace, con: duckdb.DuckDBPyConnection, kind: Kind, run_id: int,
            exc: Exception) -> None:
    """Record the failure: the run, and every CRM record not yet scored, say why."""
    reason = f"{type(exc).__name__}: {exc}"[:500]
    with ws.transaction(con):
        con.execute("UPDATE match_runs SET status = 'failed', finished_at = ?, error = ? "
                    "WHERE run_id = ?", [datetime.now(), reason, run_id])
        # the table has no key to replace on (see erpdata.workspace._v9): out, then in
        con.execute("DELETE FROM scoring_state WHERE kind = ? AND state <> 'scored'", [kind])
        con.execute(
            f"""INSERT INTO scoring_state
                SELECT ?, id, 'failed', ?, ? FROM crm_{kind}
                WHERE missing_since IS NULL AND id NOT IN
                  (SELECT crm_id FROM scoring_state WHERE kind = ?)""",  # noqa: S608 - kind checked by check_side_kind() in the entry point; values bound as ?
            [kind, reason, run_id, kind])


def scoring_states(ws: Workspace, kind: str) -> dict[str, int]:
    """How many CRM records of ``kind`` are not scored / have no candidate / are scored /
    failed: the three honest states (plus scored)."""
    check_side_kind("crm", kind)
    cur = ws.cursor()
    try:
        (n,) = cur.execute(f"SELECT count(*) FROM crm_{kind} WHERE missing_since IS NULL"  # noqa: S608 - kind checked by check_side_kind()
                           ).fetchone() or (0,)
        rows = dict(cur.execute(
            f"""SELECT s.state, count(*) FROM scoring_state s JOIN crm_{kind} c ON c.id = s.crm_id
                WHERE s.kind = ? AND c.missing_since IS NULL GROUP BY s.state""", [kind]  # noqa: S608 - kind checked by check_side_kind(); kind bound as ?
        ).fetchall())
    finally:
        cur.close()
    out = {"not_scored": 0, "no_candidate": 0, "scored": 0, "failed": 0}
    out.update({k: int(v) for k, v in rows.items()})
    out["not_scored"] = int(n) - sum(v for k, v in out.items() if k != "not_scored")
    return out


@guarded
def suggestions(ws: Workspace, kind: str = "company", *, links_only: bool = False,
                band: str | None = None, crm_id: str | None = None,
                limit: int | None = None) -> pd.DataFrame:
    """The stored suggestions of ``kind`` with both records' names, best first: what a steward
    reviews (``links_only``: the one suggested link per record; ``band``: auto/review/low;
    ``crm_id``: the candidates of one CRM record)."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    # the explanations of the record asked for only (stored by CRM record, they are found
    # without reading them all)
    explained = "kind = ?" + ("" if crm_id is None else " AND crm_id = ?")
    params = [kind] if crm_id is None else [kind, crm_id]
    where = ["s.kind = ?"]
    params.append(kind)
    if links_only:
        where.append("s.link")
    if band is not None:
        where.append("s.band = ?")
        params.append(band)
    if crm_id is not None:
        where.append("s.crm_id = ?")
        params.append(crm_id)
    sql = f"""
        SELECT s.crm_id, {display_name_sql(k, 'c')} AS crm_name,
               s.erp_actor_type || ':' || s.erp_id AS erp, {display_name_sql(k, 'e')} AS erp_name,
               s.rank, s.probability, s.band, s.link, s.conflict, x.explanation
        FROM suggestions s
        LEFT JOIN (SELECT * FROM explanations WHERE {explained}) x
          USING (kind, crm_id, erp_actor_type, erp_id)
        JOIN crm_{kind} c ON c.id = s.crm_id
        JOIN erp_{kind} e ON e.actor_type = s.erp_actor_type AND e.id = s.erp_id
        WHERE {' AND '.join(where)}
        ORDER BY s.probability DESC, s.crm_id, s.rank"""  # noqa: S608 - kind checked by check_side_kind(); names from display_name_sql(); values bound as ?
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return ws.cursor().execute(sql, params).df()
