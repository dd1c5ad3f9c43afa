"""Postal addresses: :func:`postcode`, :func:`street` and :func:`city`.

Why a module of its own: "Storgata 1B" / "Storgt. 1 b", "NO-0150" / "150", "København K" /
"Copenhagen" are the same address; each part has its own rules (postcode widths per country,
street types, postal districts and exonyms), and the three are compared together.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from erpdata.normalize.arrays import (
    _STR,
    _lookup,
    _map_tokens,
    _nullify_empty,
    _patch,
    _per_unique,
    _regex_any,
    _squash,
    _to_series,
    _unique_pairs,
)
from erpdata.normalize.country_codes import CountryArg, _country_array
from erpdata.normalize.folding import _collapse_aa, _fold, _fold_chars, _fold_py

#: Fixed postcode widths (digits) per country: shorter numbers are zero-padded (spreadsheets
#: drop leading zeros), longer ones cut (US ZIP+4 → ZIP).
_POSTCODE_DIGITS: dict[str, int] = {
    "NO": 4, "DK": 4, "SE": 5, "FI": 5, "DE": 5, "FR": 5, "IT": 5, "ES": 5, "EE": 5, "HR": 5,
    "CH": 4, "AT": 4, "BE": 4, "LU": 4, "HU": 4, "SI": 4, "BG": 4, "CY": 4, "IS": 3, "GR": 5,
    "US": 5, "PL": 5, "CZ": 5, "SK": 5, "LT": 5, "LV": 4, "RO": 6, "PT": 7, "GL": 4, "FO": 3,
    "AX": 5,
}


def _postcode_keys(values: pa.Array, countries: pa.Array) -> pa.Array:
    a = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    a = pc.replace_substring_regex(a, r"^[A-Z]{1,3}\s*-\s*(\d)", r"\1")  # "NO-0150", "S-111 22"
    a = pc.replace_substring_regex(
        a, r"^(?:NO|N|S|SE|DK|FI|FIN|SF|D|DE|NL|B|BE|CH|A|AT|F|FR|L|LV|LT|EE|PL|IS)\s+(\d)",
        r"\1")
    alnum = _nullify_empty(pc.replace_substring_regex(a, r"[^\pL\pN]+", ""))
    first_digits = pc.struct_field(pc.extract_regex(a, r"(?P<d>\d(?:[\d \-]*\d)?)"), "d")
    digits = pc.replace_substring_regex(first_digits, r"\D", "")
    nl_parts = pc.extract_regex(a, r"(?P<d>\d{4})(?:\s*(?P<l>[A-Z]{2})\b)?")
    nl = pc.binary_join_element_wise(pc.struct_field(nl_parts, "d"),
                                     pc.fill_null(pc.struct_field(nl_parts, "l"), ""),
                                     pa.scalar("", _STR))
    out = alnum
    # a pass per country: the absent ones are skipped (a null country, never one here, would
    # make every pass write a null, so then none is)
    absent = set() if countries.null_count else set(_POSTCODE_DIGITS) - set(
        pc.unique(countries).to_pylist())
    for cc, width in _POSTCODE_DIGITS.items():
        if cc in absent:
            continue
        rows = pc.equal(countries, cc)
        padded = pc.utf8_slice_codeunits(pc.utf8_lpad(digits, width, "0"), 0, width) \
            if cc == "US" else pc.utf8_lpad(digits, width, "0")
        out = pc.if_else(rows, padded, out)
    return pc.if_else(pc.equal(countries, "NL"), nl, out)


def postcode(s: pd.Series, country: CountryArg = None) -> pd.Series:
    """Postcodes in one spacing-free upper-case form per country, leading zeros kept.

    "111 22" → "11122" (SE); "1012 ab" → "1012AB" (NL); "sw1a 1aa" → "SW1A1AA" (GB);
    "NO-0150" / "150" (a spreadsheet ate the zero) → "0150" (NO). Countries with numeric
    postcodes (``_POSTCODE_DIGITS``) take the first run of digits ("0150 Oslo" → "0150") and
    zero-pad it to the country's width; NL takes "9999 AA"; others, and rows without a country,
    keep letters and digits only. Throughput: 0.4 s per 1,000,000 values (180,000
    distinct).
    """
    values, countries, indices = _unique_pairs(s, _country_array(country, s.index))
    return _to_series(_postcode_keys(values, countries).take(indices), s.index)


#: Street types: canonical -> (compound suffixes, separate words). Compound suffixes are split
#: off ("storgata" → "stor gata"), so "Kongensgate" = "Kongens gate".
_STREET_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gata": ("gatan", "gaten", "gata", "gate", "gaden", "gade", "strasse", "straat", "katu"),
    "vei": ("veien", "vegen", "veg", "vei", "vejen", "vej", "vagen", "vag", "weg", "tie"),
    "alle": ("laan",),
    "plass": ("plassen", "plass", "pladsen", "plads", "platsen", "plats", "platz", "plein",
              "torget", "torvet", "torv", "tori"),
}
_STREET_WORDS: dict[str, tuple[str, ...]] = {
    "gata": ("street", "gt", "str"),
    "vei": ("road", "rd", "vn", "way"),
    "alle": ("alle", "allee", "avenue", "ave", "boulevard", "blvd", "blv"),
    "plass": ("square", "sq", "torg"),
    "lane": ("lane", "ln"),
}
_PO_BOX = (r"\b(?:p\s*o\s*box|post\s*office\s*box|postboks|postbox|postbus|postfach|post\s*box|"
           r"boks|box|postilokero)\s*(\d+)")


def _street_keys(values: pa.Array) -> pa.Array:
    a = _fold_chars(values, aa=False)  # "aa"→"a" last: "straat", "laan" are suffixes
    a = pc.replace_substring_regex(a, r"[.]\s*", ". ")
    a = pc.replace_substring_regex(a, r"\bblv\. ", "blvd ")  # boulevard, not "bl" + "v."
    # Abbreviations with a dot, glued to the name ("Storgt.", "Nyg.", "Industriv.",
    # "Bahnhofstr.") or after it ("Södra v.", "Kongens g."), before the house number or at the
    # end (so "Ing. Hansens vei" keeps its "Ing.").
    a = pc.replace_substring_regex(a, r"(\pL{2,}) ?(?:gt|str|g)\. (\d|,|$)", r"\1 gata \2")
    a = pc.replace_substring_regex(a, r"(\pL{2,}) ?(?:vn|vg|v)\. (\d|,|$)", r"\1 vei \2")
    a = pc.replace_substring_regex(a, r"[^\pL\pN]+", " ")
    a = pc.replace_substring_regex(a, r"^\s*(?:p\s*b|pl)\s*(\d)", r"pobox \1")
    a = pc.replace_substring_regex(a, _PO_BOX, r"pobox \1")
    a = _until_stable(a, _split_street_types)
    # "aa"→"a" after the split ("straat", "laan" are suffixes), and the split again where that
    # changed a word ("Kongsvaag" = "Kongsvåg" → "kongs vei")
    collapsed = _collapse_aa(a)
    a = _until_stable(collapsed, _split_street_types, pc.not_equal(collapsed, a))
    a = _until_stable(a, lambda x: pc.replace_substring_regex(  # "High St", not "St Olav"
        x, r"(\pL{2} )st\b", r"\1gata"))
    a = _map_tokens(_squash(a), {w: canon for canon, words in _STREET_WORDS.items()
                                 for w in words})
    # "Storgata 1 b" → "1b"; not "435 S La Cienega" (a number first: the letter is a direction)
    return _until_stable(a, lambda x: _squash(
        pc.replace_substring_regex(x, r"(\pL \d+) ([a-z])\b", r"\1\2")))


def _split_street_types(a: pa.Array) -> pa.Array:
    """Street types split off compound words and written one way ("storgata" → "stor gata")."""
    for canon, suffixes in _STREET_SUFFIXES.items():
        a = pc.replace_substring_regex(a, rf"\b(\pL*?)(?:{_regex_any(suffixes)})\b",
                                       rf"\1 {canon}")
    return _squash(a)


def _until_stable(a: pa.Array, fn: Callable[[pa.Array], pa.Array],
                  rows: pa.Array | None = None) -> pa.Array:
    """``fn`` applied to ``rows`` (default: all), then again to the values it changed, until it
    changes none: a rule whose output it can apply to again ("gatevegen" → "gate vei" →
    "gata vei"; "a 1 b 2 c" → "a 1b 2 c" → "a 1b 2c") gives a key that is its own key."""
    if rows is None:  # all of them: no filtering and scattering back
        before, a = a, fn(a)
        rows = pc.not_equal(a, before)
    while pc.any(pc.fill_null(rows, False)).as_py():
        before = a
        a = _patch(a, rows, fn)
        rows = pc.not_equal(a, before)
    return a


def street(s: pd.Series) -> pd.Series:
    """Street addresses folded, street types unified, house numbers kept ("Storgata 1 b" →
    "stor gata 1b"; a letter after a leading number, "435 S La Cienega", stays apart).

    Types are split off compound names and written one way: gata (gate, gata, gatan, gade,
    straße, straat, katu, street, "St" after a word, "gt.", "g.", "str."), vei (vei, veien,
    vegen, vej, väg, weg, tie, road, "Rd", "vn.", "v."), alle (allé, avenue, laan, boulevard),
    plass (plass, plads, plats, platz, plein, torget, torv, tori, square), lane. So "Storgata 1B"
    = "Storgt. 1 b" = "stor gata 1b" and "Kongens gate" = "Kongensgate". Post boxes
    ("Postboks", "Box", "Postbus", "Postfach", "PO Box", "Pb.", "PL") → "pobox 123".
    The rules run again on what they changed until nothing changes, so a key is its own key
    ("Gatevegen" = "Gate vegen" → "gata vei"). Throughput: 0.5 s per 1,000,000 values with
    80,000 distinct (about 6 µs per distinct value).
    """
    return _per_unique(s, _street_keys)


#: Exonyms of big cities (folded): other name -> the local one.
_CITY_NAMES: dict[str, str] = {
    "copenhagen": "kobenhavn", "kopenhamn": "kobenhavn", "kopenhagen": "kobenhavn",
    "kbh": "kobenhavn", "gothenburg": "goteborg", "munich": "munchen", "cologne": "koln",
    "the hague": "den haag", "s gravenhage": "den haag", "helsingfors": "helsinki",
    "abo": "turku", "nuremberg": "nurnberg", "vienna": "wien", "prague": "praha",
    "brussels": "brussel", "bruxelles": "brussel", "antwerp": "antwerpen", "lisbon": "lisboa",
    "warsaw": "warszawa", "rome": "roma", "milan": "milano",
    "geneva": "geneve", "kristiania": "oslo", "trondhjem": "trondheim", "tammerfors": "tampere",
    "uleaborg": "oulu", "vasa": "vaasa", "elsinore": "helsingor",
}
# one or more district letters at the end ("Oslo N", "København K"; all of "a c c" goes)
_CITY_DISTRICTS = r"(?: (?:c|k|v|o|n|s|nv|sv|no|so|nw|ne|sw|se|w|e))+$"


#: The local names' own folded spellings ("Den Haag" folds to "den hag"): the key of a key is
#: itself, and "Den Haag" meets "The Hague".
_CITY_NAMES |= {_fold_py(local): local for local in set(_CITY_NAMES.values())
                if _fold_py(local) != local}


def _city_keys(values: pa.Array) -> pa.Array:
    a = _fold(values)
    a = _squash(pc.replace_substring_regex(a, r"\b[\pL]*\d[\pL\pN]*\b", ""))
    a = pc.replace_substring_regex(a, _CITY_DISTRICTS, "")
    return _lookup(a, _CITY_NAMES)


def city(s: pd.Series) -> pd.Series:
    """City names folded, postcodes and postal district letters removed, exonyms unified.

    "Oslo 1" → "oslo"; "0150 OSLO" → "oslo"; "København K" → "kobenhavn"; "Aarhus C" →
    "arhus"; "Gothenburg" → "goteborg". Throughput: 0.03 s per 1,000,000 values (230
    distinct).
    """
    return _per_unique(s, _city_keys)
