"""Tests of :mod:`erpdata.normalize`: exact keys per country, and CRM-vs-ERP agreement on the demo.

Most tests are tables: one row per input with its exact expected key. The demo tests take the
truth pairs of :func:`erpdata.demo.generate` and check that both sides of a pair normalise to the
same key (org numbers, phones, countries, e-mail and web domains, streets, names).

Nothing here is timed (timings depend on the machine). Throughput was measured once with a
one-off script over the columns of 1,000,000 ERP companies of the demo and is written in the
docstrings of :mod:`erpdata.normalize`; what a test *can* check about speed is checked instead:
that the demo's phone shapes never need the slow ``phonenumbers.parse`` path, and that a large
column with repeated values gives the same keys as its distinct values.
"""

from __future__ import annotations

import random
import re

import pandas as pd
import phonenumbers
import pytest
from phonenumbers.phonemetadata import PhoneMetadata
from stdnum.de import vat as de_vat
from stdnum.dk import cvr
from stdnum.fi import ytunnus
from stdnum.gb import vat as gb_vat
from stdnum.nl import btw
from stdnum.no import orgnr
from stdnum.se import orgnr as se_orgnr

from erpdata import demo
from erpdata import normalize as nz
from erpdata.normalize import company_names, phone_numbers

NA = None


def one(fn, value, *args, **kwargs):
    """``fn`` on a one-row Series; NA results come back as ``None``."""
    out = fn(pd.Series([value], dtype=object), *args, **kwargs)
    result = out.iloc[0]
    return None if not isinstance(result, list | tuple) and pd.isna(result) else result


# =============================================================================================
# fold_text
# =============================================================================================


@pytest.mark.parametrize(("raw", "expected"), [
    ("Tromsø & Ålesund", "tromso and alesund"),
    ("Aalesund", "alesund"),  # "aa" is the old spelling of å
    ("Ålesund", "alesund"),
    ("Straße", "strasse"),
    ("Æbeltoft", "aebeltoft"),
    ("Ærø", "aero"),
    ("Jyväskylä", "jyvaskyla"),
    ("Sjöberg", "sjoberg"),
    ("Müller-Lüdenscheidt", "muller ludenscheidt"),
    ("Dänemark", "danemark"),
    ("Café Déjà Vu", "cafe deja vu"),
    ("Łódź", "lodz"),
    ("Þór", "thor"),
    ("Œuvre", "oeuvre"),
    ("ﬁrma", "firma"),  # NFKD ligature
    ("  Multiple   spaces\t", "multiple spaces"),
    ("O'Brien (UK) Ltd.", "o brien uk ltd"),
    ("ABC123", "abc123"),
    ("---", NA),
    ("", NA),
    (None, NA),
])
def test_fold_text(raw, expected):
    assert one(nz.fold_text, raw) == expected


# =============================================================================================
# company_name
# =============================================================================================

COMPANIES = [
    # Norway
    ("Hansen & Co AS", "NO", "hansen co", "as"),
    ("HANSEN OG CO. AKSJESELSKAP", "NO", "hansen co", "as"),
    ("Hansen og Co A/S", "NO", "hansen co", "as"),
    ("AS Eksempel", "NO", "eksempel", "as"),
    ("Equinor ASA", "NO", "equinor", "asa"),
    ("Nordic Semiconductor Allmennaksjeselskap", "NO", "nordic semiconductor", "asa"),
    ("Iststad Fredrikstad A.S.A.", "NO", "iststad fredrikstad", "asa"),
    ("Olsen Rør ENK", "NO", "olsen ror", "enk"),
    ("Olsen Rør Enkeltpersonforetak", "NO", "olsen ror", "enk"),
    ("Berg & Dahl DA", "NO", "berg dahl", "da"),
    ("Berg og Dahl Ansvarlig selskap", "NO", "berg dahl", "ans"),
    ("Felleskjøpet Agri SA", "NO", "felleskjopet agri", "sa"),
    ("Brødrene Dahl AS", "NO", "brothers dahl", "as"),
    ("Brdr. Dahl AS", "NO", "brothers dahl", "as"),
    ("Tromsø Eiendom Holding AS", "NO", "tromso eiendom holding", "as"),
    ("Tromso Eiend. Hold. AS", "NO", "tromso eiendom holding", "as"),
    ("Ålesund Fisk AS", "NO", "alesund fisk", "as"),
    ("Aalesund Fisk AS", "NO", "alesund fisk", "as"),
    ("Oslo Mek. Verksted AS", "NO", "oslo mekaniske verksted", "as"),
    ("Nordisk Bygg og Anlegg Aksjese", "NO", "nordisk bygg anlegg", "as"),  # cut at 30
    ("Hansen Bygg og Anlegg Selskap med", "NO", "hansen bygg anlegg", "da"),  # cut too
    ("Nordisk Bygg og Anlegg Partner", "NO", "nordisk bygg anlegg partner", NA),  # a word
    ("Norsk Hydro", "NO", "norsk hydro", NA),
    # Sweden
    ("Volvo Personvagnar AB", "SE", "volvo personvagnar", "ab"),
    ("Volvo Personvagnar Aktiebolag", "SE", "volvo personvagnar", "ab"),
    ("Ericsson AB (publ)", "SE", "ericsson", "ab_publ"),
    ("Svensson & Söner HB", "SE", "svensson soner", "hb"),
    ("Svensson och Söner Handelsbolag", "SE", "svensson soner", "hb"),
    ("Sandberg Städ H.B.", "SE", "sandberg stad", "hb"),
    ("Lindqvist Bygg KB", "SE", "lindqvist bygg", "kb"),
    ("Mälardalens Livs Ek. för.", "SE", "malardalens livs", "ek_for"),
    ("Göteborgs Intl. Trading AB", "SE", "goteborgs international trading", "ab"),
    ("Bröderna Andersson AB", "SE", "brothers andersson", "ab"),
    # Denmark
    ("Møller & Søn A/S", "DK", "moller son", "as"),
    ("Møller og Søn Aktieselskab", "DK", "moller son", "as"),
    ("Jensen Byg ApS", "DK", "jensen byg", "aps"),
    ("Jensen Byg Anpartsselskab", "DK", "jensen byg", "aps"),
    ("Nielsen & Hansen I/S", "DK", "nielsen hansen", "is"),
    ("Arla Foods amba", "DK", "arla foods", "amba"),
    ("Kbh Startup IVS", "DK", "kbh startup", "ivs"),
    ("Aarhus Consult P/S", "DK", "arhus consult", "ps"),
    # Finland
    ("Nokia Oyj", "FI", "nokia", "oyj"),
    ("Virtanen Rakennus Oy", "FI", "virtanen rakennus", "oy"),
    ("Virtanen Rakennus Osakeyhtiö", "FI", "virtanen rakennus", "oy"),
    ("Oy Karl Fazer Ab", "FI", "karl fazer", "ab"),
    ("Mäkinen Ky", "FI", "makinen", "ky"),
    ("Mäkinen T:mi", "FI", "makinen", "tmi"),
    ("Lahti Putki ja Lämpö Avoin yhtiö", "FI", "lahti putki lampo", "ay"),
    # Netherlands
    ("De Vries Bouw B.V.", "NL", "de vries bouw", "bv"),
    ("De Vries Bouw BV", "NL", "de vries bouw", "bv"),
    ("De Vries Bouw Besloten Vennootschap", "NL", "de vries bouw", "bv"),
    ("Jansen en Zonen V.O.F.", "NL", "jansen zonen", "vof"),
    ("Koninklijke Philips N.V.", "NL", "koninklijke philips", "nv"),
    ("Stichting Het Groene Hart", "NL", "het groene hart", "stichting"),
    ("Bakker Gebr. C.V.", "NL", "bakker brothers", "cv"),
    ("Haarlem Holding B.V.", "NL", "harlem holding", "bv"),
    # Germany
    ("Müller GmbH", "DE", "muller", "gmbh"),
    ("Müller Gesellschaft mit beschränkter Haftung", "DE", "muller", "gmbh"),
    ("Schmidt Bau GmbH & Co. KG", "DE", "schmidt bau", "gmbh_co_kg"),
    ("Schmidt Bau GmbH & Co KG", "DE", "schmidt bau", "gmbh_co_kg"),
    ("Siemens AG", "DE", "siemens", "ag"),
    ("Weber Logistik UG (haftungsbeschränkt)", "DE", "weber logistik", "ug"),
    ("Hans Meier e.K.", "DE", "hans meier", "ek"),
    ("Hans Meier e. K.", "DE", "hans meier", "ek"),
    ("Gebrüder Weiß OHG", "DE", "brothers weiss", "ohg"),
    ("Straßenbau Süd KG", "DE", "strassenbau sud", "kg"),
    ("Becker Verwaltungs-GmbH", "DE", "becker verwaltungs", "gmbh"),
    # United Kingdom, United States
    ("Tesco PLC", "GB", "tesco", "plc"),
    ("Smith & Sons Ltd.", "GB", "smith sons", "ltd"),
    ("Smith and Sons Limited", "GB", "smith sons", "ltd"),
    ("Baker Tilly LLP", "GB", "baker tilly", "llp"),
    ("Patel Plumbing L.L.P.", "GB", "patel plumbing", "llp"),
    ("Plumbing James Public Limited ", "GB", "plumbing james", "plc"),  # cut at 30
    ("Jones Bros Ltd", "GB", "jones brothers", "ltd"),
    ("St. Albans Intl Holdings Ltd", "GB", "st albans international holding", "ltd"),
    ("Saint Albans International Holding Limited", "GB", "st albans international holding",
     "ltd"),
    ("Acme Widgets Inc.", "US", "acme widgets", "inc"),
    ("Acme Widgets Corporation", "US", "acme widgets", "corp"),
    ("Acme LLC", "US", "acme", "llc"),
    # country unknown, or not the form's: short ambiguous forms stay in the name
    ("Müller GmbH", None, "muller", "gmbh"),
    ("Hansen Data I/S", None, "hansen data", "is"),
    ("Hansen Data I/S", "NO", "hansen data i s", NA),
    ("Hansen Data DA", "SE", "hansen data da", NA),
    ("Hans Meier e.K.", "SE", "hans meier e k", NA),
    # edge cases
    ("AS", "NO", "as", NA),  # only a form: kept as the name
    ("Bygg & Anlegg", "NO", "bygg anlegg", NA),
    ("", "NO", NA, NA),
    (None, "NO", NA, NA),
]


@pytest.mark.parametrize(("raw", "country", "name", "form"), COMPANIES)
def test_company_name(raw, country, name, form):
    out = nz.company_name(pd.Series([raw], dtype=object), country)
    got_name, got_form, tokens = out.iloc[0]
    assert (None if pd.isna(got_name) else got_name) == name
    assert (None if pd.isna(got_form) else got_form) == form
    assert tokens == (name.split() if name else [])


def test_company_name_crm_and_erp_spellings_meet():
    crm = pd.Series(["Hansen & Co AS", "Müller GmbH & Co. KG", "De Vries B.V.", "Smith Ltd"])
    erp = pd.Series(["HANSEN OG CO. AKSJESELSKAP", "MÜLLER GMBH + CO. KG",
                     "DE VRIES BESLOTEN VENNOOTSCHAP", "SMITH LIMITED"])
    a = nz.company_name(crm, pd.Series(["NO", "DE", "NL", "GB"]))
    b = nz.company_name(erp, pd.Series(["Norge", "Tyskland", "Nederland", "Storbritannia"]))
    assert a["name"].tolist() == b["name"].tolist()
    assert a["legal_form"].tolist() == b["legal_form"].tolist() == ["as", "gmbh_co_kg", "bv",
                                                                    "ltd"]


def _form_spellings() -> list[tuple[str, str, str | None]]:
    rows = []
    for code, spellings in nz.LEGAL_FORMS.items():
        native = sorted(company_names._FORM_COUNTRIES.get(code, {"NO"}))[0]
        rows += [(code, spelling, native) for spelling in spellings]
    return rows


@pytest.mark.parametrize(("code", "spelling", "country"), _form_spellings())
def test_every_legal_form_spelling_gives_its_code(code, spelling, country):
    out = nz.company_name(pd.Series([f"Acme Trading {spelling}"]), country)
    assert out["name"].iloc[0] == "acme trading"
    assert out["legal_form"].iloc[0] == code


def test_company_name_country_series_is_aligned_by_label():
    names = pd.Series(["Hansen I/S", "Hansen I/S"], index=[10, 20])
    countries = pd.Series(["NO", "DK"], index=[20, 10])  # DK belongs to row 10
    out = nz.company_name(names, countries)
    assert out.index.tolist() == [10, 20]
    assert out["legal_form"][10] == "is"
    assert pd.isna(out["legal_form"][20])


# =============================================================================================
# person_name
# =============================================================================================


@pytest.mark.parametrize(("raw", "expected"), [
    ("Jan Ole Hansen", "jan ole hansen"),
    ("Hansen, Jan Ole", "jan ole hansen"),
    ("Dr. Hansen, Jan Ole", "jan ole hansen"),
    ("Mevr. drs. A. de Vries", "a de vries"),
    ("Vries, Jan de", "jan de vries"),
    ("Herr Prof. Dr. Müller", "muller"),
    ("Frau Dipl.-Ing. Anna Schäfer", "anna schafer"),
    ("Fru Åsa Sjöberg", "asa sjoberg"),
    ("Hr. Søren Kierkegaard", "soren kierkegard"),
    ("Dhr. ir. P. van der Berg", "p van der berg"),
    ("Mr John Smith Jr.", "john smith"),
    ("Mrs. O'Connor", "o connor"),
    ("Amartya Sen", "amartya sen"),  # not a title here
    ("Dr.", NA),
    ("", NA),
    (None, NA),
])
def test_person_name(raw, expected):
    assert one(nz.person_name, raw) == expected


# =============================================================================================
# Phones
# =============================================================================================


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("+47 22 33 44 55", "NO", "+4722334455"),
    ("22334455", "NO", "+4722334455"),
    ("22 33 44 55", "Norge", "+4722334455"),
    ("0047 22 33 44 55", "NO", "+4722334455"),
    ("+47 22334455", None, "+4722334455"),
    ("Tel: 22 33 44 55", "NO", "+4722334455"),
    ("22334455 ext 12", "NO", "+4722334455"),
    ("22 33 44 55 / 90 00 00 00", "NO", "+4722334455"),  # the first of two numbers
    ("08-123 456 78", "SE", "+46812345678"),
    ("+46 8 123 456 78", "SE", "+46812345678"),
    ("0046 8 123 456 78", "NO", "+46812345678"),  # international beats the record's country
    ("070-123 45 67", "SE", "+46701234567"),
    ("+45 33 12 34 56", "DK", "+4533123456"),
    ("33 12 34 56", "DK", "+4533123456"),
    ("09 1234 5678", "FI", "+358912345678"),
    ("+358 9 1234 5678", None, "+358912345678"),
    ("040 123 4567", "FI", "+358401234567"),
    ("+31 (0)20 123 4567", "NL", "+31201234567"),
    ("020-1234567", "NL", "+31201234567"),
    ("06-12345678", "NL", "+31612345678"),
    ("030 12345678", "DE", "+493012345678"),
    ("030/12345678", "DE", "+493012345678"),
    ("030 / 1234567", "DE", "+49301234567"),  # one number, not two
    ("+49 (0)30 12345678", "DE", "+493012345678"),
    ("0171 1234567", "DE", "+491711234567"),
    ("020 7946 0000", "GB", "+442079460000"),
    ("+44 (0)20 7946 0000", "GB", "+442079460000"),
    ("+44 020 7946 0000", None, "+442079460000"),  # trunk 0 after the country code
    ("07700 900123", "UK", "+447700900123"),
    ("(212) 555-1234", "US", "+12125551234"),
    ("+39 06 1234 5678", None, "+390612345678"),  # Italy keeps its leading 0
    ("1-800-FLOWERS", "US", "+18003569377"),  # letters: phonenumbers' own parser
    ("22334455", None, NA),  # national, country unknown
    ("123", "NO", NA),
    ("not a number", "NO", NA),
    ("", "NO", NA),
    (None, "NO", NA),
])
def test_phone(raw, country, expected):
    assert one(nz.phone, raw, country) == expected


@pytest.mark.parametrize(("raw", "country", "default", "strict"), [
    ("26 72 97 88", "NO", "+4726729788", NA),  # well-formed, not an allocated range
    ("22 33 44 55", "NO", "+4722334455", "+4722334455"),
    ("37 46 46 75", "DK", "+4537464675", NA),
    ("33 12 34 56", "DK", "+4533123456", "+4533123456"),
])
def test_phone_strict_means_allocated(raw, country, default, strict):
    assert one(nz.phone, raw, country) == default
    assert one(nz.phone, raw, country, strict=True) == strict


def test_phone_default_country_fills_missing_countries():
    s = pd.Series(["22334455", "08-123 456 78", "+45 33 12 34 56"])
    out = nz.phone(s, pd.Series([None, "SE", None]), default_country="Norge")
    assert out.tolist() == ["+4722334455", "+46812345678", "+4533123456"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("+47 22 33 44 55", "22334455"),
    ("22334455", "22334455"),
    ("0047 22334455", "22334455"),
    ("08-123 456 78", "12345678"),
    ("+46 8 123 456 78", "12345678"),
    ("+31 (0)20 123 4567", "01234567"),
    ("020 123 4567", "01234567"),
    ("22334455 x 12", "22334455"),
    ("12345", NA),
    ("", NA),
    (None, NA),
])
def test_phone_digits(raw, expected):
    assert one(nz.phone_digits, raw) == expected


# =============================================================================================
# E-mail and web
# =============================================================================================


@pytest.mark.parametrize(("raw", "address", "domain"), [
    ("Post@Firma.no", "post@firma.no", "firma.no"),
    (" mailto:Post@Firma.no ", "post@firma.no", "firma.no"),
    ("Kari Nordmann <Kari@Firma.no>", "kari@firma.no", "firma.no"),
    ("x@gmail.com; y@firma.no", "x@gmail.com", "gmail.com"),
    ("ola.nordmann@sub.firma.co.uk", "ola.nordmann@sub.firma.co.uk", "sub.firma.co.uk"),
    ("jörg@müller.de", "jörg@müller.de", "müller.de"),  # kept as written (IDN)
    ("a..b@firma.no", NA, NA),
    ("a@b", NA, NA),
    ("no e-mail", NA, NA),
    ("", NA, NA),
    (None, NA, NA),
])
def test_email_and_domain(raw, address, domain):
    assert one(nz.email, raw) == address
    assert one(nz.email_domain, raw) == domain


@pytest.mark.parametrize(("domain", "free"), [
    ("gmail.com", True), ("googlemail.com", True), ("hotmail.no", True), ("hotmail.co.uk", True),
    ("outlook.com", True), ("live.se", True), ("yahoo.co.uk", True), ("icloud.com", True),
    ("online.no", True), ("telia.com", True), ("gmx.de", True), ("web.de", True),
    ("t-online.de", True), ("ziggo.nl", True), ("kpnmail.nl", True), ("btinternet.com", True),
    ("mail.dk", True), ("suomi24.fi", True), ("GMAIL.COM", True),
    ("firma.no", False), ("live.firma.no", False), ("mail.firma.no", False),
    ("hotmailfirma.no", False), ("", False), (None, False),
])
def test_is_free_mail_domain(domain, free):
    out = nz.is_free_mail_domain(pd.Series([domain], dtype=object))
    assert out.dtype == bool
    assert bool(out.iloc[0]) is free


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://www.Firma.no/om-oss", "firma.no"),
    ("www.firma.no", "firma.no"),
    ("firma.no", "firma.no"),
    ("http://firma.co.uk:8080/x?y=1", "firma.co.uk"),
    ("HTTPS://WWW2.FIRMA.DE/", "firma.de"),
    ("shop.firma.se", "shop.firma.se"),
    ("firma.no.", "firma.no"),
    ("post@firma.no", "firma.no"),
    ("localhost", NA),
    ("10.0.0.1", NA),
    ("ikke oppgitt", NA),
    ("", NA),
    (None, NA),
])
def test_url_domain(raw, expected):
    assert one(nz.url_domain, raw) == expected


# =============================================================================================
# Organisation and VAT numbers
# =============================================================================================


@pytest.mark.parametrize(("raw", "country", "orgno", "valid"), [
    # Norway: CRM org number and ERP VAT number
    ("923609016", "NO", "923609016", True),
    ("923 609 016", "Norge", "923609016", True),
    ("NO 923 609 016 MVA", "NO", "923609016", True),
    ("NO923609016MVA", None, "923609016", True),
    ("Org.nr. 923 609 016", "NO", "923609016", True),
    ("923609017", "NO", "923609017", False),
    ("92360901", "NO", "92360901", False),
    ("923609016.0", "NO", "923609016", True),  # a spreadsheet made it a number
    # Sweden
    ("556036-0793", "SE", "5560360793", True),
    ("SE556036079301", "SE", "5560360793", True),
    ("SE 5560360793 01", None, "5560360793", True),
    ("16556036-0793", "SE", "5560360793", True),
    ("556036-0794", "SE", "5560360794", False),
    # Denmark
    ("13585628", "DK", "13585628", True),
    ("DK 13 58 56 28", "DK", "13585628", True),
    ("DK-13585628", None, "13585628", True),
    ("CVR 13585628", "DK", "13585628", True),
    ("13585627", "DK", "13585627", False),
    # Finland
    ("2077474-0", "FI", "20774740", True),
    ("FI20774740", None, "20774740", True),
    ("FI 2077474-0", "FI", "20774740", True),
    ("112038-9", "FI", "01120389", True),  # old number without its leading zero
    ("2077474-1", "FI", "20774741", False),
    # Netherlands: BTW and the RSIN inside it
    ("NL004495445B01", "NL", "004495445", True),
    ("NL4495445B01", None, "004495445", True),
    ("NL 0044.95.445.B01", "NL", "004495445", True),
    ("004495445", "NL", "004495445", True),
    ("12345678", "NL", "12345678", NA),  # KvK number: no check digit
    # Germany
    ("DE136695976", "DE", "136695976", True),
    ("DE 136 695 976", None, "136695976", True),
    ("USt-IdNr.: DE136695976", "DE", "136695976", True),
    ("136695976", "Tyskland", "136695976", True),
    ("136695977", "DE", "136695977", False),
    ("HRB 12345", "DE", "HRB12345", NA),  # register number: no check
    # United Kingdom
    ("GB980780684", "GB", "980780684", True),
    ("GB 980 7806 84", None, "980780684", True),
    ("980 7806 84", "UK", "980780684", True),
    ("GB980780684001", "GB", "980780684", True),  # branch suffix
    ("01234567", "GB", "01234567", NA),  # Companies House number
    ("SC123456", "GB", "SC123456", NA),
    # elsewhere
    ("BE403019261", None, "0403019261", True),
    ("BE 0403.019.261", "BE", "0403019261", True),
    ("ATU13585627", None, "U13585627", True),
    ("IE6388047V", "IE", "6388047V", True),
    ("FR40303265045", None, "40303265045", True),
    ("CHE-116.281.710 MWST", "CH", "116281710", True),
    ("12345", None, "12345", NA),  # no country: no check
    ("n/a", "NO", NA, NA),
    ("", "NO", NA, NA),
    (None, "NO", NA, NA),
])
def test_org_number(raw, country, orgno, valid):
    out = nz.org_number(pd.Series([raw], dtype=object), country)
    assert str(out["orgno_valid"].dtype) == "boolean"
    got, ok = out.iloc[0]
    assert (None if pd.isna(got) else got) == orgno
    assert (None if pd.isna(ok) else bool(ok)) == valid


#: Country -> (python-stdnum module named in the brief, digits, how the module is fed).
STDNUM = {
    "NO": (orgnr, 9, lambda n: n),
    "SE": (se_orgnr, 10, lambda n: n),
    "DK": (cvr, 8, lambda n: n),
    "FI": (ytunnus, 8, lambda n: n),
    "DE": (de_vat, 9, lambda n: n),
    "GB": (gb_vat, 9, lambda n: n),
    "NL": (btw, 9, lambda n: f"{n}B01"),
}


@pytest.mark.parametrize("country", sorted(STDNUM))
def test_org_number_validity_is_stdnum_is_valid(country):
    module, width, feed = STDNUM[country]
    rng = random.Random(f"orgno-{country}")
    numbers = [str(rng.randrange(10 ** (width - 1), 10**width)) for _ in range(3000)]
    numbers += [str(rng.randrange(0, 10 ** (width - 1))).zfill(width) for _ in range(300)]
    values = [f"{country}{feed(n)}" if country == "NL" else n for n in numbers]
    out = nz.org_number(pd.Series(values), country)
    expected = [module.is_valid(feed(n)) for n in numbers]
    assert sum(expected) > 50  # the sample holds valid numbers too
    assert out["orgno_valid"].astype(bool).tolist() == expected
    assert out["orgno"].tolist() == numbers


# =============================================================================================
# Addresses and countries
# =============================================================================================


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("0150", "NO", "0150"),
    ("150", "NO", "0150"),  # a spreadsheet ate the leading zero
    ("NO-0150", "NO", "0150"),
    ("0150 Oslo", "NO", "0150"),
    ("111 22", "SE", "11122"),
    ("S-111 22", "SE", "11122"),
    ("SE-11122", None, "11122"),  # a country marker goes even without a country
    ("AB10 1AB", None, "AB101AB"),  # no country: letters and digits kept
    ("1050", "DK", "1050"),
    ("DK-1050", "DK", "1050"),
    ("00100", "FI", "00100"),
    ("FIN-00100", "FI", "00100"),
    ("1012 ab", "NL", "1012AB"),
    ("1012AB", "NL", "1012AB"),
    ("1012 AMSTERDAM", "NL", "1012"),
    ("10115", "DE", "10115"),
    ("D-01067", "DE", "01067"),
    ("1067", "DE", "01067"),
    ("sw1a 1aa", "GB", "SW1A1AA"),
    ("EC1A 1BB", "UK", "EC1A1BB"),
    ("12345-6789", "US", "12345"),
    ("unknown", "NO", NA),
    ("", "NO", NA),
    (None, "NO", NA),
])
def test_postcode(raw, country, expected):
    assert one(nz.postcode, raw, country) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Storgata 1B", "stor gata 1b"),
    ("Storgt. 1 b", "stor gata 1b"),
    ("Storgaten 1b", "stor gata 1b"),
    ("Kongens gate 5", "kongens gata 5"),
    ("Kongensgate 5", "kongens gata 5"),
    ("Kongens gt. 5", "kongens gata 5"),
    ("Sandviksveien 3", "sandviks vei 3"),
    ("Sandviksvn. 3", "sandviks vei 3"),
    ("Sluppenvegen 1", "sluppen vei 1"),
    ("Åsveien 3", "as vei 3"),
    ("Åsvn. 3", "as vei 3"),
    ("Bygdøy allé 2", "bygdoy alle 2"),
    ("Jernbanetorget 1", "jernbane plass 1"),
    ("Drottninggatan 12", "drottning gata 12"),
    ("Nyg. 12", "ny gata 12"),
    ("Parkvägen 3", "park vei 3"),
    ("Södra v. 19", "sodra vei 19"),
    ("Vestergade 12, st.", "vester gata 12 st"),
    ("Vesterg. 12, st.", "vester gata 12 st"),
    ("Industrivej 5", "industri vei 5"),
    ("Industriv. 5", "industri vei 5"),
    ("Mannerheimintie 4 A", "mannerheimin vei 4a"),
    ("Aleksanterinkatu 15", "aleksanterin gata 15"),
    ("Kerkstraat 1-2", "kerk gata 1 2"),
    ("Kerkstr. 1-2", "kerk gata 1 2"),
    ("Beethovenlaan 3", "beethoven alle 3"),
    ("Stationsweg 9", "stations vei 9"),
    ("Hauptstraße 5", "haupt gata 5"),
    ("Hauptstr. 5", "haupt gata 5"),
    ("Max-Planck-Straße 3", "max planck gata 3"),
    ("Max-Planck-Str. 3", "max planck gata 3"),
    ("Marienplatz 1", "marien plass 1"),
    ("22 High Street", "22 high gata"),
    ("22 High St", "22 high gata"),
    ("St Olavs gate 3", "st olavs gata 3"),
    ("12 Station Road", "12 station vei"),
    ("12 Station Rd", "12 station vei"),
    ("5 Church Lane", "5 church lane"),
    ("Postboks 123 Sentrum", "pobox 123 sentrum"),
    ("Pb. 123", "pobox 123"),
    ("Box 394", "pobox 394"),
    ("PL 263", "pobox 263"),
    ("Postbus 1000", "pobox 1000"),
    ("Postfach 10 20 30", "pobox 10 20 30"),
    ("P.O. Box 45", "pobox 45"),
    ("Ing. Hansens vei 3", "ing hansens vei 3"),
    ("435 S. La Cienega Blvd.", "435 s la cienega alle"),  # "S" is a direction here
    ("435 s. la cienega blv.", "435 s la cienega alle"),
    ("221 E. 51st St.", "221 e 51st gata"),
    ("", NA),
    (None, NA),
])
def test_street(raw, expected):
    assert one(nz.street, raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Oslo", "oslo"),
    ("OSLO", "oslo"),
    ("Oslo 1", "oslo"),
    ("0150 Oslo", "oslo"),
    ("Tromsø", "tromso"),
    ("København K", "kobenhavn"),
    ("Copenhagen", "kobenhavn"),
    ("Aarhus C", "arhus"),
    ("Århus", "arhus"),
    ("Göteborg", "goteborg"),
    ("Gothenburg", "goteborg"),
    ("München", "munchen"),
    ("Munich", "munchen"),
    ("Frankfurt am Main", "frankfurt am main"),
    ("Helsingfors", "helsinki"),
    ("'s-Gravenhage", "den haag"),
    ("London EC1A", "london"),
    ("", NA),
    (None, NA),
])
def test_city(raw, expected):
    assert one(nz.city, raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("NO", "NO"), ("no", "NO"), ("NOR", "NO"), ("Norge", "NO"), ("Noreg", "NO"),
    ("Norway", "NO"), ("Norwegen", "NO"),
    ("SE", "SE"), ("Sverige", "SE"), ("Sweden", "SE"), ("Schweden", "SE"), ("Ruotsi", "SE"),
    ("DK", "DK"), ("Danmark", "DK"), ("Denmark", "DK"), ("Dänemark", "DK"), ("DNK", "DK"),
    ("FI", "FI"), ("Finland", "FI"), ("Suomi", "FI"), ("Finnland", "FI"), ("FIN", "FI"),
    ("NL", "NL"), ("Nederland", "NL"), ("Holland", "NL"), ("Netherlands", "NL"),
    ("The Netherlands", "NL"), ("Niederlande", "NL"),
    ("DE", "DE"), ("Tyskland", "DE"), ("Deutschland", "DE"), ("Germany", "DE"),
    ("Saksa", "DE"), ("Duitsland", "DE"),
    ("GB", "GB"), ("UK", "GB"), ("United Kingdom", "GB"), ("England", "GB"),
    ("Storbritannia", "GB"), ("Storbritannien", "GB"), ("Great Britain", "GB"),
    ("Det forente kongerike", "GB"), ("Großbritannien", "GB"),
    ("Island", "IS"), ("Færøyene", "FO"), ("Grønland", "GL"), ("Estland", "EE"),
    ("Polen", "PL"), ("Frankrike", "FR"), ("Spania", "ES"), ("Italia", "IT"),
    ("Sveits", "CH"), ("Østerrike", "AT"), ("Belgia", "BE"), ("Irland", "IE"),
    ("EL", "GR"), ("USA", "US"), ("De forente stater", "US"),
    ("Atlantis", NA), ("", NA), (None, NA),
])
def test_country_code(raw, expected):
    assert one(nz.country_code, raw) == expected


# =============================================================================================
# Series contract: index, missing values, repeated values, dtypes
# =============================================================================================

SERIES_FUNCTIONS = [
    nz.fold_text, nz.person_name, nz.phone_digits, nz.email, nz.email_domain, nz.url_domain,
    nz.street, nz.city, nz.country_code,
    lambda s: nz.phone(s, "NO"), lambda s: nz.postcode(s, "NO"),
]


@pytest.mark.parametrize("fn", SERIES_FUNCTIONS)
def test_series_keep_index_and_missing(fn):
    s = pd.Series(["Storgata 1 / 22334455 post@firma.no", None, float("nan"), "", "Oslo"],
                  index=["a", "b", "c", "d", "e"], dtype=object)
    out = fn(s)
    assert out.index.tolist() == ["a", "b", "c", "d", "e"]
    assert out[["b", "c", "d"]].isna().all()


def test_dataframe_functions_keep_index():
    s = pd.Series(["Hansen AS", None], index=[7, 3])
    for out in (nz.company_name(s, "NO"), nz.org_number(s, "NO")):
        assert out.index.tolist() == [7, 3]
    assert nz.company_name(s, "NO")["tokens"][3] == []


def test_non_string_values_are_read_as_text():
    out = nz.org_number(pd.Series([923609016, None], dtype=object), "NO")
    assert out["orgno"][0] == "923609016"


# =============================================================================================
# The demo: both sides of a truth pair meet
# =============================================================================================


@pytest.fixture(scope="module")
def demo_data() -> dict[tuple[str, str], pd.DataFrame]:
    return demo.generate(size=600)


@pytest.fixture(scope="module")
def company_pairs(demo_data) -> pd.DataFrame:
    """Truth pairs of companies: CRM columns suffixed ``_c``, ERP columns ``_e``, ISO codes."""
    crm, erp = demo_data[("crm", "company")], demo_data[("erp", "company")]
    truth = demo_data[("truth", "all")]
    pairs = (truth[truth["kind"] == "company"]
             .merge(crm, left_on="crm_id", right_on="id")
             .merge(erp, left_on="erp_id", right_on="id", suffixes=("_c", "_e")))
    pairs["cc_c"] = nz.country_code(pairs["country_c"])
    pairs["cc_e"] = nz.country_code(pairs["country_e"])
    return pairs


def _person_countries(demo_data, side: str) -> pd.Series:
    persons, companies = demo_data[(side, "person")], demo_data[(side, "company")]
    link = "company_id" if side == "crm" else "parent_key"
    return persons[link].map(companies.set_index("id")["country"])


def test_demo_countries_meet(company_pairs):
    assert company_pairs["cc_c"].notna().all()
    assert (company_pairs["cc_c"] == company_pairs["cc_e"]).all()
    assert set(company_pairs["cc_e"]) == {"NO", "SE", "DK", "FI", "NL", "DE", "GB"}


def test_demo_org_numbers_meet(company_pairs):
    crm = nz.org_number(company_pairs["vatno_c"], company_pairs["cc_c"])
    erp = nz.org_number(company_pairs["vatno_e"], company_pairs["cc_e"])
    both = crm["orgno"].notna() & erp["orgno"].notna()
    assert both.sum() > 300
    assert (crm["orgno"][both] == erp["orgno"][both]).mean() >= 0.99
    assert crm["orgno_valid"][both].all() and erp["orgno_valid"][both].all()


def test_demo_phones_meet(company_pairs, demo_data):
    columns = [(company_pairs["phone_c"], company_pairs["cc_c"],
                company_pairs["phone_e"], company_pairs["cc_e"])]
    for side_c, side_e in [("phone_direct", "phone_direct"), ("phone_mobile", "phone_mobile")]:
        truth = demo_data[("truth", "all")]
        pairs = truth[truth["kind"] == "person"]
        crm = demo_data[("crm", "person")].assign(cc=_person_countries(demo_data, "crm"))
        erp = demo_data[("erp", "person")].assign(cc=_person_countries(demo_data, "erp"))
        p = pairs.merge(crm, left_on="crm_id", right_on="id").merge(
            erp, left_on="erp_id", right_on="id", suffixes=("_c", "_e"))
        columns.append((p[side_c + "_c"], p["cc_c"], p[side_e + "_e"], p["cc_e"]))
    for crm_phone, crm_cc, erp_phone, erp_cc in columns:
        a, b = nz.phone(crm_phone, crm_cc), nz.phone(erp_phone, erp_cc)
        same_number = nz.phone_digits(crm_phone) == nz.phone_digits(erp_phone)  # not changed
        assert same_number.sum() > 100
        assert a[same_number].notna().all()
        assert (a[same_number] == b[same_number]).all()


def test_demo_web_and_mail_domains_meet(company_pairs):
    for column, fn in (("url", nz.url_domain), ("email", nz.email_domain)):
        a, b = fn(company_pairs[column + "_c"]), fn(company_pairs[column + "_e"])
        both = a.notna() & b.notna()
        assert both.sum() > 100
        assert (a[both] == b[both]).all()
        assert not nz.is_free_mail_domain(a).any()


def test_demo_streets_meet_where_the_company_did_not_move(company_pairs):
    for street_col, zip_col, city_col in (("streetad1", "streetzip", "streetcity"),
                                          ("postalad1", "postalzip", "postalcity")):
        same_zip = (nz.postcode(company_pairs[zip_col + "_c"], company_pairs["cc_c"])
                    == nz.postcode(company_pairs[zip_col + "_e"], company_pairs["cc_e"]))
        a = nz.street(company_pairs[street_col + "_c"])
        b = nz.street(company_pairs[street_col + "_e"])
        both = same_zip & a.notna() & b.notna()
        assert both.sum() > 200
        assert (a[both] == b[both]).mean() >= 0.98
        city_c = nz.city(company_pairs[city_col + "_c"])
        city_e = nz.city(company_pairs[city_col + "_e"])  # upper case in half the NO rows
        both = same_zip & city_c.notna() & city_e.notna()
        assert both.sum() > 200
        assert (city_c[both] == city_e[both]).all()


def test_demo_company_names_mostly_meet(company_pairs):
    crm = nz.company_name(company_pairs["name_c"], company_pairs["cc_c"])
    erp = nz.company_name(company_pairs["name_e"], company_pairs["cc_e"])
    # the rest are the demo's typos, for the fuzzy scorer
    assert (crm["name"] == erp["name"]).mean() >= 0.85
    assert crm["legal_form"].notna().mean() >= 0.95


# =============================================================================================
# phonenumbers agreement and the fast path (what keeps phone() fast)
# =============================================================================================


def _reference_e164(value, region, strict):
    """What python-phonenumbers itself says (general pattern unless ``strict``)."""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return None
    if strict:
        ok = phonenumbers.is_valid_number(number)
    else:
        nsn = phonenumbers.national_significant_number(number)
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code, ())
        ok = any(re.fullmatch(PhoneMetadata.metadata_for_region(r).general_desc
                              .national_number_pattern, nsn) for r in regions if r != "001")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None


def _demo_phone_columns(demo_data):
    for side in ("crm", "erp"):
        companies = demo_data[(side, "company")]
        yield companies["phone"], nz.country_code(companies["country"])
        countries = nz.country_code(_person_countries(demo_data, side))
        for column in ("phone_direct", "phone_mobile"):
            yield demo_data[(side, "person")][column], countries


@pytest.mark.parametrize("strict", [False, True])
def test_phone_agrees_with_phonenumbers_on_the_demo(demo_data, strict):
    for phones, countries in _demo_phone_columns(demo_data):
        got = nz.phone(phones, countries, strict=strict)
        expected = [_reference_e164(v, c, strict) if isinstance(v, str) else None
                    for v, c in zip(phones, countries, strict=True)]
        assert [None if pd.isna(g) else g for g in got] == expected


def test_demo_phones_never_need_the_slow_parser(demo_data, monkeypatch):
    calls = []
    monkeypatch.setattr(phone_numbers, "_phone_slow", lambda *args: calls.append(args))
    for phones, countries in _demo_phone_columns(demo_data):
        nz.phone(phones, countries)
    assert calls == []


def test_large_column_gives_the_keys_of_its_distinct_values(company_pairs):
    """Performance smoke (not timed): 30,000 rows drawn from a few hundred values."""
    rows = company_pairs.sample(30_000, replace=True, random_state=7).reset_index(drop=True)
    small = company_pairs.drop_duplicates("name_e").set_index("name_e")
    big = nz.company_name(rows["name_e"], rows["cc_e"])
    each = nz.company_name(pd.Series(small.index), small["cc_e"].reset_index(drop=True))
    lookup = dict(zip(small.index, each["name"], strict=True))
    assert big["name"].tolist() == [lookup[n] for n in rows["name_e"]]
    phones = nz.phone(rows["phone_e"], rows["cc_e"])
    assert phones.notna().sum() == rows["phone_e"].notna().sum()
    for fn in (nz.street, nz.city, nz.url_domain, nz.email_domain, nz.phone_digits):
        assert len(fn(rows["postalad1_e"])) == len(rows)
    assert len(nz.org_number(rows["vatno_e"], rows["cc_e"])) == len(rows)
