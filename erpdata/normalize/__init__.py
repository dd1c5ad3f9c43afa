"""Bulk normalisers: one call per column turns raw CRM/ERP values into comparable keys.

Why this module exists: a CRM and an ERP write the same fact differently ("Hansen & Co AS" /
"HANSEN OG CO. AKSJESELSKAP", "+47 22 33 44 55" / "22334455", "923 609 016" /
"NO 923 609 016 MVA", "Storgata 1B" / "Storgt. 1 b", "Norge" / "NO"). The matching engine
(:mod:`erpdata.matching`) calls these functions once per column and stores the results, so that
blocking and scoring compare keys, not raw strings. Every function is a pure function of its
inputs: the same value (and country) always gives the same key, whichever side it comes from.

How it stays fast: every function works on the *unique* values of its input (or unique
``(value, country)`` pairs), with Arrow compute kernels (RE2 regular expressions, Unicode
normalisation) over whole arrays; Python only touches small things (unique tokens, lookup
tables, a few per-unique-value library calls such as python-stdnum's check digits). Results are
then spread back to the rows by index, so a column costs about as much as its distinct values.
The throughput notes per function were measured once, on the 2-core development machine, with
the columns of 1,000,000 ERP companies of the demo (``erpdata.demo.write_exports(size=1_000_000)``;
distinct values per column given with each note). The tests never time anything.

Conventions:

* Input: a pandas Series of ``str`` (``None``/NaN = missing). Country arguments take a Series
  aligned to it, or one code for all rows; values go through :func:`country_code`, so ISO-2
  codes, "UK" or "Norge" all work.
* Output: a Series (or DataFrame) with the input's index; missing or empty results are NA.
  Strings come back as pandas' ``str`` dtype (NaN for missing), flags as ``boolean`` or ``bool``.

Decisions (also in the docstrings):

* Folding (:func:`fold_text`) maps å/ä→a, ø/ö→o, æ→ae, ü→u, ß→ss, strips other diacritics and
  *also* maps "aa"→"a": Norwegian and Danish write å as "aa" in old or ASCII spellings
  ("Aalesund", "Aasen", "Aarhus"), which otherwise never meet "Ålesund". The rule is global (Dutch
  "Haarlem" becomes "harlem", Finnish "Saari" "sari"), which costs a few extra collisions but never
  splits two spellings of the same name, because both sides are folded the same way.
* Company names drop connector words (&, and, og, och, und, en, ja, et, u): ERPs write them
  as "&", "og" or leave them out, and they carry no identity. Legal forms are removed from the
  name and returned as a country-neutral code: the register's abbreviation in lower case,
  without punctuation ("as", "asa", "ab", "aps", "gmbh", "gmbh_co_kg", "bv", "ltd", ...). Danish
  A/S and Norwegian AS both give "as" (the country column tells them apart); see
  :data:`LEGAL_FORMS`.
* Phone numbers: E.164 when the number is well-formed for its country (python-``phonenumbers``'
  metadata; ``strict=True``: an allocated range, ``is_valid_number``), else NA;
  :func:`phone_digits` gives the last 8 digits for a fuzzy comparison.
* Organisation numbers: the national number, digits only, so a CRM's "923 609 016" and an ERP's
  "NO923609016MVA" give the same key; see :func:`org_number`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers.phonemetadata import PhoneMetadata
from stdnum import luhn
from stdnum.dk import cvr
from stdnum.fi import alv
from stdnum.gb import vat as gb_vat
from stdnum.iso7064 import mod_11_10, mod_97_10
from stdnum.nl import bsn
from stdnum.no import orgnr
from stdnum.util import get_cc_module

__all__ = [
    "LEGAL_FORMS",
    "city",
    "company_name",
    "country_code",
    "email",
    "email_and_domain",
    "email_domain",
    "fold_text",
    "is_free_mail_domain",
    "org_number",
    "person_name",
    "phone",
    "phone_and_digits",
    "phone_digits",
    "postcode",
    "street",
    "url_domain",
]

CountryArg = pd.Series | str | None

# =============================================================================================
# Arrow plumbing: Series <-> Arrow, unique values, token maps
# =============================================================================================

_STR = pa.large_string()


def _to_arrow(s: pd.Series) -> pa.Array:
    """The Series as one Arrow large_string array (nulls for None/NaN, other types as str)."""
    try:
        arr = pa.array(s, type=_STR, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(s.astype("str"), type=_STR, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _to_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.array(arr.cast(_STR), dtype="str"), index=index)


def _nullify_empty(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)


def _squash(a: pa.Array) -> pa.Array:
    """Runs of spaces collapsed, ends trimmed, empty strings made null."""
    # a plain substring search finds the few values with a run faster than the regex passes
    a = _patch(a, pc.match_substring(a, "  "),
               lambda x: pc.replace_substring_regex(x, " {2,}", " "))
    return _nullify_empty(pc.utf8_trim(a, " "))


def _np_bool(a: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (null → False)."""
    return pc.fill_null(a, False).to_numpy(zero_copy_only=False)


def _unique(s: pd.Series) -> tuple[pa.Array, pa.Array]:
    """The distinct values of ``s`` and, per row, the index of its value (null for missing)."""
    enc = _to_arrow(s).dictionary_encode()
    return enc.dictionary, enc.indices


def _per_unique(s: pd.Series, fn: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """``fn`` applied to the distinct values of ``s``, spread back to the rows."""
    values, indices = _unique(s)
    return _to_series(fn(values).take(indices), s.index)


def _country_array(country: CountryArg, index: pd.Index, default: str | None = None
                   ) -> pa.Array:
    """ISO-2 codes per row ("" where unknown) from a Series (aligned by label), one code or
    ``None``; ``default`` fills the unknown ones."""
    if country is None or isinstance(country, str):
        code = _COUNTRY_LOOKUP.get(_fold_py(country)) if country else None
        codes = pa.repeat(pa.scalar(code or "", _STR), len(index))
    else:
        aligned = country if country.index.equals(index) else country.reindex(index)
        codes = pc.fill_null(_to_arrow(country_code(aligned)), "")
    fill = _COUNTRY_LOOKUP.get(_fold_py(default)) if default else None
    return pc.if_else(pc.equal(codes, ""), fill, codes) if fill else codes


def _unique_pairs(s: pd.Series, countries: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Distinct ``(value, country)`` pairs: (values, countries ("" if unknown), row indices)."""
    enc = _to_arrow(s).dictionary_encode()
    value_rows, pair_countries, indices = _pair_index(enc.indices, countries)
    return enc.dictionary.take(value_rows), pair_countries, indices


def _pair_index(value_idx: pa.Array, countries: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Distinct ``(value, country)`` pairs of already encoded values: (index of each pair's
    value, each pair's country, per row the index of its pair (null where the value or the
    country is missing)).

    Why integers: a pair is ``value index * number of countries + country index``, so finding
    the distinct pairs hashes one int64 per row; joining each value to its country as text,
    encoding that and splitting it again cost three passes over a million strings."""
    country_enc = countries.dictionary_encode()
    width = max(len(country_enc.dictionary), 1)
    key = pc.add(pc.multiply(value_idx.cast(pa.int64()), width),
                 country_enc.indices.cast(pa.int64()))
    enc = key.dictionary_encode()
    pairs = enc.dictionary.to_numpy()
    return (pa.array(pairs // width), country_enc.dictionary.take(pa.array(pairs % width)),
            enc.indices)


def _map_tokens(a: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """Whole space-separated tokens of ``a`` replaced by ``mapping`` ("" drops the token).

    Python only sees the distinct tokens (a few per cent of all tokens in a name column).
    """
    lists = pc.split_pattern(a, " ")
    enc = pc.list_flatten(lists).dictionary_encode()
    mapped = pa.array([mapping.get(t, t) for t in enc.dictionary.to_pylist()], _STR)
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int64())
    rebuilt = pa.LargeListArray.from_arrays(offsets, mapped.take(enc.indices),
                                            mask=lists.is_null())
    return _squash(pc.binary_join(rebuilt, pa.scalar(" ", _STR)))


def _patch(a: pa.Array, rows: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``a`` with the values where ``rows`` is true replaced by ``fn`` of them: a costly kernel
    runs only on the values that need it (a cheap test finds them first)."""
    rows = pc.fill_null(rows, False)
    if not pc.any(rows).as_py():
        return a
    return pc.replace_with_mask(a, rows, fn(pc.filter(a, rows)).cast(a.type))


def _lookup(a: pa.Array, mapping: Mapping[str, str | None]) -> pa.Array:
    """``mapping`` applied to whole values (unmapped values unchanged); Python sees uniques only."""
    enc = a.dictionary_encode()
    keys = enc.dictionary.to_pylist()
    return pa.array([mapping.get(k, k) for k in keys], _STR).take(enc.indices)


def _regex_any(words: Iterable[str]) -> str:
    """An RE2 alternation of literal words, longest first."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


# =============================================================================================
# Folding
# =============================================================================================

#: Letters NFKD does not decompose, replaced after it and lower case (so lower case only).
_LITERAL_FOLDS = (("ß", "ss"), ("æ", "ae"), ("ø", "o"), ("đ", "d"), ("ð", "d"), ("þ", "th"),
                  ("ł", "l"), ("œ", "oe"), ("ı", "i"))


def _fold_chars(a: pa.Array, *, aa: bool = True) -> pa.Array:
    """Lower case, Nordic/German letters folded, diacritics stripped, "aa"→"a" (unless ``aa``
    is false); punctuation kept."""
    # Most values are plain ASCII, where folding is just lower case (NFKD, the literal folds
    # and the marks change no ASCII letter): the Unicode steps, a dozen passes over the text,
    # run on the other values only.
    ascii_rows = pc.fill_null(pc.string_is_ascii(a), True)
    lowered = pc.ascii_lower(a)
    if not pc.all(ascii_rows).as_py():
        other = pc.invert(ascii_rows)
        lowered = pc.replace_with_mask(lowered, other, _fold_unicode(pc.filter(a, other)))
    return _collapse_aa(lowered) if aa else lowered


def _fold_unicode(a: pa.Array) -> pa.Array:
    """:func:`_fold_chars` without "aa"→"a", for any text (ASCII need not come here)."""
    # NFKD before lower case and the literal folds: a compatibility character can decompose
    # to capitals ("℡" → "TEL") or to a letter folded here ("ǽ" → "æ" + accent)
    a = pc.utf8_lower(pc.utf8_normalize(a, form="NFKD"))
    for old, new in _LITERAL_FOLDS:
        a = pc.replace_substring(a, old, new)
    return pc.replace_substring_regex(a, r"\p{M}+", "")


def _collapse_aa(a: pa.Array) -> pa.Array:
    """Every run of "a" ("aa", and "aaa" too, so that folding twice changes nothing) → "a"."""
    return _patch(a, pc.match_substring(a, "aa"),
                  lambda x: pc.replace_substring_regex(x, "a{2,}", "a"))


def _fold(a: pa.Array) -> pa.Array:
    """:func:`fold_text` on an Arrow array."""
    a = pc.replace_substring(_fold_chars(a), "&", " and ")
    return _squash(pc.replace_substring_regex(a, r"[^\p{L}\p{N}]+", " "))


def _fold_py(text: str) -> str:
    """:func:`fold_text` of one string (for lookup tables)."""
    return _fold(pa.array([text], _STR))[0].as_py() or ""


def fold_text(s: pd.Series) -> pd.Series:
    """Folded text: the comparison form of any free text.

    Lower case; ß→ss, æ→ae, ø→o, å/ä→a, ö→o, ü→u, other diacritics stripped (NFKD); "aa"→"a"
    (old Nordic spelling of å, see the module docstring); ``&`` → "and"; every run of characters
    that is not a letter or digit → one space; trimmed. "Tromsø & Ålesund AS" →
    "tromso and alesund as". Throughput: 1.1 s per 1,000,000 names (700,000 distinct).
    """
    return _per_unique(s, _fold)


# =============================================================================================
# Company names and legal forms
# =============================================================================================

#: Connector words dropped from company names ("Hansen & Olsen" = "Hansen og Olsen" =
#: "Hansen Olsen"). "&" is folded to "and" first.
_CONNECTORS = ("and", "og", "och", "und", "en", "ja", "et", "u")

#: Curated abbreviations and spelling variants of common name words: canonical -> variants.
_NAME_WORDS: dict[str, tuple[str, ...]] = {
    "international": ("intl", "int", "internat"),
    "co": ("company", "compagnie", "comp", "cie", "kompani", "kompagni"),
    "brothers": ("bros", "brodrene", "brdr", "brodr", "broderna", "gebr", "gebruder",
                 "gebroeders"),
    "st": ("saint", "sankt", "sct"),
    "holding": ("holdings", "hold", "hldg", "hldgs"),
    "group": ("gruppen", "gruppe", "grp", "groep", "gruppo", "groupe"),
    "eiendom": ("eiend", "eiendomm"),
    "ejendomme": ("ejd",),
    "fastigheter": ("fastigh",),
    "mekaniske": ("mek",),
    "verksted": ("verkst",),
    "services": ("svcs", "svc"),
    "management": ("mgmt",),
    "associates": ("assoc",),
    "manufacturing": ("mfg",),
    "center": ("ctr", "cntr", "centre"),
    "avdeling": ("avd",),
    "stichting": ("stg",),
    "maatschappij": ("mij",),
    "gesellschaft": ("ges",),
    "verwaltung": ("verw",),
    "forvaltning": ("forv",),
}

_NAME_TOKEN_MAP: dict[str, str] = {
    **{variant: canon for canon, variants in _NAME_WORDS.items() for variant in variants},
    **dict.fromkeys(_CONNECTORS, ""),
}

#: Legal forms: code -> spellings (as registers and exports write them; folded like names, so
#: "A/S", "A.S." and "AS" are all covered by writing "A/S" and "AS"). Codes are the register's
#: abbreviation in lower case, country-neutral: Danish A/S and Norwegian AS are both "as".
LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    # Norway
    "as": ("AS", "A/S", "Aksjeselskap", "Aksjeselskapet", "Aktieselskap", "Aktieselskab",
           "Aktieselskabet"),
    "asa": ("ASA", "Allmennaksjeselskap", "Allmenaksjeselskap", "Allmennaksjeselskapet"),
    "enk": ("ENK", "Enkeltpersonforetak", "Enkeltmannsforetak", "Enkeltmannsfirma"),
    "da": ("DA", "Selskap med delt ansvar"),
    "ans": ("ANS", "Ansvarlig selskap"),
    "sa": ("SA", "Samvirkeforetak", "Société anonyme", "Sociedad anónima"),
    "ba": ("BA", "Selskap med begrenset ansvar"),
    "ks": ("KS", "K/S", "Kommandittselskap", "Kommanditselskab"),
    "nuf": ("NUF", "Norskregistrert utenlandsk foretak"),
    "iks": ("IKS", "Interkommunalt selskap"),
    # Sweden
    "ab": ("AB", "Aktiebolag", "Aktiebolaget"),
    "ab_publ": ("AB (publ)", "AB publ", "Publikt aktiebolag", "Aktiebolag (publ)"),
    "hb": ("HB", "Handelsbolag", "Handelsbolaget"),
    "kb": ("KB", "Kommanditbolag", "Kommanditbolaget"),
    "ek_for": ("Ek. för.", "Ek för", "Ekon. för.", "Ekonomisk förening"),
    # Denmark
    "aps": ("ApS", "Anpartsselskab", "Anpartsselskabet"),
    "is": ("I/S", "IS", "Interessentskab", "Interessentskabet"),
    "ps": ("P/S", "PS", "Partnerselskab"),
    "ivs": ("IVS", "Iværksætterselskab"),
    "amba": ("A.m.b.a.", "AMBA", "Andelsselskab med begrænset ansvar"),
    "smba": ("S.m.b.a.", "SMBA", "Selskab med begrænset ansvar"),
    "fmba": ("F.m.b.a.", "FMBA", "Forening med begrænset ansvar"),
    # Finland
    "oy": ("Oy", "Osakeyhtiö", "Oy Ab"),
    "oyj": ("Oyj", "Julkinen osakeyhtiö", "Oyj Abp"),
    "ky": ("Ky", "Kommandiittiyhtiö"),
    "ay": ("Ay", "Avoin yhtiö"),
    "tmi": ("Tmi", "T:mi", "Toiminimi"),
    "osk": ("Osk", "Osuuskunta"),
    # Netherlands, Belgium
    "bv": ("B.V.", "BV", "Besloten Vennootschap"),
    "nv": ("N.V.", "NV", "Naamloze Vennootschap"),
    "vof": ("V.O.F.", "VOF", "Vennootschap onder firma"),
    "cv": ("C.V.", "CV", "Commanditaire Vennootschap"),
    "bvba": ("BVBA", "B.V.B.A.", "Besloten vennootschap met beperkte aansprakelijkheid"),
    "stichting": ("Stichting",),
    # Germany, Austria, Switzerland
    "gmbh": ("GmbH", "G.m.b.H.", "Ges.m.b.H.", "GesmbH", "mbH",
             "Gesellschaft mit beschränkter Haftung"),
    "ag": ("AG", "Aktiengesellschaft"),
    "gmbh_co_kg": ("GmbH & Co. KG", "GmbH & Co KG", "GmbH + Co. KG",
                   "GmbH & Co. Kommanditgesellschaft", "GmbH & Compagnie Kommanditgesellschaft"),
    "ag_co_kg": ("AG & Co. KG",),
    "ug_co_kg": ("UG (haftungsbeschränkt) & Co. KG", "UG & Co. KG"),
    "kg": ("KG", "Kommanditgesellschaft"),
    "kgaa": ("KGaA", "Kommanditgesellschaft auf Aktien", "GmbH & Co. KGaA"),
    "ohg": ("OHG", "Offene Handelsgesellschaft"),
    "ug": ("UG (haftungsbeschränkt)", "UG", "Unternehmergesellschaft (haftungsbeschränkt)",
           "Unternehmergesellschaft"),
    "ek": ("e.K.", "e. K.", "e.Kfm.", "e.Kfr.", "eingetragener Kaufmann",
           "eingetragene Kauffrau"),
    "ev": ("e.V.", "eingetragener Verein"),
    "gbr": ("GbR", "Gesellschaft bürgerlichen Rechts"),
    "ggmbh": ("gGmbH",),
    "se": ("SE", "Societas Europaea"),
    # United Kingdom, Ireland, United States
    "ltd": ("Ltd", "Limited"),
    "plc": ("PLC", "Public Limited Company"),
    "llp": ("LLP", "Limited Liability Partnership"),
    "lp": ("L.P.", "Limited Partnership"),
    "cic": ("CIC", "Community Interest Company"),
    "inc": ("Inc", "Incorporated"),
    "llc": ("LLC", "Limited Liability Company"),
    "corp": ("Corp", "Corporation"),
    # Elsewhere in Europe
    "sarl": ("SARL", "S.à r.l.", "Société à responsabilité limitée"),
    "sas": ("SAS", "S.A.S."),
    "srl": ("SRL", "S.r.l."),
    "spa": ("SpA", "S.p.A."),
    "sl": ("S.L.",),
    "sro": ("s.r.o.", "spol. s r.o."),
    "sp_zoo": ("Sp. z o.o.", "Sp. z o. o."),
    "kft": ("Kft.",),
    "ou": ("OÜ",),
    "uab": ("UAB",),
    "sia": ("SIA",),
    "doo": ("d.o.o.",),
    "ehf": ("ehf.", "hf."),
}

#: Spellings also stripped at the *start* of a name ("AS Eksempel", "Oy Firma", "Stichting X").
_PREFIX_FORMS = ("AS", "A/S", "Aksjeselskapet", "Aktieselskabet", "AB", "Aktiebolaget", "Oy",
                 "Stichting", "SIA", "UAB", "OÜ")

#: Short codes that are ordinary words or initials elsewhere: stripped only when the record's
#: country is one of these (or unknown).
_FORM_COUNTRIES: dict[str, frozenset[str]] = {
    "ek": frozenset({"DE", "AT"}),
    "ev": frozenset({"DE", "AT"}),
    "is": frozenset({"DK"}),
    "ps": frozenset({"DK"}),
    "ks": frozenset({"DK", "NO"}),
    "da": frozenset({"NO"}),
    "ba": frozenset({"NO"}),
    "sa": frozenset({"NO", "FR", "BE", "LU", "CH", "ES", "PT", "PL", "GR"}),
    "ay": frozenset({"FI"}),
    "ky": frozenset({"FI"}),
    "tmi": frozenset({"FI"}),
    "osk": frozenset({"FI"}),
    "cv": frozenset({"NL", "BE"}),
    "nv": frozenset({"NL", "BE"}),
    "ug": frozenset({"DE"}),
    "se": frozenset({"DE", "AT", "FR", "NL", "BE", "LU", "IT", "ES", "IE", "FI", "DK", "NO",
                     "CZ", "PL"}),
    "sl": frozenset({"ES"}),
    "ou": frozenset({"EE"}),
    "lp": frozenset({"GB", "US", "IE", "CA"}),
}

#: Exports cut names at a fixed width (30-60 characters), sometimes inside a spelled-out legal
#: form ("Hansen Bygg og Anlegg Aksjese"). A name at least this long (folded) that ends in a cut
#: long form loses it too.
_TRUNCATED_MIN_LENGTH = 25
#: Whole words that are also the start of a long form: a name ending in one is not cut.
_NOT_STUBS = frozenset({"enkelt", "handel", "handels", "samvirke", "partner", "partners",
                        "aktien", "unternehmer", "interessen", "kommune", "corporate"})


@cache
def _form_tables() -> tuple[dict[str, str], str, str, str]:
    """(folded spelling or cut stub -> code, suffix regex, prefix regex, suffix-or-stub regex).

    Spellings are folded exactly like names, so the table and the names always agree.
    """
    spellings = [(code, sp) for code, sps in LEGAL_FORMS.items() for sp in sps]
    folded = _map_tokens(_fold(pa.array([sp for _, sp in spellings], _STR)), _NAME_TOKEN_MAP)
    table = {f: code for (code, _), f in zip(spellings, folded.to_pylist(), strict=True) if f}
    # Short abbreviations are also written with dots: "H.B.", "L.L.P.", "A.S.A." fold to
    # spaced letters.
    table |= {" ".join(f): code for f, code in list(table.items())
              if 2 <= len(f) <= 5 and f.isalpha() and " ".join(f) not in table}
    prefix_folded = _map_tokens(_fold(pa.array(_PREFIX_FORMS, _STR)), _NAME_TOKEN_MAP)
    prefixes = [p for p in prefix_folded.to_pylist() if p]
    stubs: dict[str, str] = {}
    for form, code in table.items():
        if len(form) < 10:
            continue
        for end in range(6, len(form)):
            stub = form[:end]
            whole, _, partial = stub.rpartition(" ")
            cut = form[end].isalpha() or (form[end] == " " and bool(whole))  # mid-word, or
            if (cut and stub[-1].isalpha() and stub not in table  # after a 2nd+ word
                    and partial not in _NOT_STUBS and len(whole or partial) >= 6):
                stubs.setdefault(stub, code)
    table_with_stubs = {**stubs, **table}
    return (table_with_stubs, rf"(?:^| )(?:{_regex_any(table)})$", rf"^(?:{_regex_any(prefixes)}) ",
            rf"(?:^| )(?:{_regex_any(table_with_stubs)})$")


def _strip_form(names: pa.Array, pattern: str, table: Mapping[str, str], countries: pa.Array,
                todo: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Where ``todo`` and ``pattern`` (a form at the end or start) matches, leaving a non-empty
    rest, and the form's code is allowed in the row's country: strip it.

    Returns (names, codes (null where none), stripped mask). Finding and removing use RE2's
    fast unanchored search; the removed text is recovered by slicing, on the hits only.
    """
    hit = _np_bool(pc.and_(todo, pc.match_substring_regex(names, pattern)))
    rows = np.flatnonzero(hit)
    full_hits = names.take(rows)
    rest = pc.utf8_trim(pc.replace_substring_regex(full_hits, pattern, ""), " ")  # hits only
    full, kept = full_hits.to_pylist(), rest.to_pylist()
    at_end = pattern.endswith("$")
    forms = [f[len(k):].strip() if at_end else f[:len(f) - len(k)].strip()
             for f, k in zip(full, kept, strict=True)]
    codes_np = np.full(len(names), None, dtype=object)
    codes_np[rows] = [table[f] for f in forms]
    codes = pa.array(codes_np.tolist(), _STR)
    hit[rows] = _np_bool(pc.greater(pc.utf8_length(rest), 0))  # a name only a form stays
    restricted = hit & _np_bool(pc.is_in(codes, pa.array(list(_FORM_COUNTRIES), _STR)))
    for i in np.flatnonzero(restricted):
        country = countries[i].as_py()
        hit[i] = not country or country in _FORM_COUNTRIES[codes_np[i]]
    mask = pa.array(hit)
    stripped = pc.replace_with_mask(names, mask, rest.filter(pa.array(hit[rows]))) \
        if hit.any() else names
    return stripped, pc.if_else(mask, codes, pa.scalar(None, _STR)), mask


def _company_keys(values: pa.Array, countries: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(name, legal form code) of distinct (value, country) pairs."""
    table, suffix, prefix, suffix_or_cut = _form_tables()
    folded = _fold(values)
    names = _map_tokens(folded, _NAME_TOKEN_MAP)
    names = pc.if_else(pc.is_null(names), folded, names)  # a name of connectors only stays
    todo = pc.is_valid(names)
    long = pc.greater_equal(pc.fill_null(pc.utf8_length(names), 0), _TRUNCATED_MIN_LENGTH)
    names, form, hit = _strip_form(names, suffix_or_cut, table, countries, pc.and_(todo, long))
    names, form2, _ = _strip_form(names, suffix, table, countries, pc.and_(todo, pc.invert(hit)))
    names, form3, _ = _strip_form(names, prefix, table, countries, todo)  # "Oy X Ab" too
    return names, pc.coalesce(form, form2, form3)


def company_name(s: pd.Series, country: CountryArg = None, *, tokens: bool = True
                 ) -> pd.DataFrame:
    """Company names as ``name`` (folded, legal form removed), ``legal_form`` and ``tokens``.

    ``name``: :func:`fold_text`, then connector words dropped (&/and/og/och/und/en/ja/et/u:
    dropping matches "Hansen & Olsen", "Hansen og Olsen" and "Hansen Olsen" alike), curated
    abbreviations unified ("intl"→"international", "bros"/"brdr"/"gebr"→"brothers",
    "company"/"cie"→"co", "holdings"/"hldg"→"holding", "gruppen"/"grp"→"group", ...; see
    ``_NAME_WORDS``), and the legal form removed from the end ("Hansen AS") or, for a few forms,
    the start ("AS Eksempel", "Stichting X"); a name cut inside a long form by a fixed-width
    export (≥ 25 characters, ending in e.g. "aksjese") loses the stub too.
    ``legal_form``: the form's code (:data:`LEGAL_FORMS`: "as", "asa", "ab", "aps", "oy", "bv",
    "gmbh", "gmbh_co_kg", "ltd", ...) or NA. Short codes that are ordinary words elsewhere
    ("ek", "is", "da", "cv", ...) are only taken when ``country`` is theirs or unknown.
    ``tokens``: the words of ``name`` as a list (rows with the same name and country share one
    list object: do not mutate); ``tokens=False`` leaves this column out (the matcher splits
    names in SQL, and building a million Python lists is a third of the time).

    "Hansen & Co AS" and "HANSEN OG CO. AKSJESELSKAP" both give ("hansen co", "as").
    Throughput: 3.6 s per 1,000,000 names (700,000 distinct), 2.5 s without ``tokens``.
    """
    values, countries, indices = _unique_pairs(s, _country_array(country, s.index))
    names, forms = _company_keys(values, countries)
    out = pd.DataFrame({
        "name": _to_series(names.take(indices), s.index),
        "legal_form": _to_series(forms.take(indices), s.index),
    })
    if tokens:
        token_lists = pc.split_pattern(names, " ").to_pylist()
        words = np.empty(len(token_lists) + 1, dtype=object)  # the last one: for missing names
        for i, listed in enumerate(token_lists):
            words[i] = listed or []
        words[-1] = []
        row_words = words[indices.fill_null(len(token_lists)).to_numpy(zero_copy_only=False)]
        out["tokens"] = pd.Series(row_words, index=s.index, dtype=object)
    return out


# =============================================================================================
# Person names
# =============================================================================================

#: Titles and honorifics dropped from person names (folded spellings).
_TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "herr", "frau", "hr",
           "fr", "fru", "frk", "froken", "dhr", "mevr", "mw", "mej", "ir", "ing", "drs", "dipl",
           "med", "phd", "jr", "sr", "professor", "doctor", "doktor", "monsieur", "madame",
           "mme", "mlle", "sra", "herra", "rouva")
_TITLE_MAP = dict.fromkeys(_TITLES, "")


def _person_keys(values: pa.Array) -> pa.Array:
    swapped = pc.replace_substring_regex(values, r"^\s*([^,]+?)\s*,\s*([^,]+?)\s*$", r"\2 \1")
    folded = _fold(swapped)
    names = _map_tokens(folded, _TITLE_MAP)
    return names


def person_name(s: pd.Series) -> pd.Series:
    """Person names folded, titles dropped, "Last, First" turned into "first last".

    "Dr. Hansen, Jan Ole" → "jan ole hansen"; "Mevr. drs. A. de Vries" → "a de vries";
    "Vries, Jan de" → "jan de vries" (Dutch tussenvoegsels stay with the surname). Titles:
    ``_TITLES`` (mr, mrs, dr, prof, herr, frau, hr, fru, dhr, mevr, ir, ing, dipl, ...).
    A name of titles only is NA. Throughput: 2.3 s per 1,000,000 values with 700,000
    distinct; 0.1 s for the demo's 1,000,000 CRM persons (23,000 distinct full names).
    """
    return _per_unique(s, _person_keys)


# =============================================================================================
# Phone numbers
# =============================================================================================

_PHONE_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
                "personal_number", "voip", "pager", "uan", "voicemail")
_EXTENSION = (r"\s*(?:ext\.?|extension|x|#|tlf\.?|lokal|anm\.?|durchwahl|dw\.?|toestel|tst\.?|"
              r"poste|app\.?|linje)\s*:?\s*\d{1,6}\s*$")
#: Separators between several numbers in one cell: the first number is used. A "/" only
#: separates when the part before it is a whole number (6+ digits): "030 / 1234567" is one.
_MULTI_SEPARATOR = r"\s*(?:[;,|]|\s(?:or|eller|och|og|oder|of)\s).*$"
_SLASH_SEPARATOR = r"^([^/]*(?:\d[^/]*){6,})/.*$"


def _first_number(a: pa.Array) -> pa.Array:
    """Lower-cased phone text with other numbers, the extension and "(0)" removed."""
    a = pc.utf8_lower(a)
    a = pc.replace_substring_regex(a, _MULTI_SEPARATOR, "")
    # RE2 is slow on this pattern's nested repeat: only values with a "/" can match it
    a = _patch(a, pc.match_substring(a, "/"),
               lambda x: pc.replace_substring_regex(x, _SLASH_SEPARATOR, r"\1"))
    a = pc.replace_substring_regex(a, _EXTENSION, "")
    return pc.replace_substring_regex(a, r"\(\s*0\s*\)", "")


def _region_metadata(cc: int) -> list[PhoneMetadata]:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    metas = [PhoneMetadata.metadata_for_nongeo_region(cc) if region == "001"
             else PhoneMetadata.metadata_for_region(region) for region in regions]
    return [m for m in metas if m is not None]


@cache
def _number_pattern(cc: int, strict: bool) -> str | None:
    """RE2/Python pattern of the national numbers of a calling code (all its regions).

    ``strict``: the union of phonenumbers' per-type patterns (fixed line, mobile, ...), i.e.
    ``is_valid_number``; else the regions' general patterns (well-formed numbers of the
    country, allocated or not).
    """
    patterns = []
    for meta in _region_metadata(cc):
        descs = [getattr(meta, kind) for kind in _PHONE_TYPES] if strict else [meta.general_desc]
        patterns += [d.national_number_pattern for d in descs
                     if d is not None and d.national_number_pattern]
    return f"^(?:{'|'.join(patterns)})$" if patterns else None


@cache
def _number_regex(cc: int, strict: bool) -> re.Pattern[str] | None:
    pattern = _number_pattern(cc, strict)
    return re.compile(pattern) if pattern else None


@cache
def _region_rules(region: str) -> tuple[int, tuple[str, ...], tuple[str, ...]] | None:
    """(calling code, national prefixes, international prefixes) of a region the string rules
    can parse, or ``None`` (unknown region, or prefix rules too complex: left to
    ``phonenumbers``)."""
    meta = PhoneMetadata.metadata_for_region(region) if region else None
    if meta is None or meta.national_prefix_transform_rule:
        return None
    national = meta.national_prefix_for_parsing or meta.national_prefix or ""
    prefixes = tuple(p for p in national.split("|") if p)
    if not all(p.isdigit() for p in prefixes):
        return None
    intl = tuple(p for p in ("00", "011") if re.fullmatch(meta.international_prefix or "", p))
    return meta.country_code, prefixes, intl


@cache
def _cc_national_prefixes(cc: int) -> tuple[str, ...]:
    """National (trunk) prefixes of a calling code's main region ("0" for +44 020 ...)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ("001",))
    rules = _region_rules(regions[0]) if regions[0] != "001" else None
    return rules[1] if rules else ()


_CALLING_CODES = {width: pa.array(sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
                                         if len(str(c)) == width), _STR) for width in (1, 2, 3)}


def _phone_text(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(text of the first number (:func:`_first_number`), its digits) of each value.

    Computed once for :func:`phone` and :func:`phone_digits` alike (:func:`phone_and_digits`): the
    label :func:`_phone_clean` drops before the number holds no digit, so both read the same
    digits."""
    first = _first_number(values)
    return first, pc.replace_substring_regex(first, r"\D+", "")


def _phone_clean(first: pa.Array, digits: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digits, written with "+", parseable by string rules) after dropping labels, extensions
    and "(0)", from :func:`_phone_text`."""
    a = pc.replace_substring_regex(first, r"^[^\d+(]*", "")  # "Tel.: "
    plus = pc.starts_with(pc.replace_substring_regex(a, r"^[\s(]+", ""), "+")
    length = pc.fill_null(pc.utf8_length(digits), 0)
    simple = pc.and_(pc.invert(pc.match_substring_regex(a, r"\pL")),
                     pc.and_(pc.greater_equal(length, 4), pc.less_equal(length, 17)))
    return (digits.to_numpy(zero_copy_only=False), _np_bool(plus), _np_bool(simple))


def _strip_prefix(numbers: np.ndarray, prefixes: tuple[str, ...]) -> np.ndarray:
    """Each number without the first of ``prefixes`` it starts with; None where none does."""
    out = np.full(len(numbers), None, dtype=object)
    for p in prefixes:
        hit = np.array([out[i] is None and x.startswith(p) for i, x in enumerate(numbers)],
                       dtype=bool)
        out[hit] = [x[len(p):] for x in numbers[hit]]
    return out


class _Parsed:
    """Calling code and national number candidates per value (string-rule parse)."""

    def __init__(self, n: int) -> None:
        self.cc = np.zeros(n, dtype=np.int64)
        self.national = np.full(n, "", dtype=object)
        self.stripped = np.full(n, None, dtype=object)  # without the national prefix
        self.rest = np.full(n, None, dtype=object)  # international: digits after "+"/"00"

    def national_rows(self, rows: np.ndarray, numbers: np.ndarray,
                      rules: tuple[int, tuple[str, ...], tuple[str, ...]]) -> None:
        self.cc[rows] = rules[0]
        self.national[rows] = numbers
        self.stripped[rows] = _strip_prefix(numbers, rules[1])

    def international_rows(self) -> None:
        rows = np.flatnonzero(np.not_equal(self.rest, None))
        rests = pa.array(self.rest[rows].tolist(), _STR)
        found = np.zeros(len(rows), dtype=bool)
        for width, codes in _CALLING_CODES.items():
            hit = _np_bool(pc.is_in(pc.utf8_slice_codeunits(rests, 0, width), codes)) & ~found
            sub = rows[hit]
            self.cc[sub] = [int(r[:width]) for r in self.rest[sub]]
            self.national[sub] = [r[width:] for r in self.rest[sub]]
            found |= hit
        for code in np.unique(self.cc[rows[found]]):
            sub = rows[found][self.cc[rows[found]] == code]
            self.stripped[sub] = _strip_prefix(self.national[sub], _cc_national_prefixes(code))


def _phone_parse(digits: np.ndarray, plus: np.ndarray, simple: np.ndarray,
                 regions: np.ndarray, region_names: list[str]) -> tuple[_Parsed, np.ndarray]:
    """String-rule parse of the simple values: (candidates, handled mask). ``regions``: per
    value the index of its region in ``region_names`` (integers: comparing a million strings
    once per region would cost more than the parse)."""
    parsed = _Parsed(len(digits))
    parsed.rest[simple & plus] = digits[simple & plus]
    national = simple & ~plus
    for code in np.unique(regions[national]):
        rows = np.flatnonzero(national & (regions == code))
        rules = _region_rules(region_names[code])
        numbers = digits[rows]
        intl = np.zeros(len(rows), dtype=bool)
        for prefix in rules[2] if rules else ("00",):
            hit = np.array([x.startswith(prefix) for x in numbers], dtype=bool) & ~intl
            parsed.rest[rows[hit]] = [x[len(prefix):] for x in numbers[hit]]
            intl |= hit
        if rules:
            parsed.national_rows(rows[~intl], numbers[~intl], rules)
    parsed.international_rows()
    return parsed, parsed.cc > 0


def _valid_national(cc: np.ndarray, numbers: np.ndarray, strict: bool) -> np.ndarray:
    """Whether each national number fits its calling code (one vectorised regex per code)."""
    ok = np.zeros(len(numbers), dtype=bool)
    known = np.not_equal(numbers, None) & (cc > 0)
    for code in np.unique(cc[known]):
        pattern = _number_pattern(int(code), strict)
        if pattern is None:
            continue
        rows = np.flatnonzero(known & (cc == code))
        ok[rows] = _np_bool(pc.match_substring_regex(pa.array(numbers[rows].tolist(), _STR),
                                                     pattern))
    return ok


def _phone_slow(value: str, region: str, strict: bool) -> str | None:
    """E.164 of one value parsed by ``phonenumbers`` (for shapes the string rules leave)."""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    if strict:
        ok = phonenumbers.is_valid_number(number)
    else:
        regex = _number_regex(number.country_code, False)
        ok = bool(regex and regex.match(national))
    return f"+{number.country_code}{national}" if ok else None


def _phone_keys(values: pa.Array, regions: pa.Array, strict: bool,
                text: tuple[pa.Array, pa.Array] | None = None) -> pa.Array:
    """E.164 of distinct ``(value, region)`` pairs; ``text``: :func:`_phone_text` of
    ``values`` when already at hand."""
    digits, plus, simple = _phone_clean(*(text or _phone_text(values)))
    region_enc = regions.dictionary_encode()
    region_names = region_enc.dictionary.to_pylist()
    region_np = pc.fill_null(region_enc.indices, -1).to_numpy(zero_copy_only=False)
    parsed, handled = _phone_parse(digits, plus, simple, region_np, region_names)
    ok_stripped = _valid_national(parsed.cc, parsed.stripped, strict)
    ok_full = _valid_national(parsed.cc, parsed.national, strict) & ~ok_stripped
    out = np.full(len(digits), None, dtype=object)
    for ok, numbers in ((ok_stripped, parsed.stripped), (ok_full, parsed.national)):
        out[ok] = [f"+{c}{x}" for c, x in zip(parsed.cc[ok], numbers[ok], strict=True)]
    # only the few values the string rules leave become Python strings
    slow = np.flatnonzero(~handled & _np_bool(pc.is_valid(values)))
    for i, value in zip(slow.tolist(), values.take(slow).to_pylist(), strict=True):
        out[i] = _phone_slow(value, region_names[region_np[i]], strict)
    return pa.array(out.tolist(), _STR)


def phone(s: pd.Series, country: CountryArg = None, *, default_country: str | None = None,
          strict: bool = False) -> pd.Series:
    """Phone numbers in E.164 ("+4722334455"); NA when missing or not a number of its country.

    ``country``: the record's country (Series aligned to ``s``, or one code for all rows): the
    region for numbers written nationally; rows without one use ``default_country`` (e.g. the
    CRM's home country), else only international numbers ("+", "00") parse. Labels ("Tel:"),
    extensions ("ext 12", "x 12"), "(0)" in "+31 (0)20 ...", a trunk "0" after the country
    code and all punctuation are dropped; of several numbers in one cell
    ("22 33 44 55 / 90 00 00 00") the first is used.

    Which numbers count (python-``phonenumbers`` metadata): by default a number that is
    well-formed for its country (the country's general number pattern: length and leading
    digits), because allocation tables lag reality and a well-formed key is what matching
    needs; ``strict=True`` asks for ``phonenumbers.is_valid_number`` (an allocated fixed-line,
    mobile, ... range).

    Speed: distinct ``(value, country)`` pairs only. Common shapes (international, or national
    in a region with a plain trunk prefix such as "0") are parsed by string rules and checked
    with one vectorised regex per calling code; unusual shapes (letters, complex national
    prefixes) go through ``phonenumbers.parse``. The tests check that both agree with
    ``phonenumbers`` on the demo's formats. Throughput: 2.5 s per 1,000,000 numbers (900,000
    distinct, the demo's mix of national and international formats; ``strict`` the same).
    """
    countries = _country_array(country, s.index, default_country)
    values, regions, indices = _unique_pairs(s, countries)
    return _to_series(_phone_keys(values, regions, strict).take(indices), s.index)


def phone_and_digits(s: pd.Series, country: CountryArg = None, *,
                     default_country: str | None = None, strict: bool = False
                     ) -> pd.DataFrame:
    """:func:`phone` (column ``phone``) and :func:`phone_digits` (``digits``) of one column.

    The same values as the two calls, in one pass: the distinct values are found once and the
    text both read (the first number's digits) is cleaned once, which is most of the cost of
    :func:`phone_digits` (what the matcher uses; see :mod:`erpdata.matching.prepare`)."""
    countries = _country_array(country, s.index, default_country)
    enc = _to_arrow(s).dictionary_encode()
    first, digits = _phone_text(enc.dictionary)
    value_rows, regions, indices = _pair_index(enc.indices, countries)
    e164 = _phone_keys(enc.dictionary.take(value_rows), regions, strict,
                       (first.take(value_rows), digits.take(value_rows)))
    return pd.DataFrame({"phone": _to_series(e164.take(indices), s.index),
                         "digits": _to_series(_digits_tail(digits).take(enc.indices), s.index)})


def _digits_keys(values: pa.Array) -> pa.Array:
    return _digits_tail(_phone_text(values)[1])


def _digits_tail(digits: pa.Array) -> pa.Array:
    """The last 8 of the digits, or null for fewer than 6 (:func:`phone_digits`)."""
    length = pc.fill_null(pc.utf8_length(digits), 0)
    tail = pc.utf8_slice_codeunits(digits, -8)
    return pc.if_else(pc.greater_equal(length, 6), tail, pa.scalar(None, _STR))


def phone_digits(s: pd.Series) -> pd.Series:
    """The last 8 digits of each phone number, for a fuzzy "same number" comparison.

    Extensions and "(0)" are dropped first; fewer than 6 digits → NA. "+47 22 33 44 55",
    "22334455" and "0047 22334455" all give "22334455"; "08-123 456 78" and "+46 8 123 456 78"
    both give "12345678". Country-independent. Throughput: 0.7 s per 1,000,000 values
    (900,000 distinct).
    """
    return _per_unique(s, _digits_keys)


# =============================================================================================
# E-mail and web
# =============================================================================================

_EMAIL_FIND = r"(?P<email>[\pL\pN!#$%&'*+/=?^_`{|}~.-]+@[\pL\pN.-]+\.\pL{2,})"
_EMAIL_VALID = (r"^[\pL\pN!#$%&'*+/=?^_`{|}~-]+(?:\.[\pL\pN!#$%&'*+/=?^_`{|}~-]+)*"
                r"@(?:[\pL\pN](?:[\pL\pN-]*[\pL\pN])?\.)+\pL{2,}$")


def _email_keys(values: pa.Array) -> pa.Array:
    a = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    a = pc.replace_substring(a, "mailto:", "")
    # A value that is one valid address is its own key (what the search would find): the
    # costly search runs on the others only.
    return _patch(a, pc.invert(pc.fill_null(pc.match_substring_regex(a, _EMAIL_VALID), False)),
                  _email_found)


def _email_found(a: pa.Array) -> pa.Array:
    """The first valid address in each value, else null."""
    found = pc.struct_field(pc.extract_regex(a, _EMAIL_FIND), [0])
    return pc.if_else(pc.fill_null(pc.match_substring_regex(found, _EMAIL_VALID), False),
                      found, pa.scalar(None, _STR))


def email(s: pd.Series) -> pd.Series:
    """E-mail addresses lower-cased and trimmed; NA when there is no valid address.

    "mailto:" and display names ("Kari Nordmann <Kari@Firma.no>") are dropped; of several
    addresses in one cell the first is used. Throughput: 0.3 s per 1,000,000 values
    (500,000 distinct, all of them one valid address: the search for an address inside other
    text, 1 s, runs only where needed); :func:`email_domain` the same.
    """
    return _per_unique(s, _email_keys)


def _email_domain_keys(values: pa.Array) -> pa.Array:
    return _domain_of(_email_keys(values))


def _domain_of(addresses: pa.Array) -> pa.Array:
    """The part after the "@" of valid addresses (:func:`_email_keys`: exactly one "@")."""
    return pc.list_element(pc.split_pattern(addresses, "@", max_splits=1), 1)


def email_domain(s: pd.Series) -> pd.Series:
    """The domain of each e-mail address ("post@Firma.no" → "firma.no"); NA if invalid."""
    return _per_unique(s, _email_domain_keys)


def email_and_domain(s: pd.Series) -> pd.DataFrame:
    """:func:`email` (column ``email``), its :func:`email_domain` (``domain``) and
    :func:`is_free_mail_domain` of that (``free``, bool) of one column.

    The same values as the three calls, in one pass over the distinct values: an address
    :func:`email` gives is its own key (valid, lower case, no "mailto:"), so its domain is
    what follows its "@", and the matcher need not find a million distinct values three
    times (see :mod:`erpdata.matching.prepare`)."""
    values, indices = _unique(s)
    mail = _email_keys(values)
    domain = _domain_of(mail)
    domains = domain.dictionary_encode()
    free = _free_mail_flags(pc.utf8_lower(pc.utf8_trim_whitespace(domains.dictionary)))
    free = pc.fill_null(free.take(domains.indices).take(indices), False)
    return pd.DataFrame({"email": _to_series(mail.take(indices), s.index),
                         "domain": _to_series(domain.take(indices), s.index),
                         "free": pd.Series(free.to_numpy(zero_copy_only=False), index=s.index,
                                           dtype=bool)})


#: Brands whose every domain is a free mailbox (hotmail.no, yahoo.co.uk, live.se, gmx.at, ...).
_FREE_MAIL_BRANDS = frozenset({
    "gmail", "googlemail", "hotmail", "outlook", "live", "msn", "windowslive", "yahoo", "ymail",
    "rocketmail", "aol", "gmx", "icloud", "protonmail", "yandex", "zoho", "zohomail",
    "tutanota",
})

#: Free mailboxes and consumer ISP mail (curated per country of the demo plus global ones).
_FREE_MAIL_DOMAINS = frozenset({
    # global
    "me.com", "mac.com", "proton.me", "pm.me", "fastmail.com", "hey.com", "inbox.com",
    "lycos.com", "qq.com", "163.com", "126.com", "mail.ru", "web.de", "email.com", "mail.com",
    # Norway
    "online.no", "telia.no", "getmail.no", "frisurf.no", "c2i.net", "chello.no", "start.no",
    "broadpark.no", "lyse.net", "altibox.no", "hotmail.no", "epost.no", "netcom.no",
    "ebnett.no", "tele2.no", "bluezone.no", "vikenfiber.no",
    # Sweden
    "telia.com", "tele2.se", "bredband.net", "comhem.se", "spray.se", "home.se",
    "passagen.se", "glocalnet.net", "bahnhof.se", "bredband2.com", "swipnet.se", "telia.se",
    # Denmark
    "mail.dk", "jubii.dk", "ofir.dk", "stofanet.dk", "youmail.dk", "sol.dk", "tdcadsl.dk",
    "post.tele.dk", "webspeed.dk", "privat.dk", "get2net.dk", "yousee.dk", "mail.tele.dk",
    # Finland
    "luukku.com", "suomi24.fi", "welho.com", "kolumbus.fi", "saunalahti.fi", "elisanet.fi",
    "dnainternet.net", "netti.fi", "pp.inet.fi", "kotiposti.net",
    # Netherlands
    "ziggo.nl", "kpnmail.nl", "kpnplanet.nl", "planet.nl", "home.nl", "hetnet.nl",
    "xs4all.nl", "chello.nl", "casema.nl", "upcmail.nl", "tele2.nl", "zonnet.nl",
    "quicknet.nl", "online.nl", "hccnet.nl", "telfort.nl", "versatel.nl", "wanadoo.nl",
    # Germany
    "t-online.de", "freenet.de", "arcor.de", "posteo.de", "mailbox.org", "email.de",
    "1und1.de", "vodafone.de", "kabelmail.de", "online.de", "gmx.de", "gmx.net",
    # United Kingdom
    "btinternet.com", "btopenworld.com", "sky.com", "virginmedia.com", "ntlworld.com",
    "talktalk.net", "blueyonder.co.uk", "tiscali.co.uk", "o2.co.uk", "orange.net",
    "bt.com", "ukgateway.net",
})


def _free_mail_flags(values: pa.Array) -> pa.Array:
    """:func:`is_free_mail_domain` of trimmed, lower-case domains (null stays null)."""
    brand = pc.replace_substring_regex(values, r"\..*$", "")
    rest = pc.replace_substring_regex(values, r"^[^.]*\.?", "")
    branded = pc.and_(pc.is_in(brand, pa.array(sorted(_FREE_MAIL_BRANDS), _STR)),
                      pc.match_substring_regex(rest, r"^[a-z]{2,4}(?:\.[a-z]{2,3})?$"))
    return pc.or_(pc.is_in(values, pa.array(sorted(_FREE_MAIL_DOMAINS), _STR)), branded)


def is_free_mail_domain(domains: pd.Series) -> pd.Series:
    """Whether each (normalised) domain is a free or consumer mailbox (bool; NA → False).

    The matcher must not block on these: thousands of unrelated records share "gmail.com".
    A domain counts when it is in ``_FREE_MAIL_DOMAINS`` or is a free-mail brand
    (``_FREE_MAIL_BRANDS``: gmail, hotmail, outlook, live, yahoo, gmx, icloud, ...) followed by
    a country or generic top-level domain only, so "hotmail.no" and "yahoo.co.uk" count without
    being listed while "live.firma.no" does not. Throughput: 0.25 s per 1,000,000 values
    (320,000 distinct).
    """
    values, indices = _unique(domains)
    result = _free_mail_flags(pc.utf8_lower(pc.utf8_trim_whitespace(values))).take(indices)
    return pd.Series(pc.fill_null(result, False).to_numpy(zero_copy_only=False),
                     index=domains.index, dtype=bool)


def _url_keys(values: pa.Array) -> pa.Array:
    a = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    a = pc.replace_substring_regex(a, r"^[a-z][a-z0-9+.\-]*://", "")
    a = pc.replace_substring_regex(a, r"^[^/?#\s]*@", "")
    a = pc.replace_substring_regex(a, r"[/?#:\\\s].*$", "")
    a = pc.replace_substring_regex(a, r"^(?:www\d*\.)+", "")  # "www.www.x.no" too
    a = pc.utf8_trim(a, ".")
    valid = pc.match_substring_regex(
        a, r"^(?:[\pL\pN](?:[\pL\pN-]*[\pL\pN])?\.)+\pL[\pL\pN-]*\pL$")
    return pc.if_else(pc.fill_null(valid, False), a, pa.scalar(None, _STR))


def url_domain(s: pd.Series) -> pd.Series:
    """The host of each web address without "www.": "https://www.Firma.no/om-oss" → "firma.no".

    Scheme, user info, port, path, query and a trailing dot are dropped; an e-mail address
    gives its domain; anything that is not a host name with a letter TLD (IP addresses,
    "localhost", free text) → NA. Throughput: 0.25 s per 1,000,000 values (270,000
    distinct).
    """
    return _per_unique(s, _url_keys)


# =============================================================================================
# Organisation and VAT numbers
# =============================================================================================

#: VAT prefixes that name a country (EL = Greece, XI = Northern Ireland, CHE = Switzerland).
_VAT_PREFIXES: dict[str, str] = {
    **{cc: cc for cc in ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR",
                         "GB", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "NO",
                         "PL", "PT", "RO", "SE", "SI", "SK")},
    "EL": "GR", "XI": "GB", "CHE": "CH",
}
_ORG_LABELS = (r"(?:ORG(?:ANISASJONS|ANISATIONS)?\.?\s*(?:NR|NUMMER|NO)\.?|FORETAKSREGISTERET|"
               r"CVR(?:-?NR\.?)?|SE-?NR\.?|Y-?TUNNUS|KVK(?:-?NR|-?NUMMER)?|BTW(?:-?NR)?|"
               r"UST\.?-?ID(?:-?NR)?\.?|VAT\s*(?:REG(?:ISTRATION)?\s*)?(?:NO|NR|NUMBER)?\.?|"
               r"MOMSREG(?:ISTRERINGS)?\.?\s*NR\.?|MOMS|MVA|MWST|TVA|IVA|ALV|VAT)")
_ORG_SHAPE = r"^(?P<pre>[A-Z]{2,3})?(?P<num>\d+)(?P<sfx>B\d{2})?$"


def _gb_vat_ok(number: str) -> bool:
    """stdnum.gb.vat's rule for a 9-digit number (0, or 42/55 for the series from 100)."""
    check = gb_vat.checksum(number)
    return check == 0 or (int(number[:3]) >= 100 and check in (42, 55))


def _nl_btw_ok(number: str, suffix: str) -> bool:
    """stdnum.nl.btw's rule: RSIN 11-proof, or (sole traders since 2020) ISO 7064 mod 97."""
    return (int(number) > 0 and int(suffix[1:]) > 0
            and (bsn.checksum(number) == 0 or mod_97_10.is_valid(f"NL{number}{suffix}")))


#: Country -> (digits of the national number, python-stdnum check). These are stdnum's own
#: check functions (what each module's ``is_valid`` calls) applied to the already compacted
#: number: ``is_valid`` itself would clean every value again and take three times as long.
#: The tests check them against ``is_valid``.
_ORG_CHECKS: dict[str, tuple[int, Callable[[str], bool]]] = {
    "NO": (9, lambda n: orgnr.checksum(n) == 0),  # stdnum.no.orgnr
    "SE": (10, luhn.is_valid),  # stdnum.se.orgnr
    "DK": (8, lambda n: n[0] != "0" and cvr.checksum(n) == 0),  # stdnum.dk.cvr
    "FI": (8, lambda n: alv.checksum(n) == 0),  # stdnum.fi.ytunnus
    "NL": (9, lambda n: int(n) > 0 and bsn.checksum(n) == 0),  # RSIN, 11-proof as nl.bsn
    "DE": (9, lambda n: n[0] != "0" and mod_11_10.is_valid(n)),  # stdnum.de.vat
    "GB": (9, _gb_vat_ok),  # stdnum.gb.vat
}


def _org_one(pre: str, num: str, sfx: str, country: str) -> tuple[str, bool | None]:
    """Canonical number and validity of one compacted value (see :func:`org_number`)."""
    if pre and pre not in _VAT_PREFIXES:  # "ATU12345678", or HRB 12345 (DE), SC123456 (UK)
        return _org_other(pre + num + sfx, None)
    cc = _VAT_PREFIXES.get(pre, country)
    if cc == "SE" and len(num) == 12:
        if (pre or num.endswith("01")) and luhn.is_valid(num[:10]):
            num = num[:10]  # VAT number: orgnr + "01"
        elif num[:2] in ("16", "19", "20"):
            num = num[2:]  # "16" or century prefix
    elif cc == "FI" and 6 <= len(num) < 8:
        num = num.zfill(8)  # old Y-tunnus without leading zeros
    elif cc == "NL" and sfx:
        num = num.zfill(9)  # "NL4495445B01": RSIN without its leading zeros
        return num, len(num) == 9 and _nl_btw_ok(num, sfx)
    elif cc == "NL" and len(num) == 8:
        return num, None  # KvK number: no check digit
    elif cc == "GB" and len(num) == 12:
        num = num[:9]  # branch suffix
    elif cc == "GB" and len(num) == 8 and not pre:
        return num, None  # Companies House number
    if cc in _ORG_CHECKS:
        width, check = _ORG_CHECKS[cc]
        return num, len(num) == width and check(num)
    if cc == "CH":
        return num, _stdnum("ch", "uid")(f"CHE{num}")
    if cc in _VAT_PREFIXES.values():  # other EU: stdnum's compact form without the prefix
        vat = f"{pre or cc}{num}{sfx}"
        valid = _stdnum(cc.lower(), "vat")(vat)
        return (_stdnum_compact(cc.lower())(vat) if valid else num + sfx), valid
    return num + sfx, None


@cache
def _stdnum(cc: str, kind: str) -> Callable[[str], bool]:
    """python-stdnum's ``is_valid`` of a country's number kind (``stdnum.<cc>.<kind>``)."""
    try:
        return get_cc_module(cc, kind).is_valid  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return lambda number: False


@cache
def _stdnum_compact(cc: str) -> Callable[[str], str]:
    """python-stdnum's ``compact`` of a country's VAT number (drops the country prefix)."""
    return get_cc_module(cc, "vat").compact  # type: ignore[no-any-return]


def _org_other(compact: str, invalid: bool | None) -> tuple[str, bool | None]:
    """A value not of the digits-only shape: a VAT number with letters ("IE1234567T",
    "ATU12345678", "ESX1234567X") when python-stdnum accepts it, else kept as it is with
    validity ``invalid`` ("HRB12345" is a German register number, not a Croatian VAT one)."""
    for width in (3, 2):
        cc = _VAT_PREFIXES.get(compact[:width])
        if cc and cc not in _ORG_CHECKS and _stdnum(cc.lower(), "vat")(compact):
            return _stdnum_compact(cc.lower())(compact), True
    return compact, invalid


def _weighted(digits: np.ndarray, weights: tuple[int, ...], modulus: int) -> np.ndarray:
    return (digits * np.array(weights, dtype=np.int64)).sum(axis=1) % modulus


def _luhn_ok(digits: np.ndarray) -> np.ndarray:
    doubled = digits[:, -2::-2] * 2
    total = digits[:, ::-1][:, ::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return total % 10 == 0


def _mod_11_10_ok(digits: np.ndarray) -> np.ndarray:
    check = np.full(len(digits), 5, dtype=np.int64)
    for column in digits.T:
        check = (np.where(check == 0, 10, check) * 2 % 11 + column) % 10
    return check == 1


def _gb_ok(digits: np.ndarray) -> np.ndarray:
    check = _weighted(digits, (8, 7, 6, 5, 4, 3, 2, 10, 1), 97)
    series_100 = digits[:, :3] @ np.array([100, 10, 1]) >= 100
    return (check == 0) | (series_100 & np.isin(check, (42, 55)))


#: :data:`_ORG_CHECKS` over a matrix of digits (one number per row), for the bulk of values:
#: the same stdnum rules in numpy instead of one Python call per number (the tests compare
#: the two on random numbers).
_ORG_CHECKS_BULK: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "NO": lambda d: _weighted(d, (3, 2, 7, 6, 5, 4, 3, 2, 1), 11) == 0,
    "SE": _luhn_ok,
    "DK": lambda d: (d[:, 0] != 0) & (_weighted(d, (2, 7, 6, 5, 4, 3, 2, 1), 11) == 0),
    "FI": lambda d: _weighted(d, (7, 9, 10, 5, 8, 4, 2, 1), 11) == 0,
    "NL": lambda d: d.any(axis=1) & (_weighted(d, (9, 8, 7, 6, 5, 4, 3, 2, -1), 11) == 0),
    "DE": lambda d: (d[:, 0] != 0) & _mod_11_10_ok(d),
    "GB": _gb_ok,
}


def _digit_matrix(numbers: np.ndarray, width: int) -> np.ndarray:
    """Numbers of ``width`` ASCII digits as an (n, width) matrix of digit values."""
    joined = "".join(numbers.tolist()).encode("ascii")
    return (np.frombuffer(joined, dtype=np.uint8).reshape(-1, width) - 48).astype(np.int64)


def _nl_vat_ok(rsin: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    """:func:`_nl_btw_ok` in bulk: 9 RSIN digits and the 2 digits after "B"; ISO 7064 mod 97
    over "NL<rsin>B<suffix>" with letters as numbers (N=23, L=21, B=11)."""
    rest = np.zeros(len(rsin), dtype=np.int64)
    for column in np.hstack([np.tile([2, 3, 2, 1], (len(rsin), 1)), rsin,
                             np.ones((len(rsin), 2), dtype=np.int64), suffix]).T:
        rest = (rest * 10 + column) % 97
    return rsin.any(axis=1) & suffix.any(axis=1) & (
        _ORG_CHECKS_BULK["NL"](rsin) | (rest == 1))


class _OrgBulk:
    """Keys and validity of the common shapes, in arrays: digits only (after an optional VAT
    prefix of the same country) of the seven :data:`_ORG_CHECKS` countries, Swedish 12-digit
    VAT numbers and Dutch "NL...B01" ones. The other values (Finnish numbers without leading
    zeros, UK branch and Companies House numbers, other countries, letters) are left to
    :func:`_org_one`; ``done`` marks the ones handled here."""

    def __init__(self, pre: pa.Array, num: pa.Array, sfx: pa.Array, countries: pa.Array):
        pre = pc.fill_null(pre, "")
        prefix_cc = pc.take(pa.array(list(_VAT_PREFIXES.values()), _STR),
                            pc.index_in(pre, value_set=pa.array(list(_VAT_PREFIXES), _STR)))
        self.has_pre = _np_bool(pc.not_equal(pre, ""))
        self.cc = pc.fill_null(pc.if_else(pc.equal(pre, ""), countries, prefix_cc), "") \
            .to_numpy(zero_copy_only=False)
        self.length = pc.fill_null(pc.utf8_length(num), 0).to_numpy(zero_copy_only=False)
        self.sfx = pc.fill_null(sfx, "").to_numpy(zero_copy_only=False)
        self.keys = num.to_numpy(zero_copy_only=False)
        self.valid = np.full(len(self.keys), None, dtype=object)
        self.done = np.zeros(len(self.keys), dtype=bool)
        special = (((self.cc == "SE") & (self.length == 12))
                   | ((self.cc == "FI") & (self.length >= 6) & (self.length < 8))
                   | ((self.cc == "NL") & ((self.sfx != "") | (self.length == 8)))
                   | ((self.cc == "GB") & ((self.length == 12)
                                           | ((self.length == 8) & ~self.has_pre))))
        plain = (self.length > 0) & ~special
        for code, (width, _) in _ORG_CHECKS.items():
            rows = np.flatnonzero(plain & (self.cc == code))
            self.valid[rows] = False
            self.done[rows] = True
            rows = rows[self.length[rows] == width]
            self.valid[rows] = _ORG_CHECKS_BULK[code](self._digits(rows, width)).tolist()
        self._se_vat()
        self._nl_vat()

    def _digits(self, rows: np.ndarray, width: int) -> np.ndarray:
        return _digit_matrix(self.keys[rows], width)

    def _se_vat(self) -> None:
        """"SE556036079301" (orgnr + "01") or "16"/century + orgnr, as :func:`_org_one`."""
        rows = np.flatnonzero((self.cc == "SE") & (self.length == 12))
        d = self._digits(rows, 12)
        vat = ((self.has_pre[rows] | ((d[:, 10] == 0) & (d[:, 11] == 1)))
               & _luhn_ok(d[:, :10]))
        century = ~vat & np.isin(d[:, 0] * 10 + d[:, 1], (16, 19, 20))
        numbers = self.keys[rows]
        self.keys[rows[vat]] = [x[:10] for x in numbers[vat]]
        self.keys[rows[century]] = [x[2:] for x in numbers[century]]
        self.valid[rows] = (vat | (century & _luhn_ok(d[:, 2:]))).tolist()
        self.done[rows] = True

    def _nl_vat(self) -> None:
        """"NL4495445B01": the RSIN zero-padded to 9 digits, checked with its suffix."""
        rows = np.flatnonzero((self.cc == "NL") & (self.sfx != "") & (self.length <= 9))
        self.keys[rows] = [x.zfill(9) for x in self.keys[rows]]
        suffix = _digit_matrix(np.array([x[1:] for x in self.sfx[rows]], dtype=object), 2)
        self.valid[rows] = _nl_vat_ok(self._digits(rows, 9), suffix).tolist()
        self.done[rows] = True


def _org_parts(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """(compacted value, VAT prefix, digits, NL suffix) per value (null where not that shape)."""
    a = pc.replace_substring_regex(pc.utf8_upper(values), r"^\s*(\d+)\.0\s*$", r"\1")  # 1.0
    a = pc.replace_substring_regex(a, _ORG_LABELS, "")
    # every separator, not only the usual ones: "CHE'123'456'788" is "CHE-123.456.788", not
    # an identifier of another shape (whose key would be "CHE123456788", not "123456788")
    a = pc.replace_substring_regex(a, r"[^A-Z0-9]+", "")
    parts = pc.extract_regex(a, _ORG_SHAPE)
    pre, num, sfx = (pc.struct_field(parts, f) for f in ("pre", "num", "sfx"))
    return a, pre, num, sfx


def _org_keys(values: pa.Array, countries: pa.Array) -> tuple[pa.Array, pa.Array]:
    a, pre, num, sfx = _org_parts(values)
    bulk = _OrgBulk(pre, num, sfx, countries)
    keys, valid = bulk.keys, bulk.valid
    rest = np.flatnonzero(~bulk.done)
    fallback = pc.replace_substring_regex(a.take(rest), r"[^A-Z0-9]+", "")
    has_digit = pc.fill_null(pc.match_substring_regex(fallback, r"\d"), False).to_pylist()
    columns = zip(rest.tolist(), pre.take(rest).to_pylist(), keys[rest].tolist(),
                  sfx.take(rest).to_pylist(), fallback.to_pylist(), has_digit,
                  countries.take(rest).to_pylist(), strict=True)
    for i, p, n, x, other, digit, country in columns:
        if n is not None:
            keys[i], valid[i] = _org_one(p or "", n, x or "", country)
        elif digit:
            keys[i], valid[i] = _org_other(other, False if country else None)
    return pa.array(keys.tolist(), _STR), pa.array(valid.tolist(), pa.bool_())


def org_number(s: pd.Series, country: CountryArg = None) -> pd.DataFrame:
    """Organisation / VAT numbers as ``orgno`` (canonical national number) and ``orgno_valid``.

    A CRM's organisation number and an ERP's VAT number of the same company give the same
    ``orgno``: labels ("Org.nr", "CVR", "VAT No"), spaces, dots and dashes, the country prefix
    and VAT suffixes are removed. NO "NO 923 609 016 MVA" → "923609016"; SE "556036-0793" and
    "SE556036079301" → "5560360793" (a "16" or century prefix too); DK "DK-12 34 56 78" →
    "12345678"; FI "1234567-1" / "FI12345671" → "12345671" (old 6+1 digit numbers zero-padded);
    NL "NL123456789B01" → "123456789" (the RSIN, also what a CRM stores; an 8-digit KvK number is
    kept as is); DE "DE 123 456 789" → "123456789"; GB "GB 123 4567 89" → "123456789" (a
    3-digit branch suffix dropped); other EU VAT numbers → the number after the prefix.
    The country comes from the VAT prefix when there is one, else from ``country``.

    ``orgno_valid`` (``boolean``): True when the number passes its country's check with
    python-stdnum (``no.orgnr``, ``se.orgnr``, ``dk.cvr``, ``fi.ytunnus``, ``nl.btw`` /
    ``nl.bsn`` for an RSIN, ``de.vat``, ``gb.vat``, ``ch.uid``, else ``<cc>.vat``), False when it
    fails or has the wrong length, NA when it cannot be checked (no country, or an identifier
    without check digits: NL KvK, UK Companies House, DE "HRB 12345"). A value without digits →
    both NA. For the seven demo countries the check is stdnum's check-digit rule on the
    compacted number (``_ORG_CHECKS``; computed over arrays of digits for the common shapes,
    ``_ORG_CHECKS_BULK``), other countries use ``is_valid``. Throughput: 1.6 s per 1,000,000
    values (920,000 distinct).
    """
    values, countries, indices = _unique_pairs(s, _country_array(country, s.index))
    keys, valid = _org_keys(values, countries)
    flags = valid.take(indices).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    return pd.DataFrame({
        "orgno": _to_series(keys.take(indices), s.index),
        "orgno_valid": flags.set_axis(s.index),
    })


# =============================================================================================
# Addresses
# =============================================================================================

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


# =============================================================================================
# Countries
# =============================================================================================

#: ISO-2 -> names in English, Norwegian, Swedish, Danish, Finnish, Dutch, German (and the
#: ISO-3 code); folded before lookup. ISO-2 codes of all regions are accepted as well.
_COUNTRY_NAMES: dict[str, str] = {
    "NO": "NOR|Norway|Norge|Noreg|Norja|Noorwegen|Norwegen|Kingdom of Norway",
    "SE": "SWE|Sweden|Sverige|Ruotsi|Zweden|Schweden",
    "DK": "DNK|Denmark|Danmark|Tanska|Denemarken|Dänemark",
    "FI": "FIN|SF|Finland|Suomi|Finnland|Finnland",
    "NL": "NLD|Netherlands|The Netherlands|Nederland|Holland|Nederländerna|Nederlandene|"
          "Alankomaat|Hollanti|Niederlande",
    "DE": "DEU|Germany|Tyskland|Saksa|Duitsland|Deutschland|BRD",
    "GB": "GBR|UK|United Kingdom|Great Britain|Britain|England|Scotland|Wales|"
          "Northern Ireland|Storbritannia|Storbritannien|Det forente kongerike|"
          "Förenade kungariket|Iso-Britannia|Yhdistynyt kuningaskunta|Verenigd Koninkrijk|"
          "Groot-Brittannië|Engeland|Vereinigtes Königreich|Großbritannien|Grossbritannien|"
          "Schottland|Skottland|Nord-Irland|Nordirland|Pohjois-Irlanti|Noord-Ierland",
    "IS": "ISL|Iceland|Island|Islanti|IJsland",
    "FO": "FRO|Faroe Islands|Færøyene|Færøerne|Färöarna|Färsaaret|Faeröer|Färöer",
    "GL": "GRL|Greenland|Grønland|Grönland|Grönlanti|Groenland",
    "AX": "ALA|Åland|Aland Islands|Ahvenanmaa",
    "EE": "EST|Estonia|Estland|Viro",
    "LV": "LVA|Latvia|Latvija|Lettland|Letland|Latvia",
    "LT": "LTU|Lithuania|Litauen|Liettua|Litouwen|Lietuva",
    "PL": "POL|Poland|Polen|Puola|Polska",
    "BE": "BEL|Belgium|Belgia|Belgien|België|Belgique",
    "LU": "LUX|Luxembourg|Luxemburg|Luxemburg",
    "FR": "FRA|France|Frankrike|Frankrig|Ranska|Frankrijk|Frankreich",
    "ES": "ESP|Spain|Spania|Spanien|Espanja|Spanje|España",
    "PT": "PRT|Portugal|Portugali",
    "IT": "ITA|Italy|Italia|Italien|Italië|Italie",
    "CH": "CHE|Switzerland|Sveits|Schweiz|Sveitsi|Zwitserland|Suisse|Svizzera",
    "AT": "AUT|Austria|Østerrike|Österrike|Østrig|Itävalta|Oostenrijk|Österreich",
    "IE": "IRL|Ireland|Irland|Irlanti|Ierland|Éire|Republic of Ireland",
    "CZ": "CZE|Czech Republic|Czechia|Tsjekkia|Tjeckien|Tjekkiet|Tšekki|Tsjechië|"
          "Tschechien",
    "SK": "SVK|Slovakia|Slovakia|Slovakien|Slowakije|Slowakei",
    "HU": "HUN|Hungary|Ungarn|Ungern|Unkari|Hongarije",
    "SI": "SVN|Slovenia|Slovenien|Slowenië|Slowenien",
    "HR": "HRV|Croatia|Kroatia|Kroatien|Kroatië",
    "RO": "ROU|Romania|Rumenia|Rumänien|Rumænien|Romania|Roemenië",
    "BG": "BGR|Bulgaria|Bulgarien|Bulgarije",
    "GR": "GRC|EL|Greece|Hellas|Grekland|Grækenland|Kreikka|Griekenland|Griechenland",
    "CY": "CYP|Cyprus|Kypros|Cypern|Zypern",
    "MT": "MLT|Malta",
    "RU": "RUS|Russia|Russland|Ryssland|Rusland|Venäjä|Russian Federation",
    "UA": "UKR|Ukraine|Ukraina|Oekraïne",
    "TR": "TUR|Turkey|Türkiye|Tyrkia|Turkiet|Tyrkiet|Turkki|Turkije|Türkei",
    "US": "USA|United States|United States of America|America|USA|Amerika|De forente stater|"
          "Förenta staterna|Yhdysvallat|Verenigde Staten|Vereinigte Staaten",
    "CA": "CAN|Canada|Kanada",
    "CN": "CHN|China|Kina|Kiina|Volksrepublik China",
    "JP": "JPN|Japan|Japani",
    "IN": "IND|India|Indien|Intia",
    "AU": "AUS|Australia|Australien|Australië",
}


def _build_country_lookup() -> dict[str, str]:
    lookup = {region.lower(): region for region in phonenumbers.SUPPORTED_REGIONS}
    lookup |= {"uk": "GB", "el": "GR"}
    names = [(iso, name) for iso, text in _COUNTRY_NAMES.items() for name in text.split("|")]
    folded = _fold(pa.array([n for _, n in names], _STR)).to_pylist()
    lookup |= {f: iso for (iso, _), f in zip(names, folded, strict=True) if f}
    return lookup


_COUNTRY_LOOKUP: dict[str, str] = _build_country_lookup()
_ARTICLE = re.compile(r"^(?:the|det|de|die|la|le|el) ")


def _country_keys(values: pa.Array) -> pa.Array:
    enc = _fold(values).dictionary_encode()
    codes = [_COUNTRY_LOOKUP.get(k) or _COUNTRY_LOOKUP.get(_ARTICLE.sub("", k))
             for k in enc.dictionary.to_pylist()]
    return pa.array(codes, _STR).take(enc.indices)


def country_code(s: pd.Series) -> pd.Series:
    """ISO 3166 alpha-2 codes from codes or names; NA when unknown.

    Accepts ISO-2 ("no", "GB") and "UK"/"EL", ISO-3 of the listed countries ("NOR"), and
    names in English, Norwegian, Swedish, Danish, Finnish, Dutch and German ("Norge", "Noreg",
    "Sverige", "Tyskland", "Deutschland", "Nederland", "Holland", "Storbritannia", "England",
    "Suomi", ...) for the Nordic countries, the EU, the UK, Switzerland and a few others
    (``_COUNTRY_NAMES``). Throughput: 0.02 s per 1,000,000 values (the distinct values are
    few).
    """
    return _per_unique(s, _country_keys)
