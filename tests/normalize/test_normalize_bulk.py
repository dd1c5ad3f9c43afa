"""The bulk (array) paths of :mod:`erpdata.normalize` agree with its one-value-at-a-time rules.

Why a separate file: ``tests/normalize/test_normalize.py`` holds the behaviour (tables of inputs and
expected keys); this file checks that the fast paths taken for the common shapes give, value
for value, what the general per-value code gives, on random inputs of every shape.
"""

from __future__ import annotations

import random
import re

import pandas as pd
import pyarrow as pa
import pytest

from erpdata import normalize as nz
from erpdata.normalize import org_numbers

SHAPES = ["", "", "NO", "SE", "DK", "FI", "NL", "DE", "GB", "CHE", "AT", "XX", "EL"]
SUFFIXES = ["", "", "B01", "B00", "B17", "01", " MVA"]
COUNTRIES = ["NO", "SE", "DK", "FI", "NL", "DE", "GB", "", "CH", "FR"]


def _per_value(compact: str, pre: str | None, num: str | None, sfx: str | None,
               country: str) -> tuple[str | None, bool | None]:
    """Key and validity of one parsed value by the general per-value rules only."""
    if num is not None:
        return org_numbers._org_one(pre or "", num, sfx or "", country)
    other = re.sub(r"[^A-Z0-9]+", "", compact)
    if re.search(r"\d", other):
        return org_numbers._org_other(other, False if country else None)
    return None, None


@pytest.mark.parametrize("seed", range(3))
def test_org_number_bulk_path_matches_the_per_value_rules(seed: int) -> None:
    rng = random.Random(seed)
    values, countries = [], []
    for _ in range(4000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 13)))
        values.append(f"{rng.choice(SHAPES)}{digits}{rng.choice(SUFFIXES)}")
        countries.append(rng.choice(COUNTRIES))
    # Swedish VAT numbers and Dutch RSINs with valid check digits, which random digits rarely are
    for _ in range(500):
        se = "".join(rng.choice("0123456789") for _ in range(9))
        se += str((10 - org_numbers.luhn.checksum(se + "0")) % 10)
        values.append(rng.choice(["SE", ""]) + se + "01")
        countries.append("SE")
        rsin = "".join(rng.choice("0123456789") for _ in range(9))
        values.append(f"NL{rsin}B{rng.randint(0, 99):02d}")
        countries.append("NL")
    bulk = nz.org_number(pd.Series(values), pd.Series(countries))
    parts = [p.to_pylist() for p in org_numbers._org_parts(pa.array(values, pa.large_string()))]
    got = list(zip(bulk["orgno"].astype(object).where(bulk["orgno"].notna(), None),
                   bulk["orgno_valid"].astype(object).where(bulk["orgno_valid"].notna(), None),
                   strict=True))
    expected = [_per_value(*p, c) for *p, c in zip(*parts, countries, strict=True)]
    assert got == expected
