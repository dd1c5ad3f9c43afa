"""The demo's words: the data files in ``data/``, read once, and picking from them row-wise.

Why data files: the vocabulary (legal forms, cities with their postcodes and area codes,
surnames, first names, industries, streets, titles and phone prefixes of each country; the
CRM's and the ERP's own lists) is data, not logic. As JSON it reads and diffs as the lists it
is and is edited without touching the generator. It is read through :mod:`importlib.resources`,
so it is found in an installed wheel as in the source tree (``pyproject.toml`` ships
``data/*.json`` as package data). ``data/README.md`` says what each field means.

Why order matters: the generator draws indices into these lists, so a seed gives the same demo
only with the same words in the same order. Adding, removing or reordering a word, a weight or
a country (:data:`COUNTRY_CODES`) changes every demo built afterwards, as editing the Python
literals the words came from did.

Why :class:`Vocab`: nothing loops over records. A pick is an index array; words become Arrow
dictionary arrays, so gathering rows moves integers, and DuckDB assembles the strings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa

from erpdata.schema import ACTOR_TYPES

# =============================================================================================
# The data files
# =============================================================================================

#: The demo's countries, in draw order (the country index of a row is its place here: 0 is
#: Norway). One file each: ``data/<code>.json``; ``UK`` is the issue's name (ISO: GB).
COUNTRY_CODES = ("NO", "SE", "DK", "FI", "NL", "DE", "UK")

_NL_LETTERS = "ABCDEGHJKLMNPRTVWXZ"  # no S (SA/SD/SS are not used), no F/I/O/Q/U/Y
_UK_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters allowed in an inward code

Weighted = tuple[tuple[str, float], ...]  # (word, weight) pairs; weights need not sum to 1


@dataclass(frozen=True)
class LegalForm:
    abbr: str  # how the register writes it: "AS"
    long: str  # spelled out: "Aksjeselskap"
    variant: str  # another spelling seen in ERPs: "A/S"
    changed: str  # the form a company converts to: "ASA"
    weight: float


@dataclass(frozen=True)
class City:
    name: str
    postcode_lo: int  # postcode range (numeric part)
    postcode_hi: int
    area: str  # leading digits of a landline, without trunk 0
    sub_len: int  # digits after the area
    weight: float
    outward: tuple[str, ...] = ()  # UK only: outward codes


@dataclass(frozen=True)
class Country:
    """One country's file: the fields are the file's keys (``data/README.md``)."""

    code: str  # as the issue names it (UK, not GB)
    iso: str  # ISO 3166 alpha-2 (what the ERP stores)
    crm_name: str  # what the Norwegian CRM's country list shows
    weight: float  # share of the companies
    tld: str
    conj: str  # "og": lets " og " -> " & " drift happen
    po_box: str
    currency: str
    holding: str
    invoice_local: str  # local part of an invoice e-mail address ("faktura@")
    mobile_len: int  # national significant number length of a mobile
    legal_forms: tuple[LegalForm, ...]
    cities: tuple[City, ...]
    surnames: tuple[str, ...]  # in company names, and of persons unless person_surnames
    first_names_male: tuple[str, ...]
    first_names_female: tuple[str, ...]
    industries: tuple[str, ...]
    regions: tuple[str, ...]
    streets: tuple[str, ...]
    titles: tuple[str, ...]  # one per role, aligned with POSITIONS
    email_locals: tuple[str, ...]
    mobile_areas: tuple[str, ...]
    house_number_suffixes: Weighted
    person_surnames: tuple[str, ...] = ()  # when persons' surnames differ from company-name ones
    middle_names: Weighted = (("", 1.0),)  # NL tussenvoegsels (weighted)


def _read(name: str) -> dict[str, Any]:
    """A data file as a dict, without its ``about`` line (what the file is)."""
    text = (resources.files("erpdata.demo") / "data" / name).read_text(encoding="utf-8")
    data = json.loads(text)
    data.pop("about", None)
    return data


def _weighted(pairs: Sequence[Sequence[Any]]) -> Weighted:
    return tuple((word, weight) for word, weight in pairs)


def _country(code: str) -> Country:
    """``data/<code>.json``; an unknown or missing key raises (a typo in a file fails loudly)."""
    data = _read(f"{code.lower()}.json")
    if data.get("code") != code:
        raise ValueError(f"data/{code.lower()}.json holds country {data.get('code')!r}")
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    fields["legal_forms"] = tuple(LegalForm(**form) for form in data["legal_forms"])
    fields["cities"] = tuple(City(**{**city, "outward": tuple(city.get("outward", ()))})
                             for city in data["cities"])
    for key in ("house_number_suffixes", "middle_names"):
        if key in data:
            fields[key] = _weighted(data[key])
    return Country(**fields)


COUNTRIES: tuple[Country, ...] = tuple(_country(code) for code in COUNTRY_CODES)

_COMMON = _read("common.json")
_COMMON_KEYS = {"positions", "brand_prefixes", "brand_suffixes", "crm_categories",
                "crm_departments", "our_contacts", "erp_groups", "payment_terms", "project_words",
                "project_objects", "project_types", "project_statuses"}
if set(_COMMON) != _COMMON_KEYS:
    raise ValueError(f"data/common.json: keys {sorted(_COMMON)}, expected {sorted(_COMMON_KEYS)}")
if set(_COMMON["erp_groups"]) != set(ACTOR_TYPES["company"]):
    raise ValueError("data/common.json: erp_groups must name exactly the ERP actor types "
                     f"{ACTOR_TYPES['company']}")
#: Person roles: the CRM's position list (Norwegian, like the rest of the CRM) with weights.
POSITIONS: tuple[str, ...] = tuple(name for name, _ in _COMMON["positions"])
ROLE_WEIGHTS: tuple[float, ...] = tuple(weight for _, weight in _COMMON["positions"])
BRAND_PREFIXES: tuple[str, ...] = tuple(_COMMON["brand_prefixes"])
BRAND_SUFFIXES: tuple[str, ...] = tuple(_COMMON["brand_suffixes"])
#: In this order: the ERP's actor types (customer, supplier, partner), then the CRM's own.
CRM_CATEGORIES: tuple[str, ...] = tuple(_COMMON["crm_categories"])
CRM_DEPARTMENTS: tuple[str, ...] = tuple(_COMMON["crm_departments"])
OUR_CONTACTS: tuple[str, ...] = tuple(_COMMON["our_contacts"])  # "our" staff's initials
#: ERP customer groups per actor type (ACTOR_TYPES order); "Standard" becomes "Domestic" (NO)
#: or "Export".
ERP_GROUPS: tuple[Weighted, ...] = tuple(_weighted(_COMMON["erp_groups"][actor_type])
                                         for actor_type in ACTOR_TYPES["company"])
PAYMENT_TERMS: Weighted = _weighted(_COMMON["payment_terms"])
PROJECT_WORDS: tuple[str, ...] = tuple(_COMMON["project_words"])
PROJECT_OBJECTS: tuple[str, ...] = tuple(_COMMON["project_objects"])
PROJECT_TYPES: Weighted = _weighted(_COMMON["project_types"])
#: (CRM status, ERP status) pairs, in order planned, ongoing, finished, stopped; which ones
#: apply depends on the end date.
STATUS_CRM: tuple[str, ...] = tuple(crm for crm, _ in _COMMON["project_statuses"])
STATUS_ERP: tuple[str, ...] = tuple(erp for _, erp in _COMMON["project_statuses"])
del _COMMON, _COMMON_KEYS


def _check_titles() -> None:
    """Titles are looked up as ``country * len(POSITIONS) + role``: one per position."""
    for c in COUNTRIES:
        if len(c.titles) != len(POSITIONS):
            raise ValueError(f"data/{c.code.lower()}.json: one title per position, "
                             f"{len(POSITIONS)}, not {len(c.titles)}")


_check_titles()

# =============================================================================================
# Picking words, vectorised
# =============================================================================================


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: how a name becomes a domain or e-mail part."""
    text = text.casefold().replace("ø", "o").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text.replace("đ", "d"))
    return re.sub(r"[^a-z0-9]", "", text)


@dataclass(frozen=True)
class Vocab:
    """Words grouped (by country, city, ...), optionally weighted; picks are vectorised.

    A pick is an int32 index into the flattened words; :meth:`encode` turns indices into an
    Arrow dictionary array, so gathering rows later moves integers, not strings. Weighted
    groups keep ``bounds`` = ``group + cumulative share`` per word: one ``searchsorted`` of
    ``group + u`` picks a weighted word of each row's own group.
    """

    values: pa.Array
    slugs: pa.Array  # slug of each word
    lengths: np.ndarray  # characters per word
    offsets: np.ndarray  # index of each group's first word
    counts: np.ndarray  # words per group
    bounds: np.ndarray | None  # only for weighted vocabularies

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]],
           weights: Sequence[Sequence[float]] | None = None) -> Vocab:
        if any(not words for words in groups):
            raise ValueError("every vocabulary group needs a word")
        flat = [w for words in groups for w in words]
        counts = np.array([len(words) for words in groups], dtype=np.int64)
        bounds = None
        if weights is not None:
            parts = []
            for g, w in enumerate(weights):
                share = np.cumsum(np.asarray(w, dtype=float)) / float(np.sum(w))
                share[-1] = 1.0
                parts.append(g + share)
            bounds = np.concatenate(parts)
        return cls(pa.array(flat, pa.string()), pa.array([slug(w) for w in flat], pa.string()),
                   np.array([len(w) for w in flat], dtype=np.int64),
                   np.concatenate([[0], np.cumsum(counts)[:-1]]), counts, bounds)

    def pick(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """A global word index for each row, drawn from the row's group."""
        u = rng.random(len(groups))
        if self.bounds is None:
            return (self.offsets[groups] + (u * self.counts[groups]).astype(np.int64)).astype(
                np.int32)
        return np.searchsorted(self.bounds, groups + u, side="right").astype(np.int32)

    def encode(self, idx: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), self.values)

    def encode_slugs(self, idx: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), self.slugs)

    def words(self, rng: np.random.Generator, groups: np.ndarray) -> pa.DictionaryArray:
        return self.encode(self.pick(rng, groups))


def _per_country(attr: str) -> Vocab:
    return Vocab.of([getattr(c, attr) for c in COUNTRIES])


def _weighted_per_country(attr: str) -> Vocab:
    pairs = [getattr(c, attr) for c in COUNTRIES]
    return Vocab.of([[w for w, _ in p] for p in pairs], [[x for _, x in p] for p in pairs])


def grouped(groups: Sequence[Sequence[tuple[str, float]]]) -> Vocab:
    """A vocabulary from (word, weight) pairs per group."""
    return Vocab.of([[w for w, _ in g] for g in groups], [[x for _, x in g] for g in groups])


def fixed(pairs: Sequence[tuple[str, float]]) -> Vocab:
    """One weighted group of words."""
    return grouped([pairs])


def _middle_names() -> Vocab:
    """NL: tussenvoegsels ("van der"); NO/SE/DK: now and then a surname as middle name."""
    groups: list[list[tuple[str, float]]] = []
    for c in COUNTRIES:
        if c.code in ("NO", "SE", "DK"):
            surnames = c.surnames
            groups.append([("", 92.0), *((name, 8.0 / len(surnames)) for name in surnames)])
        else:
            groups.append(list(c.middle_names))
    return grouped(groups)


@dataclass(frozen=True)
class Vocabulary:
    """All vocabularies, flattened once per process."""

    surnames: Vocab
    person_surnames: Vocab
    first: Vocab  # group = country * 2 + (1 if female)
    middles: Vocab
    industries: Vocab
    regions: Vocab
    streets: Vocab
    units: Vocab  # house number suffixes
    email_locals: Vocab
    mobile_areas: Vocab
    pc_letters: Vocab  # NL letter pairs, UK inward codes, "" elsewhere
    cities: Vocab  # group = country, weighted by size
    city_lo: np.ndarray
    city_hi: np.ndarray
    city_sub_len: np.ndarray
    city_area: pa.Array
    outward: Vocab  # group = global city index
    forms: Vocab  # group = country, weighted
    form_abbr: pa.Array
    form_long: pa.Array
    form_variant: pa.Array
    form_changed: pa.Array
    titles: pa.Array  # index = country * len(POSITIONS) + role
    brand_pre: Vocab
    brand_suf: Vocab

    @classmethod
    def build(cls) -> Vocabulary:
        cities = [c for country in COUNTRIES for c in country.cities]
        forms = [f for country in COUNTRIES for f in country.legal_forms]
        nl = [a + b for a in _NL_LETTERS for b in _NL_LETTERS]
        uk = [f"{d}{a}{b}" for d in "0123456789" for a in _UK_LETTERS for b in _UK_LETTERS]
        return cls(
            surnames=_per_country("surnames"),
            person_surnames=Vocab.of([c.person_surnames or c.surnames for c in COUNTRIES]),
            first=Vocab.of([names for c in COUNTRIES
                            for names in (c.first_names_male, c.first_names_female)]),
            middles=_middle_names(),
            industries=_per_country("industries"),
            regions=_per_country("regions"),
            streets=_per_country("streets"),
            units=_weighted_per_country("house_number_suffixes"),
            email_locals=_per_country("email_locals"),
            mobile_areas=_per_country("mobile_areas"),
            pc_letters=Vocab.of([nl if c.code == "NL" else uk if c.code == "UK" else [""]
                                 for c in COUNTRIES]),
            cities=Vocab.of([[c.name for c in country.cities] for country in COUNTRIES],
                            [[c.weight for c in country.cities] for country in COUNTRIES]),
            city_lo=np.array([c.postcode_lo for c in cities], dtype=np.int64),
            city_hi=np.array([c.postcode_hi for c in cities], dtype=np.int64),
            city_sub_len=np.array([c.sub_len for c in cities], dtype=np.int64),
            city_area=pa.array([c.area for c in cities], pa.string()),
            # a city without outward codes (all but the UK's) is one group of the empty word
            outward=Vocab.of([c.outward or ("",) for c in cities]),
            forms=Vocab.of([[f.abbr for f in country.legal_forms] for country in COUNTRIES],
                           [[f.weight for f in country.legal_forms] for country in COUNTRIES]),
            form_abbr=pa.array([f.abbr for f in forms], pa.string()),
            form_long=pa.array([f.long for f in forms], pa.string()),
            form_variant=pa.array([f.variant for f in forms], pa.string()),
            form_changed=pa.array([f.changed for f in forms], pa.string()),
            titles=pa.array([t for c in COUNTRIES for t in c.titles], pa.string()),
            brand_pre=Vocab.of([BRAND_PREFIXES]),
            brand_suf=Vocab.of([BRAND_SUFFIXES]),
        )


_VOCABULARY: Vocabulary | None = None


def vocabulary() -> Vocabulary:
    """The :class:`Vocabulary`, built on first use (the Arrow arrays cost a few ms)."""
    global _VOCABULARY
    if _VOCABULARY is None:
        _VOCABULARY = Vocabulary.build()
    return _VOCABULARY
