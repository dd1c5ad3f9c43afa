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
FEATURES_VERSION = 1


def _country(df: pd.DataFrame, comparisons: Sequence[Comparison], side: str) -> pd.Series | None:
    """ISO country of each row, from the comparison of type ``country`` if there is one."""
    for c in comparisons:
        if c.type == "country":
            return nz.country_code(_column(df, c, side))
    return None


def _column(df: pd.DataFrame, c: Comparison, side: str) -> pd.Series:
    """The raw column as strings (NA where missing), kept in Arrow: the normalisers work in
    Arrow, and a million Python string objects each way would cost more than normalising."""
    col = df[c.crm_col if side == "crm" else c.erp_col]
    return col if isinstance(col.dtype, pd.StringDtype) else col.astype("str")


def _date(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", dayfirst=True, format="mixed")
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
    Name tokens are split in SQL by :mod:`erpdata.matching.blocking`."""
    out: dict[str, Any] = {"rid": np.arange(len(df), dtype=np.int64),
                           "id": df[id_col].astype("str").array}
    country = _country(df, comparisons, side)
    for c in comparisons:
        raw = _column(df, c, side)
        f = c.name
        if c.type == "company":
            out[f] = nz.company_name(raw, country, tokens=False)["name"].array
        elif c.type == "person":
            out[f] = nz.person_name(raw).array
        elif c.type in ("text", "category", "city"):
            out[f] = (nz.city(raw) if c.type == "city" else nz.fold_text(raw)).array
        elif c.type == "code":
            out[f] = out[f + "__key"] = nz.fold_text(raw).str.replace(" ", "", regex=False).array
        elif c.type == "phone":
            e164 = nz.phone(raw, country)
            digits = nz.phone_digits(raw)
            out[f] = e164.where(e164.notna(), digits).array
            out[f + "__key"] = digits.array
        elif c.type == "email":
            mail = nz.email(raw)
            domain = nz.email_domain(mail)
            free = nz.is_free_mail_domain(domain).fillna(False).astype(bool)
            out[f] = out[f + "__key"] = mail.array
            out[f + "__dom"] = domain.where(~free, None).array
        elif c.type == "url":
            out[f] = out[f + "__key"] = nz.url_domain(raw).array
        elif c.type == "orgno":
            out[f] = out[f + "__key"] = nz.org_number(raw, country)["orgno"].array
        elif c.type == "postcode":
            out[f] = nz.postcode(raw, country).array
        elif c.type == "address":
            out[f] = nz.street(raw).array
        elif c.type == "country":
            out[f] = (country if country is not None else nz.country_code(raw)).array
        elif c.type == "date":
            out[f] = _date(raw).to_numpy()
        elif c.type == "number":
            out[f] = _number(raw).to_numpy()
        elif c.type == "location":
            out[f] = _point(df, c, side).to_numpy()
    return pd.DataFrame(out)
