"""The shortcuts that make normalising fast give exactly what the plain steps give.

Why a separate file: the speed-ups of issue 17 (integer (value, country) pairs, an ASCII path
through folding, substring tests before costly regexes, one pass for a phone's E.164 and digits
or an address's domain) must not change a single key. Each test runs the shortcut next to the
step it replaces, on awkward values (non-ASCII, nulls, the old separator character) and on the
demo's columns.
"""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from erpdata import demo
from erpdata import normalize as nz
from erpdata.normalize import arrays, folding

AWKWARD = ["", " ", "+47 22 33 44 55", "Tel.: 0047-22334455 ext 12", "٣٤٥ 12", "ÅSE 1-2",
           "nl 123.456.789 b01", "Straße 5ß", "a\x1fb", "\x1f", "Ｔｅｌ ９９", "x" * 40,
           "22 33 44 55 / 90 00 00 00", "℡ 12345678", None, "0", "Ǽ", "(0)20 1234567"]


def _random_text(rng: random.Random, n: int) -> list[str | None]:
    alphabet = "aAzZ09 -./+()&@\x1fæøåÆØÅéü€٣Ｔ"
    return [None if rng.random() < 0.1 else
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def demo_data() -> dict[tuple[str, str], pd.DataFrame]:
    return demo.generate(size=600)


def _old_unique_pairs(s: pd.Series, countries: pa.Array) -> tuple[list, list, list]:
    """The string-join version the integer pairs replaced."""
    sep = "\x1f"
    enc = pc.binary_join_element_wise(arrays._to_arrow(s), countries,
                                      pa.scalar(sep, pa.large_string())).dictionary_encode()
    parts = pc.split_pattern(enc.dictionary, sep, max_splits=1, reverse=True)
    return (pc.list_element(parts, 0).to_pylist(), pc.list_element(parts, 1).to_pylist(),
            enc.indices.to_pylist())


def test_integer_pairs_give_the_same_pair_of_every_row() -> None:
    rng = random.Random(2)
    s = pd.Series([rng.choice(AWKWARD) for _ in range(2000)], dtype=object)
    countries = pa.array([rng.choice(["", "NO", "SE", "GB"]) for _ in range(2000)],
                         pa.large_string())
    values, codes, indices = arrays._unique_pairs(s, countries)
    old_values, old_codes, old_indices = _old_unique_pairs(s, countries)
    rows = [None if i is None else (values[i].as_py(), codes[i].as_py())
            for i in indices.to_pylist()]
    old_rows = [None if i is None else (old_values[i], old_codes[i]) for i in old_indices]
    assert rows == old_rows
    assert len(values) == len(old_values)  # distinct pairs, each once


def test_ascii_path_of_folding_is_the_unicode_path() -> None:
    values = [*AWKWARD, *_random_text(random.Random(3), 3000), "AAsen", "ÅAa", "Haarlem"]
    a = pa.array(values, pa.large_string())
    want = folding._collapse_aa(folding._fold_unicode(a))
    assert folding._fold_chars(a).equals(want)
    assert folding._fold_chars(a, aa=False).equals(folding._fold_unicode(a))


@pytest.mark.parametrize("strict", [False, True])
def test_phone_and_digits_is_phone_and_phone_digits(demo_data, strict) -> None:
    rng = random.Random(4)
    awkward = pd.Series([rng.choice(AWKWARD) for _ in range(500)], dtype=object)
    cases = [(awkward, pd.Series([rng.choice(["NO", "Sverige", None, "GB"]) for _ in range(500)])),
             (awkward, "NL"), (awkward, None)]
    for side in ("crm", "erp"):
        companies = demo_data[(side, "company")]
        cases.append((companies["phone"], nz.country_code(companies["country"])))
    for phones, country in cases:
        both = nz.phone_and_digits(phones, country, default_country="NO", strict=strict)
        pd.testing.assert_series_equal(
            both["phone"], nz.phone(phones, country, default_country="NO", strict=strict),
            check_names=False)
        pd.testing.assert_series_equal(both["digits"], nz.phone_digits(phones),
                                       check_names=False)


def test_email_and_domain_is_email_then_its_domain(demo_data) -> None:
    values = ["Kari Nordmann <Kari@Firma.no>", "mailto:x@GMAIL.com", "a@b", None, "",
              "x@hotmail.no; y@firma.no", "post@live.firma.no", " Z@YAHOO.CO.UK "]
    cases = [pd.Series(values * 3, dtype=object)]
    cases += [demo_data[(side, "company")]["email"] for side in ("crm", "erp")]
    for s in cases:
        both = nz.email_and_domain(s)
        mail = nz.email(s)
        domain = nz.email_domain(mail)
        pd.testing.assert_series_equal(both["email"], mail, check_names=False)
        pd.testing.assert_series_equal(both["domain"], domain, check_names=False)
        pd.testing.assert_series_equal(
            both["free"], nz.is_free_mail_domain(domain).fillna(False).astype(bool),
            check_names=False)
