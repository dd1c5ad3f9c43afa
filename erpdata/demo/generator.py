"""The demo's generator: one synthetic world of companies, drawn once, seen by a CRM and an ERP.

Why it is built this way: the same ``(size, seed)`` must give byte-identical files, and a
million companies must take seconds. So nothing loops over records: every random choice is a
numpy array drawn from its own stream (:func:`_rng`, seeded from ``(seed, purpose)``, so adding
a column does not reshuffle the others), words are index arrays into the vocabulary
(:mod:`erpdata.demo.vocabulary`), and the strings are assembled by the SQL of
:mod:`erpdata.demo.render`.

The model: *entities* are the real companies. The CRM sees most of them (plus duplicates: one
company entered twice), the ERP most of them (plus suppliers nobody entered in the CRM);
persons and projects hang under the companies. Each side's records gather the entities' atoms
and add that side's drift choices (the ``x_*`` columns: which legal form is written, a typo,
upper case, a move, a missing field, ...), which the side's SQL applies. The truth says which
CRM record is which ERP record.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from erpdata.demo.checkdigits import ORG_RULES, org_numbers
from erpdata.demo.render import (
    CRM_COMPANY_SQL,
    CRM_PERSON_SQL,
    CRM_PROJECT_SQL,
    ERP_COMPANY_SQL,
    ERP_PERSON_SQL,
    ERP_PROJECT_SQL,
    MACROS,
    NAME_COLUMNS,
    SLUG_COLUMNS,
    SLUG_SQL,
    TRUTH_SQL,
)
from erpdata.demo.vocabulary import (
    COUNTRIES,
    CRM_CATEGORIES,
    ERP_GROUPS,
    OUR_CONTACTS,
    PAYMENT_TERMS,
    POSITIONS,
    PROJECT_OBJECTS,
    PROJECT_TYPES,
    PROJECT_WORDS,
    ROLE_WEIGHTS,
    Vocab,
    fixed,
    grouped,
    vocabulary,
)
from erpdata.errors import ErpdataError
from erpdata.schema import ACTOR_TYPES

#: An output table: ``(side, kind)``, or ``("truth", "all")``.
TableKey = tuple[str, str]

# =============================================================================================
# Sizes and random streams
# =============================================================================================


@dataclass(frozen=True)
class _Sizes:
    """How the CRM companies split, and how many ERP-only actors there are."""

    matched: int  # real companies in both systems (one CRM record each, before duplicates)
    crm_only: int  # prospects and others never created in the ERP
    dups: int  # second CRM records of matched companies
    erp_only: int  # actors nobody entered in the CRM (many suppliers)

    @classmethod
    def for_size(cls, size: int) -> _Sizes:
        if size < 1:
            raise ErpdataError(f"demo size must be at least 1, got {size}")
        dups = round(0.03 * size)
        crm_only = round(0.15 * size)
        return cls(size - dups - crm_only, crm_only, dups, dups + crm_only)

    @property
    def entities(self) -> int:
        return self.matched + self.crm_only + self.erp_only


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per purpose, so adding a column does not reshuffle the rest."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _choice(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    """``n`` draws of an index into ``weights`` (int8)."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").astype(np.int8)


def _flag(rng: np.random.Generator, n: int, p: float | np.ndarray) -> np.ndarray:
    return rng.random(n) < p


# =============================================================================================
# The generator
# =============================================================================================

_STATUS_REFERENCE_DAY = 2496  # days after 2019-01-01 = 2025-11-01: before it, projects ended
_ERP_COMPANY_ID_BASE = 100_000
_ERP_PERSON_ID_BASE = 500_000
_ERP_PROJECT_ID_BASE = 700_000
_ACTOR_TYPES = ACTOR_TYPES["company"]  # customer, supplier, partner: actor index 0, 1, 2


def _dict(idx: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """Rows of ``values`` picked by ``idx``, dictionary-encoded (gathers move integers only)."""
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), values)


def _table(columns: dict[str, Any]) -> pa.Table:
    return pa.table({k: v if isinstance(v, pa.Array | pa.ChunkedArray) else pa.array(v)
                     for k, v in columns.items()})


def _append(base: pa.Table, extra: dict[str, Any]) -> pa.Table:
    """``base`` with the ``extra`` columns appended (same number of rows)."""
    more = _table(extra)
    return pa.Table.from_arrays(base.columns + more.columns,
                                names=base.column_names + more.column_names)


def _gather(base: pa.Table, rows: np.ndarray, extra: dict[str, Any]) -> pa.Table:
    """``rows`` of ``base`` with the ``extra`` columns (one value per gathered row) appended."""
    return _append(base.take(pa.array(rows)), extra)


def _subscriber(rng: np.random.Generator, length: np.ndarray) -> np.ndarray:
    """Random subscriber numbers with ``length`` digits, not starting with 0 or 1."""
    lo = 2 * 10 ** (length - 1)
    return lo + (rng.random(len(length)) * (10**length - lo)).astype(np.int64)


def _country_column(values: Sequence[str], ci: np.ndarray) -> pa.DictionaryArray:
    """One value per country, spread over rows by country index (dictionary-encoded)."""
    return pa.DictionaryArray.from_arrays(pa.array(ci, pa.int32()), pa.array(values, pa.string()))


#: Atom columns that are a property of the country: (column, Country attribute).
_COUNTRY_COLUMNS = (("cc", "code"), ("iso", "iso"), ("crm_country", "crm_name"),
                    ("currency", "currency"), ("conj", "conj"), ("holding", "holding"),
                    ("tld", "tld"), ("po_box", "po_box"), ("invoice_local", "invoice_local"))


@dataclass(frozen=True)
class Query:
    """One output table: Arrow rows to register as ``src`` and the SQL that turns them into text."""

    key: TableKey
    src: pa.Table
    sql: str


class Generator:
    """Draws the synthetic world once, then the six record tables and the truth, one at a time.

    Entities are the real companies; the CRM and the ERP each see a subset of them (plus CRM
    duplicates). Per entity, person and project there is one row of *atoms* (random choices:
    numbers and dictionary-encoded words); each side's table gathers the atoms of its records,
    appends that side's drift choices (``x_*`` columns) and builds its strings in one SQL
    projection. :meth:`queries` yields a :class:`Query` per output table, whose SQL returns
    canonical column names and values exactly as the export writes them (``NULL`` = empty).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, size: int, seed: int) -> None:
        self.con = con
        self.seed = seed
        self.n = _Sizes.for_size(size)
        self.vocab = vocabulary()
        con.execute(MACROS)
        self._plan_entities()
        self._plan_people_and_projects()
        self.atoms = self._entity_atoms()
        self.atoms = self.atoms.append_column("slug_n", self._slug_numbers(con))

    def rng(self, stream: str) -> np.random.Generator:
        return _rng(self.seed, stream)

    # ---- who exists where ------------------------------------------------------------------

    def _plan_entities(self) -> None:
        n = self.n
        e = np.arange(n.entities)
        self.in_crm = e < n.matched + n.crm_only
        self.in_erp = (e < n.matched) | (e >= n.matched + n.crm_only)
        rng = self.rng("roles")
        actor = np.full(n.entities, -1, dtype=np.int8)
        actor[: n.matched] = _choice(rng, n.matched, (88, 7, 5))
        actor[n.matched + n.crm_only:] = _choice(rng, n.erp_only, (55, 40, 5))
        self.actor = actor
        dup_ents = np.sort(rng.choice(n.matched, size=n.dups, replace=False))
        self._plan_crm_rows(rng, dup_ents)
        self._plan_erp_rows(rng)

    def _plan_crm_rows(self, rng: np.random.Generator, dup_ents: np.ndarray) -> None:
        primaries = np.flatnonzero(self.in_crm)
        ents = np.concatenate([primaries, dup_ents])
        is_dup = np.concatenate([np.zeros(len(primaries), bool), np.ones(len(dup_ents), bool)])
        order = rng.permutation(len(ents))
        self.crm_ent = ents[order]  # entity of each CRM company, in CRM id order
        self.crm_is_dup = is_dup[order]
        crm_id = np.arange(1, len(ents) + 1, dtype=np.int64)
        self.crm_primary_id = np.full(self.n.entities, -1, dtype=np.int64)
        self.crm_primary_id[self.crm_ent[~self.crm_is_dup]] = crm_id[~self.crm_is_dup]
        self.crm_dup_id = np.full(self.n.entities, -1, dtype=np.int64)
        self.crm_dup_id[self.crm_ent[self.crm_is_dup]] = crm_id[self.crm_is_dup]

    def _plan_erp_rows(self, rng: np.random.Generator) -> None:
        ents = np.flatnonzero(self.in_erp)
        self.erp_ent = ents[rng.permutation(len(ents))]  # entity of each ERP actor, id order
        self.erp_id = np.full(self.n.entities, -1, dtype=np.int64)
        self.erp_id[self.erp_ent] = _ERP_COMPANY_ID_BASE + 1 + np.arange(len(ents))
        # Account numbers: one series per actor type, in ERP id order.
        types = self.actor[self.erp_ent]
        account = np.zeros(len(ents), dtype=np.int64)
        for t in range(3):
            m = types == t
            account[m] = (t + 1) * 10_000_000 + 1 + np.arange(int(m.sum()))
        self.account = np.zeros(self.n.entities, dtype=np.int64)
        self.account[self.erp_ent] = account

    def _crm_company_of(self, rng: np.random.Generator, ents: np.ndarray) -> np.ndarray:
        """CRM company id for children of ``ents``: the duplicate's id for about half of them."""
        dup = self.crm_dup_id[ents]
        use_dup = (dup > 0) & _flag(rng, len(ents), 0.5)
        return np.where(use_dup, dup, self.crm_primary_id[ents])

    def _plan_people_and_projects(self) -> None:
        rng = self.rng("children")
        n_ent = self.n.entities
        erp_can_have_projects = self.in_erp & (self.actor != 1)  # customers and partners
        self.p_ent = np.repeat(np.arange(n_ent), np.minimum(rng.poisson(1.75, n_ent), 12))
        self.p_in_crm = self.in_crm[self.p_ent] & _flag(rng, len(self.p_ent), 0.86)
        self.p_in_erp = self.in_erp[self.p_ent] & _flag(rng, len(self.p_ent), 0.60)
        self.j_ent = np.repeat(np.arange(n_ent), np.minimum(rng.poisson(0.42, n_ent), 6))
        self.j_in_crm = self.in_crm[self.j_ent] & _flag(rng, len(self.j_ent), 0.78)
        self.j_in_erp = erp_can_have_projects[self.j_ent] & _flag(rng, len(self.j_ent), 0.65)
        # ids: each side numbers its records in its own (shuffled) order
        self.p_crm_id = self._ids(rng, self.p_in_crm, 1)
        self.p_erp_id = self._ids(rng, self.p_in_erp, _ERP_PERSON_ID_BASE + 1)
        self.j_crm_id = self._ids(rng, self.j_in_crm, 1)
        self.j_erp_id = self._ids(rng, self.j_in_erp, _ERP_PROJECT_ID_BASE + 1)
        self.p_crm_company = self._crm_company_of(rng, self.p_ent)
        self.j_crm_company = self._crm_company_of(rng, self.j_ent)

    @staticmethod
    def _ids(rng: np.random.Generator, present: np.ndarray, first: int) -> np.ndarray:
        ids = np.full(len(present), -1, dtype=np.int64)
        where = np.flatnonzero(present)
        ids[where[rng.permutation(len(where))]] = first + np.arange(len(where))
        return ids

    @staticmethod
    def _in_id_order(ids: np.ndarray) -> np.ndarray:
        """Row indices of the present records (id > 0), sorted by id."""
        where = np.flatnonzero(ids > 0)
        return where[np.argsort(ids[where], kind="stable")]

    # ---- what each real company looks like ------------------------------------------------

    def _slug_numbers(self, con: duckdb.DuckDBPyConnection) -> pa.Array:
        """Per entity: 0, or n for the n-th later entity whose name gives the same slug."""
        atoms = self.atoms.append_column("ent", pa.array(np.arange(self.atoms.num_rows)))
        con.register("atoms", atoms)
        try:
            (n,) = con.execute(f"""SELECT (row_number() OVER (PARTITION BY left({SLUG_SQL}, 30),
                                          tld ORDER BY ent) - 1)::INTEGER AS n
                                   FROM atoms ORDER BY ent""").fetchnumpy().values()  # noqa: S608 - the constant SLUG_SQL over the registered atoms table
        finally:
            con.unregister("atoms")
        return pa.array(np.asarray(n, dtype=np.int32))

    def _entity_atoms(self) -> pa.Table:
        """Random choices per real company: numbers and dictionary-encoded words."""
        v, count = self.vocab, self.n.entities
        rng = self.rng("entity")
        ci = _choice(rng, count, [c.weight for c in COUNTRIES]).astype(np.int64)
        city = v.cities.pick(rng, ci)
        alt_city = np.where(_flag(rng, count, 0.6), city, v.cities.pick(rng, ci))
        place = np.where(_flag(rng, count, 0.7), city, v.cities.pick(rng, ci))
        form = v.forms.pick(rng, ci)
        special = np.zeros(count, dtype=np.int8)
        special[np.arange(count) % 401 == 17] = 1  # 'Hansen & Co "Fisk" AS'
        special[np.arange(count) % 401 == 211] = 2  # 'Norvik; Bygg AS'
        self.ci = ci
        self.sub_len = v.city_sub_len[city]
        countries = {column: _country_column([getattr(c, attr) for c in COUNTRIES], ci)
                     for column, attr in _COUNTRY_COLUMNS}
        return _table({
            **countries,
            "pattern": _choice(rng, count, (30, 12, 8, 20, 12, 10, 8)),
            "extra": _choice(rng, count, (80, 5, 15)),
            "special": special,
            **self._word_and_slug(rng, v.surnames, ci, "sur1"),
            **self._word_and_slug(rng, v.surnames, ci, "sur2"),
            **self._word_and_slug(rng, v.industries, ci, "ind"),
            **self._word_and_slug(rng, v.regions, ci, "region"),
            **self._word_and_slug(rng, v.brand_pre, np.zeros(count, np.int64), "brand_pre"),
            "brand_suf": v.brand_suf.words(rng, np.zeros(count, np.int64)),
            "place": v.cities.encode(place),
            "place_s": v.cities.encode_slugs(place),
            "city_s": v.cities.encode_slugs(city),
            "form_abbr": _dict(form, v.form_abbr),
            "form_long": _dict(form, v.form_long),
            "form_var": _dict(form, v.form_variant),
            "form_alt": _dict(form, v.form_changed),
            "crm_long": _flag(rng, count, 0.12),
            **self._address_atoms(rng, ci, city, ""),
            **self._address_atoms(rng, ci, alt_city, "alt_"),
            "box": _flag(rng, count, 0.3),
            "box_no": rng.integers(1, 2000, count, dtype=np.int32),
            "box_pc_num": self._postcode_numbers(rng, city),
            "box_let": v.pc_letters.words(rng, ci),
            "area": _dict(city, v.city_area),
            "sub": _subscriber(rng, self.sub_len),
            "alt_sub": _subscriber(rng, self.sub_len),
            "email_local": v.email_locals.words(rng, ci),
            "web_style": _choice(rng, count, (50, 25, 5, 20)),
            **self._org_atoms(rng, ci),
            "actor": self.actor,
            "category": self._crm_category(rng),
            "erp_group": grouped(ERP_GROUPS).words(rng, np.maximum(self.actor, 0)),
            "account": self.account,
        })

    @staticmethod
    def _word_and_slug(rng: np.random.Generator, vocab: Vocab, groups: np.ndarray,
                       name: str) -> dict[str, pa.DictionaryArray]:
        idx = vocab.pick(rng, groups)
        return {name: vocab.encode(idx), f"{name}_s": vocab.encode_slugs(idx)}

    def _postcode_numbers(self, rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
        lo, hi = self.vocab.city_lo[city], self.vocab.city_hi[city]
        return (lo + (rng.random(len(city)) * (hi - lo + 1)).astype(np.int64)).astype(np.int32)

    def _address_atoms(self, rng: np.random.Generator, ci: np.ndarray, city: np.ndarray,
                       prefix: str) -> dict[str, Any]:
        v, count = self.vocab, len(ci)
        return {
            f"{prefix}street": v.streets.words(rng, ci),
            f"{prefix}no": np.clip(1 + rng.gamma(1.3, 18, count).astype(np.int32), 1, 250),
            f"{prefix}unit": v.units.words(rng, ci),
            f"{prefix}city": v.cities.encode(city),
            f"{prefix}pc_num": self._postcode_numbers(rng, city),
            f"{prefix}pc_let": v.pc_letters.words(rng, ci),
            f"{prefix}outward": v.outward.words(rng, city),
        }

    def _org_atoms(self, rng: np.random.Generator, ci: np.ndarray) -> dict[str, Any]:
        """Valid, distinct org/VAT numbers per country (SQL pads them to ``org_width``)."""
        number = np.zeros(len(ci), dtype=np.int64)
        for k, country in enumerate(COUNTRIES):
            m = ci == k
            number[m] = org_numbers(rng, country.code, int(m.sum()))
        widths = np.array([ORG_RULES[c.code][3] for c in COUNTRIES], dtype=np.int8)
        return {
            "org": number,
            "org_width": widths[ci],
            "org_sfx": fixed((("B01", 85), ("B02", 10), ("B03", 5))).words(
                rng, np.zeros(len(ci), dtype=np.int64)),
        }

    def _crm_category(self, rng: np.random.Generator) -> pa.DictionaryArray:
        """CRM category: from the ERP role, but stale ("Prospekt") for some; others prospects."""
        cat = np.where(self.actor >= 0, self.actor, 3).astype(np.int64)
        cat[(self.actor >= 0) & _flag(rng, len(cat), 0.08)] = 3
        crm_only = self.in_crm & ~self.in_erp
        cat[crm_only] = 3 + _choice(rng, int(crm_only.sum()), (70, 15, 15)) % 3
        cat[crm_only & (cat == 5)] = 0  # a few CRM-only "customers" (the ERP deleted them)
        return _dict(cat, pa.array(CRM_CATEGORIES, pa.string()))

    # ---- companies ---------------------------------------------------------------------------

    @staticmethod
    def _name_drift(rng: np.random.Generator, count: int, strength: str) -> dict[str, Any]:
        """Per-record name drift columns (render's company SQL): none, CRM duplicate or ERP."""
        if strength == "none":
            zeros = np.zeros(count, dtype=np.int8)
            return {"x_form": zeros, "x_amp": zeros.astype(bool), "x_typo": zeros,
                    "x_typo_u": np.zeros(count), "x_case": zeros, "x_trunc": zeros.astype(bool)}
        erp = strength == "erp"
        return {
            "x_form": _choice(rng, count, (50, 15, 12, 5, 10, 8) if erp else (60, 0, 25, 0, 10, 5)),
            "x_amp": _flag(rng, count, 0.5 if erp else 0.3),
            "x_typo": _choice(rng, count, (86, 3, 3, 2, 6) if erp else (80, 7, 7, 6, 0)),
            "x_typo_u": rng.random(count),
            "x_case": _choice(rng, count, (90, 8, 2) if erp else (85, 15, 0)),
            "x_trunc": _flag(rng, count, 0.03 if erp else 0.0),
        }

    def _crm_company_drift(self, rng: np.random.Generator) -> dict[str, Any]:
        """CRM-side choices: first records as entered, duplicates with small differences."""
        dup = self.crm_is_dup
        count = len(dup)
        primary = self._name_drift(rng, count, "none")
        second = self._name_drift(rng, count, "crm")
        return {
            "id": np.arange(1, count + 1),
            **{k: np.where(dup, second[k], primary[k]) for k in primary},
            "x_dept": np.where(_flag(rng, count, np.where(dup, 0.25, 0.07)),
                               1 + _choice(rng, count, (30, 15, 15, 10, 10, 10, 10)), 0),
            "x_org_miss": _flag(rng, count, np.where(dup, 0.5, 0.12)),
            "x_org_style": _choice(rng, count, (45, 55)),
            "x_code": _flag(rng, count, np.where(dup, 0.0, 0.25)),
            "x_num": _flag(rng, count, np.where(dup, 0.0, 0.35)),
            "x_phone_v": _choice(rng, count, (60, 25, 10, 5)),
            "x_phone_miss": _flag(rng, count, np.where(dup, 0.25, 0.08)),
            "x_phone_alt": dup & _flag(rng, count, 0.1),
            "x_email_miss": _flag(rng, count, np.where(dup, 0.3, 0.12)),
            "x_web_miss": dup & _flag(rng, count, 0.5),
            "x_move": dup & _flag(rng, count, 0.15),
            "x_street_miss": _flag(rng, count, np.where(dup, 0.3, 0.10)),
            "x_postal_miss": _flag(rng, count, np.where(dup, 0.2, 0.04)),
            "x_contact": Vocab.of([OUR_CONTACTS]).words(rng, np.zeros(count, np.int64)),
            "x_reg_days": rng.integers(-5400, 2450, count) + np.where(dup, 1500, 0),
        }

    def _erp_company_drift(self, rng: np.random.Generator) -> dict[str, Any]:
        """ERP-side drift of each ERP actor (applied by render.ERP_COMPANY_SQL)."""
        count = len(self.erp_ent)
        norwegian = self.ci[self.erp_ent] == 0
        return {
            "id": _ERP_COMPANY_ID_BASE + 1 + np.arange(count),
            **self._name_drift(rng, count, "erp"),
            "x_org_miss": _flag(rng, count, 0.08),
            "x_org_style": np.array([0, 2, 3], dtype=np.int8)[_choice(rng, count, (35, 45, 20))],
            "x_phone_v": _choice(rng, count, (20, 30, 40, 10)),
            "x_phone_miss": _flag(rng, count, 0.10),
            "x_phone_alt": _flag(rng, count, 0.06),
            "x_email": _choice(rng, count, (65, 20, 15)),
            "x_web": _choice(rng, count, (30, 20, 50)),
            "x_move": _flag(rng, count, 0.08),
            "x_abbr": _flag(rng, count, 0.15),
            "x_street_miss": _flag(rng, count, 0.15),
            "x_postal_miss": _flag(rng, count, 0.06),
            "x_pc_compact": _flag(rng, count, 0.3),
            "x_city_upper": _flag(rng, count, np.where(norwegian, 0.5, 0.1)),
            "x_terms": fixed(PAYMENT_TERMS).words(rng, np.zeros(count, dtype=np.int64)),
            "x_modified": rng.integers(0, 310_000_000, count),
        }

    def companies(self) -> Iterator[Query]:
        crm = _gather(self.atoms, self.crm_ent, self._crm_company_drift(self.rng("crm_company")))
        yield Query(("crm", "company"), crm, CRM_COMPANY_SQL)
        del crm
        erp = _gather(self.atoms, self.erp_ent, self._erp_company_drift(self.rng("erp_company")))
        yield Query(("erp", "company"), erp, ERP_COMPANY_SQL)

    # ---- persons -----------------------------------------------------------------------------

    def _person_atoms(self) -> pa.Table:
        """Random choices per real person (CRM and ERP views gather these rows)."""
        v = self.vocab
        rng = self.rng("person")
        count = len(self.p_ent)
        ci = self.ci[self.p_ent]
        role = _choice(rng, count, ROLE_WEIGHTS).astype(np.int64)
        first = v.first.pick(rng, ci * 2 + _flag(rng, count, 0.5))
        middle = v.middles.pick(rng, ci)
        last = v.person_surnames.pick(rng, ci)
        mobile = v.mobile_areas.pick(rng, ci)
        nsn_len = np.array([c.mobile_len for c in COUNTRIES])[ci]
        mobile_len = nsn_len - v.mobile_areas.lengths[mobile]
        self.p_mobile = _subscriber(rng, mobile_len)
        self.p_new_mobile = _subscriber(rng, mobile_len)  # what the ERP has after a change
        company = self.atoms.select(["cc", "area", *SLUG_COLUMNS]).take(pa.array(self.p_ent))
        return _append(company, {
                "first": v.first.encode(first), "first_s": v.first.encode_slugs(first),
                "middle": v.middles.encode(middle), "middle_s": v.middles.encode_slugs(middle),
                "last": v.person_surnames.encode(last),
                "last_s": v.person_surnames.encode_slugs(last),
                "title": _dict(ci * len(POSITIONS) + role, v.titles),
                "position": _dict(role, pa.array(POSITIONS, pa.string())),
                "email_style": _choice(rng, count, (60, 15, 10, 5, 10)),
                "has_direct": _flag(rng, count, 0.6),
                "direct": _subscriber(rng, self.sub_len[self.p_ent]),
                "has_mobile": _flag(rng, count, 0.8),
                "mobile_area": v.mobile_areas.encode(mobile),
            })

    def persons(self) -> Iterator[Query]:
        atoms = self._person_atoms()
        rows = self._in_id_order(self.p_crm_id)
        rng = self.rng("crm_person")
        crm = _gather(atoms, rows, {
            "id": self.p_crm_id[rows],
            "company_id": self.p_crm_company[rows],
            "mobile": self.p_mobile[rows],
            "x_phone_v": _choice(rng, len(rows), (60, 25, 10, 5)),
            "x_reg_days": rng.integers(-3000, 2450, len(rows)),
        })
        yield Query(("crm", "person"), crm, CRM_PERSON_SQL)
        del crm
        rows = self._in_id_order(self.p_erp_id)
        rng = self.rng("erp_person")
        count = len(rows)
        ents = self.p_ent[rows]
        x_mobile = _choice(rng, count, (80, 5, 15))
        erp = _gather(atoms, rows, {
            "id": self.p_erp_id[rows],
            "parent_key": self.erp_id[ents],
            "parent_actor": self.actor[ents],
            "x_first": _choice(rng, count, (88, 6, 3, 3)),
            "x_last": _choice(rng, count, (91, 4, 2, 3)),
            "x_u": rng.random(count),
            "x_title_miss": _flag(rng, count, 0.4),
            "x_email": _choice(rng, count, (65, 5, 10, 20)),
            "x_direct_miss": _flag(rng, count, 0.4),
            "x_mobile": x_mobile,
            "mobile": np.where(x_mobile == 1, self.p_new_mobile[rows], self.p_mobile[rows]),
            "x_phone_v": _choice(rng, count, (20, 30, 40, 10)),
            "x_modified": rng.integers(0, 310_000_000, count),
        })
        yield Query(("erp", "person"), erp, ERP_PERSON_SQL)

    # ---- projects ----------------------------------------------------------------------------

    def _project_atoms(self) -> pa.Table:
        rng = self.rng("project")
        count = len(self.j_ent)
        one = np.zeros(count, dtype=np.int64)
        end = rng.integers(0, 365 * 8, count)
        past = end < _STATUS_REFERENCE_DAY
        status = np.where(past, 2 + (rng.random(count) < 0.15), rng.random(count) < 0.7)
        company = self.atoms.select(list(NAME_COLUMNS)).take(pa.array(self.j_ent))
        return _append(company, {
            "word": Vocab.of([PROJECT_WORDS]).words(rng, one),
            "object": Vocab.of([PROJECT_OBJECTS]).words(rng, one),
            "year": 2019 + end // 365 - (rng.random(count) < 0.5),
            "with_year": _flag(rng, count, 0.5),
            "seq": np.arange(1, count + 1),
            "end_day": end,
            "status": status.astype(np.int8),
            "ptype": fixed(PROJECT_TYPES).words(rng, one),
            "manager": Vocab.of([OUR_CONTACTS]).words(rng, one),
            "budget": rng.integers(2, 400, count) * 5000,
        })

    def projects(self) -> Iterator[Query]:
        atoms = self._project_atoms()
        rows = self._in_id_order(self.j_crm_id)
        rng = self.rng("crm_project")
        count = len(rows)
        crm = _gather(atoms, rows, {
            "id": self.j_crm_id[rows],
            "company_id": self.j_crm_company[rows],
            "x_erp_number": _flag(rng, count, 0.55) & self.j_in_erp[rows],
            "x_text": _flag(rng, count, 0.7),
        })
        yield Query(("crm", "project"), crm, CRM_PROJECT_SQL)
        del crm
        rows = self._in_id_order(self.j_erp_id)
        rng = self.rng("erp_project")
        count = len(rows)
        ents = self.j_ent[rows]
        erp = _gather(atoms, rows, {
            "id": self.j_erp_id[rows],
            "parent_key": self.erp_id[ents],
            "parent_actor": self.actor[ents],
            "x_name": _choice(rng, count, (65, 15, 8, 5, 7)),
            "x_u": rng.random(count),
            "x_text": _flag(rng, count, 0.4),
            "x_shift": np.where(_flag(rng, count, 0.08), rng.integers(30, 180, count), 0),
            "x_status": _flag(rng, count, 0.05),
            "x_modified": rng.integers(0, 310_000_000, count),
        })
        yield Query(("erp", "project"), erp, ERP_PROJECT_SQL)

    # ---- truth -------------------------------------------------------------------------------

    def truth(self) -> Query:
        """Which CRM record is which ERP record: companies (with duplicates), persons, projects."""
        linked = self.in_erp[self.crm_ent]
        company_ent = self.crm_ent[linked]
        persons = self._in_id_order(np.where(self.p_in_erp, self.p_crm_id, -1))
        projects = self._in_id_order(np.where(self.j_in_erp, self.j_crm_id, -1))
        parts = [
            (np.flatnonzero(linked) + 1, self.actor[company_ent], self.erp_id[company_ent]),
            (self.p_crm_id[persons], np.full(len(persons), 3), self.p_erp_id[persons]),
            (self.j_crm_id[projects], np.full(len(projects), 4), self.j_erp_id[projects]),
        ]
        kinds = pa.array(["company", "person", "project"], pa.string())
        types = pa.array([*_ACTOR_TYPES, "person", "project"], pa.string())
        src = pa.concat_tables([_table({
            "kind": _dict(np.full(len(crm), k), kinds),
            "crm_id": crm,
            "erp_actor_type": _dict(t, types),
            "erp_id": erp,
        }) for k, (crm, t, erp) in enumerate(parts)])
        return Query(("truth", "all"), src, TRUTH_SQL)

    # ---- all tables ------------------------------------------------------------------------

    def queries(self) -> Iterator[Query]:
        """The seven output tables in :data:`~erpdata.demo.EXPORT_FILES` order, one at a time."""
        yield from self.companies()
        yield from self.persons()
        yield from self.projects()
        yield self.truth()


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, src: pa.Table) -> Iterator[None]:
    """``src`` registered as the table ``src`` (what every :class:`Query`'s SQL reads) inside."""
    con.register("src", src)
    try:
        yield
    finally:
        con.unregister("src")
