"""Review: the side-by-side diff of a pair's mapped fields, and the steward's pick per field.

What the Connect dialog shows for one pair, computed for any number of pairs at once (a commit
of 100,000 links reads the same diff): per mapped field the CRM and the ERP value and a status:

- ``equal``; ``equal_normalised`` (the same after normalisation: "+47 22 33 44 55" and
  "22334455" in Norway, "NO923609016MVA" and "923 609 016": not a conflict, nothing is written);
- ``different`` (a conflict: someone must pick);
- ``missing_crm`` / ``missing_erp`` (the other side's value is simply taken over); ``empty``.

The pick is the steward's stored choice for that pair and field (``crm``, ``erp`` or a typed
``value``), else the mapping's default winner (``newest``: the side whose record changed last).
A field group (:data:`FIELD_GROUPS`, a whole address) defaults to one side as a whole
(:func:`_group_defaults`), so no default pick makes an address of one side's street and the
other side's postcode.
The mapping's direction decides which system(s) the chosen value is written to: ``crm_after``
and ``erp_after`` are the values each side will hold after the commit.

For the Review page, one key per pick: :func:`pick_items` turns a pair's diff into what a
steward picks (a field group such as a whole address, :data:`FIELD_GROUPS`, or a single field),
:func:`pick_side` stores one side for several fields at once, :func:`competitors` lists the
other CRM records claiming the same ERP record, and :func:`reject_as_duplicate` records "this
CRM record is the duplicate".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from erpdata import normalize as nz
from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.schema import Kind, check_side_kind, display_name_sql, fields
from erpdata.sql import sql_ident
from erpdata.steward.decisions import UNCHECKED, DecisionError, decide, split_erp_key
from erpdata.steward.mappings import FieldMapping, mappings
from erpdata.workspace import Workspace

STATUSES = ("equal", "equal_normalised", "different", "missing_crm", "missing_erp", "empty")
CHOICES = ("crm", "erp", "value")
COLUMNS = ["crm_id", "erp_actor_type", "erp_id", "erp_field", "crm_field", "direction",
           "crm_value", "erp_value", "status", "pick", "value", "crm_after", "erp_after",
           "picked_by"]


class ReviewError(ErpdataError):
    """A pick that cannot be stored; says why."""


Normaliser = Callable[[pd.Series, pd.Series | None], pd.Series]


def _date(values: pd.Series, _country: pd.Series | None) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", dayfirst=True, format="mixed")
    return parsed.dt.strftime("%Y-%m-%d").astype(object).where(parsed.notna(), None)


def _phone(values: pd.Series, country: pd.Series | None) -> pd.Series:
    return nz.phone(values, country)


#: How each field is compared for ``equal_normalised``; any other field: case, spacing and
#: punctuation folded (a legal form is still a difference a steward wants to see).
NORMALISERS: dict[str, Normaliser] = {
    **{f: _phone for f in ("phone", "fax", "phone_direct", "phone_mobile", "phone_private",
                           "phone_other")},
    "email": lambda s, _c: nz.email(s),
    "url": lambda s, _c: nz.url_domain(s),
    "vatno": lambda s, c: nz.org_number(s, c)["orgno"],
    "postalzip": lambda s, c: nz.postcode(s, c),
    "streetzip": lambda s, c: nz.postcode(s, c),
    "country": lambda s, _c: nz.country_code(s),
    "birthdate": _date,
    "enddate": _date,
}


def _objects(values: pd.Series) -> np.ndarray:
    """An object array with None (not NA) for missing values, safe to compare with ``==``."""
    arr = values.astype(object).to_numpy(copy=True)
    arr[pd.isna(arr)] = None
    return arr


def _text(values: pd.Series) -> pd.Series:
    """Values as trimmed strings, blank = missing (None)."""
    arr = _objects(values.astype("string").str.strip())
    arr[arr == ""] = None
    return pd.Series(arr, index=values.index, dtype=object)


def _pairs_frame(pairs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"crm_id": pairs["crm_id"].astype(str).to_numpy(),
                         "erp_actor_type": pairs["erp_actor_type"].astype(str).to_numpy(),
                         "erp_id": pairs["erp_id"].astype(str).to_numpy(),
                         "_pos": np.arange(len(pairs))})


def _records(cur: duckdb.DuckDBPyConnection, kind: Kind, maps: list[FieldMapping]
             ) -> pd.DataFrame:
    """Both records of each registered pair (``review_pairs``), with each side's country and
    when each record last changed (for the ``newest`` winner)."""
    crm_cols = sorted({m.crm_field for m in maps if m.crm_field})
    erp_cols = sorted({m.erp_field for m in maps})
    # the mapped fields become column names below; the stored mappings were checked when
    # saved, and are checked again here so that nothing else reaches the SQL
    unknown = ([f"CRM {x!r}" for x in crm_cols if x not in {f.name for f in fields("crm", kind)}]
               + [f"ERP {x!r}" for x in erp_cols if x not in {f.name for f in fields("erp", kind)}])
    if unknown:
        raise ReviewError(f"the {kind} field mapping names {', '.join(unknown)}, which are no "
                          f"{kind} fields: fix the field mapping in Settings")
    country = "c.country" if kind == "company" else "pc.country"
    erp_country = "e.country" if kind == "company" else "pe.country"
    joins = "" if kind == "company" else (
        "LEFT JOIN crm_company pc ON pc.id = c.company_id "
        "LEFT JOIN erp_company pe ON pe.actor_type = e.parent_actor_type "
        "AND pe.id = e.parent_key")
    changed = """SELECT rc.record_id, max(l.finished_at) AS at
                 FROM record_changes rc JOIN loads l USING (load_id)
                 WHERE rc.side = '{side}' AND rc.kind = '{kind}'
                   AND rc.change IN ('insert', 'update')
                   AND rc.record_id IN (SELECT {key} FROM review_pairs)
                 GROUP BY rc.record_id"""  # only the pairs' records: not the whole history
    return cur.execute(f"""
        WITH crm_changed AS ({changed.format(side='crm', kind=kind, key='crm_id')}),
             erp_changed AS ({changed.format(side='erp', kind=kind, key='erp_id')})
        SELECT p._pos, p.crm_id, p.erp_actor_type, p.erp_id,
               {', '.join(f'c.{sql_ident(x)} AS {sql_ident("crm__" + x)}' for x in crm_cols)},
               {', '.join(f'e.{sql_ident(x)} AS {sql_ident("erp__" + x)}' for x in erp_cols)},
               {country} AS crm__country_, {erp_country} AS erp__country_,
               c.id IS NOT NULL AS crm_found, e.id IS NOT NULL AS erp_found,
               cc.at AS crm_changed,
               coalesce(TRY_CAST(e.last_modified AS TIMESTAMP), ec.at) AS erp_changed
        FROM review_pairs p
        LEFT JOIN crm_{kind} c ON c.id = p.crm_id
        LEFT JOIN erp_{kind} e ON e.actor_type = p.erp_actor_type AND e.id = p.erp_id
        LEFT JOIN crm_changed cc ON cc.record_id = c.id
        LEFT JOIN erp_changed ec ON ec.record_id = e.id
        {joins}
        ORDER BY p._pos""").df()  # noqa: S608 - kind checked by check_side_kind() in diffs(); mapped fields checked against fields() and quoted by sql_ident


def diffs(ws: Workspace, kind: str, pairs: pd.DataFrame,
          con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The diff of every pair (``crm_id, erp_actor_type, erp_id``), one row per pair and mapped
    field (:data:`COLUMNS`), pairs in the given order, fields in mapping order."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    cur = con or ws.cursor()
    maps = [m for m in mappings(ws, k, cur) if m.crm_field]
    cur.register("review_pairs", _pairs_frame(pairs))
    try:
        rec = _records(cur, k, maps)
        picks = cur.execute(
            """SELECT p._pos, k.erp_field, k.choice, k.value, k.picked_by FROM review_pairs p
               JOIN picks k ON k.kind = ? AND k.crm_id = p.crm_id
                AND k.erp_actor_type = p.erp_actor_type AND k.erp_id = p.erp_id""",
            [k]).df()
    finally:
        cur.unregister("review_pairs")
    missing = rec[~(rec["crm_found"] & rec["erp_found"])]
    if len(missing):
        row = missing.iloc[0]
        raise ReviewError(f"{len(missing)} pair(s) name records that are not in the workspace, "
                          f"e.g. CRM {kind} {row['crm_id']!r} / ERP "
                          f"{row['erp_actor_type']}:{row['erp_id']}")
    newer_erp = (rec["erp_changed"].notna() & (rec["crm_changed"].isna()
                 | (rec["erp_changed"] > rec["crm_changed"]))).to_numpy()
    parts = [_field_rows(m, rec, newer_erp) for m in maps]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values("_pos", kind="stable").reset_index(drop=True)
    out = _group_defaults(out, k, maps)
    if len(picks):
        out = _apply_picks(out, picks)
    out = _after(out, maps)
    return out[COLUMNS]


def _field_rows(m: FieldMapping, rec: pd.DataFrame, newer_erp: np.ndarray) -> pd.DataFrame:
    assert m.crm_field is not None
    crm, erp = _text(rec[f"crm__{m.crm_field}"]), _text(rec[f"erp__{m.erp_field}"])
    has_c, has_e = crm.notna().to_numpy(), erp.notna().to_numpy()
    same = has_c & has_e & (_objects(crm) == _objects(erp))
    norm = NORMALISERS.get(m.erp_field)
    if norm is not None:
        nc = norm(crm, _text(rec["crm__country_"]))
        ne = norm(erp, _text(rec["erp__country_"]))
    else:
        nc, ne = nz.fold_text(crm), nz.fold_text(erp)
    nc_, ne_ = _objects(nc), _objects(ne)
    same_norm = pd.notna(nc_) & (nc_ == ne_)
    status = np.select(
        [~has_c & ~has_e, same, same_norm, ~has_c, ~has_e],
        ["empty", "equal", "equal_normalised", "missing_crm", "missing_erp"], "different")
    winner = {"crm": np.zeros(len(rec), bool), "erp": np.ones(len(rec), bool),
              "newest": newer_erp}[m.winner]
    pick = np.where(status == "missing_crm", "erp",
                    np.where(status == "missing_erp", "crm",
                             np.where(winner, "erp", "crm")))
    return pd.DataFrame({
        "_pos": rec["_pos"].to_numpy(), "crm_id": rec["crm_id"].to_numpy(),
        "erp_actor_type": rec["erp_actor_type"].to_numpy(), "erp_id": rec["erp_id"].to_numpy(),
        "erp_field": m.erp_field, "crm_field": m.crm_field, "direction": m.direction,
        "crm_value": crm.to_numpy(), "erp_value": erp.to_numpy(), "status": status,
        "pick": pick, "value": None, "picked_by": None})


def _group_defaults(out: pd.DataFrame, kind: Kind, maps: list[FieldMapping]) -> pd.DataFrame:
    """The default pick of a field group (:data:`FIELD_GROUPS`): one side for the whole group.

    Why: field by field, a differing street takes the CRM (its mapping's winner) while a
    postcode or city only the ERP holds is taken over from the ERP, and the commit would
    write an address that exists nowhere: one side's street with the other's postcode. So in
    a pair where some synchronised field of a group differs, every open field of the group
    (``different``, ``missing_crm``, ``missing_erp``) defaults to the side the group's
    differing fields default to, by the same rule a single field uses (its mapping's winner:
    ``crm``, ``erp``, or ``newest``, the record changed last). Should the group's differing
    fields have winners that disagree (a setting such as street ``crm``, postcode ``erp``),
    the first differing field in the group's order decides (the street line before the
    postcode). A group with no differing field keeps the take-over of what one side lacks:
    there is no second address to mix with. Settled fields (equal on both sides) stay as they
    are, and a stored pick still overrides (:func:`_apply_picks`): the steward may mix on
    purpose, a default never does. Vectorised: a commit of 100,000 links reads this diff."""
    synced = {m.erp_field for m in maps if m.synced}
    for group in FIELD_GROUPS.get(kind, ()):
        members = [f for f in group.fields if f in synced]
        in_group = out["erp_field"].isin(members).to_numpy()
        differing = in_group & (out["status"] == "different").to_numpy()
        if not differing.any():
            continue
        rows = out.loc[differing, ["_pos", "erp_field", "pick"]]
        rows["_order"] = rows["erp_field"].map({f: i for i, f in enumerate(members)})
        first = rows.sort_values(["_pos", "_order"], kind="stable").drop_duplicates("_pos")
        side = out["_pos"].map(pd.Series(first["pick"].to_numpy(), index=first["_pos"]))
        target = in_group & out["status"].isin(OPEN).to_numpy() & side.notna().to_numpy()
        out.loc[target, "pick"] = side.to_numpy()[target]
    return out


def _apply_picks(out: pd.DataFrame, picks: pd.DataFrame) -> pd.DataFrame:
    key = ["_pos", "erp_field"]
    merged = out.merge(picks.rename(columns={"value": "typed", "picked_by": "by"}), on=key,
                       how="left", sort=False)
    stored = merged["choice"].notna()
    merged.loc[stored, "pick"] = merged.loc[stored, "choice"]
    merged.loc[stored, "picked_by"] = merged.loc[stored, "by"]
    merged.loc[stored & (merged["choice"] == "value"), "value"] = merged["typed"]
    return merged.drop(columns=["choice", "typed", "by"])


def _after(out: pd.DataFrame, maps: list[FieldMapping]) -> pd.DataFrame:
    """The chosen value, and what each side holds after a commit (the direction decides)."""
    chosen = np.where(out["pick"] == "crm", out["crm_value"],
                      np.where(out["pick"] == "erp", out["erp_value"], out["value"]))
    out["value"] = chosen
    to_crm = out["erp_field"].map({m.erp_field: m.to_crm for m in maps}).to_numpy(bool)
    to_erp = out["erp_field"].map({m.erp_field: m.to_erp for m in maps}).to_numpy(bool)
    settled = out["status"].isin(["equal", "equal_normalised", "empty"]).to_numpy()
    typed = (out["pick"] == "value").to_numpy()
    write_crm = to_crm & (~settled | typed)
    write_erp = to_erp & (~settled | typed)
    out["crm_after"] = np.where(write_crm, chosen, out["crm_value"])
    out["erp_after"] = np.where(write_erp, chosen, out["erp_value"])
    return out


@guarded
def diff(ws: Workspace, kind: str, crm_id: str, erp: str) -> pd.DataFrame:
    """The diff of one pair (``erp`` as ``actor_type:id``): one row per mapped field."""
    actor, erp_id = split_erp_key(erp)
    return diffs(ws, kind, pd.DataFrame({"crm_id": [crm_id], "erp_actor_type": [actor],
                                         "erp_id": [erp_id]}))


def _checked_pick(ws: Workspace, kind: str, crm_id: str, erp: str, erp_fields: Sequence[str],
                  choice: str) -> tuple[str, str]:
    """Refuse a pick that cannot be stored (with why); return the ERP record's (type, id)."""
    check_side_kind("crm", kind)
    try:
        actor, erp_id = split_erp_key(erp)
    except DecisionError as exc:
        raise ReviewError(str(exc)) from exc
    if choice not in CHOICES:
        raise ReviewError(f"pick one of {', '.join(CHOICES)}, not {choice!r}")
    maps = {m.erp_field: m for m in mappings(ws, kind)}
    for erp_field in erp_fields:
        m = maps.get(erp_field)
        if m is None or not m.synced:
            synced = ", ".join(f for f, x in maps.items() if x.synced)
            raise ReviewError(f"{kind} field {erp_field!r} is not synchronised, so there is "
                              f"nothing to pick (synchronised: {synced})")
    diff(ws, kind, crm_id, erp)  # both records must exist
    return actor, erp_id


@guarded
def pick(ws: Workspace, kind: str, crm_id: str, erp: str, erp_field: str, choice: str,
         value: str | None = None, *, user: str | None = None) -> None:
    """Store the steward's pick for one field of one pair (replacing an earlier pick)."""
    if (choice == "value") != (value is not None):
        raise ReviewError("a typed value goes with choice 'value', and only with it")
    actor, erp_id = _checked_pick(ws, kind, crm_id, erp, [erp_field], choice)
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "pick", user, cur)
        cur.execute("INSERT OR REPLACE INTO picks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [kind, crm_id, actor, erp_id, erp_field, choice, value, who,
                     datetime.now()])


@guarded
def pick_side(ws: Workspace, kind: str, crm_id: str, erp: str, erp_fields: Sequence[str],
              choice: str, *, user: str | None = None) -> int:
    """Store one side (``crm`` or ``erp``) as the pick of several fields of one pair, in one
    transaction, and return how many. Why one call: a field group (:data:`FIELD_GROUPS`, a
    whole address) and "take all CRM / ERP" must be stored whole or not at all; a street
    from one side never meets a postcode from the other."""
    if choice not in ("crm", "erp"):
        raise ReviewError(f"take the CRM or the ERP side (crm, erp), not {choice!r}")
    if not erp_fields:
        raise ReviewError("no field to pick: this pair has no differing synchronised field")
    actor, erp_id = _checked_pick(ws, kind, crm_id, erp, erp_fields, choice)
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "pick_side", user, cur)
        now = datetime.now()
        cur.executemany("INSERT OR REPLACE INTO picks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [[kind, crm_id, actor, erp_id, f, choice, None, who, now]
                         for f in dict.fromkeys(erp_fields)])
    return len(dict.fromkeys(erp_fields))


# --- what a steward picks on one pair: field groups and single fields ----------------------


@dataclass(frozen=True)
class FieldGroup:
    """Fields that only make sense together, picked as one (a whole address)."""

    label: str
    fields: tuple[str, ...]


#: Per kind, the field groups a pick takes whole. The country is left out: a company has one
#: country for both its addresses, so it is a field of its own.
FIELD_GROUPS: dict[str, tuple[FieldGroup, ...]] = {
    "company": (
        FieldGroup("Postal address", ("postalad1", "postalad2", "postalad3", "postalzip",
                                      "postalcity")),
        FieldGroup("Street address", ("streetad1", "streetad2", "streetad3", "streetzip",
                                      "streetcity")),
    ),
    "person": (),
    "project": (),
}

#: Statuses a pick changes something for (settled fields are written only when typed).
OPEN = ("different", "missing_crm", "missing_erp")
#: Statuses in a steward's words (the diff keeps the codes, for scripts).
STATUS_WORDS = {"equal": "same", "equal_normalised": "same once tidied",
                "different": "differs", "missing_crm": "only in the ERP",
                "missing_erp": "only in the CRM", "empty": "empty on both"}
#: Directions in a steward's words.
DIRECTION_WORDS = {"to_crm": "ERP → CRM", "to_erp": "CRM → ERP", "both": "both ways",
                   "none": "not synchronised"}
#: Picks in a steward's words.
PICK_WORDS = {"crm": "CRM", "erp": "ERP", "value": "typed value", "mixed": "mixed"}


def field_labels(kind: str) -> dict[str, str]:
    """Each field's label as SuperOffice names it ("Postcode", not ``postalzip``)."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    return {f.name: f.label for side in ("erp", "crm") for f in fields(side, k)}


@dataclass(frozen=True)
class PickItem:
    """One thing a steward picks on a pair: a field group or a single differing field.

    ``fields``: the synchronised fields a pick stores (for a group, every field of it that is
    not settled: also those only one side fills, so the whole address comes from one side);
    ``current``: ``crm``, ``erp``, ``value`` or ``mixed`` (the fields' picks differ: only
    after a steward picked single fields on their own, a group's default is one side)."""

    label: str
    fields: tuple[str, ...]
    crm_text: str
    erp_text: str
    current: str

    @property
    def next(self) -> str:
        """The side one key press takes: the other side, or the CRM when it is not one side."""
        return "erp" if self.current == "crm" else "crm"


def pick_items(frame: pd.DataFrame, kind: str) -> list[PickItem]:
    """The picks of one pair's diff (:func:`diff`), in mapping order: each field group with a
    differing field, then as one item, and each other differing synchronised field."""
    labels = field_labels(kind)
    rows = frame[frame["direction"] != "none"]
    grouped = {f: g for g in FIELD_GROUPS.get(kind, ()) for f in g.fields}
    items: list[tuple[int, PickItem]] = []
    done: set[str] = set()

    def text(values: pd.Series) -> str:
        return ", ".join(str(v) for v in values if v is not None and not pd.isna(v)) or "–"

    for pos, r in enumerate(rows.itertuples(index=False)):
        group = grouped.get(r.erp_field)
        if group is None:
            if r.status == "different":
                items.append((pos, PickItem(labels.get(r.erp_field, r.erp_field),
                                            (r.erp_field,), str(r.crm_value),
                                            str(r.erp_value), str(r.pick))))
            continue
        if group.label in done:
            continue
        done.add(group.label)
        members = rows[rows["erp_field"].isin(group.fields)]
        if not (members["status"] == "different").any():
            continue
        open_ = members[members["status"].isin(OPEN)]
        picks = set(open_["pick"])
        items.append((pos, PickItem(group.label, tuple(open_["erp_field"]),
                                    text(members["crm_value"]), text(members["erp_value"]),
                                    picks.pop() if len(picks) == 1 else "mixed")))
    return [item for _, item in sorted(items, key=lambda x: x[0])]


def competitors(ws: Workspace, kind: str, crm_id: str, erp: str) -> pd.DataFrame:
    """The other CRM records whose best candidate is this pair's ERP record, best first: a
    probable CRM duplicate, which lowers the pair's probability (one-to-one: an ERP record
    takes one match). Columns ``crm_id, crm_name, probability, rank, state``."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    actor, erp_id = split_erp_key(erp)
    return ws.cursor().execute(
        f"""SELECT s.crm_id, {display_name_sql(k, 'c')} AS crm_name, s.probability, s.rank,
                   s.state
            FROM suggestions s JOIN crm_{k} c ON c.id = s.crm_id
            WHERE s.kind = ? AND s.erp_actor_type = ? AND s.erp_id = ? AND s.crm_id <> ?
              AND s.rank = 1
            ORDER BY s.probability DESC, s.crm_id""", [k, actor, erp_id, crm_id]).df()  # noqa: S608 - kind checked by check_side_kind(); values bound as ?


def reject_as_duplicate(ws: Workspace, kind: str, crm_id: str, erp: str, of_crm_id: str, *,
                        user: str | None = None,
                        seen: int | Literal["unchecked"] | None = UNCHECKED) -> int:
    """"This CRM record is the duplicate": reject the pair, noting which CRM record it
    duplicates (that one keeps its claim on the ERP record). A reject, so the pair is never
    suggested again; ``seen`` as for :func:`~erpdata.steward.decisions.decide`."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    if of_crm_id == crm_id:
        raise ReviewError(f"CRM {kind} {crm_id!r} cannot be a duplicate of itself")
    (name,) = ws.cursor().execute(
        f"SELECT {display_name_sql(k, 'c')} FROM crm_{k} c WHERE c.id = ?",  # noqa: S608 - kind checked by check_side_kind(); id bound as ?
        [of_crm_id]).fetchone() or (None,)
    if name is None:
        raise ReviewError(f"CRM {kind} {of_crm_id!r} is not in the workspace")
    return decide(ws, kind, "reject", crm_id, erp, user=user, seen=seen,
                  note=f"CRM duplicate of CRM {kind} {of_crm_id} {name}")


def html(frame: pd.DataFrame) -> Any:
    """A diff as a styled table for a notebook: conflicts red, missing values grey, settled
    fields green."""
    colours = {"different": "#fde2e1", "missing_crm": "#eeeeee", "missing_erp": "#eeeeee",
               "equal": "#e3f6e5", "equal_normalised": "#e3f6e5", "empty": ""}
    return frame.style.apply(
        lambda row: [f"background-color: {colours[row['status']]}"] * len(row), axis=1)
