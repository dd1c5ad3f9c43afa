"""What to compare: one :class:`Comparison` per field pair, with a type that decides how it is
normalised, blocked on and scored.

Why types and not scorers: a steward (or ``--compare CRM_COL=ERP_COL:TYPE``) says *what* a column
holds; the engine knows how to treat it (a phone is compared as E.164, a company name without its
legal form, an org number as digits with a valid check digit). Types are also inferred from
column names and values, so ``match-files`` works on two tables it has never seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
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
    (an empty type is inferred by :func:`infer_comparisons`).

    Some fields are spread over several columns; they are still ONE comparison (one feature
    column named :attr:`name`, one weight), since the parts agree or disagree together and two
    comparisons would count the same evidence twice:

    * ``location``: ``crm_col`` / ``erp_col`` hold the latitude, ``crm_lng_col`` /
      ``erp_lng_col`` the longitude;
    * ``date`` over a year, a month and a day column: ``crm_col`` / ``erp_col`` hold the year,
      ``crm_more`` / ``erp_more`` the month and the day (in that order);
    * any other type: ``crm_more`` / ``erp_more`` are further pieces of the value (a second
      given name, an address line), joined to ``crm_col`` / ``erp_col`` with a space.
    """

    name: str
    crm_col: str
    erp_col: str
    type: str
    crm_lng_col: str = ""
    erp_lng_col: str = ""
    crm_more: tuple[str, ...] = ()
    erp_more: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type and self.type not in TYPES:
            raise ValueError(
                f"unknown comparison type {self.type!r} for {self.name}; use one of "
                + ", ".join(TYPES)
            )
        if (self.type == "location") != bool(self.crm_lng_col and self.erp_lng_col) or (
                self.type == "location" and (self.crm_more or self.erp_more)):
            raise ValueError(f"{self.name}: a location compares a latitude and a longitude "
                             "column on each side (CRM_LAT+CRM_LNG=ERP_LAT+ERP_LNG:location), "
                             "and only a location has two columns")
        if self.type == "date" and not {len(self.crm_more), len(self.erp_more)} <= {0, 2}:
            raise ValueError(f"{self.name}: a date over several columns is a year, a month and "
                             "a day column (Y+M+D=Y+M+D:date, or Y+M+D=DATE:date when the other "
                             "side has one date column)")

    def columns(self, side: str) -> list[str]:
        """The raw columns this comparison reads on ``side`` (``crm`` or ``erp``)."""
        cols = ([self.crm_col, self.crm_lng_col, *self.crm_more] if side == "crm"
                else [self.erp_col, self.erp_lng_col, *self.erp_more])
        return [c for c in cols if c]

    @property
    def is_ymd(self) -> bool:
        """A date read from a year, a month and a day column on at least one side."""
        return self.ymd("crm") or self.ymd("erp")

    def ymd(self, side: str) -> bool:
        """On ``side`` the date is read from a year, a month and a day column (the other side
        may hold one date column: two exports need not agree on how they write a date)."""
        more = self.crm_more if side == "crm" else self.erp_more
        return self.type == "date" and len(more) == 2


@dataclass(frozen=True)
class Inference:
    """Why a comparison is there (or why a column is not): shown by ``match-files`` before it
    matches, so a wrong guess is seen before its suggestions are. Kept apart from
    :class:`Comparison`, which is a key (its equality and hash must not depend on the wording
    of the evidence)."""

    crm_columns: tuple[str, ...]
    erp_columns: tuple[str, ...]
    type: str  #: empty when left out
    evidence: str

    @property
    def left_out(self) -> bool:
        return not self.type

    @property
    def column(self) -> str:
        crm, erp = "+".join(self.crm_columns), "+".join(self.erp_columns)
        return crm if crm == erp else f"{crm}={erp}"


def inference_table(inference: Sequence[Inference]) -> str:
    """The inference as a small aligned text table (column, type, evidence)."""
    rows = [("column", "type", "evidence")] + [
        (i.column, i.type or "-", i.evidence if i.type else f"left out: {i.evidence}")
        for i in inference]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"  {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)


def parse_compare(spec: str) -> Comparison:
    """``CRM_COL=ERP_COL[:TYPE]`` (type inferred later when absent: see :func:`infer_type`);
    ``CRM_LAT+CRM_LNG=ERP_LAT+ERP_LNG[:location]`` for a point given as two columns (two and two
    columns without a type are a location); ``Y+M+D=Y+M+D[:date]`` for a date given as year,
    month and day columns; ``A+B=C[:TYPE]`` for a value split over columns (joined with a
    space)."""
    left, sep, right = spec.partition("=")
    if not sep or not left or not right:
        raise ValueError(f"--compare {spec!r}: expected CRM_COL=ERP_COL[:TYPE]")
    erp_col, _, type_ = right.partition(":")
    crm_cols, erp_cols = left.split("+"), erp_col.split("+")
    if not all(crm_cols) or not all(erp_cols):
        raise ValueError(f"--compare {spec!r}: an empty column name around '+'")
    if len(crm_cols) == 2 and len(erp_cols) == 2 and type_ in ("", "location"):
        return Comparison(left, crm_cols[0], erp_cols[0], "location", crm_cols[1], erp_cols[1])
    return Comparison(left, crm_cols[0], erp_cols[0], type_,
                      crm_more=tuple(crm_cols[1:]), erp_more=tuple(erp_cols[1:]))


_NAME_HINTS: list[tuple[str, str]] = [
    (r"e.?mail|epost|e.?post", "email"),
    (r"phone|tel|tlf|fax|mobil|gsm", "phone"),
    (r"url|web|www|homepage|hjemmeside|domain", "url"),
    (r"vat|orgn|org.?nr|org.?no|cvr|kvk|btw|tunnus|ust", "orgno"),
    (r"zip|postc|post.?nr|postnummer|plz|postal.?code", "postcode"),
    (r"country|land$|^land", "country"),
    (r"city|town|poststed|ort$|plaats|stadt|kaupunki|suburb", "city"),
    (r"addr|street|adresse|adres|straat|strasse|gate|road", "address"),
    (r"dob|birth|date|dato|datum", "date"),
    (r"price|amount|budget|revenue|cost|abv|sum$", "number"),
    (r"first.?name|surname|last.?name|fornavn|etternavn|given|family|forename|middle.?name|"
     r"^[fglms]_?name", "person"),
    (r"company|firma|bedrijf|organi|employer|customer|supplier|affil|applicant", "company"),
    (r"modelno|model|sku|isbn|number|code|nr$|no$|^id", "code"),
    (r"year|month|volume|pages|genre|style|type|category|class|brand|manufacturer", "category"),
]
_LEGAL_FORM = re.compile(
    r"\b(?:as|asa|ab|a/s|aps|oy|oyj|b\.?v\.?|n\.?v\.?|gmbh|ag|kg|ltd|limited|plc|llc|inc|corp)\b",
    re.IGNORECASE,
)
#: Values read per column: enough for a share to be known to about +-2 %, few enough that
#: inference stays a fraction of a second on any table.
SAMPLE = 2000
#: The share of values that must fit a pattern for the values to decide a type: exports hold
#: some typos, placeholders ("n/a", "-") and values of the wrong kind, but not one in ten.
CLEAR = 0.9
#: Years a birth, founding or contract date falls in; an 8-digit number or a 4-digit column
#: outside these is a code or an amount, not a date.
YEARS = (1800, 2100)
_MONTHS = ("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mai|okt|des|dez|mrt|maa|"
           "tam|hel|maal|huh|kes|hei|elo|syy|lok|mar")
#: Date layouts: (label, regex with named groups y / m / d / a / b for an ambiguous first and
#: second field, resolved by which one exceeds 12).
_DATE_FORMATS: list[tuple[str, str]] = [
    ("Y-m-d", r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[Tt ][\d:.+\-Zz ]*)?"),
    ("Y/m/d", r"(?P<y>\d{4})[/.](?P<m>\d{1,2})[/.](?P<d>\d{1,2})"),
    ("YYYYMMDD", r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    ("d.m.Y", r"(?P<a>\d{1,2})\.\s?(?P<b>\d{1,2})\.\s?(?P<y>\d{4})"),
    ("d/m/Y", r"(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<y>\d{4})(?:\s[\d:]+)?"),
    ("d Mon Y",
     rf"(?P<d>\d{{1,2}})\.?[\s-](?P<mon>(?:{_MONTHS})[a-zæøåäö]*)\.?[\s-](?P<y>\d{{4}})"),
    ("Mon d, Y",
     rf"(?P<mon>(?:{_MONTHS})[a-zæøåäö]*)\.?\s(?P<d>\d{{1,2}})\s?,?\s(?P<y>\d{{4}})"),
    ("d-Mon-y", rf"(?P<d>\d{{1,2}})-(?P<mon>(?:{_MONTHS})[a-zæøåäö]*)-(?P<yy>\d{{2}})"),
]
#: Characters no one types into a field: ASCII controls other than tab and newlines, and the
#: replacement character a decoder leaves for bytes that were not text.
#: The replacement character is written as itself: Arrow's regex engine (RE2) has no
#: "\u" escape, and pandas 3.0 hands it such patterns as they are.
_JUNK = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f" "\ufffd]"
#: A column with this share of junk values is binary data or a file read with the wrong
#: encoding; comparing it would only add noise.
JUNK_SHARE = 0.2
_PERSON_TOKEN = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"
_INITIALS = r"(?:[^\W\d_]\.?\s?){1,4}"


@dataclass
class _Evidence:
    """What the values of a column pair say: a kind (a type, or year / month / day, or
    ``blank`` / ``constant`` / ``junk``), and the reason in words."""

    kind: str
    why: str
    fmt: str = ""


def _non_empty(values: pd.Series) -> pd.Series:
    text = values.dropna().astype(str).str.strip()
    return text[text != ""]


def _sample(values: pd.Series) -> pd.Series:
    """Up to :data:`SAMPLE` values, the same ones on every run (seeded)."""
    return (values.sample(SAMPLE, random_state=0) if len(values) > SAMPLE else values
            ).reset_index(drop=True)


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _of(n: int) -> str:
    return f"{n:,} values"


def _dates(s: pd.Series) -> tuple[float, str]:
    """The share of values that are valid dates in one of the common layouts (two systems may
    write dates differently, so any layout counts), and the layouts most of them have
    (``d/m/Y`` becomes ``m/d/Y`` when the second field is the one above 12)."""
    low = s.str.casefold()
    valid = pd.Series(False, index=s.index)
    found: list[tuple[int, str]] = []
    for label, pattern in _DATE_FORMATS:
        parts = low.str.extract(f"^{pattern}$")
        if not parts.notna().any(axis=None):
            continue
        if "yy" in parts:  # a two-digit year is any year
            y = pd.to_numeric(parts["yy"], errors="coerce") + YEARS[0]
        else:
            y = pd.to_numeric(parts["y"], errors="coerce")
        if "a" in parts:
            a = pd.to_numeric(parts["a"], errors="coerce")
            b = pd.to_numeric(parts["b"], errors="coerce")
            if (b > 12).sum() > (a > 12).sum():  # 12/31/2026: the month comes first
                a, b = b, a
                label = label.replace("d", "#").replace("m", "d").replace("#", "m")
            m, d = b, a
        elif "mon" in parts:  # a month name: its place is checked by the pattern
            m = parts["mon"].notna().astype(float)
            d = pd.to_numeric(parts["d"], errors="coerce")
        else:
            m = pd.to_numeric(parts["m"], errors="coerce")
            d = pd.to_numeric(parts["d"], errors="coerce")
        ok = y.between(*YEARS) & m.between(1, 12) & d.between(1, 31)
        valid |= ok
        found.append((int(ok.sum()), label))
    found.sort(reverse=True)
    # name a second layout when it is more than a typo's worth of the values
    labels = [lb for k, lb in found[:2] if k and k >= 0.1 * len(s)] or [lb for _, lb in found[:1]]
    return float(valid.mean()) if len(s) else 0.0, " and ".join(labels)


def _integers(s: pd.Series) -> pd.Series:
    """Each value as an integer where it is one (digits only), else NaN."""
    return pd.to_numeric(s.where(s.str.fullmatch(r"\d{1,9}")), errors="coerce")


def _value_evidence(crm: pd.Series, erp: pd.Series | None = None) -> _Evidence:
    """What the values of a column pair are, from patterns over a sample (vectorised); with
    ``erp`` None, what the values of one column of one file are (a column without a namesake
    on the other side, typed on its own before it is paired by type)."""
    sides = ({"CRM": _non_empty(crm), "ERP": _non_empty(erp)} if erp is not None
             else {"": _non_empty(crm)})
    for side, vals in sides.items():
        if vals.empty:
            return _Evidence("blank", f"all blank in the {side} file" if side else "all blank")
    values = pd.concat(list(sides.values()), ignore_index=True)
    s = _sample(values)
    n = len(s)
    junk = float(s.str.contains(_JUNK, regex=True).mean())
    if junk >= JUNK_SHARE:
        return _Evidence("junk", f"{_pct(junk)} of {_of(n)} hold control characters or "
                                 "undecodable bytes")
    distinct = int(s.nunique())
    if distinct == 1 and values.nunique() == 1:
        return _Evidence("constant", f"one value ({s.iloc[0][:30]!r}) in every row")
    unique_share = distinct / n
    low = s.str.casefold()

    def share(pattern: str, of: pd.Series = low) -> float:
        return float(of.str.fullmatch(pattern).mean())

    mail = share(r"[^@\s]+@[^@\s]+\.[^\W\d_]{2,}")
    if mail >= CLEAR:
        return _Evidence("email", f"{_pct(mail)} of {_of(n)} are e-mail addresses")
    url = share(r"(?:https?://|www\.)\S+|[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:/\S*)?")
    if url >= CLEAR:
        return _Evidence("url", f"{_pct(url)} of {_of(n)} are web addresses")
    dates, fmt = _dates(s)
    if dates >= CLEAR:
        return _Evidence("date", f"{_pct(dates)} of {_of(n)} parse as dates (format {fmt})",
                         fmt)
    ints = _integers(s)
    if ints.notna().mean() >= CLEAR:
        lengths = s.str.len()
        if ints.between(*YEARS).mean() >= CLEAR and lengths.eq(4).mean() >= CLEAR:
            return _Evidence("year", f"{_pct(ints.between(*YEARS).mean())} of {_of(n)} are "
                                     f"years {YEARS[0]}-{YEARS[1]}")
        if ints.max() <= 12 and ints.min() >= 1 and distinct > 1:
            return _Evidence("month", f"{_of(n)} all between 1 and 12")
        if ints.max() <= 31 and ints.min() >= 1 and distinct > 12:
            return _Evidence("day", f"{_of(n)} all between 1 and 31")
    # a phone has 7-15 digits and is written with separators, a leading + or a trunk 0;
    # a code or an amount of as many digits is written as a bare number
    digits = s.str.replace(r"[\s\-().+/]", "", regex=True)
    phone_like = s.str.fullmatch(r"\+?[\d\s\-().\/]{7,22}") & digits.str.fullmatch(r"\d{7,15}")
    written = s.str.contains(r"[\s\-().]|^\+|^0", regex=True)
    if phone_like.mean() >= CLEAR and (phone_like & written).mean() >= 0.5:
        return _Evidence("phone", f"{_pct(phone_like.mean())} of {_of(n)} are phone numbers "
                                  "(7-15 digits)")
    # a legal form ends or starts a company's name; inside a sentence "as" is a word, and a
    # value with digits in it (a copyright line, a note) is no company's name
    form = _LEGAL_FORM.pattern
    legal = float((s.str.contains(rf"(?:^{form}\s|\s{form}\.?$)", flags=re.IGNORECASE)
                   & ~s.str.contains(r"\d")).mean())
    number = pd.to_numeric(s.str.replace(r"[$€£%,\s]", "", regex=True), errors="coerce")
    few = n >= 100 and distinct <= max(20, n // 50)
    if few:
        return _Evidence("category", f"{distinct} distinct among {_of(n)}")
    code_like = s.str.fullmatch(r"[A-Za-z0-9][A-Za-z0-9\-_/.]*") & s.str.contains(r"\d")
    lengths = s.str.len()
    stable = float(lengths.eq(lengths.mode().iloc[0]).mean())
    if code_like.mean() >= CLEAR and unique_share >= CLEAR and (
            stable >= CLEAR or number.notna().mean() < CLEAR):
        # an identifier: (nearly) one value per record, no spaces
        return _Evidence("code", f"{_pct(unique_share)} of {_of(n)} distinct, no spaces, "
                                 "with digits")
    postal = s.str.fullmatch(r"[A-Za-z0-9]{1,4}[ \-]?[A-Za-z0-9]{1,4}") & s.str.contains(r"\d")
    if postal.mean() >= CLEAR and lengths.max() <= 8 and stable >= 0.8 and unique_share < 0.7:
        # short codes of one length shared by many records: addresses share a postcode
        return _Evidence("postcode", f"{_pct(postal.mean())} of {_of(n)} are short codes of "
                                     f"{lengths.mode().iloc[0]} characters, "
                                     f"{_pct(1 - unique_share)} repeats")
    code = r"(?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]+"
    codes = share(rf"{code}(?:[^A-Za-z0-9]+{code})*")
    if codes >= CLEAR and s.str.split(r"[^A-Za-z0-9]+").str.len().mean() > 2:
        # lists of letter-and-digit codes (classifications, tags): a shared list means what a
        # shared category means, and their characters' likeness is noise (G06F and G02F are
        # unrelated classes). More than two per value on average: a postcode or a two-part
        # reference has two at most.
        return _Evidence("category", f"{_pct(codes)} of {_of(n)} are lists of codes with "
                                     "letters and digits")
    if number.notna().mean() >= 0.95:
        return _Evidence("number", f"{_pct(number.notna().mean())} of {_of(n)} are numbers")
    if legal >= 0.05:
        return _Evidence("company", f"{_pct(legal)} of {_of(n)} carry a legal form (Ltd, AS, "
                                    "GmbH ...)")
    house = share(r"\d+[a-z]?[,\s]+\D.*|.*\D[\s,]+\d+[a-z]?(?:[\s,]+\D{0,12})?")
    if house >= 0.6 and s.str.split().str.len().mean() <= 6:
        # a street and a house number; product titles carry numbers too, but rarely at an end
        return _Evidence("address", f"{_pct(house)} of {_of(n)} are words with a house "
                                    "number")
    tokens = s.str.split().str.len()
    one_token = share(rf"{_PERSON_TOKEN}\.?|{_INITIALS}")
    short = s.str.len().mean() <= 14
    if one_token >= CLEAR and short and tokens.le(1).mean() >= CLEAR:
        # one name per cell, letters only: a given name or a surname (initials count)
        return _Evidence("person", f"{_pct(one_token)} of {_of(n)} are single alphabetic "
                                   "words or initials, no digits")
    place = share(rf"{_PERSON_TOKEN}(?:[\s\-]{_PERSON_TOKEN}){{0,3}}")
    if place >= CLEAR and tokens.mean() <= 2 and unique_share <= 0.8 and short:
        # short names of one or two words that many records share: the towns they are in
        return _Evidence("city", f"{_pct(place)} of {_of(n)} are short names, "
                                 f"{_pct(1 - unique_share)} repeats")
    full = share(rf"(?:{_PERSON_TOKEN}\.?\s){{1,3}}{_PERSON_TOKEN}")
    if full >= CLEAR and tokens.mean() <= 3.5 and unique_share >= 0.5:
        return _Evidence("text", f"{_pct(full)} of {_of(n)} are names of a few words")
    return _Evidence("text", f"free text ({distinct:,} distinct among {_of(n)})")


#: Value kinds that only matter as part of a year/month/day triple; alone they are categories
#: (a short list of values).
_PART_KINDS = {"year": "category", "month": "category", "day": "category"}
#: Value kinds so unmistakable that they overrule a header hint: a column named "phone" that
#: holds e-mail addresses holds e-mail addresses.
_DECISIVE = ("email", "url", "date")
#: Header types whose values can be tested; when almost none of the values pass the test the
#: header is wrong (a "date" column of free text), and the values decide.
_TESTABLE = ("email", "url", "date", "phone", "number")


def _hint(column: str) -> tuple[str, str] | None:
    key = column.casefold()
    for pattern, type_ in _NAME_HINTS:
        match = re.search(pattern, key)
        if match:
            return type_, match.group(0)
    return None


def _decide(column: str, crm: pd.Series, erp: pd.Series, ev: _Evidence | None = None
            ) -> tuple[str, str]:
    """The type of a column pair and why (an empty type: leave the column out). Values first
    when they are decisive or when they contradict a testable header; the header next; then
    the values. ``ev``: the values' evidence when already at hand."""
    ev = ev or _value_evidence(crm, erp)
    if ev.kind in ("blank", "constant", "junk"):
        return "", ev.why
    value_type = _PART_KINDS.get(ev.kind, ev.kind)
    hint = _hint(column)
    if hint is None:
        key = column.casefold()
        if ("name" in key or "title" in key) and value_type != "company":
            # the name of something (a title, a product, a restaurant): words, not a place;
            # and one word under a plain "name" is a brand or a firm sooner than a person (a
            # person's name split in parts has headers that say which part)
            return "text", f"header '{column}' names something; {ev.why}"
        return value_type, ev.why
    type_, word = hint
    if type_ == value_type:
        return type_, f"header '{column}' and {ev.why}"
    # an 8-digit number under a header saying number or code may be an id that looks like a date
    bare = ev.fmt == "YYYYMMDD" and type_ in ("number", "code")
    if value_type in _DECISIVE and type_ not in ("date", "category") and not bare:
        return value_type, f"{ev.why} (header '{column}' suggested {type_})"
    if type_ in _TESTABLE and value_type in ("person", "city", "address", "company"):
        return value_type, f"{ev.why} (header '{column}' suggested {type_})"
    if type_ == "code" and _mostly_long_text(crm, erp):
        return "text", f"header '{column}' but values are long text"
    return type_, f"header '{column}'" + (f" ('{word}')" if word != column.casefold() else "")


def infer_type(column: str, crm: pd.Series, erp: pd.Series) -> str:
    """The type of a column pair, from its values and its name (``text`` when unknown)."""
    return _decide(column, crm, erp)[0] or "text"


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


# --- fields over several columns ---------------------------------------------------------

_YMD_WORDS = {"year": "y", "yr": "y", "yyyy": "y", "month": "m", "mon": "m", "day": "d",
              "y": "y", "m": "m", "d": "d"}
_SEP = r"[\s_.\-]*"


def _ymd_parts(column: str) -> list[tuple[str, str]]:
    """(stem, part) readings of a header as the year / month / day of a date: ``birth_year``
    and ``by`` (stem, then the part), ``yob`` and ``year_of_birth`` (the part, then stem)."""
    key = column.casefold()
    out = []
    suffix = re.fullmatch(rf"(.*?){_SEP}(year|yyyy|yr|month|mon|day|y|m|d)", key)
    if suffix and suffix.group(1):
        out.append(("s:" + suffix.group(1), _YMD_WORDS[suffix.group(2)]))
    prefix = re.fullmatch(rf"(year|yr|month|day|y|m|d)(?:{_SEP}of)?{_SEP}(.+)", key)
    if prefix:
        out.append(("p:" + prefix.group(2), _YMD_WORDS[prefix.group(1)]))
    return out


def _in_range(values: pd.Series, low: int, high: int) -> bool:
    s = _sample(_non_empty(values))
    return bool(len(s)) and float(_integers(s).between(low, high).mean()) >= CLEAR


def _ymd_side(table: pd.DataFrame, y: str, m: str, d: str) -> bool:
    """``table`` holds a year, a month and a day in those columns."""
    return (_in_range(table[y], *YEARS) and _in_range(table[m], 1, 12)
            and _in_range(table[d], 1, 31))


def _ymd_ok(crm: pd.DataFrame, erp: pd.DataFrame, y: str, m: str, d: str) -> bool:
    """Both sides hold a year, a month and a day in those columns."""
    return _ymd_side(crm, y, m, d) and _ymd_side(erp, y, m, d)


def _date_triples(crm: pd.DataFrame, erp: pd.DataFrame, shared: Sequence[str],
                  kinds: dict[str, str]) -> list[tuple[tuple[str, str, str], str]]:
    """Year, month and day columns that make one date: by header stem (``by, bm, bd``;
    ``birth_year, birth_month, birth_day``; ``yob, mob, dob``), values confirming; else the
    only year, the only month and the only day column by values."""
    stems: dict[str, dict[str, str]] = {}
    for c in shared:
        for stem, part in _ymd_parts(c):
            stems.setdefault(stem, {}).setdefault(part, c)
    out: list[tuple[tuple[str, str, str], str]] = []
    used: set[str] = set()
    for parts in stems.values():
        if len(parts) == 3 and not used & set(parts.values()):
            y, m, d = parts["y"], parts["m"], parts["d"]
            if _ymd_ok(crm, erp, y, m, d):
                out.append(((y, m, d), f"year+month+day columns {y}, {m}, {d} (headers; values "
                                       "in range)"))
                used |= {y, m, d}
    free = {k: [c for c in shared if kinds.get(c) == k and c not in used]
            for k in ("year", "month", "day")}
    if all(len(v) == 1 for v in free.values()):
        y, m, d = free["year"][0], free["month"][0], free["day"][0]
        if _ymd_ok(crm, erp, y, m, d):
            out.append(((y, m, d), f"year+month+day columns {y}, {m}, {d} (by values: a year, "
                                   "a 1-12 and a 1-31 column)"))
    return out


#: Types a value split over columns can be joined back into with a space.
_JOINABLE = ("person", "company", "text", "address")


#: Header words naming a piece of a name, by its place in the name: the first, middle and last
#: words (``Name_first``, ``first_name``, ``middlename``, ``surname``, ``family name``).
_PIECE_RANK = {"first": 0, "given": 0, "fore": 0, "middle": 1, "last": 2, "family": 2, "sur": 2}


def _piece(column: str) -> tuple[str, int] | None:
    """``(stem, rank)`` when the header names a piece of a name (see :data:`_PIECE_RANK`): the
    stem is the header without the piece word and without a ``name`` word, so ``Name_first``,
    ``first_name`` and ``firstname`` are all the first piece of the stem ``''``."""
    words = [w for w in re.split(r"[\s_.\-]+", column.casefold()) if w]
    ranks = [(i, _PIECE_RANK.get(re.sub(r"names?$", "", w))) for i, w in enumerate(words)]
    hits = [(i, r) for i, r in ranks if r is not None]
    if len(hits) != 1:
        return None
    at, rank = hits[0]
    stem = [w for i, w in enumerate(words) if i != at and w not in ("name", "names")]
    return " ".join(stem), rank


def _split_groups(shared: Sequence[str], every: Sequence[str] = ()
                  ) -> list[tuple[list[str], str]]:
    """Columns holding pieces of one value: headers equal but for a trailing number
    (``fname_c1, fname_c2``; ``address_1, address_2``: an export splitting a long or repeated
    field), in that number's order; and the first / middle / last pieces of one name
    (:func:`_piece`), in that order. Whether they are joined depends on their type (two phone
    columns are two phones, not pieces of one; see :func:`_join_pieces`).

    When every compared column (``every``, the columns before any were claimed) has the same
    stem (``c1, c2 ... cN``), the number is a numbering of the columns, not of the pieces of
    one field: nothing is joined by headers then."""
    numbered = {re.sub(r"\d{1,2}$", "", c.casefold()) for c in every}
    if len(every) > 2 and len(numbered) == 1 and all(re.search(r"\d$", c) for c in every):
        shared = []
    stems: dict[str, list[tuple[int, str]]] = {}
    for c in shared:
        m = re.fullmatch(r"(.*\D)(\d{1,2})", c.casefold())
        if m and m.group(1).strip(" _.-"):
            stems.setdefault(m.group(1), []).append((int(m.group(2)), c))
    pieces: dict[str, list[tuple[int, str]]] = {}
    for c in shared:
        if (found := _piece(c)) is not None:
            pieces.setdefault(found[0], []).append((found[1], c))
    out = [([c for _, c in sorted(v)], f"columns {', '.join(c for _, c in sorted(v))} differ "
            f"only by {why}")
           for group, why in ((stems, "a trailing number"), (pieces, "first / middle / last"))
           for v in group.values() if len(v) > 1 and len({n for n, _ in v}) == len(v)]
    return out


def _join_pieces(cols: list[str], types: Sequence[str]) -> list[str]:
    """The columns of a split group (:func:`_split_groups`) that are joined into one value.

    A person's first and last names are two fields of their own, each with its own weight (a
    surname says more than a given name); only the first and middle names are joined (a
    second given name, often empty). Any other value (an organisation, free text, an address)
    split at word boundaries has no fixed pieces: the split moves with the number of words,
    so two exports cut it at different places and the value is compared whole."""
    found = [_piece(c) for c in cols]
    if types and types[0] == "person" and all(found):
        return [c for c, f in zip(cols, found, strict=True) if f and f[1] < 2]
    return cols


def _joined(table: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """The pieces of a value joined with a space (NA when all are empty)."""
    parts = [table[c].astype("string").str.strip().replace("", pd.NA) for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = (out.fillna("") + " " + p.fillna("")).str.strip().replace("", pd.NA)
    return out


# --- columns whose names differ -----------------------------------------------------------

#: Share of a column's words (occurrences over a sample) that must occur among the words of a
#: column of the other file for the two to hold the same field, or the one a piece of the
#: other: two exports of the same records write the same names, streets and places, while
#: unrelated columns share few words. Half leaves room for typos, spelling and records that
#: are in one file only.
OVERLAP = 0.5
#: Values whose words make the vocabulary another column's words are looked up in: more than
#: a sample, since a rare word (a surname, a street) occurs only in the rows of its record.
VOCABULARY = 50_000
#: Types a column can have to be a piece of another column's value, joined with a space.
_PIECE_TYPES = ("person", "company", "text", "address", "city", "postcode", "number", "code")
#: Types whose normaliser makes two ways of writing a value agree: one leftover column of the
#: type on each side is a pair on the type alone. Free text, categories, numbers and codes
#: are not: one such column on each side may hold two different things, so they must also
#: share words (see :data:`OVERLAP`).
_TYPED_ALONE = ("person", "company", "address", "city", "postcode", "country", "phone", "email",
                "url", "orgno", "date")
_SIDE_NAMES = {"crm": "CRM", "erp": "ERP"}


@dataclass
class _Leftovers:
    """One file's columns without a namesake in the other file, typed from their own values
    (and headers), with the words they hold (for :data:`OVERLAP`)."""

    table: pd.DataFrame
    side: str  #: ``crm`` or ``erp``
    cols: list[str]
    kinds: dict[str, str]
    types: dict[str, tuple[str, str]]
    words: dict[str, pd.Series]  # word occurrences over a sample
    vocab: dict[str, pd.Index]  # distinct words over up to VOCABULARY values
    length: dict[str, float]  # mean words per non-empty value

    @property
    def label(self) -> str:
        return _SIDE_NAMES[self.side]


def _word_list(values: pd.Series, n: int) -> pd.Series:
    """The words (runs of letters or digits, casefolded) of up to ``n`` non-empty values."""
    s = _non_empty(values)
    if len(s) > n:
        s = s.sample(n, random_state=0)
    return s.str.casefold().str.findall(r"\w+").explode().dropna()


def _leftovers(table: pd.DataFrame, side: str, cols: list[str]) -> _Leftovers:
    kinds, types, words, vocab, length = {}, {}, {}, {}, {}
    for c in cols:
        ev = _value_evidence(table[c])
        kinds[c] = ev.kind
        types[c] = _decide(c, table[c], table[c], ev)
        if types[c][0]:
            words[c] = _word_list(table[c], SAMPLE)
            vocab[c] = pd.Index(_word_list(table[c], VOCABULARY).unique())
            n = _non_empty(_sample(table[c])).str.split().str.len()
            length[c] = float(n.mean()) if len(n) else 0.0
    return _Leftovers(table, side, cols, kinds, types, words, vocab, length)


def _overlap(a: _Leftovers, col: str, b: _Leftovers, other: str) -> float:
    """Share of the words of ``col`` (side ``a``) that occur among those of ``other``."""
    w = a.words.get(col)
    if w is None or not len(w) or other not in b.vocab:
        return 0.0
    return float(w.isin(b.vocab[other]).mean())


def _coordinate_like(values: pd.Series) -> bool:
    """Numbers within [-180, 180] (95 %), most of the non-zero ones with a fraction (a position
    is written with decimals; counts, ages and codes are whole numbers), and not mostly with
    exactly two decimals (money). 0 is left aside: exports write it for "no position"."""
    text = _non_empty(_sample(_non_empty(values)))
    if len(text) < 2:
        return False
    num = pd.to_numeric(text, errors="coerce")
    if not num.abs().le(180).mean() >= 0.95:
        return False
    nonzero = text[num.ne(0) & num.notna()]
    if nonzero.nunique() < 2:
        return False
    frac = pd.to_numeric(nonzero) % 1 != 0
    decimals = nonzero.str.extract(r"\.(\d+)$")[0].str.len()
    return bool(frac.mean() >= 0.5 and decimals.eq(2).mean() < CLEAR)


def _coordinate_pairs(table: pd.DataFrame, cols: Sequence[str]
                      ) -> list[tuple[str, str, str]]:
    """(latitude, longitude, why) among ``cols`` by values alone: coordinate-like columns
    (:func:`_coordinate_like`) that are the only two such, else neighbours in the file, and
    present together (a row has a position or has none, so where one is empty or 0 the other
    is too, in 95 % of the rows). The latitude is the column that stays within [-90, 90] when
    the other does not; when both do, the left one (ISO 6709 writes the latitude first)."""
    like = [c for c in cols if _coordinate_like(table[c])]
    order = {c: i for i, c in enumerate(table.columns)}
    like.sort(key=order.__getitem__)
    if len(like) == 2:
        candidates = [(like[0], like[1])]
    else:
        candidates, i = [], 0
        while i + 1 < len(like):
            if order[like[i + 1]] == order[like[i]] + 1:
                candidates.append((like[i], like[i + 1]))
                i += 2
            else:
                i += 1
    out = []
    for a, b in candidates:
        va, vb = (pd.to_numeric(table[c], errors="coerce") for c in (a, b))
        gone_a, gone_b = va.isna() | va.eq(0), vb.isna() | vb.eq(0)
        if not (gone_a == gone_b).mean() >= 0.95:
            continue
        in_a, in_b = (bool(v.dropna().abs().le(90).all()) for v in (va, vb))
        if in_a == in_b:
            why = "both within [-90, 90]: the left one is the latitude (ISO 6709 order)"
            lat, lng = a, b
        else:
            lat, lng = (a, b) if in_a else (b, a)
            why = f"{lng} leaves [-90, 90], so it is the longitude"
        out.append((lat, lng, f"two columns of coordinate-like numbers (fractions within "
                              f"[-180, 180], present together); {why}"))
    return out


def _ymd_units(s: _Leftovers, cols: Sequence[str]) -> list[tuple[tuple[str, ...], str]]:
    """One file's dates among ``cols``: year/month/day triples (by header stem, else the only
    year, month and day columns by values) and single date columns."""
    stems: dict[str, dict[str, str]] = {}
    for c in cols:
        for stem, part in _ymd_parts(c):
            stems.setdefault(stem, {}).setdefault(part, c)
    out: list[tuple[tuple[str, ...], str]] = []
    used: set[str] = set()
    for parts in stems.values():
        if len(parts) == 3 and not used & set(parts.values()):
            y, m, d = parts["y"], parts["m"], parts["d"]
            if _ymd_side(s.table, y, m, d):
                out.append(((y, m, d), "year+month+day columns (headers; values in range)"))
                used |= {y, m, d}
    free = {k: [c for c in cols if s.kinds.get(c) == k and c not in used]
            for k in ("year", "month", "day")}
    if all(len(v) == 1 for v in free.values()):
        y, m, d = free["year"][0], free["month"][0], free["day"][0]
        if _ymd_side(s.table, y, m, d):
            out.append(((y, m, d), "year+month+day columns (by values: a year, a 1-12 and a "
                                   "1-31 column)"))
            used |= {y, m, d}
    out += [((c,), s.types[c][1]) for c in cols
            if c not in used and s.types[c][0] == "date"]
    return out


def _pair_by_values(crm: _Leftovers, erp: _Leftovers, trusted: Collection[str] | None = None
                    ) -> list[tuple[Comparison, Inference]]:
    """Pair the columns of two files whose names differ, by what they hold. In this order, each
    stage taking only columns no earlier one took:

    1. a location (two coordinate columns, :func:`_coordinate_pairs`), one on each side;
    2. a date, one on each side, each a date column or a year/month/day triple;
    3. pieces: columns of one file whose words occur (:data:`OVERLAP`) in one column of the
       other file, more than in any other column there, and that have fewer words per value
       than it (a given name and a surname against a full name; street, postcode and city
       against an address; an organisation and its place against the whole string): joined
       with a space, in file order, against that column. The whole address is kept (rather
       than pairing street with address alone): the merged side holds the postcode and city
       too, and without them on the other side those words would only count against a pair;
    4. words shared both ways: two columns each of whose words mostly occur in the other, each
       the other's best (this also settles two leftover columns of one type per side);
    5. types: several person-name columns on one side against one name column on the other,
       joined (different records may share few words, yet a given name and a surname column
       against one name column are the same field); an address against street + postcode /
       city columns, joined; then one column of a type on each side, for types compared
       through a normaliser (:data:`_TYPED_ALONE`).

    Stages 1, 2 and 5 pair columns by their types alone, with no value shared. ``trusted``
    (None: every column) limits them to pairs holding a trusted column: a workspace trusts its
    canonical fields (a "birth date" is one) but not its administrative columns, where a
    CRM's "registered" and an ERP's "last modified" are the only dates and a sales rep's
    initials and a currency code the only single words.
    """
    done: list[tuple[Comparison, Inference]] = []
    taken: set[tuple[str, str]] = set()

    def free(s: _Leftovers) -> list[str]:
        return [c for c in s.cols if (s.side, c) not in taken and s.types[c][0]]

    def add(crm_cols: Sequence[str], erp_cols: Sequence[str], type_: str, why: str,
            lng: tuple[str, str] = ("", "")) -> None:
        name = "+".join(crm_cols) if list(crm_cols) == list(erp_cols) else (
            "+".join(crm_cols) + "=" + "+".join(erp_cols))
        if type_ == "location":
            comp = Comparison(name, crm_cols[0], erp_cols[0], type_, lng[0], lng[1])
            crm_all, erp_all = (crm_cols[0], lng[0]), (erp_cols[0], lng[1])
        else:
            comp = Comparison(name, crm_cols[0], erp_cols[0], type_,
                              crm_more=tuple(crm_cols[1:]), erp_more=tuple(erp_cols[1:]))
            crm_all, erp_all = tuple(crm_cols), tuple(erp_cols)
        done.append((comp, Inference(crm_all, erp_all, type_, why)))
        taken.update(("crm", c) for c in crm_all)
        taken.update(("erp", c) for c in erp_all)

    def add_typed(crm_cols: Sequence[str], erp_cols: Sequence[str], type_: str, why: str,
                  lng: tuple[str, str] = ("", "")) -> None:
        """:func:`add` for a pair found by types alone: only with a trusted column."""
        if trusted is None or {*crm_cols, *erp_cols, *lng} & set(trusted):
            add(crm_cols, erp_cols, type_, why, lng)

    def listed(cols: Sequence[str], s: _Leftovers) -> str:
        return f"{', '.join(cols)} ({s.label})"

    # 1. location
    points = {s.side: _coordinate_pairs(s.table, free(s)) for s in (crm, erp)}
    if len(points["crm"]) == 1 and len(points["erp"]) == 1:
        (a_lat, a_lng, a_why), (b_lat, b_lng, b_why) = points["crm"][0], points["erp"][0]
        add_typed([a_lat], [b_lat], "location", f"no shared name; CRM {a_lat}, {a_lng}: "
                  f"{a_why}; ERP {b_lat}, {b_lng}: {b_why}", (a_lng, b_lng))
    # 2. date
    dates = {s.side: _ymd_units(s, free(s)) for s in (crm, erp)}
    if len(dates["crm"]) == 1 and len(dates["erp"]) == 1:
        (a, a_why), (b, b_why) = dates["crm"][0], dates["erp"][0]
        add_typed(a, b, "date", f"date {listed(a, crm)} against {listed(b, erp)}: no shared "
                  f"name; one date on each side (CRM: {a_why}; ERP: {b_why})")
    # 3. pieces of one column of the other file, and 4. words shared both ways
    wholes: list[tuple[_Leftovers, str, _Leftovers, list[str], float]] = []
    for a, b in ((crm, erp), (erp, crm)):
        home: dict[str, list[str]] = {}
        share: dict[str, float] = {}
        targets = [w for w in free(b) if b.types[w][0] in _PIECE_TYPES]
        for c in free(a):
            if a.types[c][0] not in _PIECE_TYPES or not targets:
                continue
            scores = [_overlap(a, c, b, w) for w in targets]
            best = max(range(len(targets)), key=scores.__getitem__)
            w = targets[best]
            if scores[best] >= OVERLAP and a.length[c] < b.length[w]:
                home.setdefault(w, []).append(c)
                share[c] = scores[best]
        for w, pieces in home.items():
            if len(pieces) >= 2:
                wholes.append((b, w, a, pieces, min(share[c] for c in pieces)))
    for whole_side, w, piece_side, pieces, least in sorted(wholes, key=lambda x: -len(x[3])):
        if any((piece_side.side, c) in taken for c in [*pieces]) or (whole_side.side, w) in taken:
            continue
        _join_against(add, whole_side, w, piece_side, pieces,
                      f"at least {_pct(least)} of the words of each occur in {w}")
    for c in free(crm):
        others = free(erp)
        if not others:
            break
        scores = [min(_overlap(crm, c, erp, e), _overlap(erp, e, crm, c)) for e in others]
        best = max(range(len(others)), key=scores.__getitem__)
        e = others[best]
        back = [min(_overlap(crm, x, erp, e), _overlap(erp, e, crm, x)) for x in free(crm)]
        if scores[best] >= OVERLAP and max(back) <= scores[best]:
            type_, why = _decide(c, crm.table[c], erp.table[e])
            if type_:
                add([c], [e], type_, f"{c} (CRM) against {e} (ERP): no shared name; "
                    f"{_pct(scores[best])} of the words of each occur in the other; {why}")
    # 5. by types
    for a, b in ((crm, erp), (erp, crm)):
        persons = [c for c in free(a) if "person" in (a.kinds[c], a.types[c][0])]
        names = [c for c in free(b) if b.types[c][0] in ("person", "text")]
        if len(persons) >= 2 and len(names) == 1 and len(persons) > len(
                [c for c in names if b.types[c][0] == "person"]):
            _join_against(add_typed, b, names[0], a, persons, "both person names by values")
    for a, b in ((crm, erp), (erp, crm)):
        addr = [c for c in free(b) if b.types[c][0] == "address"]
        parts = [c for c in free(a) if a.types[c][0] in ("address", "postcode", "city")]
        if (len(addr) == 1 and [c for c in parts if a.types[c][0] == "address"]
                and len(parts) >= 2 and not [c for c in free(b) if b.types[c][0] in
                                             ("postcode", "city")]):
            _join_against(add_typed, b, addr[0], a, parts, "an address against street and "
                          "postcode / city columns by values")
    for type_ in _TYPED_ALONE:
        a_cols = [c for c in free(crm) if crm.types[c][0] == type_]
        b_cols = [c for c in free(erp) if erp.types[c][0] == type_]
        if len(a_cols) == 1 and len(b_cols) == 1:
            c, e = a_cols[0], b_cols[0]
            add_typed([c], [e], type_, f"{c} (CRM) against {e} (ERP): no shared name; the "
                      f"only {type_} column on each side (CRM: {crm.types[c][1]}; ERP: "
                      f"{erp.types[e][1]})")
    return done


def _join_against(add: Callable[..., None], whole_side: _Leftovers, whole: str,
                  piece_side: _Leftovers, pieces: Sequence[str], reason: str) -> None:
    """Join ``pieces`` (in file order) into one value compared with ``whole``. The type is the
    pair's (whole and joined values together), except that pieces that are each one person's
    name word make a person's name even under a header that only says "name"."""
    order = {c: i for i, c in enumerate(piece_side.table.columns)}
    pieces = sorted(pieces, key=order.__getitem__)
    joined = _joined(piece_side.table, pieces)
    type_, why = _decide(whole, whole_side.table[whole], joined)
    # the values, not the header: "name_first" says "name", its values say a person's name;
    # a piece that is a short list (a mostly empty middle-name column repeating a few names)
    # says nothing either way
    telling = [c for c in pieces if piece_side.kinds[c] != "category"]
    if telling and all("person" in (piece_side.kinds[c], piece_side.types[c][0])
                       for c in telling) and type_ in ("text", "person"):
        type_, why = "person", "the pieces are person names by values"
    if type_ not in _JOINABLE:
        own = whole_side.types[whole][0]
        type_ = own if own in _JOINABLE else "text"
    kind = f"{type_} columns" if len(pieces) > 1 else f"{type_} column"
    text = (f"{kind} {', '.join(pieces)} ({piece_side.label}) joined against {whole} "
            f"({whole_side.label}): no shared name; {reason}; {why}")
    crm_cols, erp_cols = ((pieces, [whole]) if piece_side.side == "crm" else ([whole], pieces))
    add(crm_cols, erp_cols, type_, text)


def _given(crm: pd.DataFrame, erp: pd.DataFrame, given: Sequence[Comparison]
           ) -> tuple[list[Comparison], list[Inference]]:
    """``--compare`` pairs: columns checked, missing types inferred."""
    comps, why = [], []
    for c in given:
        for col, table, side in [*((x, crm, "CRM") for x in c.columns("crm")),
                                 *((x, erp, "ERP") for x in c.columns("erp"))]:
            if col not in table.columns:
                have = ", ".join(map(str, table.columns))
                raise ValueError(f"--compare {c.name}={'+'.join(c.columns('erp'))}: the {side} "
                                 f"table has no column '{col}'; its columns are {have}")
        evidence = "given by --compare"
        if not c.type:
            crm_cols, erp_cols = c.columns("crm"), c.columns("erp")
            if (len(crm_cols) == 3 and len(erp_cols) == 3
                    and _ymd_side(crm, *crm_cols) and _ymd_side(erp, *erp_cols)):
                type_, reason = "date", "year, month and day columns"
            else:
                type_, reason = _decide(c.crm_col, _joined(crm, crm_cols), _joined(erp, erp_cols))
                type_ = type_ or "text"
            c = Comparison(c.name, c.crm_col, c.erp_col, type_, c.crm_lng_col, c.erp_lng_col,
                           c.crm_more, c.erp_more)
            evidence = f"given by --compare; type from {reason}"
        comps.append(c)
        why.append(Inference(tuple(c.columns("crm")), tuple(c.columns("erp")), c.type, evidence))
    return comps, why


def explain_comparisons(
    crm: pd.DataFrame, erp: pd.DataFrame, id_col: str = "id",
    given: Sequence[Comparison] = (), *, trusted: Collection[str] | None = None,
) -> tuple[list[Comparison], list[Inference]]:
    """The comparisons to run and, for each, why (see :func:`infer_comparisons`); the
    :class:`Inference` list also names the shared columns left out (all blank, one value,
    junk). ``trusted``: the only columns of one file that may pair with a column of the other
    by types alone (see :func:`_pair_by_values`); None: all."""
    if given:
        return _given(crm, erp, given)
    shared = [c for c in crm.columns if c in set(erp.columns) and c != id_col]
    # columns without a namesake on the other side: typed from their own values and paired
    # by what they hold (see _pair_by_values)
    paired = _pair_by_values(
        _leftovers(crm, "crm", [c for c in crm.columns if c not in shared and c != id_col]),
        _leftovers(erp, "erp", [c for c in erp.columns if c not in shared and c != id_col]),
        trusted)
    if not shared and not paired:
        def cols(t: pd.DataFrame) -> str:
            return ", ".join(f"'{c}'" for c in t.columns if c != id_col) or "(none)"
        raise ValueError(
            f"the two tables share no column besides the id '{id_col}', and no column pairs "
            f"up by its values: the CRM file has {cols(crm)}; the ERP file has {cols(erp)}. "
            "Name the pairs to compare with --compare CRM_COL=ERP_COL[:TYPE]"
        )
    if not shared:
        return [c for c, _ in paired], [i for _, i in paired]
    evidence = {c: _value_evidence(crm[c], erp[c]) for c in shared}
    decided = {c: _decide(c, crm[c], erp[c], evidence[c]) for c in shared}
    kinds = {c: e.kind for c, e in evidence.items()}
    groups: dict[str, tuple[Comparison, Inference]] = {}  # by first column
    claimed: set[str] = set()
    point = _location(crm, erp, shared)
    if point:
        lat, lng = point
        groups[lat] = (Comparison(f"{lat}+{lng}", lat, lat, "location", lng, lng),
                       Inference((lat, lng), (lat, lng), "location",
                                 f"latitude and longitude columns {lat}, {lng} (headers; "
                                 "values in range)"))
        claimed |= {lat, lng}
    else:
        # no header says latitude and longitude: the values may (the same two columns by
        # values on both sides)
        found = _coordinate_pairs(crm, shared)
        if len(found) == 1 and [p[:2] for p in _coordinate_pairs(erp, shared)] == [found[0][:2]]:
            lat, lng, why = found[0]
            groups[lat] = (Comparison(f"{lat}+{lng}", lat, lat, "location", lng, lng),
                           Inference((lat, lng), (lat, lng), "location", why))
            claimed |= {lat, lng}
    for (y, m, d), why in _date_triples(crm, erp, [c for c in shared if c not in claimed],
                                        kinds):
        first = min((y, m, d), key=shared.index)
        groups[first] = (Comparison(f"{y}+{m}+{d}", y, y, "date", crm_more=(m, d),
                                    erp_more=(m, d)), Inference((y, m, d), (y, m, d), "date", why))
        claimed |= {y, m, d}
    for cols, why in _split_groups([c for c in shared if c not in claimed], shared):
        cols = _join_pieces(cols, [decided[c][0] for c in cols])
        if len(cols) < 2:
            continue
        pieces = [decided[c][0] for c in cols]
        if pieces[0] not in _JOINABLE or any(p and p not in (*_JOINABLE, "category")
                                             for p in pieces):
            continue
        # the first piece is there in every row and says what the field is; the later ones
        # are often mostly empty (a second given name), so the joined values would say less
        type_, reason = decided[cols[0]]
        more = tuple(cols[1:])
        groups[cols[0]] = (Comparison("+".join(cols), cols[0], cols[0], type_, crm_more=more,
                                      erp_more=more),
                           Inference(tuple(cols), tuple(cols), type_,
                                     f"{why}, joined with a space; {cols[0]}: {reason}"))
        claimed |= set(cols)
    comps, why_list = [], []
    for c in shared:
        if c in groups:
            comps.append(groups[c][0])
            why_list.append(groups[c][1])
        elif c not in claimed:
            type_, reason = decided[c]
            if type_:
                comps.append(Comparison(c, c, c, type_))
            why_list.append(Inference((c,), (c,), type_, reason))
    comps += [c for c, _ in paired]
    why_list += [i for _, i in paired]
    comps, why_list = drop_derived(crm, erp, comps, why_list)
    if not comps:
        raise ValueError("no column can be compared: " + "; ".join(
            f"{i.column}: {i.evidence}" for i in why_list))
    return comps, why_list


#: Share of rows (where both hold a value) in which every word of one name column occurs in
#: another for the other to be built from it. Columns that are not built from each other
#: almost never hold every word of another name column (a few per hundred: a surname that is
#: also a place); built ones do in nearly every row, less the rows where one of the two was
#: retyped with a typo or a nickname. Half is the midpoint.
DERIVED = 0.5


def _word_sets(table: pd.DataFrame, comps: Sequence[Comparison], side: str
               ) -> dict[str, pd.Series]:
    """Per name comparison, the casefolded words of each sampled row's value (the same rows
    for every comparison; NA where the value is blank)."""
    rows = table.sample(SAMPLE, random_state=0) if len(table) > SAMPLE else table
    out = {}
    for c in comps:
        words = _joined(rows, c.columns(side)).str.casefold().str.findall(r"\w+")
        out[c.name] = words.map(lambda w: frozenset(w) if isinstance(w, list) and w else pd.NA)
    return out


def _contained(part: pd.Series, whole: pd.Series) -> float:
    """Share of the rows holding both values in which every word of ``part`` is in ``whole``."""
    both = part.notna() & whole.notna()
    if not both.any():
        return 0.0
    hits = [p <= w for p, w in zip(part[both], whole[both], strict=True)]
    return sum(hits) / len(hits)


def drop_derived(crm: pd.DataFrame, erp: pd.DataFrame, comps: list[Comparison],
                 why: list[Inference], keep: Collection[str] = ()
                 ) -> tuple[list[Comparison], list[Inference]]:
    """Leave out a name column built from others: a full name next to the first name and the
    surname it joins (or the same name twice under two headers).

    Why: the model takes the comparisons as independent pieces of evidence given a match or
    not. A full name agrees exactly when its first name and surname do, so comparing it too
    counts one agreement two or three times: a pair sharing only a common name then looks
    certain (on persons with a full name and a first-and-surname column beside the parts, a
    third of the links were wrong). The parts are kept: each has its own weight (a surname
    says more than a given name). A column is built from others when, in at least
    :data:`DERIVED` of the rows on both sides, it holds every word of each of two or more
    other name columns, or holds the same words as one other. ``keep``: comparisons never
    left out (a workspace's canonical first and last name), only looked at as parts."""
    names = [c for c in comps if c.type in NAME_TYPES]
    if len(names) < 2:
        return comps, why
    words = [_word_sets(crm, names, "crm"), _word_sets(erp, names, "erp")]
    dropped: dict[str, str] = {}
    for x in names:
        if x.name in keep:
            continue
        live = [y for y in names if y.name != x.name and y.name not in dropped]
        parts = [y for y in live
                 if min(_contained(w[y.name], w[x.name]) for w in words) >= DERIVED]
        same = [y for y in parts
                if min(_contained(w[x.name], w[y.name]) for w in words) >= DERIVED]
        if len(parts) >= 2:
            dropped[x.name] = ("it holds the words of " + " and ".join(y.name for y in parts)
                               + " in most rows: a name built from them, compared through them")
        elif same:
            dropped[x.name] = (f"it holds the same words as {same[0].name} in most rows: the "
                               "same name twice, compared once")
    if not dropped:
        return comps, why
    kept = [c for c in comps if c.name not in dropped]
    notes = []
    for i in why:
        hit = next((c for c in comps if c.name in dropped and i.type
                    and tuple(c.columns("crm")) == i.crm_columns
                    and tuple(c.columns("erp")) == i.erp_columns), None)
        notes.append(i if hit is None else
                     Inference(i.crm_columns, i.erp_columns, "",
                               f"{dropped[hit.name]} (counting it too would count the same "
                               "agreement twice)"))
    return kept, notes


def infer_comparisons(
    crm: pd.DataFrame, erp: pd.DataFrame, id_col: str = "id",
    given: Sequence[Comparison] = (),
) -> list[Comparison]:
    """The comparisons to run: the ``given`` ones (their missing types inferred), else every
    column the two tables share by name, except ``id_col``; a latitude and a longitude column
    become one ``location``, a year, a month and a day column one ``date``, and pieces of one
    name split over columns one comparison (see :func:`_split_groups`). Columns that are all
    blank, hold one value, or hold binary junk are left out. Why each one is there:
    :func:`explain_comparisons`."""
    return explain_comparisons(crm, erp, id_col, given)[0]
