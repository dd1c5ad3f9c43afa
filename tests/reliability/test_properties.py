"""Property tests (hypothesis): the normalisers, and what a load stores.

Why properties: the example tables of tests/normalize/test_normalize.py and
tests/ingest/test_load.py say what known inputs give; they cannot say what *any* text gives.
Exports hold whatever people typed (combining marks, right-to-left text, emoji, control
characters, half a legal form, three phone numbers in one cell), so the laws below are checked
on generated text instead:

1. Normalisers (:mod:`erpdata.normalize`), every public function, for every country argument
   (None, NO, SE, DK, FI, NL, DE, GB, US and an unknown "ZZ"):

   * never raise on any text (None, NaN, empty, NUL, any Unicode but lone surrogates, which a
     Python ``str`` from a decoded file cannot hold) and keep the Series contract (index kept,
     missing in -> missing out, strings out);
   * are idempotent: normalising a key again gives the same key (for :func:`phone` the E.164
     output parsed again; for :func:`org_number` the number with the country it was read for);
   * give every row, in a long Series, the key that row gets alone, whatever the order of the
     rows: the unique-value and ``(value, country)`` dedup paths must not mix rows;
   * agree with each other where one is defined by another (company names and cities depend on
     the folded text only; ``tokens`` are the words of ``name``; :func:`email_domain` is the
     domain of :func:`email`).

2. Loads (:func:`erpdata.ingest.load.load_file`): a random table of CRM companies (id, name,
   postalcity, phone and one column that maps to no field) written as CSV (``,`` ``;`` tab,
   minimal or full quoting), XLSX, Parquet, JSON and NDJSON is stored exactly: the id trimmed,
   other text as written, empty as NULL, the extra column in ``extra``, the row number in
   ``source_row``.

3. Commit then undo is the identity: that property already exists, as
   ``tests/steward/test_commit.py::test_commit_then_undo_is_the_identity``, and is not repeated
   here.

Examples and reproducibility. ``ERPDATA_PROPERTY_EXAMPLES`` (default 60) is the number of
examples of each normaliser property (each example normalises up to 20 values); the bulk
property gets a quarter of it (15: each of its examples makes up to six calls), each load
property a third per format (20: each loads a fresh workspace). Why so few by default: a
normaliser call costs milliseconds whatever its size (Arrow compiles its regular expressions
on every call), so the default run stays near a minute on the 2-core development machine;
the full run (3000) takes most of an hour. Runs are derandomized (the same examples every
run, so CI never fails by luck); ``ERPDATA_PROPERTY_SEED=<int>`` draws other examples,
reproducibly, and ``ERPDATA_PROPERTY_SEED=random`` new ones every run. Hypothesis' example
database is off: a failure prints its falsifying example, which is what to paste into a
regression test. ``-s`` prints one line per property: the examples tried (shrinking
included) and the values they held.

    pytest -s tests/reliability/test_properties.py                                 # default
    ERPDATA_PROPERTY_EXAMPLES=3000 pytest -s tests/reliability/test_properties.py  # full run
    ERPDATA_PROPERTY_SEED=random pytest -s tests/reliability/test_properties.py    # explore
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, example, given, seed, settings
from hypothesis import strategies as st

from erpdata import normalize as nz
from erpdata.ingest.load import load_file
from erpdata.normalize import arrays, org_numbers
from erpdata.schema import table_name
from erpdata.workspace import Workspace

# =============================================================================================
# Example counts, seeds, and the one-line summary per property
# =============================================================================================

#: Examples per normaliser property; the bulk-against-alone property (a dozen calls per
#: example) gets a quarter of them, each load property a third, per format.
EXAMPLES = int(os.environ.get("ERPDATA_PROPERTY_EXAMPLES", "60"))
BULK_EXAMPLES = max(1, EXAMPLES // 4)
INGEST_EXAMPLES = max(1, EXAMPLES // 3)
_SEED = os.environ.get("ERPDATA_PROPERTY_SEED", "").strip().lower()

F = TypeVar("F", bound=Callable[..., Any])


def examples(n: int) -> Callable[[F], F]:
    """Hypothesis settings for ``n`` examples: no deadline (a first call compiles regular
    expressions and may take a second), derandomized unless ``ERPDATA_PROPERTY_SEED`` is set,
    no example database (see the module docstring)."""

    def apply(test: F) -> F:
        test = settings(max_examples=n, deadline=None, derandomize=not _SEED, database=None,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.data_too_large])(test)
        if _SEED.isdigit():
            test = seed(int(_SEED))(test)
        return test

    return apply


_TRIED: Counter[str] = Counter()
_VALUES: Counter[str] = Counter()
_current = {"test": ""}


@pytest.fixture(autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print, after each property, how many examples hypothesis ran (visible with ``-s``)."""
    name = request.node.name
    _current["test"] = name
    _TRIED[name] = _VALUES[name] = 0
    yield
    if _TRIED[name]:
        print(f"\n[property] {name}: {_TRIED[name]:,} examples, {_VALUES[name]:,} values")


def tried(values: int = 0) -> None:
    """Count one example (and the values it normalised or loaded) for the summary line."""
    _TRIED[_current["test"]] += 1
    _VALUES[_current["test"]] += values


# =============================================================================================
# Text
# =============================================================================================

#: Pieces of real exports and of the normalisers' own rules, so that generated text reaches
#: the interesting branches (legal forms, connectors, "aa", phone labels and extensions, VAT
#: prefixes, street suffixes, postcode prefixes, e-mail and web syntax, city districts) and the
#: awkward corners of Unicode (combining marks, right-to-left, emoji sequences, compatibility
#: characters whose decomposition is upper case or not ASCII, separators, controls).
FRAGMENTS: tuple[str, ...] = (
    "æ", "ø", "å", "Æ", "Ø", "Å", "ä", "ö", "ü", "ß", "ẞ", "aa", "Aa", "AA", "a",
    "AS", "ASA", "A/S", "AB", "AB (publ)", "ApS", "Oy", "GmbH", "GmbH & Co. KG", "Ltd", "Inc.",
    "B.V.", "e.K.", "SA", "Aksjeselskap", "Aksjese", "Kommandi", "Stichting", "Holding",
    " & ", "&", " og ", " and ", "Co", "Bros", "Dr.", "Prof.", "Hr.", "Mevr.", ",", ", ", " ",
    "+47", "0047", "+46 8", "+44 (0)20", "22 33 44 55", "(0)", " ext 12", " x 3", "/", ";",
    " or ", "Tel: ", "90 00 00 00", "08-123 456 78", "0", "00", "1", "9",
    "NO", "SE", "DK", "FI", "NL", "DE", "GB", "EL", "ATU", "CHE-", "923 609 016", "MVA",
    "556036-0793", "16", "01", "B01", "Org.nr", "HRB ", "1234567-1", "12345678",
    "gate", "gata", "gaten", "vei", "veien", "vag", "straat", "laan", "strasse", "Storgt. ",
    "v. ", " 1B", " 12 b", "Postboks ", "PO Box ", "Pb. ", "St", " C", " K", " N", "0150",
    "111 22", "1012 AB", "SW1A 1AA", "NO-", "S-",
    "@", "post@firma.no", "Kari@Firma.NO", "mailto:", "<", ">", "www.", "https://",
    "http://x@", ".no", ".co.uk", ":8080", "gmail.com", "hotmail.no", ".",
    "Oslo", "København", "Copenhagen", "Den Haag", "The Hague", "'s-Gravenhage", "Vaasa",
    "Aarhus", "Norge", "UK",
    "\u0301", "\u0308", "\u030a", "\u05d0\u05d1\u05d2", "\u200f", "\u202e", "\u0627\u0644",
    "😀", "👩\u200d👩\u200d👧", "🇳🇴", "\u00a0", "\u2028", "\u200b", "\ufeff", "\x00", "\x1f",
    "\t", "\n", "\r\n", "ǽ", "ǿ", "℡", "Ⓐ", "ﬀ", "İ", "ı", "Ǆ", "½", "²", "٣", "Ⅻ", "ｆｕｌｌ",
    "＆", "＠",
)

#: Any text (all of Unicode but lone surrogates), and text assembled from :data:`FRAGMENTS`.
TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=10)
    .map("".join),
)
MISSING: tuple[Any, ...] = (None, math.nan, "")
VALUE = st.one_of(TEXT, TEXT, TEXT, st.sampled_from(MISSING))

#: Country arguments: the demo's countries, two without special rules, an unknown code.
COUNTRIES: tuple[str | None, ...] = (None, "NO", "SE", "DK", "FI", "NL", "DE", "GB", "US", "ZZ")
#: Per-row country values (a country column): codes, names, other spellings, missing.
ROW_COUNTRIES: tuple[Any, ...] = (*COUNTRIES, "Norge", "uk", "Sverige", "nor", "", math.nan)


def is_missing(value: Any) -> bool:
    """None, NaN, pandas NA: what the normalisers read as a missing value."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def cell(value: Any) -> Any:
    """A result cell in a form ``==`` compares exactly: lists as tuples, every NA as None,
    numpy flags as Python ones."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return None if is_missing(value) else value


def cells(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rows of ``frame`` as tuples of :func:`cell` values."""
    return [tuple(cell(v) for v in row) for row in frame.itertuples(index=False)]


def series(values: Sequence[Any], labels: Sequence[int] | None = None) -> pd.Series:
    """An object Series of ``values`` (labels default to 0..n-1)."""
    return pd.Series(list(values), index=labels, dtype=object)


# =============================================================================================
# The normalisers under test
# =============================================================================================

Country = pd.Series | str | None


@dataclass(frozen=True)
class Normaliser:
    """One public normaliser, called uniformly: ``run(values, country)`` -> DataFrame.

    ``keys``: the columns that are keys (compared for idempotence); ``again``: the key
    normalised once more, which must equal the key (None: idempotence is meaningless, e.g. a
    flag); ``missing``: what a missing input gives in the key columns."""

    name: str
    run: Callable[[pd.Series, Country], pd.DataFrame]
    keys: tuple[str, ...] = ("key",)
    again: Callable[[pd.DataFrame, Country, pd.Series], pd.DataFrame] | None = None
    missing: Any = None

    def __str__(self) -> str:
        return self.name


def _series_fn(fn: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series, Country],
                                                                  pd.DataFrame]:
    return lambda s, _country: fn(s).to_frame("key")


def _country_fn(fn: Callable[[pd.Series, Country], pd.Series]
                ) -> Callable[[pd.Series, Country], pd.DataFrame]:
    return lambda s, country: fn(s, country).to_frame("key")


def _key_again(run: Callable[[pd.Series, Country], pd.DataFrame]
               ) -> Callable[[pd.DataFrame, Country, pd.Series], pd.DataFrame]:
    """Idempotence for a function whose key is of the same nature as its input."""
    return lambda out, country, _raw: run(out["key"], country)


def _company(s: pd.Series, country: Country) -> pd.DataFrame:
    return nz.company_name(s, country)


def _company_again(out: pd.DataFrame, country: Country, _raw: pd.Series) -> pd.DataFrame:
    """The name normalised again, where that only took off one more legal form: the name as
    it was. Why that exception: the key cannot tell a name word that folds to a form's
    spelling from the form ("Amundsen og Aas AS" → "amundsen as": "Aas" folds to "as"), so a
    second pass takes it off; stripping forms until none is left would make "Amundsen og Aas
    AS" and "Amundsen AS" one company. Anything else changing is a bug."""
    again = nz.company_name(out["name"], country, tokens=False)
    names = []
    for once, twice, form in zip(out["name"], again["name"], again["legal_form"], strict=True):
        one_more_form = not is_missing(form) and isinstance(once, str) and (
            once.startswith(f"{twice} ") or once.endswith(f" {twice}"))
        names.append(once if one_more_form else twice)
    return pd.DataFrame({"name": names}, index=out.index)


def _org(s: pd.Series, country: Country) -> pd.DataFrame:
    return nz.org_number(s, country)


def _org_again(out: pd.DataFrame, country: Country, raw: pd.Series) -> pd.DataFrame:
    """The number normalised again with the country it was read for: its VAT prefix's when it
    had one, else ``country``. (The key drops the prefix: "NO 1234567" gives "1234567", which
    as a Finnish number would be padded to "01234567".)"""
    prefixes = org_numbers._org_parts(arrays._to_arrow(raw))[1].to_pylist()
    read_for = [org_numbers._VAT_PREFIXES.get(p or "", country) for p in prefixes]
    return nz.org_number(out["orgno"], series(read_for, list(out.index)))[["orgno"]]


def _phone(s: pd.Series, country: Country) -> pd.Series:
    return nz.phone(s, country)


def _phone_strict(s: pd.Series, country: Country) -> pd.Series:
    return nz.phone(s, country, strict=True)


def _phone_default(s: pd.Series, country: Country) -> pd.Series:
    """One code goes in as ``default_country`` (a country column as ``country``: so the bulk
    property also checks that both resolve a row's region alike)."""
    code = country if isinstance(country, str) else None
    return nz.phone(s, None if isinstance(country, str) else country, default_country=code)


def _free_mail(s: pd.Series, _country: Country) -> pd.DataFrame:
    return nz.is_free_mail_domain(s).to_frame("key")


def _normalisers() -> list[Normaliser]:
    simple = {"fold_text": nz.fold_text, "person_name": nz.person_name,
              "phone_digits": nz.phone_digits, "email": nz.email, "url_domain": nz.url_domain,
              "street": nz.street, "city": nz.city, "country_code": nz.country_code}
    with_country = {"phone": _phone, "phone_strict": _phone_strict,
                    "phone_default_country": _phone_default, "postcode": nz.postcode}
    out = [Normaliser(name, run, again=_key_again(run))
           for name, run in [*((n, _series_fn(f)) for n, f in simple.items()),
                             *((n, _country_fn(f)) for n, f in with_country.items())]]
    return [*out,
            Normaliser("email_domain", _series_fn(nz.email_domain)),  # a domain is no address
            Normaliser("company_name", _company, keys=("name", "legal_form"),
                       again=_company_again),
            Normaliser("org_number", _org, keys=("orgno", "orgno_valid"), again=_org_again),
            Normaliser("is_free_mail_domain", _free_mail, missing=False)]


NORMALISERS = _normalisers()


def test_every_public_normaliser_is_covered() -> None:
    """A new public function must join the properties (or be named here as not a normaliser)."""
    covered = {n.name.removesuffix("_strict").removesuffix("_default_country")
               for n in NORMALISERS}
    # phone_and_digits and email_and_domain are covered normalisers run together in one pass;
    # tests/normalize/test_normalize_fast.py checks they give exactly what their parts give
    assert set(nz.__all__) - {"LEGAL_FORMS", "phone_and_digits", "email_and_domain"} == covered


#: Values hypothesis found (fixed in erpdata/normalize/): runs of "a", compatibility
#: characters that decompose to capitals or to a folded letter, repeated city districts,
#: "www." and "St", compound street types, split house letters, the aa-spelling of a street
#: type, a value holding the (value, country) separator, a stray separator in a VAT number,
#: an exonym whose local name is not folded.
FOUND = ["AAA", "℡", "ǽble", "A:K:S", "www.www.firma.no", "Gatevegen 1", "GATEGATE",
         "a 1 b 2 c 3 d", "Kongsvaag 1", "0\x1f", "150\x1fx", "Hansen\x1fBygg AS", "NO'0",
         "CH'E0", "The Hague", "Æ:ST:ST"]


@pytest.mark.parametrize("normaliser", NORMALISERS, ids=str)
@examples(EXAMPLES)
@given(values=st.lists(VALUE, max_size=20), country=st.sampled_from(COUNTRIES))
@example(values=FOUND, country="NO")
@example(values=FOUND, country=None)
def test_normaliser_never_raises_and_is_idempotent(normaliser: Normaliser, values: list[Any],
                                                   country: str | None) -> None:
    """Any text, any country: no exception, a result with the input's index, missing in ->
    missing out, keys that are strings (or flags). And a key normalised again is the same key
    (keys are a fixed point), so a value normalised already (a re-load, a key written back)
    and a raw value meet. (One test for both: each call costs milliseconds of regular
    expression compiling, whatever the number of values.)"""
    tried(len(values))
    labels = [7 * i + 3 for i in range(len(values))][::-1]  # not 0..n-1, not sorted
    s = series(values, labels)
    out = normaliser.run(s, country)
    assert list(out.index) == labels
    for raw, row in zip(values, cells(out[list(normaliser.keys)]), strict=True):
        if is_missing(raw) or raw == "":
            assert row == (normaliser.missing,) * len(normaliser.keys)
        for key in row:
            assert key is None or isinstance(key, (str, bool))
    if normaliser.again is None:
        return
    again = normaliser.again(out, country, s)
    first = out[list(again.columns)]
    assert cells(again) == cells(first), pd.DataFrame(
        {"raw": s, "once": first.iloc[:, 0], "twice": again.iloc[:, 0]})


#: Other rows of the long Series each drawn value is normalised in: every fragment, and pairs
#: of them, with a country each (so the dedup paths see many values and pairs).
BACKGROUND: list[str] = [*FRAGMENTS, *(f"{a} {b}" for a, b in itertools.pairwise(FRAGMENTS))]
BACKGROUND_COUNTRIES: list[Any] = [ROW_COUNTRIES[i % len(ROW_COUNTRIES)]
                                   for i in range(len(BACKGROUND))]


@pytest.mark.parametrize("normaliser", NORMALISERS, ids=str)
@examples(BULK_EXAMPLES)
@given(data=st.data())
def test_normaliser_bulk_equals_alone_in_any_order(normaliser: Normaliser,
                                                   data: st.DataObject) -> None:
    """A value in a long Series gets the key it gets alone (a 1-row Series, its country given
    as one code), and shuffling the rows shuffles the keys: the dedup of values and of (value,
    country) pairs, and the country column aligned by label, never mix rows."""
    values = data.draw(st.lists(VALUE, min_size=1, max_size=4), label="values")
    n = len(values)
    row_countries = data.draw(st.lists(st.sampled_from(ROW_COUNTRIES), min_size=n, max_size=n),
                              label="countries")
    shuffle = data.draw(st.randoms(use_true_random=False), label="shuffle")
    tried(n)
    labels = [1000 + i for i in range(n + len(BACKGROUND))]
    s = series([*values, *BACKGROUND], labels)
    # the country column in another order than the values: aligned by label, not position
    countries = series([*row_countries, *BACKGROUND_COUNTRIES], labels).iloc[::-1]
    out = normaliser.run(s, countries)
    for i, label in enumerate(labels[:n]):
        code = row_countries[i]
        alone = normaliser.run(s.loc[[label]], None if is_missing(code) else code)
        assert cells(alone) == cells(out.loc[[label]]), (values[i], code)
    order = list(range(len(labels)))
    shuffle.shuffle(order)
    shuffled = normaliser.run(s.iloc[order], countries)
    assert list(shuffled.index) == [labels[i] for i in order]
    assert cells(shuffled) == cells(out.iloc[order])


@examples(EXAMPLES)
@given(values=st.lists(VALUE, min_size=1, max_size=20), country=st.sampled_from(COUNTRIES))
@example(values=FOUND, country="NO")
def test_company_names_and_cities_depend_on_the_folded_text_only(values: list[Any],
                                                                 country: str | None) -> None:
    """:func:`company_name` and :func:`city` are rules over :func:`fold_text`: a value and its
    folded text give the same keys (nothing in the value is read before folding)."""
    tried(len(values))
    s = series(values)
    folded = nz.fold_text(s)
    company, company_of_folded = nz.company_name(s, country), nz.company_name(folded, country)
    assert cells(company) == cells(company_of_folded), pd.DataFrame(
        {"raw": s, "name": company["name"], "of folded": company_of_folded["name"]})
    assert cells(nz.city(s).to_frame()) == cells(nz.city(folded).to_frame())


@examples(EXAMPLES)
@given(values=st.lists(VALUE, min_size=1, max_size=20), country=st.sampled_from(COUNTRIES))
def test_derived_columns_agree_with_their_source(values: list[Any], country: str | None) -> None:
    """``tokens`` are the words of ``name`` ([] without a name), and :func:`email_domain` is the
    part of :func:`email` after the "@"."""
    tried(len(values))
    s = series(values)
    company = nz.company_name(s, country)
    for name, tokens in zip(company["name"], company["tokens"], strict=True):
        assert tokens == ([] if is_missing(name) else name.split(" "))
    domains = [None if is_missing(a) else a.split("@", 1)[1] for a in nz.email(s)]
    assert [cell(d) for d in nz.email_domain(s)] == domains


# =============================================================================================
# Loads: what is stored is what was in the file
# =============================================================================================

HEADERS = ("id", "name", "postalcity", "phone")
#: Headers that map to no field (kept in ``extra``): quotes, delimiters, non-ASCII.
EXTRA_HEADERS = ("Kundekategori", "Merknad; intern", 'Sist "endret"', "O'Brien-flagg",
                 "Ærlig, talt ✓")

#: Pieces of the text in real exports that trip readers: quotes, delimiters, line breaks,
#: formula-like starts, spaces of all kinds, words readers treat as missing, and text that
#: looks like another type (a reader must not turn "007" into 7 or "10:00" into a time).
CELL_FRAGMENTS: tuple[str, ...] = (
    "Ø", "æ", "å", "Å", "ü", '"', "'", '""', ",", ";", "\t", "|", "\n", "\r\n", "\r", " ", "  ",
    "\u00a0", "\u2028", "\x85", "\u3000", "=", "=SUM(A1)", "=HYPERLINK(\"x\")", "@", "+", "-",
    "+47 22 33 44 55", "-1", "😀", "\u05d0\u05d1", "\u0301", "id", "name", "null", "NULL",
    "None", "NaN", "N/A", "\\N", "\\", "true", "FALSE", "007", "1.0", "1e3", "0x1F", "{",
    "}", "[", "]", '{"a": 1}', "2024-01-31", "31.01.2024", "2024-01-31T10:00:00", "10:00",
    "Hansen & Co AS", "Tromsø", "\x01", "\x1f", "\x7f",
)
#: What :func:`erpdata.ingest.sources.read_source` documents as refused or changed, never generated:
#: NUL (refused: a damaged file) and U+FEFF (removed, with a warning). Lone surrogates cannot
#: be encoded in any of the formats.
_REFUSED = "\x00\ufeff"
_ANY_CHAR = st.characters(exclude_characters=_REFUSED, exclude_categories=["Cs"])
_typed = st.one_of(
    st.uuids().map(lambda u: str(u).upper()),
    st.dates().map(str),
    st.datetimes().map(lambda t: t.isoformat()),
    st.times().map(lambda t: t.isoformat(timespec="minutes")),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=False).map(str),
)
CELL_TEXT = st.one_of(
    st.text(_ANY_CHAR, min_size=1, max_size=20),
    st.lists(st.one_of(st.sampled_from(CELL_FRAGMENTS), st.text(_ANY_CHAR, max_size=3)),
             min_size=1, max_size=6).map("".join),
    _typed,
)
CELL = st.one_of(CELL_TEXT, CELL_TEXT, CELL_TEXT, st.sampled_from([None, ""]))

#: DuckDB's ``trim``, which the id goes through: it removes Unicode space separators (category
#: Zs: space, no-break space, em space, ...), not tabs or line breaks.
_SPACES = "".join(chr(c) for c in range(0x110000)
                  if unicodedata.category(chr(c)) == "Zs")


def trimmed(text: str) -> str:
    """``text`` as DuckDB's ``trim`` leaves it."""
    return text.strip(_SPACES)


ID = st.one_of(st.integers(0, 10**12).map(str), st.uuids().map(str), CELL_TEXT) \
    .filter(lambda v: trimmed(v) != "")


@dataclass(frozen=True)
class Table:
    """A CRM company export: rows of (id, name, postalcity, phone, extra value)."""

    extra_header: str
    rows: list[tuple[str, str | None, str | None, str | None, str | None]]

    @property
    def headers(self) -> list[str]:
        return [*HEADERS, self.extra_header]


@st.composite
def tables(draw: st.DrawFn, cell: st.SearchStrategy[str | None] = CELL) -> Table:
    """1-8 rows with ids unique after trimming (the load refuses duplicates and empty ids)."""
    ids = draw(st.lists(ID, min_size=1, max_size=8, unique_by=trimmed))
    rows = [(i, draw(cell), draw(cell), draw(cell), draw(cell)) for i in ids]
    return Table(draw(st.sampled_from(EXTRA_HEADERS)), rows)


def repeats_header(table: Table) -> bool:
    """A row whose every value is its column's header: refused (two exports joined)."""
    return any(all(v is not None and trimmed(v) == h for v, h in zip(row, table.headers,
                                                                     strict=True))
               for row in table.rows)


@pytest.fixture(scope="module")
def empty_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new, empty workspace file, copied for each example (creating one takes 3 times as
    long as copying it, and each example must start from an empty workspace)."""
    path = tmp_path_factory.mktemp("template") / "empty.duckdb"
    Workspace.open(path).close()
    return path


def stored(template: Path, file: Path) -> tuple[list[tuple[Any, ...]], int]:
    """Load ``file`` as CRM companies into a fresh copy of ``template``: the stored rows (id,
    name, postalcity, phone, extra as a dict, source_row) in file order, and the rows read."""
    ws_path = file.with_name("ws.duckdb")
    shutil.copyfile(template, ws_path)
    with Workspace.open(ws_path) as ws:
        result = load_file(ws, file, side="crm", kind="company")
        rows = ws.cursor().execute(
            "SELECT id, name, postalcity, phone, extra, source_row "
            f"FROM {table_name('crm', 'company')} ORDER BY source_row").fetchall()
    assert result.inserted == result.rows
    return [(*r[:4], None if r[4] is None else json.loads(r[4]), r[5]) for r in rows], \
        result.rows


def expected(table: Table, first_row: int, *, keeps_empty: bool,
             text: Callable[[str], str] = lambda v: v) -> list[tuple[Any, ...]]:
    """What the workspace must hold: the id trimmed, empty text as NULL, the extra value as
    written (an empty one as null unless the format ``keeps_empty`` strings apart from
    missing ones), the row number from ``first_row`` on. ``text``: a documented rewrite of
    every value by the reader."""
    def field(v: str | None) -> str | None:
        return None if v is None or v == "" else text(v)

    def extra(v: str | None) -> str | None:
        return v if keeps_empty and v == "" else field(v)

    return [(trimmed(text(i)), field(n), field(c), field(p), {table.extra_header: extra(x)},
             first_row + k) for k, (i, n, c, p, x) in enumerate(table.rows)]


_LONE_CR = re.compile(r"\r(?!\n)")


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL],
                         ids=["minimal-quoting", "all-quoted"])
@examples(INGEST_EXAMPLES)
@given(table=tables(), delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv_load_stores_what_the_file_holds(empty_workspace: Path, quoting: int, table: Table,
                                             delimiter: str) -> None:
    """CSV written by Python's csv module (quotes doubled, line breaks inside quoted values),
    any of the three delimiters: the reader finds it and stores every value as written."""
    assume(not repeats_header(table))
    tried(len(table.rows))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "companies.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter=delimiter, quoting=quoting).writerows(
                [table.headers, *table.rows])
        got, rows = stored(empty_workspace, path)
    # Documented (delimited_text._read_csv, _transcode): a file with a lone carriage return is read
    # with every CR LF and lone CR as one line break, inside quoted values too.
    lone_cr = any(v is not None and _LONE_CR.search(v) for row in table.rows for v in row)
    text = (lambda v: v.replace("\r\n", "\n").replace("\r", "\n")) if lone_cr else (lambda v: v)
    assert rows == len(table.rows)
    assert got == expected(table, 2, keeps_empty=False, text=text)


#: Characters XML 1.0 cannot hold: no XLSX can contain them (openpyxl refuses to write them).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: "_x0041_" is how OOXML escapes a character: a literal one must be written "_x005F_x0041_",
#: which Excel does and openpyxl does not, so openpyxl cannot write this text faithfully.
_OOXML_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")


def _xlsx_text(value: str | None) -> bool:
    return value is None or not (_NOT_XML.search(value) or _OOXML_ESCAPE.search(value))


@examples(INGEST_EXAMPLES)
@given(table=tables(CELL.filter(_xlsx_text)))
def test_xlsx_load_stores_what_the_sheet_holds(empty_workspace: Path, table: Table) -> None:
    """Every cell a text cell (also "=SUM(A1)": text, not a formula), empty cells for missing
    values: the sheet's text is stored as written."""
    assume(not repeats_header(table) and all(_xlsx_text(i) for i, *_ in table.rows))
    tried(len(table.rows))
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    for r, row in enumerate([table.headers, *table.rows], start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                target = sheet.cell(row=r, column=c)
                target.value = value
                target.data_type = "s"  # text even when it starts with "="
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "companies.xlsx"
        wb.save(path)
        got, rows = stored(empty_workspace, path)
    assert rows == len(table.rows)
    assert got == expected(table, 2, keeps_empty=False)


#: A column name with a double quote (found by hypothesis; a bug in the readers of erpdata/ingest/).
QUOTED_HEADER = Table('Sist "endret"', [("1", "Hansen & Co AS", "Tromsø", "+47 22 33 44 55",
                                         "x")])
#: Strings that look like a UUID, a time, a timestamp or the date "infinity" (found by
#: hypothesis: the JSON reader types and rewrites them; a bug in erpdata/ingest/json_documents.py).
TYPED_LOOKING = Table("Kundekategori", [("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "10:00",
                                         "2024-01-31T10:00:00", "INFINITY", "x")])


@examples(INGEST_EXAMPLES)
@given(table=tables())
@example(table=QUOTED_HEADER)
def test_parquet_load_stores_what_the_file_holds(empty_workspace: Path, table: Table) -> None:
    """A Parquet file of string columns: stored as written; an empty string stays one in
    ``extra`` (Parquet tells it from a null)."""
    tried(len(table.rows))
    columns = list(zip(*table.rows, strict=True))
    arrow = pa.table({h: pa.array(col, pa.string()) for h, col in zip(table.headers, columns,
                                                                      strict=True)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "companies.parquet"
        pq.write_table(arrow, path)
        got, rows = stored(empty_workspace, path)
    assert rows == len(table.rows)
    assert got == expected(table, 1, keeps_empty=True)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@examples(INGEST_EXAMPLES)
@given(table=tables(), ascii_only=st.booleans(), omit_nulls=st.booleans())
@example(table=QUOTED_HEADER, ascii_only=False, omit_nulls=False)
@example(table=TYPED_LOOKING, ascii_only=False, omit_nulls=False)
def test_json_load_stores_what_the_file_holds(empty_workspace: Path, fmt: str, table: Table,
                                              ascii_only: bool, omit_nulls: bool) -> None:
    """JSON (an array of objects) and NDJSON (one object per line), non-ASCII escaped or not,
    missing values as null or left out: every string stored as written."""
    tried(len(table.rows))
    records = [{h: v for h, v in zip(table.headers, row, strict=True)
                if not (omit_nulls and v is None and h != "id")} for row in table.rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"companies.{fmt}"
        if fmt == "json":
            text = json.dumps(records, ensure_ascii=ascii_only)
        else:
            text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in records)
        path.write_text(text, encoding="utf-8")
        got, rows = stored(empty_workspace, path)
    want = expected(table, 1, keeps_empty=True)
    if omit_nulls and all(row[4] is None for row in table.rows):
        # the extra column appears in no record, so the file has no such column
        want = [(*row[:4], None, row[5]) for row in want]
    assert rows == len(table.rows)
    assert got == want
