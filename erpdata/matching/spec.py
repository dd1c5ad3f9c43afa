"""What to compare: one :class:`Comparison` per field pair, with a type that decides how it is
normalised, blocked on and scored.

Why types and not scorers: a steward (or ``--compare CRM_COL=ERP_COL:TYPE``) says *what* a column
holds; the engine knows how to treat it (a phone is compared as E.164, a company name without its
legal form, an org number as digits with a valid check digit). Types are also inferred from
column names and values, so ``match-files`` works on two tables it has never seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

#: Types and what they hold. ``company``/``person``/``text`` are names: tokenised for blocking.
TYPES: dict[str, str] = {
    "company": "company or organisation name (legal forms stripped)",
    "person": "a person's name",
    "text": "free text or a name of something (titles, products, restaurants)",
    "phone": "phone number (compared as E.164)",
    "email": "e-mail address",
    "url": "web address (compared by domain)",
    "orgno": "organisation or VAT number",
    "postcode": "postcode",
    "city": "city or town",
    "address": "street address",
    "country": "country (name or code)",
    "date": "date",
    "number": "number or amount",
    "location": "latitude and longitude, two columns compared as one point (by distance)",
    "code": "identifier or code (exact, or one typo)",
    "category": "a value from a short list (exact or not)",
}
NAME_TYPES = ("company", "person", "text")
#: Types whose normalised value identifies a record well enough to block on equality.
KEY_TYPES = ("orgno", "phone", "email", "url", "code")


@dataclass(frozen=True)
class Comparison:
    """Compare ``crm_col`` of the CRM table with ``erp_col`` of the ERP table as ``type``
    (an empty type is inferred by :func:`infer_comparisons`)."""

    name: str
    crm_col: str
    erp_col: str
    type: str
    #: ``location`` only: the longitude columns (``crm_col`` / ``erp_col`` hold the latitude).
    #: One point, not two numbers: latitude and longitude agree or disagree together, so two
    #: comparisons would count the same evidence twice.
    crm_lng_col: str = ""
    erp_lng_col: str = ""

    def __post_init__(self) -> None:
        if self.type and self.type not in TYPES:
            raise ValueError(
                f"unknown comparison type {self.type!r} for {self.name}; use one of "
                + ", ".join(TYPES)
            )
        if (self.type == "location") != bool(self.crm_lng_col and self.erp_lng_col):
            raise ValueError(f"{self.name}: a location compares a latitude and a longitude "
                             "column on each side (CRM_LAT+CRM_LNG=ERP_LAT+ERP_LNG:location), "
                             "and only a location has two columns")

    def columns(self, side: str) -> list[str]:
        """The raw columns this comparison reads on ``side`` (``crm`` or ``erp``)."""
        cols = [self.crm_col, self.crm_lng_col] if side == "crm" else [self.erp_col,
                                                                         self.erp_lng_col]
        return [c for c in cols if c]


def parse_compare(spec: str) -> Comparison:
    """``CRM_COL=ERP_COL[:TYPE]`` (type inferred later when absent: see :func:`infer_type`), or
    ``CRM_LAT+CRM_LNG=ERP_LAT+ERP_LNG[:location]`` for a point given as two columns."""
    left, sep, right = spec.partition("=")
    if not sep or not left or not right:
        raise ValueError(f"--compare {spec!r}: expected CRM_COL=ERP_COL[:TYPE]")
    erp_col, _, type_ = right.partition(":")
    if "+" in left and "+" in erp_col and type_ in ("", "location"):
        crm_lat, _, crm_lng = left.partition("+")
        erp_lat, _, erp_lng = erp_col.partition("+")
        return Comparison(left, crm_lat, erp_lat, "location", crm_lng, erp_lng)
    return Comparison(left, left, erp_col, type_)


_NAME_HINTS: list[tuple[str, str]] = [
    (r"e.?mail|epost|e.?post", "email"),
    (r"phone|tel|tlf|fax|mobil|gsm", "phone"),
    (r"url|web|www|homepage|hjemmeside|domain", "url"),
    (r"vat|orgn|org.?nr|org.?no|cvr|kvk|btw|tunnus|ust", "orgno"),
    (r"zip|postc|post.?nr|postnummer|plz|postal.?code", "postcode"),
    (r"country|land$|^land", "country"),
    (r"city|town|poststed|ort$|plaats|stadt|kaupunki", "city"),
    (r"addr|street|adresse|adres|straat|strasse|gate|road", "address"),
    (r"dob|birth|date|dato|datum", "date"),
    (r"price|amount|budget|revenue|cost|abv|sum$", "number"),
    (r"first.?name|surname|last.?name|fornavn|etternavn|given|family", "person"),
    (r"company|firma|bedrijf|organi|employer|customer|supplier|affil|applicant", "company"),
    (r"modelno|model|sku|isbn|number|code|nr$|no$|^id", "code"),
    (r"year|month|volume|pages|genre|style|type|category|class|brand|manufacturer", "category"),
]
_LEGAL_FORM = re.compile(
    r"\b(?:as|asa|ab|a/s|aps|oy|oyj|b\.?v\.?|n\.?v\.?|gmbh|ag|kg|ltd|limited|plc|llc|inc|corp)\b",
    re.IGNORECASE,
)


def infer_type(column: str, crm: pd.Series, erp: pd.Series) -> str:
    """The type of a column pair, from its name first, then from its values."""
    key = column.casefold()
    for pattern, type_ in _NAME_HINTS:
        if re.search(pattern, key):
            if type_ == "code" and _mostly_long_text(crm, erp):
                return "text"
            return type_
    values = pd.concat([crm, erp], ignore_index=True).dropna().astype(str)
    values = values[values.str.strip() != ""]
    if values.empty:
        return "text"
    sample = values.sample(min(len(values), 2000), random_state=0) if len(values) > 2000 else values
    numeric = pd.to_numeric(sample.str.replace(r"[$€£,\s]", "", regex=True), errors="coerce")
    if numeric.notna().mean() >= 0.95:
        return "number"
    if len(sample) >= 100 and sample.nunique() <= max(20, len(sample) // 50):
        return "category"
    if "name" in key or "title" in key:
        if sample.str.contains(_LEGAL_FORM.pattern, flags=re.IGNORECASE).mean() >= 0.05:
            return "company"
        return "text"
    return "text"


_LAT_WORDS = frozenset({"lat", "latitude", "breddegrad", "breitengrad"})
_LNG_WORDS = frozenset({"lng", "lon", "long", "longitude", "lengdegrad", "laengengrad"})


def _coordinate_words(column: str) -> set[str]:
    return set(re.split(r"[^a-z]+", column.casefold()))


def _mostly_within(values: pd.Series, limit: float) -> bool:
    """At least 95 % of the non-empty values are numbers in ``[-limit, limit]``."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return bool(len(text)) and pd.to_numeric(text, errors="coerce").abs().le(limit).mean() >= 0.95


def _location(crm: pd.DataFrame, erp: pd.DataFrame, shared: Sequence[str]
              ) -> tuple[str, str] | None:
    """The (latitude, longitude) columns among ``shared``: exactly one column named like each,
    holding numbers in range on both sides. Else None."""
    lat = [c for c in shared if _coordinate_words(c) & _LAT_WORDS]
    lng = [c for c in shared if _coordinate_words(c) & _LNG_WORDS]
    if len(lat) != 1 or len(lng) != 1 or lat == lng:
        return None
    ok = all(_mostly_within(t[lat[0]], 90) and _mostly_within(t[lng[0]], 180)
             for t in (crm, erp))
    return (lat[0], lng[0]) if ok else None


def _mostly_long_text(crm: pd.Series, erp: pd.Series) -> bool:
    values = pd.concat([crm, erp], ignore_index=True).dropna().astype(str)
    return bool(len(values)) and values.str.split().str.len().mean() > 3


def infer_comparisons(
    crm: pd.DataFrame, erp: pd.DataFrame, id_col: str = "id",
    given: Sequence[Comparison] = (),
) -> list[Comparison]:
    """The comparisons to run: the ``given`` ones (their missing types inferred), else every
    column the two tables share by name, except ``id_col``."""
    for c in given:
        for col, table, side in [*((x, crm, "CRM") for x in c.columns("crm")),
                                 *((x, erp, "ERP") for x in c.columns("erp"))]:
            if col not in table.columns:
                have = ", ".join(map(str, table.columns))
                raise ValueError(f"--compare {c.crm_col}={c.erp_col}: the {side} table has no "
                                 f"column '{col}'; its columns are {have}")
    if given:
        return [c if c.type else Comparison(c.name, c.crm_col, c.erp_col,
                                            infer_type(c.crm_col, crm[c.crm_col], erp[c.erp_col]))
                for c in given]
    shared = [c for c in crm.columns if c in set(erp.columns) and c != id_col]
    if not shared:
        raise ValueError(
            "the two tables share no column besides the id; name the pairs to compare with "
            "--compare CRM_COL=ERP_COL[:TYPE]"
        )
    point = _location(crm, erp, shared)
    out = []
    for c in shared:
        if point and c == point[0]:
            out.append(Comparison(f"{point[0]}+{point[1]}", point[0], point[0], "location",
                                  point[1], point[1]))
        elif not point or c != point[1]:
            out.append(Comparison(c, c, c, infer_type(c, crm[c], erp[c])))
    return out
