"""Turn each side's raw columns into the normalised features the matcher blocks and scores on.

Why once, up front: normalising (legal forms, E.164 phones, org numbers with check digits) is the
expensive, per-value part of matching. Doing it once per column, over unique values, keeps the
pair stages pure array work; and the result is what a steward is shown as "equal after
normalisation" later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from erpdata import normalize as nz
from erpdata.matching.spec import Comparison

#: Bump when a normaliser's output changes: features stored in a workspace are then rebuilt.
FEATURES_VERSION = 2  # 2: YYYYMMDD dates, month-first columns


def _country(df: pd.DataFrame, comparisons: Sequence[Comparison], side: str) -> pd.Series | None:
    """ISO country of each row, from the comparison of type ``country`` if there is one."""
    for c in comparisons:
        if c.type == "country":
            return nz.country_code(_column(df, c, side))
    return None


def _column(df: pd.DataFrame, c: Comparison, side: str) -> pd.Series:
    """The raw value as strings (NA where missing), kept in Arrow: the normalisers work in
    Arrow, and a million Python string objects each way would cost more than normalising.

    A value over several columns is assembled here, so every normaliser sees one value: a
    year, a month and a day column as ``YYYY-MM-DD`` (NA unless all three are valid), other
    pieces joined with a space (NA when all are empty)."""
    cols = c.columns(side)
    if c.type == "location":
        cols = cols[:1]
    if len(cols) == 1:
        col = df[cols[0]]
        return col if isinstance(col.dtype, pd.StringDtype) else col.astype("str")
    if c.ymd(side):
        y, m, d = (pd.to_numeric(df[x].astype("string").str.strip(), errors="coerce")
                   for x in cols)
        ok = y.between(1, 9999) & m.between(1, 12) & d.between(1, 31)
        iso = (y.fillna(0).astype(int).astype(str).str.zfill(4) + "-"
               + m.fillna(0).astype(int).astype(str).str.zfill(2) + "-"
               + d.fillna(0).astype(int).astype(str).str.zfill(2))
        return iso.where(ok.fillna(False).astype(bool)).astype("string[pyarrow]")
    parts = [df[x].astype("string").str.strip().fillna("") for x in cols]
    joined = parts[0].str.cat(parts[1:], sep=" ").str.replace(r"\s+", " ", regex=True)
    return joined.str.strip().replace("", pd.NA).astype("string[pyarrow]")


def _date(values: pd.Series) -> pd.Series:
    """ISO dates. ``YYYYMMDD`` is read as such (as a plain number it is no date to a parser);
    an ambiguous ``01/02/2026`` is read day first unless the column's own values show the
    month comes first (more of them have a second field above 12 than a first one)."""
    text = values.astype("string").str.strip()
    text = text.where(~text.str.fullmatch(r"\d{8}").fillna(False),
                      text.str.slice(0, 4) + "-" + text.str.slice(4, 6) + "-"
                      + text.str.slice(6, 8))
    fields = text.str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{4}")
    first, second = (pd.to_numeric(fields[k], errors="coerce") for k in (0, 1))
    dayfirst = not (second > 12).sum() > (first > 12).sum()
    # Year first is never ambiguous, and pandas' mixed parser applies ``dayfirst`` even to it
    # (pandas 3 reads 1985-01-08 as 1 August): ISO dates are read by their own format.
    iso = text.str.extract(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ]|$)")[0]
    parsed = pd.to_datetime(iso.astype(object).where(iso.notna(), None), errors="coerce",
                            format="%Y-%m-%d")
    rest = text.astype(object).where(text.notna() & iso.isna(), None)
    parsed = parsed.fillna(pd.to_datetime(rest, errors="coerce", dayfirst=dayfirst,
                                          format="mixed"))
    return parsed.dt.strftime("%Y-%m-%d").astype(object).where(parsed.notna(), None)


def _number(values: pd.Series) -> pd.Series:
    cleaned = values.astype("string").str.replace(r"[^0-9.,\-]", "", regex=True)
    cleaned = cleaned.str.replace(",", ".", regex=False)
    return pd.to_numeric(cleaned, errors="coerce")


def _point(df: pd.DataFrame, c: Comparison, side: str) -> pd.Series:
    """``"lat,lng"`` (5 decimals, about a metre) of each row, None where either is missing or
    out of range, or for ``0,0``: geocoders and exports write that for "no position" (it is in
    the Gulf of Guinea), and as a value it would make every two unlocated records agree."""
    lat_col, lng_col = c.columns(side)
    lat, lng = _number(df[lat_col]), _number(df[lng_col])
    ok = (lat.abs().le(90) & lng.abs().le(180) & ~((lat == 0) & (lng == 0))).fillna(False)
    text = lat.round(5).astype(str) + "," + lng.round(5).astype(str)
    return text.astype(object).where(ok.astype(bool), None)


def features(
    df: pd.DataFrame, comparisons: Sequence[Comparison], side: str, id_col: str = "id"
) -> pd.DataFrame:
    """``rid`` (row number), ``id`` and, per comparison ``f``: ``f`` (the normalised value) plus
    ``f__key`` (an exact blocking key) and ``f__dom`` (e-mail domain) where the type has one.
    Name tokens are split in SQL by :mod:`erpdata.matching.blocking`.

    The country of each row is read once and shared by the normalisers that need it. (Threads
    per comparison were tried: on a busy 2-core machine they gained nothing measurable, and
    pandas objects shared between threads are not safe to read concurrently.)"""
    out: dict[str, Any] = {"rid": np.arange(len(df), dtype=np.int64),
                           "id": df[id_col].astype("str").array}
    country = _country(df, comparisons, side)

    for c in comparisons:
        for name, values in _feature(df, c, side, country):
            out[name] = values
    return pd.DataFrame(out)


def _feature(df: pd.DataFrame, c: Comparison, side: str, country: pd.Series | None
             ) -> list[tuple[str, Any]]:
    """The feature columns of one comparison, as (name, values) in the frame's order."""
    raw = _column(df, c, side)
    f = c.name
    if c.type == "company":
        return [(f, nz.company_name(raw, country, tokens=False)["name"].array)]
    if c.type == "person":
        return [(f, nz.person_name(raw).array)]
    if c.type in ("text", "category", "city"):
        return [(f, (nz.city(raw) if c.type == "city" else nz.fold_text(raw)).array)]
    if c.type == "code":
        key = nz.fold_text(raw).str.replace(" ", "", regex=False).array
        return [(f, key), (f + "__key", key)]
    if c.type == "phone":
        # nz.phone and nz.phone_digits in one pass over the values
        keys = nz.phone_and_digits(raw, country)
        e164, digits = keys["phone"], keys["digits"]
        return [(f, e164.where(e164.notna(), digits).array), (f + "__key", digits.array)]
    if c.type == "email":
        # nz.email, nz.email_domain of it and nz.is_free_mail_domain of that, in one pass
        keys = nz.email_and_domain(raw)
        mail, domain = keys["email"].array, keys["domain"]
        return [(f, mail), (f + "__key", mail),
                (f + "__dom", domain.where(~keys["free"], None).array)]
    if c.type == "url":
        key = nz.url_domain(raw).array
        return [(f, key), (f + "__key", key)]
    if c.type == "orgno":
        key = nz.org_number(raw, country)["orgno"].array
        return [(f, key), (f + "__key", key)]
    if c.type == "postcode":
        return [(f, nz.postcode(raw, country).array)]
    if c.type == "address":
        return [(f, nz.street(raw).array)]
    if c.type == "country":
        return [(f, (country if country is not None else nz.country_code(raw)).array)]
    if c.type == "date":
        return [(f, _date(raw).to_numpy())]
    if c.type == "number":
        return [(f, _number(raw).to_numpy())]
    if c.type == "location":
        return [(f, _point(df, c, side).to_numpy())]
    return []
