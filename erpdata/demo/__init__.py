"""The demo: a deterministic, realistic SuperOffice CRM + ERP pair with the truth between them.

Why it exists: the workbench needs data to be tried on before anyone trusts it with real
exports, and the matching engine needs a benchmark whose answer is known. The demo is both:
:func:`build_demo` fills an empty workspace with it (the app's embedded default workspace), and
``truth.csv`` says which CRM record is which ERP actor, so a run can be scored.

What it models (one synthetic "real world" company seen through two systems):

* Companies in NO, SE, DK, FI, NL, DE and UK with their legal forms, names built from surnames,
  places, brand words and industry words of each language, street addresses and postcodes in
  each country's format, local phone formats, e-mail/web domains and organisation or VAT
  numbers with valid check digits (NO orgnr, SE organisationsnummer, DK CVR, FI Y-tunnus,
  NL BTW, DE USt-IdNr, GB VAT). Persons and projects hang under the companies.
* The CRM export (SuperOffice style: ``;``, UTF-8 with BOM, Norwegian headers) and the ERP
  export (``,``, UTF-8, English headers, customer / supplier / partner actors) differ the way
  real systems do: legal forms abbreviated, expanded, dropped or changed ("Aksjeselskap" vs
  "AS"), " og " written " & ", typos (swapped, dropped, doubled letters), ASCII-only spelling,
  upper case, truncated names, companies that moved, changed or differently formatted phones,
  invoice e-mail addresses, empty fields, VAT numbers written as "NO 123 456 789 MVA" or
  "SE556...01", ERP-only and CRM-only records, and CRM duplicates (one company entered twice;
  both CRM ids point at the same ERP actor in the truth).

Scale: nothing loops over records. Random choices are numpy arrays (one generator stream per
purpose, seeded from ``(seed, purpose)``), vocabulary lookups are index arrays taken from Arrow
arrays, and strings are assembled by DuckDB SQL projections, which keep row order. The same
``(size, seed)`` gives byte-identical files; 1,000,000 companies per side take seconds.

Public API: :func:`generate` (the records as DataFrames), :func:`write_exports` (the export files
plus ``truth.csv``) and :func:`build_demo` (exports loaded into a workspace through
:func:`erpdata.ingest.load.load_file`).
"""

from __future__ import annotations

import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from erpdata.errors import ErpdataError
from erpdata.progress import Progress
from erpdata.roles import guarded, require_for, role_of
from erpdata.schema import ACTOR_TYPES
from erpdata.sql import scratch, sql_ident, sql_list, sql_text
from erpdata.workspace import Workspace

# SQL built here (ruff S608): the generator's queries are assembled from this module's own
# constants (the *_SQL fragments and word lists, the lists quoted by sql_list); export headers
# are quoted by sql_ident and the target path by sql_text. Nothing from a user or a file.

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "EXPORT_FILES",
    "EXPORT_HEADERS",
    "LOAD_ORDER",
    "DemoFiles",
    "DemoSummary",
    "build_demo",
    "generate",
    "write_exports",
]

DEFAULT_SIZE = 2000
DEFAULT_SEED = 42

TableKey = tuple[str, str]

# =============================================================================================
# Vocabulary (per country). Words are "|"-separated strings to keep the tables compact.
# =============================================================================================


@dataclass(frozen=True)
class _LegalForm:
    abbr: str  # how the register writes it: "AS"
    long: str  # spelled out: "Aksjeselskap"
    variant: str  # another spelling seen in ERPs: "A/S"
    changed: str  # the form a company converts to: "ASA"
    weight: float


@dataclass(frozen=True)
class _City:
    name: str
    lo: int  # postcode range (numeric part)
    hi: int
    area: str  # leading digits of a landline, without trunk 0
    sub_len: int  # digits after the area
    weight: float
    outward: str = ""  # UK only: outward codes, "|"-separated


@dataclass(frozen=True)
class _Country:
    code: str  # as the issue names it (UK, not GB)
    iso: str  # ISO 3166 alpha-2 (what the ERP stores)
    crm_name: str  # what the Norwegian CRM's country list shows
    weight: float
    tld: str
    conj: str  # "og": lets " og " -> " & " drift happen
    po_box: str
    currency: str
    holding: str
    forms: tuple[_LegalForm, ...]
    cities: tuple[_City, ...]
    surnames: str
    male: str
    female: str
    industries: str
    regions: str
    streets: str
    titles: str  # one per role, aligned with _POSITIONS
    email_locals: str
    invoice_local: str
    mobile_areas: str
    mobile_len: int  # national significant number length of a mobile
    units: tuple[tuple[str, float], ...]  # house number suffixes
    person_surnames: str = ""  # when persons' surnames differ from company-name surnames
    middles: tuple[tuple[str, float], ...] = (("", 1.0),)  # NL tussenvoegsels (weighted)


def _forms(*rows: tuple[str, str, str, str, float]) -> tuple[_LegalForm, ...]:
    return tuple(_LegalForm(*row) for row in rows)


def _cities(*rows: tuple[Any, ...]) -> tuple[_City, ...]:
    return tuple(_City(*row) for row in rows)


_NO = _Country(
    code="NO", iso="NO", crm_name="Norge", weight=0.34, tld="no", conj="og",
    po_box="Postboks", currency="NOK", holding="Holding",
    forms=_forms(
        ("AS", "Aksjeselskap", "A/S", "ASA", 76), ("AS", "Aktieselskap", "A/S", "ASA", 4),
        ("ASA", "Allmennaksjeselskap", "Asa", "AS", 3),
        ("ENK", "Enkeltpersonforetak", "Enk.", "AS", 8),
        ("DA", "Selskap med delt ansvar", "D.A.", "AS", 3),
        ("ANS", "Ansvarlig selskap", "Ans", "DA", 4),
        ("SA", "Samvirkeforetak", "S.A.", "AS", 2),
    ),
    cities=_cities(
        ("Oslo", 150, 1295, "2", 7, 30), ("Bergen", 5003, 5099, "55", 6, 12),
        ("Trondheim", 7010, 7099, "73", 6, 9), ("Stavanger", 4005, 4099, "51", 6, 7),
        ("Drammen", 3004, 3048, "32", 6, 4), ("Kristiansand", 4608, 4639, "38", 6, 4),
        ("Tromsø", 9006, 9024, "77", 6, 3), ("Fredrikstad", 1601, 1639, "69", 6, 3),
        ("Sandnes", 4306, 4329, "51", 6, 3), ("Bodø", 8001, 8050, "75", 6, 2),
        ("Ålesund", 6002, 6030, "70", 6, 3), ("Hamar", 2301, 2326, "62", 6, 2),
        ("Lillestrøm", 2000, 2010, "63", 6, 2), ("Tønsberg", 3103, 3128, "33", 6, 2),
        ("Haugesund", 5501, 5537, "52", 6, 2), ("Molde", 6402, 6422, "71", 6, 1),
        ("Gjøvik", 2815, 2830, "61", 6, 1), ("Sandefjord", 3202, 3232, "33", 6, 2),
        ("Arendal", 4808, 4849, "37", 6, 1), ("Harstad", 9401, 9415, "77", 6, 1),
    ),
    surnames="Hansen|Johansen|Olsen|Larsen|Andersen|Pedersen|Nilsen|Kristiansen|Jensen|Karlsen|"
    "Johnsen|Pettersen|Eriksen|Berg|Haugen|Hagen|Johannessen|Andreassen|Jacobsen|Dahl|"
    "Jørgensen|Halvorsen|Henriksen|Lund|Sørensen|Jakobsen|Moen|Gundersen|Iversen|Strand|"
    "Solberg|Svendsen|Eide|Knutsen|Martinsen|Paulsen|Bakken|Kristoffersen|Mathisen|Lie|"
    "Amundsen|Rasmussen|Lunde|Solheim|Berge|Moe|Nygård|Bakke|Holm|Lien|Hauge|Knudsen|"
    "Evensen|Sæther|Aas|Myhre|Haugland|Thomassen|Sivertsen|Simonsen|Danielsen|Sandvik|"
    "Rønning|Arnesen|Næss|Vik|Haug|Ellingsen|Thorsen|Birkeland|Isaksen|Ruud|Aasen|Strøm|"
    "Myklebust|Tangen|Ødegård|Helland|Bøe|Aune|Mikkelsen|Tveit|Brekke|Madsen",
    male="Jan|Per|Bjørn|Ole|Lars|Kjell|Knut|Arne|Svein|Thomas|Hans|Geir|Tor|Morten|Terje|Odd|"
    "Erik|Martin|Andreas|John|Anders|Rune|Trond|Tore|Harald|Jon|Magnus|Espen|Henrik|Kristian|"
    "Øyvind|Stian|Eirik|Jonas|Sindre",
    female="Anne|Inger|Kari|Marit|Ingrid|Liv|Eva|Berit|Astrid|Bjørg|Hilde|Anna|Solveig|Marianne|"
    "Randi|Ida|Nina|Maria|Elisabeth|Kristin|Silje|Hanne|Ingeborg|Camilla|Tone|Heidi|Ragnhild|"
    "Mari|Ellen|Julie|Nora|Emma|Åse",
    industries="Bygg|Bygg og Anlegg|Transport|Eiendom|Elektro|Rør og Varme|Regnskap|"
    "Regnskap og Rådgivning|Consulting|Maskin|Fisk|Sjømat|Data|IT|Trelast|Entreprenør|Invest|"
    "Marine|Shipping|Rådgivning|Maling|Auto|Handel|Mekaniske Verksted|Tak og Fasade|Betong|"
    "Grafisk|Installasjon|Kjøling|Ventilasjon|Renhold|Arkitekter|Eiendomsforvaltning|Logistikk|"
    "Energi|Sveis|Havbruk|Møbler|Optikk|Rør",
    regions="Nord|Vest|Sør|Øst|Midt|Fjord|Polar|Norsk|Nordisk|Kyst|Fjell|Viken|Vestland|Agder|"
    "Trøndelag|Hålogaland",
    streets="Storgata|Kirkegata|Industriveien|Sjøgata|Strandveien|Parkveien|Kongens gate|"
    "Dronningens gate|Havnegata|Jernbanegata|Fjordveien|Skolegata|Sandviksveien|"
    "Nedre Slottsgate|Karl Johans gate|Bygdøy allé|Torggata|Sørkedalsveien|Drammensveien|"
    "Hoffsveien|Kjøpmannsgata|Olav Tryggvasons gate|Lagårdsveien|Markveien|Stasjonsveien|"
    "Verftsgata|Løkkeveien|Brugata|Tollbugata|Prinsens gate|Nygårdsgaten|Kanalveien|"
    "Sluppenvegen|Ringveien|Åsveien|Bjørkeveien|Furuveien|Granveien|Fabrikkveien|"
    "Næringsveien|Moloveien|Rådhusgata",
    titles="Daglig leder|Økonomisjef|Innkjøpssjef|Salgssjef|Markedssjef|IT-sjef|Prosjektleder|"
    "Teknisk sjef|HR-sjef|Regnskapsfører",
    email_locals="post|firmapost|kontakt|info|postmottak",
    invoice_local="faktura",
    mobile_areas="40|41|45|46|47|48|90|91|92|93|94|95|97|98|99",
    mobile_len=8,
    units=(("", 90), ("A", 5), ("B", 4), ("C", 1)),
)

_SE = _Country(
    code="SE", iso="SE", crm_name="Sverige", weight=0.16, tld="se", conj="och",
    po_box="Box", currency="SEK", holding="Holding",
    forms=_forms(
        ("AB", "Aktiebolag", "aktiebolag", "AB (publ)", 82),
        ("AB (publ)", "Publikt aktiebolag", "AB publ", "AB", 3),
        ("HB", "Handelsbolag", "H.B.", "KB", 7), ("KB", "Kommanditbolag", "K.B.", "HB", 5),
        ("Ek. för.", "Ekonomisk förening", "ek för", "AB", 3),
    ),
    cities=_cities(
        ("Stockholm", 11120, 11899, "8", 8, 30), ("Göteborg", 41101, 41879, "31", 7, 15),
        ("Malmö", 21111, 21776, "40", 6, 10), ("Uppsala", 75220, 75758, "18", 6, 6),
        ("Västerås", 72210, 72481, "21", 6, 4), ("Örebro", 70210, 70380, "19", 6, 4),
        ("Linköping", 58210, 58758, "13", 6, 4), ("Helsingborg", 25220, 25669, "42", 6, 4),
        ("Jönköping", 55310, 55339, "36", 6, 3), ("Norrköping", 60210, 60386, "11", 6, 3),
        ("Umeå", 90325, 90799, "90", 6, 3), ("Luleå", 97231, 97454, "920", 5, 2),
        ("Sundsvall", 85230, 85753, "60", 6, 2), ("Gävle", 80250, 80648, "26", 6, 2),
        ("Karlstad", 65220, 65469, "54", 6, 2),
    ),
    surnames="Andersson|Johansson|Karlsson|Nilsson|Eriksson|Larsson|Olsson|Persson|Svensson|"
    "Gustafsson|Pettersson|Jonsson|Jansson|Hansson|Bengtsson|Jönsson|Lindberg|Jakobsson|"
    "Magnusson|Olofsson|Lindström|Lindqvist|Lindgren|Berg|Axelsson|Bergström|Lundberg|Lind|"
    "Lundgren|Lundqvist|Mattsson|Berglund|Fredriksson|Sandberg|Henriksson|Forsberg|Sjöberg|"
    "Wallin|Engström|Eklund|Danielsson|Lundin|Håkansson|Björk|Bergman|Gunnarsson|Holm|"
    "Wikström|Samuelsson|Isaksson|Fransson|Bergqvist|Nyström|Holmberg|Arvidsson|Löfgren|"
    "Söderberg|Nyberg|Blomqvist|Claesson|Nordström",
    male="Lars|Mikael|Anders|Johan|Erik|Per|Karl|Peter|Thomas|Jan|Daniel|Fredrik|Hans|Bengt|"
    "Mats|Magnus|Stefan|Andreas|Mattias|Oskar|Gustav|Björn|Henrik|Nils|Göran",
    female="Anna|Eva|Maria|Karin|Kristina|Lena|Sara|Kerstin|Emma|Ingrid|Marie|Malin|Jenny|"
    "Annika|Linnéa|Hanna|Elin|Sofia|Birgitta|Ulla|Cecilia|Ida|Johanna|Elsa|Åsa",
    industries="Bygg|Bygg och Montage|Transport|Fastigheter|Elektriska|El och Tele|Rör|VVS|"
    "Redovisning|Revision|Konsult|Maskin|Data|IT-konsult|Trä|Snickeri|Invest|Handel|Städ|"
    "Måleri|Åkeri|Mekaniska Verkstad|Plåt|Entreprenad|Logistik|Energi|Livs|Grafiska|"
    "Byggtjänst|Fiske",
    regions="Norra|Västra|Södra|Östra|Svenska|Skandinaviska|Nordiska|Mälardalens|Skånska|"
    "Norrlands|Göta|Roslagens",
    streets="Storgatan|Drottninggatan|Kungsgatan|Industrivägen|Sveavägen|Vasagatan|"
    "Östra Hamngatan|Hamngatan|Järnvägsgatan|Kyrkogatan|Skolgatan|Nygatan|Stationsgatan|"
    "Parkvägen|Strandvägen|Ringvägen|Fabriksgatan|Verkstadsgatan|Södra vägen|Linnégatan|"
    "Götgatan|Hornsgatan|Birger Jarlsgatan|Kungsholmsgatan|Hantverkargatan|Åsgatan|"
    "Bangårdsgatan|Mölndalsvägen|Regeringsgatan|Tegnérgatan",
    titles="VD|Ekonomichef|Inköpschef|Försäljningschef|Marknadschef|IT-chef|Projektledare|"
    "Teknisk chef|HR-chef|Redovisningsekonom",
    email_locals="info|kontakt|post",
    invoice_local="faktura",
    mobile_areas="70|72|73|76|79",
    mobile_len=9,
    units=(("", 90), ("A", 5), ("B", 4), ("C", 1)),
)

_DK = _Country(
    code="DK", iso="DK", crm_name="Danmark", weight=0.12, tld="dk", conj="og",
    po_box="Postboks", currency="DKK", holding="Holding",
    forms=_forms(
        ("A/S", "Aktieselskab", "AS", "ApS", 35), ("ApS", "Anpartsselskab", "Aps", "A/S", 45),
        ("I/S", "Interessentskab", "IS", "ApS", 6), ("P/S", "Partnerselskab", "PS", "A/S", 3),
        ("K/S", "Kommanditselskab", "KS", "ApS", 3), ("IVS", "Iværksætterselskab", "Ivs", "ApS", 4),
        ("A.m.b.a.", "Andelsselskab med begrænset ansvar", "AMBA", "A/S", 2),
    ),
    cities=_cities(
        ("København K", 1050, 1473, "3", 7, 15), ("København V", 1550, 1799, "3", 7, 8),
        ("København Ø", 2100, 2100, "3", 7, 5), ("Aarhus C", 8000, 8000, "8", 7, 10),
        ("Aarhus N", 8200, 8200, "8", 7, 3), ("Odense C", 5000, 5000, "6", 7, 6),
        ("Aalborg", 9000, 9000, "9", 7, 6), ("Esbjerg", 6700, 6700, "7", 7, 3),
        ("Randers C", 8900, 8900, "8", 7, 2), ("Kolding", 6000, 6000, "7", 7, 3),
        ("Horsens", 8700, 8700, "7", 7, 2), ("Vejle", 7100, 7100, "7", 7, 2),
        ("Roskilde", 4000, 4000, "4", 7, 2), ("Herning", 7400, 7400, "9", 7, 2),
        ("Silkeborg", 8600, 8600, "8", 7, 2), ("Næstved", 4700, 4700, "5", 7, 1),
        ("Fredericia", 7000, 7000, "7", 7, 1), ("Viborg", 8800, 8800, "8", 7, 1),
    ),
    surnames="Nielsen|Jensen|Hansen|Pedersen|Andersen|Christensen|Larsen|Sørensen|Rasmussen|"
    "Jørgensen|Petersen|Madsen|Kristensen|Olsen|Thomsen|Christiansen|Poulsen|Johansen|Møller|"
    "Mortensen|Knudsen|Jakobsen|Jacobsen|Mikkelsen|Olesen|Frederiksen|Laursen|Henriksen|Lund|"
    "Schmidt|Eriksen|Holm|Kristiansen|Nissen|Clausen|Simonsen|Svendsen|Andreasen|Iversen|"
    "Jeppesen|Vestergaard|Mogensen|Nørgaard|Jessen|Bertelsen|Søndergaard|Dam|Lauridsen|Bach|"
    "Kjær|Carlsen|Berg|Østergaard",
    male="Peter|Jens|Lars|Michael|Henrik|Søren|Thomas|Jan|Niels|Morten|Jesper|Anders|Rasmus|"
    "Martin|Mads|Kim|Christian|Hans|Jørgen|Per|Frederik|Mikkel|Ole|Kasper",
    female="Anne|Kirsten|Mette|Hanne|Helle|Anna|Susanne|Lene|Maria|Marianne|Lone|Camilla|Pia|"
    "Louise|Charlotte|Bente|Tina|Inge|Karen|Gitte|Julie|Sofie|Ida|Emma",
    industries="Byg|Byg og Anlæg|Transport|Ejendomme|El-service|El og VVS|VVS|Revision|"
    "Revisionsfirma|Rådgivning|Maskinfabrik|Data|IT|Tømrer og Snedker|Tømrerfirma|Invest|"
    "Handel|Entreprenør|Murerfirma|Malerfirma|Smedie|Vognmand|Logistik|Energi|Fisk|Landbrug|"
    "Consult|Tag|Auto|Gartneri",
    regions="Dansk|Nordisk|Jysk|Fyns|Sjællands|Vestjysk|Nordjysk|Sønderjysk|Østjysk|"
    "Københavns|Skandinavisk|Bornholms",
    streets="Vestergade|Nørregade|Østergade|Søndergade|Hovedgaden|Industrivej|Strandvejen|"
    "Jernbanegade|Algade|Kirkevej|Skolevej|Stationsvej|Vesterbrogade|Nørrebrogade|"
    "Amagerbrogade|Bredgade|Havnegade|Åboulevard|Parkvej|Engvej|Mosevej|Fabriksvej|"
    "Håndværkervej|Egevej|Bøgevej|Birkevej|Ringvejen|Toldbodgade|Kongensgade",
    titles="Administrerende direktør|Økonomichef|Indkøbschef|Salgschef|Marketingchef|IT-chef|"
    "Projektleder|Teknisk chef|HR-chef|Bogholder",
    email_locals="info|mail|kontakt|post",
    invoice_local="faktura",
    mobile_areas="20|21|22|23|24|25|26|27|28|29|30|31|40|41|42|50|51|52|53|60|61|71|81|91|92|93",
    mobile_len=8,
    units=(("", 75), ("A", 4), (", 1. sal", 8), (", st.", 5), (", 2. tv.", 4), (", 3. th.", 4)),
)

_FI = _Country(
    code="FI", iso="FI", crm_name="Finland", weight=0.08, tld="fi", conj="ja",
    po_box="PL", currency="EUR", holding="Holding",
    forms=_forms(
        ("Oy", "Osakeyhtiö", "OY", "Oyj", 75), ("Oyj", "Julkinen osakeyhtiö", "OYJ", "Oy", 3),
        ("Ky", "Kommandiittiyhtiö", "KY", "Oy", 8), ("Ay", "Avoin yhtiö", "AY", "Ky", 5),
        ("Tmi", "Toiminimi", "T:mi", "Oy", 6), ("Ab", "Aktiebolag", "AB", "Oy", 3),
    ),
    cities=_cities(
        ("Helsinki", 100, 990, "9", 8, 25), ("Espoo", 2100, 2980, "9", 8, 10),
        ("Vantaa", 1300, 1770, "9", 8, 7), ("Tampere", 33100, 33900, "3", 7, 10),
        ("Turku", 20100, 20960, "2", 7, 8), ("Oulu", 90100, 90940, "8", 7, 6),
        ("Jyväskylä", 40100, 40950, "14", 6, 5), ("Lahti", 15100, 15950, "3", 7, 4),
        ("Kuopio", 70100, 70940, "17", 6, 4), ("Pori", 28100, 28900, "2", 7, 3),
        ("Vaasa", 65100, 65800, "6", 7, 3), ("Joensuu", 80100, 80260, "13", 6, 2),
    ),
    surnames="Korhonen|Virtanen|Mäkinen|Nieminen|Mäkelä|Hämäläinen|Laine|Heikkinen|Koskinen|"
    "Järvinen|Lehtonen|Lehtinen|Saarinen|Salminen|Heinonen|Niemi|Heikkilä|Kinnunen|Salonen|"
    "Turunen|Salo|Laitinen|Tuominen|Rantanen|Karjalainen|Jokinen|Mattila|Savolainen|Lahtinen|"
    "Ahonen|Hiltunen|Leinonen|Hirvonen|Kallio|Miettinen|Aaltonen|Pitkänen|Manninen|Anttila|"
    "Lindholm|Laaksonen|Nurmi|Väisänen|Hakala|Lindroos|Kettunen",
    male="Juha|Timo|Matti|Kari|Mikko|Jari|Antti|Jukka|Mika|Markku|Pekka|Hannu|Heikki|Janne|"
    "Seppo|Ari|Sami|Ville|Petri|Tuomas|Lauri|Jussi|Eero|Oskari",
    female="Anne|Tuula|Päivi|Anna|Leena|Pirjo|Sari|Minna|Marja|Tiina|Riitta|Kaisa|Johanna|"
    "Laura|Hanna|Elina|Maria|Sanna|Aino|Emilia|Satu|Heidi|Katja|Liisa",
    industries="Rakennus|Rakennus ja Remontti|Kuljetus|Kiinteistöt|Sähkö|LVI|Tilitoimisto|"
    "Konsultointi|Kone|Data|IT-palvelut|Puu|Invest|Kauppa|Metalli|Maalaus|Siivous|Logistiikka|"
    "Energia|Talotekniikka|Tekniikka|Konepaja|Insinööritoimisto|Arkkitehdit|Autokorjaamo|"
    "Elintarvike|Paino|Putki ja Lämpö",
    regions="Suomen|Pohjolan|Länsi-Suomen|Itä-Suomen|Pohjois-Suomen|Etelä-Suomen|Savon|"
    "Karjalan|Lapin|Hämeen|Pirkanmaan|Uudenmaan",
    streets="Mannerheimintie|Teollisuuskatu|Hämeenkatu|Kauppakatu|Satamakatu|"
    "Aleksanterinkatu|Kirkkokatu|Rautatienkatu|Asemakatu|Puistokatu|Koulukatu|Tehtaankatu|"
    "Pohjoisesplanadi|Yliopistonkatu|Itäinen Pitkäkatu|Läntinen Rantakatu|Mäkelänkatu|"
    "Hatanpään valtatie|Tampereentie|Kuopiontie|Sinikalliontie|Keilaranta|Valimotie|Pajakatu|"
    "Pursimiehenkatu",
    titles="Toimitusjohtaja|Talousjohtaja|Hankintapäällikkö|Myyntipäällikkö|"
    "Markkinointipäällikkö|IT-päällikkö|Projektipäällikkö|Tekninen johtaja|"
    "Henkilöstöpäällikkö|Kirjanpitäjä",
    email_locals="info|toimisto|asiakaspalvelu",
    invoice_local="laskutus",
    mobile_areas="40|41|44|45|50",
    mobile_len=9,
    units=(("", 85), (" A", 7), (" B", 6), (" C", 2)),
)

_NL = _Country(
    code="NL", iso="NL", crm_name="Nederland", weight=0.10, tld="nl", conj="en",
    po_box="Postbus", currency="EUR", holding="Holding",
    forms=_forms(
        ("B.V.", "Besloten Vennootschap", "BV", "N.V.", 75),
        ("N.V.", "Naamloze Vennootschap", "NV", "B.V.", 4),
        ("V.O.F.", "Vennootschap onder firma", "VOF", "B.V.", 12),
        ("C.V.", "Commanditaire Vennootschap", "CV", "B.V.", 4),
    ),
    cities=_cities(
        ("Amsterdam", 1011, 1109, "20", 7, 20), ("Rotterdam", 3011, 3089, "10", 7, 14),
        ("Den Haag", 2491, 2599, "70", 7, 10), ("Utrecht", 3511, 3585, "30", 7, 8),
        ("Eindhoven", 5611, 5658, "40", 7, 6), ("Groningen", 9711, 9747, "50", 7, 4),
        ("Tilburg", 5011, 5049, "13", 7, 4), ("Almere", 1311, 1363, "36", 7, 3),
        ("Breda", 4811, 4841, "76", 7, 3), ("Nijmegen", 6511, 6546, "24", 7, 3),
        ("Haarlem", 2011, 2037, "23", 7, 3), ("Arnhem", 6811, 6846, "26", 7, 3),
        ("Zwolle", 8011, 8043, "38", 7, 2), ("Leiden", 2311, 2334, "71", 7, 2),
        ("Maastricht", 6211, 6229, "43", 7, 2),
    ),
    surnames="De Jong|Jansen|De Vries|Van den Berg|Van Dijk|Bakker|Janssen|Visser|Smit|Meijer|"
    "De Boer|Mulder|De Groot|Bos|Vos|Peters|Hendriks|Van Leeuwen|Dekker|Brouwer|De Wit|"
    "Dijkstra|Smits|De Graaf|Van der Meer|Van der Linden|Kok|Jacobs|De Haan|Vermeulen|"
    "Van den Heuvel|Van der Veen|Van den Broek|De Bruijn|Van der Heijden|Schouten|Van Beek|"
    "Willems|Van Vliet|Van de Ven|Hoekstra|Maas|Verhoeven|Koster|Van Dam|Van der Wal|Prins|"
    "Blom|Huisman",
    person_surnames="Jong|Jansen|Vries|Berg|Dijk|Bakker|Janssen|Visser|Smit|Meijer|Boer|Mulder|"
    "Groot|Bos|Vos|Peters|Hendriks|Leeuwen|Dekker|Brouwer|Wit|Dijkstra|Smits|Graaf|Meer|Linden|"
    "Kok|Jacobs|Haan|Vermeulen|Heuvel|Veen|Broek|Bruijn|Heijden|Schouten|Beek|Willems|Vliet|"
    "Ven|Hoekstra|Maas|Verhoeven|Koster|Dam|Wal|Prins|Blom|Huisman",
    middles=(("", 55), ("de", 12), ("van", 10), ("van de", 6), ("van der", 7), ("van den", 6),
             ("den", 2), ("te", 2)),
    male="Jan|Johannes|Cornelis|Hendrik|Willem|Pieter|Gerrit|Jacobus|Dirk|Kees|Henk|Bram|Daan|"
    "Sem|Lucas|Thijs|Ruben|Bas|Joost|Maarten|Erik|Mark|Sander|Tim",
    female="Maria|Johanna|Anna|Cornelia|Elisabeth|Wilhelmina|Hendrika|Petronella|Sanne|Lisa|"
    "Anouk|Emma|Eva|Femke|Lotte|Laura|Fleur|Iris|Inge|Marieke|Ilse|Esther|Linda|Monique",
    industries="Bouw|Bouwbedrijf|Transport|Vastgoed|Elektrotechniek|Installatietechniek|"
    "Installatiebedrijf|Administratiekantoor|Advies|Machinebouw|ICT|Houtbouw|Beheer|Handel|"
    "Schilderwerken|Schoonmaak|Logistiek|Energie|Metaalbewerking|Accountants|Architecten|"
    "Techniek|Groothandel|Vis|Bloemen|Kwekerij|Aannemersbedrijf|Loodgieters|Dakwerken|"
    "Bouw en Onderhoud",
    regions="Hollandse|Nederlandse|Noord|Zuid|Brabantse|Friese|Zeeuwse|Limburgse|Gelderse|"
    "Utrechtse|Rijnmond|Twentse",
    streets="Kerkstraat|Dorpsstraat|Stationsweg|Industrieweg|Marktplein|Hoofdstraat|"
    "Molenstraat|Schoolstraat|Nieuwstraat|Julianastraat|Wilhelminastraat|Beatrixstraat|"
    "Emmastraat|Parallelweg|Havenstraat|Prinsengracht|Keizersgracht|Herengracht|Damrak|"
    "Coolsingel|Kalverstraat|Handelsweg|Energieweg|Nijverheidsweg|Ambachtsweg|Zuiderzeeweg|"
    "Lange Voorhout|Oudegracht|Stratumseind|Vismarkt",
    titles="Directeur|Financieel directeur|Inkoper|Verkoopmanager|Marketingmanager|IT-manager|"
    "Projectleider|Technisch directeur|HR-manager|Boekhouder",
    email_locals="info|contact|administratie",
    invoice_local="facturen",
    mobile_areas="6",
    mobile_len=9,
    units=(("", 85), ("a", 6), ("b", 4), ("-1", 3), ("-2", 2)),
)

_DE = _Country(
    code="DE", iso="DE", crm_name="Tyskland", weight=0.12, tld="de", conj="und",
    po_box="Postfach", currency="EUR", holding="Holding",
    forms=_forms(
        ("GmbH", "Gesellschaft mit beschränkter Haftung", "Gmbh", "AG", 58),
        ("AG", "Aktiengesellschaft", "Ag", "GmbH", 5),
        ("GmbH & Co. KG", "GmbH & Compagnie Kommanditgesellschaft", "GmbH & Co KG", "GmbH", 15),
        ("KG", "Kommanditgesellschaft", "Kg", "GmbH & Co. KG", 6),
        ("OHG", "Offene Handelsgesellschaft", "oHG", "KG", 3),
        ("UG (haftungsbeschränkt)", "Unternehmergesellschaft (haftungsbeschränkt)", "UG", "GmbH",
         7),
        ("e.K.", "eingetragener Kaufmann", "e. K.", "GmbH", 6),
    ),
    cities=_cities(
        ("Berlin", 10115, 14199, "30", 8, 15), ("Hamburg", 20095, 22769, "40", 8, 9),
        ("München", 80331, 81929, "89", 8, 8), ("Köln", 50667, 51149, "221", 7, 5),
        ("Frankfurt am Main", 60306, 60599, "69", 8, 5), ("Stuttgart", 70173, 70629, "711", 7, 4),
        ("Düsseldorf", 40210, 40629, "211", 7, 4), ("Leipzig", 4103, 4357, "341", 7, 3),
        ("Dortmund", 44135, 44388, "231", 7, 3), ("Essen", 45127, 45359, "201", 7, 3),
        ("Bremen", 28195, 28779, "421", 7, 3), ("Dresden", 1067, 1328, "351", 7, 3),
        ("Hannover", 30159, 30669, "511", 7, 3), ("Nürnberg", 90402, 90491, "911", 7, 3),
        ("Duisburg", 47051, 47279, "203", 7, 2), ("Bochum", 44787, 44894, "234", 7, 2),
        ("Wuppertal", 42103, 42399, "202", 7, 2), ("Bielefeld", 33602, 33739, "521", 7, 2),
        ("Bonn", 53111, 53229, "228", 7, 2), ("Mannheim", 68159, 68309, "621", 7, 2),
    ),
    surnames="Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|"
    "Schäfer|Koch|Bauer|Richter|Klein|Wolf|Schröder|Neumann|Schwarz|Zimmermann|Braun|Krüger|"
    "Hofmann|Hartmann|Lange|Schmitt|Werner|Schmitz|Krause|Meier|Lehmann|Schmid|Schulze|Maier|"
    "Köhler|Herrmann|König|Walter|Mayer|Huber|Kaiser|Fuchs|Peters|Lang|Scholz|Möller|Weiß|"
    "Jung|Hahn|Schubert|Vogel|Friedrich|Keller|Günther|Frank|Berger|Winkler|Roth|Beck|"
    "Lorenz|Baumann|Franke|Albrecht|Schuster|Simon|Ludwig|Böhm|Winter|Kraus|Schumacher|"
    "Krämer|Vogt|Stein|Jäger|Otto|Sommer|Groß|Seidel|Heinrich|Brandt|Haas|Schreiber|Graf",
    male="Peter|Michael|Thomas|Andreas|Wolfgang|Klaus|Jürgen|Stefan|Frank|Uwe|Bernd|Christian|"
    "Markus|Matthias|Hans|Dieter|Ralf|Jörg|Sven|Tobias|Jan|Lukas|Felix|Maximilian",
    female="Ursula|Monika|Petra|Sabine|Renate|Helga|Karin|Brigitte|Ingrid|Susanne|Claudia|"
    "Andrea|Julia|Anna|Katharina|Laura|Lea|Sarah|Stefanie|Nicole|Birgit|Heike|Martina|Christine",
    industries="Bau|Bauunternehmen|Spedition|Immobilien|Elektrotechnik|Haustechnik|"
    "Steuerberatung|Beratung|Maschinenbau|IT-Service|Holzbau|Verwaltung|Handel|Metallbau|"
    "Malerbetrieb|Gebäudereinigung|Logistik|Energie|Sanitär und Heizung|Dachdeckerei|Autohaus|"
    "Druckerei|Ingenieurbüro|Architekten|Werkzeugbau|Elektro|Systemhaus|Transporte|Tischlerei|"
    "Garten- und Landschaftsbau",
    regions="Norddeutsche|Süddeutsche|Rheinische|Bayerische|Westfälische|Sächsische|"
    "Hanseatische|Badische|Schwäbische|Berliner|Hamburger|Fränkische",
    streets="Hauptstraße|Bahnhofstraße|Industriestraße|Schulstraße|Gartenstraße|Dorfstraße|"
    "Bergstraße|Kirchstraße|Lindenstraße|Goethestraße|Schillerstraße|Waldstraße|Ringstraße|"
    "Friedrichstraße|Poststraße|Am Markt|Mühlenweg|Gewerbestraße|Kaiserstraße|Königsallee|"
    "Lessingstraße|Mozartstraße|Hafenstraße|Wilhelmstraße|Neue Straße|Siemensstraße|"
    "Max-Planck-Straße|Robert-Bosch-Straße",
    titles="Geschäftsführer|Leiter Finanzen|Einkaufsleiter|Vertriebsleiter|Marketingleiter|"
    "IT-Leiter|Projektleiter|Technischer Leiter|Personalleiter|Buchhalter",
    email_locals="info|kontakt|office|mail",
    invoice_local="rechnung",
    mobile_areas="151|152|157|160|162|170|171|172|175|176|177|178|179",
    mobile_len=11,
    units=(("", 88), ("a", 7), ("b", 5)),
)

_UK = _Country(
    code="UK", iso="GB", crm_name="Storbritannia", weight=0.08, tld="co.uk",
    conj="and", po_box="PO Box", currency="GBP", holding="Holdings",
    forms=_forms(
        ("Ltd", "Limited", "Ltd.", "PLC", 80), ("PLC", "Public Limited Company", "plc", "Ltd", 5),
        ("LLP", "Limited Liability Partnership", "L.L.P.", "Ltd", 7),
        ("CIC", "Community Interest Company", "C.I.C.", "Ltd", 1),
    ),
    cities=_cities(
        ("London", 0, 0, "20", 8, 30, "EC1A|EC1V|EC2A|EC2M|EC3A|EC4M|WC1A|WC2H|SW1A|SW1P|SW11|"
         "SE1|SE10|E1|E14|N1|N7|NW1|NW10|W1D|W1T|W2|W6"),
        ("Manchester", 0, 0, "161", 7, 8, "M1|M2|M3|M4|M13|M15|M50"),
        ("Birmingham", 0, 0, "121", 7, 8, "B1|B2|B3|B4|B5|B15|B18"),
        ("Leeds", 0, 0, "113", 7, 5, "LS1|LS2|LS6|LS9|LS11"),
        ("Glasgow", 0, 0, "141", 7, 5, "G1|G2|G3|G4|G12|G51"),
        ("Edinburgh", 0, 0, "131", 7, 4, "EH1|EH2|EH3|EH6|EH12"),
        ("Bristol", 0, 0, "117", 7, 4, "BS1|BS2|BS8|BS16"),
        ("Liverpool", 0, 0, "151", 7, 4, "L1|L2|L3|L8|L19"),
        ("Sheffield", 0, 0, "114", 7, 3, "S1|S2|S3|S9|S11"),
        ("Cardiff", 0, 0, "29", 8, 3, "CF10|CF11|CF14|CF24"),
        ("Newcastle upon Tyne", 0, 0, "191", 7, 3, "NE1|NE2|NE4|NE6"),
        ("Nottingham", 0, 0, "115", 7, 2, "NG1|NG2|NG7"),
        ("Southampton", 0, 0, "23", 8, 2, "SO14|SO15|SO16"),
        ("Aberdeen", 0, 0, "1224", 6, 2, "AB10|AB11|AB24"),
    ),
    surnames="Smith|Jones|Williams|Taylor|Brown|Davies|Evans|Wilson|Thomas|Johnson|Roberts|"
    "Robinson|Thompson|Wright|Walker|White|Edwards|Hughes|Green|Hall|Lewis|Harris|Clarke|Patel|"
    "Jackson|Wood|Turner|Martin|Cooper|Hill|Ward|Morris|Moore|Clark|Lee|King|Baker|Harrison|"
    "Morgan|Allen|James|Scott|Phillips|Watson|Davis|Parker|Price|Bennett|Young|Griffiths|"
    "Mitchell|Kelly|Cook|Carter|Richardson|Bailey|Collins|Bell|Shaw|Murphy|Miller|Cox|"
    "Richards|Khan|Marshall|Anderson|Simpson|Ellis|Adams|Singh|Wilkinson|Foster|Chapman|"
    "Powell|Webb|Rogers|Gray|Mason|Hunt|Hussain|Campbell|Matthews|Owen|Palmer|Holmes|Mills",
    male="David|John|Paul|James|Mark|Michael|Andrew|Richard|Peter|Robert|Stephen|Christopher|"
    "Ian|Simon|Steven|Gary|Thomas|Daniel|Matthew|Oliver|George|Harry|Jack|William",
    female="Susan|Sarah|Margaret|Elizabeth|Helen|Julie|Karen|Claire|Emma|Jane|Nicola|Louise|"
    "Rachel|Amanda|Joanne|Victoria|Olivia|Amelia|Emily|Sophie|Charlotte|Jessica|Lucy|Hannah",
    industries="Construction|Logistics|Property|Electrical|Plumbing|Accountants|Consulting|"
    "Engineering|IT Services|Joinery|Investments|Trading|Builders|Haulage|Roofing|"
    "Cleaning Services|Energy|Engineering Services|Architects|Motors|Printing|Landscaping|"
    "Software|Facilities|Fabrications|Distribution|Heating and Plumbing|"
    "Building and Civil Engineering|Seafood|Recruitment",
    regions="British|Northern|Midland|Thames|Anglian|Pennine|Highland|Western|Southern|Celtic|"
    "Albion|Severn",
    streets="High Street|Station Road|Church Lane|Mill Road|Victoria Road|Church Street|"
    "Park Road|London Road|Main Street|King Street|Queen Street|New Road|Manor Road|"
    "Green Lane|Albert Road|Grange Road|Kings Road|School Lane|North Street|Market Street|"
    "Bridge Street|George Street|York Road|Castle Street|Chapel Street|Springfield Road|"
    "Riverside Way|Commercial Road|Harbour Road",
    titles="Managing Director|Finance Director|Purchasing Manager|Sales Manager|"
    "Marketing Manager|IT Manager|Project Manager|Technical Director|HR Manager|Bookkeeper",
    email_locals="info|enquiries|office|sales|hello",
    invoice_local="accounts",
    mobile_areas="7700|7711|7723|7734|7745|7756|7767|7781|7796|7812|7825|7831|7846|7859|7873|"
    "7890|7912|7931|7950|7968|7977|7986",
    mobile_len=10,
    units=(("", 92), ("A", 5), ("B", 3)),
)

COUNTRIES: tuple[_Country, ...] = (_NO, _SE, _DK, _FI, _NL, _DE, _UK)
_CC = tuple(c.code for c in COUNTRIES)

#: Person roles: the CRM's position list (Norwegian, like the rest of the CRM) with weights.
_POSITIONS = ("Ledelse", "Økonomi", "Innkjøp", "Salg", "Marked", "IT", "Prosjekt", "Teknisk",
              "HR", "Regnskap")
_ROLE_WEIGHTS = (22, 12, 14, 10, 6, 8, 10, 6, 4, 8)

_BRAND_PRE = ("Nor|Ves|Fjor|Berg|Sol|Nord|Tel|Agri|Hav|Skog|Lin|Tin|Mar|Vik|Ram|Tor|Sand|Alf|"
              "Kron|Stel|Ark|Bal|Cor|Dal|Elk|Fal|Gran|Hel|Ist|Jar|Kal|Lum|Mira|Nova|Opti|Pro|"
              "Quan|Ros|Sig|Tri|Uni|Val|Ver|Wes|Zen|Aqua|Bio|Eco|Geo")
_BRAND_SUF = ("vik|tek|nova|dal|heim|lund|berg|sol|form|data|line|ma|ra|tex|con|tron|lux|nor|"
              "sys|flex|port|mar|med|gard|stad|bo|com|net|ia|ex|ion|ica|ent|ora|ium|ax|is|on|"
              "co|io|um|ar")
_NL_LETTERS = "ABCDEGHJKLMNPRTVWXZ"  # no S (SA/SD/SS are not used), no F/I/O/Q/U/Y
_UK_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters allowed in an inward code

_CRM_CATEGORIES = ("Kunde", "Leverandør", "Partner", "Prospekt", "Tidligere kunde")
_CRM_DEPARTMENTS = ("Hovedkontor", "Innkjøp", "Regnskap", "Lager", "Salg", "Service")
_OUR_CONTACTS = "AH|BKL|EMO|JTS|KRH|MN|SOL|TB|IKV|PEJ"
#: ERP customer groups per actor type; "Standard" becomes "Domestic" (NO) or "Export".
_ERP_GROUPS = (("Standard", 80), ("Key account", 10), ("Wholesale", 10)), (
    ("Goods", 50), ("Services", 35), ("Subcontractor", 15)), (("Partner", 1),)
_PAYMENT_TERMS = (("30 days", 55), ("14 days", 20), ("45 days", 10), ("60 days", 10), ("Cash", 5))

_PROJECT_WORDS = ("Implementering|Oppgradering|Rammeavtale|Serviceavtale|Vedlikehold|"
                  "Rådgivning|Rehabilitering|Nybygg|Utvidelse|Migrering|Analyse|Opplæring|"
                  "Leveranse|Utskifting|Installasjon")
_PROJECT_OBJECTS = ("ERP-system|lager|kontorlokaler|nettbutikk|CRM|produksjonslinje|"
                    "flåtestyring|regnskapssystem|IT-drift|hjemmeside|ventilasjon|varmepumpe|"
                    "kjøleanlegg|tak|elektroanlegg|sikkerhetssystem")
_PROJECT_TYPES = (("Leveranse", 50), ("Service", 25), ("Rammeavtale", 15), ("Intern", 10))
#: (CRM status, ERP status) pairs; which ones apply depends on the end date.
_STATUS_CRM = ("Planlagt", "Pågår", "Avsluttet", "Stoppet")
_STATUS_ERP = ("Planned", "Open", "Closed", "On hold")
_STATUS_REFERENCE_DAY = 2496  # days after 2019-01-01 = 2025-11-01: before it, projects ended

# =============================================================================================
# Export layout: canonical column -> header, per file. The headers are what the synonyms in
# erpdata.schema map (the CRM id and the person's company id included); the columns without a
# canonical field (our_contact, registered, ...) are kept by ingest as ``extra``.
# =============================================================================================

EXPORT_FILES: dict[TableKey, str] = {
    ("crm", "company"): "crm_company.csv",
    ("crm", "person"): "crm_person.csv",
    ("crm", "project"): "crm_project.csv",
    ("erp", "company"): "erp_company.csv",
    ("erp", "person"): "erp_person.csv",
    ("erp", "project"): "erp_project.csv",
    ("truth", "all"): "truth.csv",
}

#: Order in which :func:`build_demo` loads the exports (parents before children).
LOAD_ORDER: tuple[TableKey, ...] = (
    ("crm", "company"), ("crm", "person"), ("crm", "project"),
    ("erp", "company"), ("erp", "person"), ("erp", "project"),
)

EXPORT_HEADERS: dict[TableKey, dict[str, str]] = {
    ("crm", "company"): {
        "id": "Firma-ID", "name": "Firmanavn", "department": "Avdeling", "vatno": "Org.nr",
        "number1": "Kode", "number2": "Nummer", "phone": "Telefon", "email": "E-post",
        "url": "Hjemmeside", "streetad1": "Besøksadresse", "streetzip": "Besøkspostnr",
        "streetcity": "Besøkssted", "postalad1": "Postadresse", "postalzip": "Postnr",
        "postalcity": "Poststed", "country": "Land", "category": "Kategori",
        "our_contact": "Vår kontakt", "registered": "Registrert",
    },
    ("crm", "person"): {
        "id": "Person-ID", "company_id": "Firma-ID", "firstname": "Fornavn",
        "middlename": "Mellomnavn", "lastname": "Etternavn", "title": "Tittel",
        "position": "Stilling", "email": "E-post", "phone_direct": "Telefon",
        "phone_mobile": "Mobil", "registered": "Registrert",
    },
    ("crm", "project"): {
        "id": "Prosjekt-ID", "company_id": "Firma-ID", "name": "Prosjektnavn",
        "number": "Prosjektnummer", "text": "Beskrivelse", "enddate": "Sluttdato",
        "status": "Status", "project_type": "Prosjekttype", "project_manager": "Prosjektleder",
    },
    ("erp", "company"): {
        "id": "ID", "actor_type": "Type", "name": "Name", "vatno": "VAT No",
        "number1": "Short Name", "number2": "Account Number", "phone": "Phone",
        "email": "E-mail", "url": "Website", "streetad1": "Street Address",
        "streetzip": "Street Postcode", "streetcity": "Street City",
        "postalad1": "Postal Address", "postalzip": "Postcode", "postalcity": "City",
        "country": "Country", "category": "Customer Group", "currency": "Currency",
        "payment_terms": "Payment Terms", "last_modified": "Last Modified",
    },
    ("erp", "person"): {
        "id": "ID", "parent_key": "Company ID", "parent_actor_type": "Parent Type",
        "firstname": "First Name", "lastname": "Last Name", "title": "Title",
        "email": "E-mail", "phone_direct": "Phone", "phone_mobile": "Mobile",
        "last_modified": "Last Modified",
    },
    ("erp", "project"): {
        "id": "ID", "parent_key": "Customer ID", "parent_actor_type": "Parent Type",
        "number": "Project No", "name": "Project Name", "text": "Description",
        "enddate": "End Date", "status": "Status", "budget": "Budget",
        "last_modified": "Last Modified",
    },
    ("truth", "all"): {
        "kind": "kind", "crm_id": "crm_id", "erp_actor_type": "erp_actor_type",
        "erp_id": "erp_id",
    },
}

_DELIMITERS: dict[str, str] = {"crm": ";", "erp": ",", "truth": ","}
_BOM = "\ufeff"  # SuperOffice writes UTF-8 with a byte order mark; see _copy_sql

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


def _words(text: str) -> list[str]:
    return text.split("|")


def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: how a name becomes a domain or e-mail part."""
    text = text.casefold().replace("ø", "o").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text.replace("đ", "d"))
    return re.sub(r"[^a-z0-9]", "", text)


@dataclass(frozen=True)
class _Vocab:
    """Words grouped (by country, city, ...), optionally weighted; picks are vectorised.

    A pick is an int32 index into the flattened words; :meth:`encode` turns indices into an
    Arrow dictionary array, so gathering rows later moves integers, not strings. Weighted
    groups keep ``bounds`` = ``group + cumulative share`` per word: one ``searchsorted`` of
    ``group + u`` picks a weighted word of each row's own group.
    """

    values: pa.Array
    slugs: pa.Array  # _slug of each word
    lengths: np.ndarray  # characters per word
    offsets: np.ndarray  # index of each group's first word
    counts: np.ndarray  # words per group
    bounds: np.ndarray | None  # only for weighted vocabularies

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]],
           weights: Sequence[Sequence[float]] | None = None) -> _Vocab:
        if any(not words for words in groups):
            raise ValueError("every vocabulary group needs a word")
        flat = [w for words in groups for w in words]
        counts = np.array([len(words) for words in groups], dtype=np.int64)
        bounds = None
        if weights is not None:
            parts = []
            for g, w in enumerate(weights):
                share = np.cumsum(np.asarray(w, dtype=float)) / float(np.sum(w))
                share[-1] = 1.0
                parts.append(g + share)
            bounds = np.concatenate(parts)
        return cls(pa.array(flat, pa.string()), pa.array([_slug(w) for w in flat], pa.string()),
                   np.array([len(w) for w in flat], dtype=np.int64),
                   np.concatenate([[0], np.cumsum(counts)[:-1]]), counts, bounds)

    def pick(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """A global word index for each row, drawn from the row's group."""
        u = rng.random(len(groups))
        if self.bounds is None:
            return (self.offsets[groups] + (u * self.counts[groups]).astype(np.int64)).astype(
                np.int32)
        return np.searchsorted(self.bounds, groups + u, side="right").astype(np.int32)

    def encode(self, idx: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), self.values)

    def encode_slugs(self, idx: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), self.slugs)

    def words(self, rng: np.random.Generator, groups: np.ndarray) -> pa.DictionaryArray:
        return self.encode(self.pick(rng, groups))


def _per_country(attr: str) -> _Vocab:
    return _Vocab.of([_words(getattr(c, attr)) for c in COUNTRIES])


def _weighted_per_country(attr: str) -> _Vocab:
    pairs = [getattr(c, attr) for c in COUNTRIES]
    return _Vocab.of([[w for w, _ in p] for p in pairs], [[x for _, x in p] for p in pairs])


def _grouped(groups: Sequence[Sequence[tuple[str, float]]]) -> _Vocab:
    """A vocabulary from (word, weight) pairs per group."""
    return _Vocab.of([[w for w, _ in g] for g in groups], [[x for _, x in g] for g in groups])


def _fixed(pairs: Sequence[tuple[str, float]]) -> _Vocab:
    """One weighted group of words."""
    return _grouped([pairs])


def _middle_names() -> _Vocab:
    """NL: tussenvoegsels ("van der"); NO/SE/DK: now and then a surname as middle name."""
    groups: list[list[tuple[str, float]]] = []
    for c in COUNTRIES:
        if c.code in ("NO", "SE", "DK"):
            surnames = _words(c.surnames)
            groups.append([("", 92.0), *((name, 8.0 / len(surnames)) for name in surnames)])
        else:
            groups.append(list(c.middles))
    return _grouped(groups)


def _country_column(values: Sequence[str], ci: np.ndarray) -> pa.DictionaryArray:
    """One value per country, spread over rows by country index (dictionary-encoded)."""
    return pa.DictionaryArray.from_arrays(pa.array(ci, pa.int32()), pa.array(values, pa.string()))


@dataclass(frozen=True)
class _Vocabulary:
    """All vocabularies, flattened once per process."""

    surnames: _Vocab
    person_surnames: _Vocab
    first: _Vocab  # group = country * 2 + (1 if female)
    middles: _Vocab
    industries: _Vocab
    regions: _Vocab
    streets: _Vocab
    units: _Vocab
    email_locals: _Vocab
    mobile_areas: _Vocab
    pc_letters: _Vocab  # NL letter pairs, UK inward codes, "" elsewhere
    cities: _Vocab  # group = country, weighted by size
    city_lo: np.ndarray
    city_hi: np.ndarray
    city_sub_len: np.ndarray
    city_area: pa.Array
    outward: _Vocab  # group = global city index
    forms: _Vocab  # group = country, weighted
    form_abbr: pa.Array
    form_long: pa.Array
    form_variant: pa.Array
    form_changed: pa.Array
    titles: pa.Array  # index = country * 10 + role
    brand_pre: _Vocab
    brand_suf: _Vocab

    @classmethod
    def build(cls) -> _Vocabulary:
        cities = [c for country in COUNTRIES for c in country.cities]
        forms = [f for country in COUNTRIES for f in country.forms]
        nl = [a + b for a in _NL_LETTERS for b in _NL_LETTERS]
        uk = [f"{d}{a}{b}" for d in "0123456789" for a in _UK_LETTERS for b in _UK_LETTERS]
        return cls(
            surnames=_per_country("surnames"),
            person_surnames=_Vocab.of(
                [_words(c.person_surnames or c.surnames) for c in COUNTRIES]),
            first=_Vocab.of([_words(getattr(c, sex)) for c in COUNTRIES
                             for sex in ("male", "female")]),
            middles=_middle_names(),
            industries=_per_country("industries"),
            regions=_per_country("regions"),
            streets=_per_country("streets"),
            units=_weighted_per_country("units"),
            email_locals=_per_country("email_locals"),
            mobile_areas=_per_country("mobile_areas"),
            pc_letters=_Vocab.of([nl if c.code == "NL" else uk if c.code == "UK" else [""]
                                  for c in COUNTRIES]),
            cities=_Vocab.of([[c.name for c in country.cities] for country in COUNTRIES],
                             [[c.weight for c in country.cities] for country in COUNTRIES]),
            city_lo=np.array([c.lo for c in cities], dtype=np.int64),
            city_hi=np.array([c.hi for c in cities], dtype=np.int64),
            city_sub_len=np.array([c.sub_len for c in cities], dtype=np.int64),
            city_area=pa.array([c.area for c in cities], pa.string()),
            outward=_Vocab.of([_words(c.outward) for c in cities]),
            forms=_Vocab.of([[f.abbr for f in country.forms] for country in COUNTRIES],
                            [[f.weight for f in country.forms] for country in COUNTRIES]),
            form_abbr=pa.array([f.abbr for f in forms], pa.string()),
            form_long=pa.array([f.long for f in forms], pa.string()),
            form_variant=pa.array([f.variant for f in forms], pa.string()),
            form_changed=pa.array([f.changed for f in forms], pa.string()),
            titles=pa.array([t for c in COUNTRIES for t in _words(c.titles)], pa.string()),
            brand_pre=_Vocab.of([_words(_BRAND_PRE)]),
            brand_suf=_Vocab.of([_words(_BRAND_SUF)]),
        )


_VOCABULARY: _Vocabulary | None = None


def _vocabulary() -> _Vocabulary:
    global _VOCABULARY
    if _VOCABULARY is None:
        _VOCABULARY = _Vocabulary.build()
    return _VOCABULARY


# =============================================================================================
# Organisation / VAT numbers with valid check digits, vectorised per country
# =============================================================================================


def _digits(payload: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` decimal digits of each payload, most significant first: shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (payload[:, None] // powers) % 10


def _mod11_check(payload: np.ndarray, weights: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Check digit c with ``sum(w*d) + c == 0 (mod 11)``; c == 10 cannot be written: invalid."""
    c = (-(_digits(payload, len(weights)) @ np.asarray(weights))) % 11
    return c, c != 10


def _no_orgnr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (3, 2, 7, 6, 5, 4, 3, 2))
    return payload * 10 + c, ok


def _dk_cvr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (2, 7, 6, 5, 4, 3, 2))
    return payload * 10 + c, ok


def _fi_ytunnus(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (7, 9, 10, 5, 8, 4, 2))
    return payload * 10 + c, ok


def _nl_rsin(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RSIN (the number inside a BTW number): 11-proof, last digit weight -1."""
    c = (_digits(payload, 8) @ np.arange(9, 1, -1)) % 11
    return payload * 10 + c, c != 10


def _se_orgnr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Luhn over 10 digits: double every second digit from the right of the payload."""
    products = _digits(payload, 9) * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    total = (products - 9 * (products > 9)).sum(axis=1)
    return payload * 10 + (10 - total % 10) % 10, np.ones(len(payload), dtype=bool)


def _de_ustid(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ISO 7064 MOD 11,10 over 8 digits (loop over digit positions, not rows)."""
    check = np.full(len(payload), 5, dtype=np.int64)
    for d in _digits(payload, 8).T:
        check = ((np.where(check == 0, 10, check) * 2) % 11 + d) % 10
    c = (1 - (np.where(check == 0, 10, check) * 2) % 11) % 10
    return payload * 10 + c, np.ones(len(payload), dtype=bool)


def _gb_vat(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GB VAT: 7 digits + 2 check digits, weighted sum mod 97 == 0 (old) or 42 (since 2010)."""
    total = _digits(payload, 7) @ np.array([8, 7, 6, 5, 4, 3, 2])
    new_series = payload % 3 == 0
    check = np.where(new_series, 42 - total, -total) % 97
    return payload * 100 + check, np.ones(len(payload), dtype=bool)


#: Country -> (payload low, payload high, check function, digits of the full number).
_CheckDigits = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
_ORG_RULES: dict[str, tuple[int, int, _CheckDigits, int]] = {
    "NO": (80_000_000, 100_000_000, _no_orgnr, 9),
    "SE": (556_000_000, 560_000_000, _se_orgnr, 10),
    "DK": (1_000_000, 10_000_000, _dk_cvr, 8),
    "FI": (100_000, 3_200_000, _fi_ytunnus, 8),
    "NL": (80_000_000, 90_000_000, _nl_rsin, 9),
    "DE": (10_000_000, 100_000_000, _de_ustid, 9),
    "UK": (1_000_000, 10_000_000, _gb_vat, 9),
}


def _org_numbers(rng: np.random.Generator, code: str, n: int) -> np.ndarray:
    """``n`` distinct valid numbers of one country (as int64; digits per ``_ORG_RULES``)."""
    lo, hi, rule, _ = _ORG_RULES[code]
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = rng.integers(lo, hi, size=int((n - len(out)) * 1.2) + 16, dtype=np.int64)
        numbers, ok = rule(draw)
        pool = np.concatenate([out, numbers[ok]])
        _, first = np.unique(pool, return_index=True)
        out = pool[np.sort(first)]
    return out[:n]


# =============================================================================================
# SQL helpers (DuckDB macros): formats per country, drift operations
# =============================================================================================

_MACROS = r"""
CREATE OR REPLACE TEMP MACRO translit(s) AS strip_accents(replace(replace(replace(replace(
    replace(replace(s, 'ø', 'o'), 'Ø', 'O'), 'æ', 'ae'), 'Æ', 'Ae'), 'ß', 'ss'), 'đ', 'd'));
CREATE OR REPLACE TEMP MACRO grp(s, a, b, c) AS concat_ws(' ', nullif(substr(s, 1, a), ''),
    nullif(substr(s, a + 1, b), ''), nullif(substr(s, a + b + 1, c), ''),
    nullif(substr(s, a + b + c + 1), ''));
CREATE OR REPLACE TEMP MACRO sub_grp(cc, s) AS CASE
    WHEN cc = 'SE' THEN CASE length(s) WHEN 8 THEN grp(s, 3, 3, 2) WHEN 7 THEN grp(s, 3, 2, 2)
                                       WHEN 6 THEN grp(s, 2, 2, 2) ELSE grp(s, 3, 2, 9) END
    WHEN cc = 'FI' THEN CASE length(s) WHEN 8 THEN grp(s, 4, 4, 0) WHEN 7 THEN grp(s, 3, 4, 0)
                                       ELSE grp(s, 3, 3, 0) END
    WHEN cc IN ('NL', 'UK') THEN CASE length(s) WHEN 8 THEN grp(s, 4, 4, 0)
                                                WHEN 7 THEN grp(s, 3, 4, 0) ELSE s END
    ELSE s END;
CREATE OR REPLACE TEMP MACRO nordic8(n) AS CASE WHEN left(n, 1) IN ('4', '9')
    THEN grp(n, 3, 2, 3) ELSE grp(n, 2, 2, 2) END;
-- How a phone's digits are grouped: NO/DK the whole 8 digits, elsewhere the subscriber part.
-- Call with columns (a macro repeats its arguments), then pass the result to phone_fmt.
CREATE OR REPLACE TEMP MACRO phone_grp(cc, area, sub) AS CASE cc
    WHEN 'NO' THEN nordic8(area || sub) WHEN 'DK' THEN grp(area || sub, 2, 2, 2)
    ELSE sub_grp(cc, sub) END;
-- Format variant v (0..3) of a phone: area (no trunk 0), subscriber digits, phone_grp.
CREATE OR REPLACE TEMP MACRO phone_fmt(cc, area, sub, g, v) AS CASE cc
    WHEN 'NO' THEN CASE v WHEN 0 THEN g WHEN 1 THEN '+47 ' || area || sub
                          WHEN 2 THEN area || sub ELSE '+47 ' || g END
    WHEN 'DK' THEN CASE v WHEN 0 THEN g WHEN 1 THEN '+45 ' || g
                          WHEN 2 THEN area || sub ELSE '+45' || area || sub END
    WHEN 'SE' THEN CASE v WHEN 0 THEN '0' || area || '-' || g WHEN 1 THEN '+46 ' || area || ' ' || g
                          WHEN 2 THEN '0' || area || sub ELSE '+46' || area || sub END
    WHEN 'FI' THEN CASE v WHEN 0 THEN '0' || area || ' ' || g
                          WHEN 1 THEN '+358 ' || area || ' ' || g
                          WHEN 2 THEN '0' || area || sub ELSE '+358 ' || area || sub END
    WHEN 'NL' THEN CASE v WHEN 0 THEN '0' || area || '-' || sub
                          WHEN 1 THEN '+31 (0)' || area || ' ' || g
                          WHEN 2 THEN '0' || area || ' ' || g ELSE '+31' || area || sub END
    WHEN 'DE' THEN CASE v WHEN 0 THEN '0' || area || ' ' || sub
                          WHEN 1 THEN '+49 ' || area || ' ' || sub
                          WHEN 2 THEN '0' || area || '/' || sub
                          ELSE '+49 (0)' || area || ' ' || sub END
    ELSE CASE v WHEN 0 THEN '0' || area || ' ' || g WHEN 1 THEN '+44 ' || area || ' ' || g
                WHEN 2 THEN '+44 (0)' || area || ' ' || g ELSE '0' || area || sub END
    END;
CREATE OR REPLACE TEMP MACRO org_fmt(cc, n, sfx, style) AS CASE cc
    WHEN 'NO' THEN CASE style WHEN 0 THEN n WHEN 1 THEN grp(n, 3, 3, 3)
                              WHEN 2 THEN 'NO' || n || 'MVA'
                              ELSE 'NO ' || grp(n, 3, 3, 3) || ' MVA' END
    WHEN 'SE' THEN CASE style WHEN 0 THEN n WHEN 1 THEN substr(n, 1, 6) || '-' || substr(n, 7)
                              ELSE 'SE' || n || '01' END
    WHEN 'DK' THEN CASE style WHEN 0 THEN n WHEN 1 THEN grp(n, 2, 2, 2)
                              WHEN 2 THEN 'DK' || n ELSE 'DK-' || n END
    WHEN 'FI' THEN CASE style WHEN 2 THEN 'FI' || n WHEN 3 THEN 'FI ' || n
                              ELSE substr(n, 1, 7) || '-' || substr(n, 8) END
    WHEN 'NL' THEN CASE style WHEN 1 THEN 'NL ' || substr(n, 1, 4) || '.' || substr(n, 5, 2) || '.'
                                          || substr(n, 7) || '.' || sfx
                              ELSE 'NL' || n || sfx END
    WHEN 'DE' THEN CASE style WHEN 1 THEN 'DE ' || grp(n, 3, 3, 3) ELSE 'DE' || n END
    ELSE CASE style WHEN 1 THEN 'GB ' || grp(n, 3, 4, 2) WHEN 3 THEN grp(n, 3, 4, 2)
                    ELSE 'GB' || n END
    END;
CREATE OR REPLACE TEMP MACRO pc_fmt(cc, num, let, outward) AS CASE cc
    WHEN 'NO' THEN lpad(num::VARCHAR, 4, '0')
    WHEN 'DK' THEN num::VARCHAR
    WHEN 'SE' THEN substr(num::VARCHAR, 1, 3) || ' ' || substr(num::VARCHAR, 4, 2)
    WHEN 'NL' THEN num::VARCHAR || ' ' || let
    WHEN 'UK' THEN outward || ' ' || let
    ELSE lpad(num::VARCHAR, 5, '0') END;
CREATE OR REPLACE TEMP MACRO street_line(cc, street, no, unit) AS CASE cc
    WHEN 'UK' THEN no::VARCHAR || unit || ' ' || street
    ELSE street || ' ' || no::VARCHAR || unit END;
CREATE OR REPLACE TEMP MACRO typo_at(s, op, p) AS CASE op
    WHEN 1 THEN substr(s, 1, p - 1) || substr(s, p + 1, 1) || substr(s, p, 1) || substr(s, p + 2)
    WHEN 2 THEN substr(s, 1, p - 1) || substr(s, p + 1)
    WHEN 3 THEN substr(s, 1, p) || substr(s, p)
    WHEN 4 THEN translit(s)
    ELSE s END;
CREATE OR REPLACE TEMP MACRO typo(s, op, u) AS
    typo_at(s, op, 2 + CAST(floor(u * greatest(length(s) - 2, 1)) AS INTEGER));
CREATE OR REPLACE TEMP MACRO abbr_street(s) AS regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(s,
    '(gata|gate|gaten)\b', 'gt.'), '(veien|vegen)\b', 'vn.'), '(gatan|gade)\b', 'g.'),
    '(vägen|vej|vejen)\b', 'v.'), '(straße|strasse|straat)\b', 'str.'),
    ' (Road)\b', ' Rd'), ' (Street)\b', ' St');
CREATE OR REPLACE TEMP MACRO dmy(d) AS strftime(d, '%d.%m.%Y');
CREATE OR REPLACE TEMP MACRO day_of(days) AS DATE '2019-01-01' + CAST(days AS INTEGER);
CREATE OR REPLACE TEMP MACRO iso_ts(secs) AS
    strftime(TIMESTAMP '2016-01-01' + to_seconds(CAST(secs AS BIGINT)), '%Y-%m-%dT%H:%M:%S');
"""

# =============================================================================================
# The generator
# =============================================================================================

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


#: Atom columns that are a property of the country: (column, _Country attribute).
_COUNTRY_COLUMNS = (("cc", "code"), ("iso", "iso"), ("crm_country", "crm_name"),
                    ("currency", "currency"), ("conj", "conj"), ("holding", "holding"),
                    ("tld", "tld"), ("po_box", "po_box"), ("invoice_local", "invoice_local"))

# SQL snippets over entity atoms: the company's name (without legal form) and its slug.
_BASE_SQL = """CASE special
    WHEN 1 THEN sur1 || ' & Co "' || ind || '"'
    WHEN 2 THEN brand_pre || brand_suf || '; ' || ind
    ELSE CASE pattern WHEN 0 THEN sur1 || ' ' || ind
                      WHEN 1 THEN place || ' ' || ind
                      WHEN 2 THEN sur1 || ' ' || conj || ' ' || sur2
                      WHEN 3 THEN brand_pre || brand_suf || ' ' || ind
                      WHEN 4 THEN brand_pre || brand_suf
                      WHEN 5 THEN region || ' ' || ind
                      ELSE ind || ' ' || sur1 END
         || CASE WHEN extra = 1 THEN ' ' || holding
                 WHEN extra = 2 AND pattern <> 1 THEN ' ' || city ELSE '' END
    END"""
_SLUG_SQL = """CASE special
    WHEN 1 THEN sur1_s || 'co' || ind_s
    WHEN 2 THEN brand_pre_s || brand_suf || ind_s
    ELSE CASE pattern WHEN 0 THEN sur1_s || ind_s
                      WHEN 1 THEN place_s || ind_s
                      WHEN 2 THEN sur1_s || conj || sur2_s
                      WHEN 3 THEN brand_pre_s || brand_suf || ind_s
                      WHEN 4 THEN brand_pre_s || brand_suf
                      WHEN 5 THEN region_s || ind_s
                      ELSE ind_s || sur1_s END
         || CASE WHEN extra = 1 THEN lower(holding)
                 WHEN extra = 2 AND pattern <> 1 THEN city_s ELSE '' END
    END"""
_NAME_COLUMNS = ("special", "pattern", "extra", "sur1", "sur2", "ind", "place", "conj",
                 "brand_pre", "brand_suf", "region", "holding", "city")
_SLUG_COLUMNS = ("special", "pattern", "extra", "sur1_s", "sur2_s", "ind_s", "place_s", "conj",
                 "brand_pre_s", "brand_suf", "region_s", "holding", "city_s", "tld", "slug_n")
#: The company's own domain name: two companies that happen to share a name (and so a slug)
#: still have different domains, as in life (``hansenbygg.no``, ``hansenbygg2.no``).
_DOMAIN_SQL = (f"left({_SLUG_SQL}, 30) || CASE WHEN slug_n > 0 THEN slug_n::VARCHAR ELSE '' END"
               " || '.' || tld")

#: Companies: canonical strings (e), then drift of name and address (a, b, c).
#: x_form: 0 as the CRM writes it, 1 abbreviation, 2 dropped, 3 changed, 4 variant, 5 long.
#: x_typo: 0 none, 1 swap, 2 drop, 3 double a letter, 4 ASCII only. x_case: 1 upper, 2 lower.
_COMPANY_CTE = f"""
WITH e AS (
    SELECT *, {_BASE_SQL} AS base, left({_SLUG_SQL}, 30) AS slug, {_DOMAIN_SQL} AS domain,
           lpad(org::VARCHAR, org_width, '0') AS org_digits,
           street_line(cc, street, no, unit) AS street1, pc_fmt(cc, pc_num, pc_let, outward) AS pc,
           street_line(cc, alt_street, alt_no, alt_unit) AS alt_street1,
           pc_fmt(cc, alt_pc_num, alt_pc_let, alt_outward) AS alt_pc
    FROM src),
a AS (
    SELECT *, CASE WHEN x_amp THEN replace(base, ' ' || conj || ' ', ' & ') ELSE base END AS b1,
        CASE x_form WHEN 0 THEN CASE WHEN crm_long THEN form_long ELSE form_abbr END
                    WHEN 1 THEN form_abbr WHEN 2 THEN NULL WHEN 3 THEN form_alt
                    WHEN 4 THEN form_var ELSE form_long END AS ft,
        CASE WHEN x_phone_alt THEN alt_sub ELSE sub END::VARCHAR AS ph,
        CASE WHEN x_move THEN alt_street1 ELSE street1 END AS s1,
        CASE WHEN x_move THEN alt_pc ELSE pc END AS s_pc,
        CASE WHEN x_move THEN alt_city ELSE city END AS s_city,
        CASE WHEN x_move THEN alt_street1 WHEN box THEN po_box || ' ' || box_no::VARCHAR
             ELSE street1 END AS p1,
        CASE WHEN x_move THEN alt_pc WHEN box THEN pc_fmt(cc, box_pc_num, box_let, outward)
             ELSE pc END AS p_pc
    FROM e),
b AS (SELECT *, concat_ws(' ', typo(b1, x_typo, x_typo_u), ft) AS n1,
             phone_grp(cc, area, ph) AS ph_g FROM a),
c AS (SELECT *, CASE x_case WHEN 1 THEN upper(n2) WHEN 2 THEN lower(n2) ELSE n2 END AS name
      FROM (SELECT *, CASE WHEN x_trunc THEN left(n1, 30) ELSE n1 END AS n2 FROM b))
"""  # noqa: S608 - built from this module's constant SQL fragments

_CRM_COMPANY_SQL = _COMPANY_CTE + f"""
SELECT id::VARCHAR AS id, name,
    CASE x_dept WHEN 0 THEN NULL WHEN 7 THEN 'Avd. ' || city
         ELSE list_extract({sql_list(_CRM_DEPARTMENTS)}, x_dept) END AS department,
    CASE WHEN NOT x_org_miss THEN org_fmt(cc, org_digits, org_sfx, x_org_style) END AS vatno,
    CASE WHEN x_code THEN upper(left(split_part(base, ' ', 1), 3)
                                || left(split_part(base, ' ', 2), 3)) END AS number1,
    CASE WHEN x_num AND account > 0 THEN account::VARCHAR END AS number2,
    CASE WHEN NOT x_phone_miss THEN phone_fmt(cc, area, ph, ph_g, x_phone_v) END AS phone,
    CASE WHEN NOT x_email_miss THEN email_local || '@' || domain END AS email,
    CASE WHEN NOT x_web_miss THEN CASE web_style WHEN 0 THEN 'www.' || domain
         WHEN 1 THEN 'https://www.' || domain WHEN 2 THEN 'http://' || domain END END AS url,
    CASE WHEN NOT x_street_miss THEN s1 END AS streetad1,
    CASE WHEN NOT x_street_miss THEN s_pc END AS streetzip,
    CASE WHEN NOT x_street_miss THEN s_city END AS streetcity,
    CASE WHEN NOT x_postal_miss THEN p1 END AS postalad1,
    CASE WHEN NOT x_postal_miss THEN p_pc END AS postalzip,
    CASE WHEN NOT x_postal_miss THEN s_city END AS postalcity,
    crm_country AS country, category, x_contact AS our_contact,
    dmy(day_of(x_reg_days)) AS registered
FROM c
"""  # noqa: S608 - built from this module's constant SQL fragments and sql_list of constant lists

_ERP_COMPANY_SQL = _COMPANY_CTE + f"""
SELECT id::VARCHAR AS id,
    list_extract({sql_list(_ACTOR_TYPES)}, actor + 1) AS actor_type, name,
    CASE WHEN NOT x_org_miss THEN org_fmt(cc, org_digits, org_sfx, x_org_style) END AS vatno,
    upper(left(slug, 10)) AS number1,
    account::VARCHAR AS number2,
    CASE WHEN NOT x_phone_miss THEN phone_fmt(cc, area, ph, ph_g, x_phone_v) END AS phone,
    CASE x_email WHEN 0 THEN email_local || '@' || domain
                 WHEN 1 THEN invoice_local || '@' || domain END AS email,
    CASE x_web WHEN 0 THEN domain WHEN 1 THEN 'www.' || domain END AS url,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_abbr THEN abbr_street(s1) ELSE s1 END END
        AS streetad1,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_pc_compact AND cc IN ('SE', 'NL')
         THEN replace(s_pc, ' ', '') ELSE s_pc END END AS streetzip,
    CASE WHEN NOT x_street_miss THEN CASE WHEN x_city_upper THEN upper(s_city)
         ELSE s_city END END AS streetcity,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_abbr THEN abbr_street(p1) ELSE p1 END END
        AS postalad1,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_pc_compact AND cc IN ('SE', 'NL')
         THEN replace(p_pc, ' ', '') ELSE p_pc END END AS postalzip,
    CASE WHEN NOT x_postal_miss THEN CASE WHEN x_city_upper THEN upper(s_city)
         ELSE s_city END END AS postalcity,
    iso AS country,
    CASE WHEN erp_group <> 'Standard' THEN erp_group WHEN cc = 'NO' THEN 'Domestic'
         ELSE 'Export' END AS category,
    currency, x_terms AS payment_terms, iso_ts(x_modified) AS last_modified
FROM c
"""  # noqa: S608 - built from this module's constant SQL fragments and sql_list of constant lists

_PERSON_CTE = f"""
WITH p AS (
    SELECT *, {_DOMAIN_SQL} AS domain,
        CASE email_style
            WHEN 0 THEN first_s || '.' || middle_nl_s || last_s
            WHEN 1 THEN left(first_s, 1) || middle_nl_s || last_s
            WHEN 2 THEN first_s
            WHEN 3 THEN left(first_s, 1) || left(middle_s, 1) || left(last_s, 1) END AS local
    FROM (SELECT *, CASE WHEN cc = 'NL' THEN middle_s ELSE '' END AS middle_nl_s FROM src)),
ph AS (
    SELECT *, phone_grp(cc, area, d) AS d_g, phone_grp(cc, mobile_area, m) AS m_g
    FROM (SELECT *, direct::VARCHAR AS d, mobile::VARCHAR AS m FROM p))
"""  # noqa: S608 - built from this module's constant SQL fragments

_CRM_PERSON_SQL = _PERSON_CTE + """
SELECT id::VARCHAR AS id, company_id::VARCHAR AS company_id, first AS firstname,
    nullif(middle, '') AS middlename, last AS lastname, title, position,
    local || '@' || domain AS email,
    CASE WHEN has_direct THEN phone_fmt(cc, area, d, d_g, x_phone_v) END AS phone_direct,
    CASE WHEN has_mobile THEN phone_fmt(cc, mobile_area, m, m_g, x_phone_v) END AS phone_mobile,
    dmy(day_of(x_reg_days)) AS registered
FROM ph
"""

#: ERP persons: no middle name column (NL tussenvoegsel joins the surname, Nordic middle names
#: join the first name or vanish); x_first: 1 + middle, 2 initial, 3 typo; x_last: 1 typo,
#: 2 upper, 3 ASCII; x_email: 1 Capitalised, 2 initials, 3 none; x_mobile: 1 changed, 2 none.
_ERP_PERSON_SQL = _PERSON_CTE + f"""
, q AS (
    SELECT *, CASE WHEN cc = 'NL' THEN first ELSE CASE x_first
            WHEN 1 THEN concat_ws(' ', first, nullif(middle, ''))
            WHEN 2 THEN left(first, 1) || '.'
            WHEN 3 THEN typo(first, 1, x_u) ELSE first END END AS f,
        CASE WHEN cc = 'NL' THEN concat_ws(' ', nullif(middle, ''), last) ELSE last END AS l
    FROM ph)
SELECT id::VARCHAR AS id, parent_key::VARCHAR AS parent_key,
    list_extract({sql_list(_ACTOR_TYPES)}, parent_actor + 1) AS parent_actor_type,
    f AS firstname,
    CASE x_last WHEN 1 THEN typo(l, 1 + CAST(floor(x_u * 3) AS INTEGER), x_u)
                WHEN 2 THEN upper(l) WHEN 3 THEN translit(l) ELSE l END AS lastname,
    CASE WHEN NOT x_title_miss THEN title END AS title,
    CASE x_email WHEN 0 THEN local || '@' || domain
        WHEN 1 THEN regexp_replace(translit(first), '[^A-Za-z0-9]', '', 'g') || '.'
                    || regexp_replace(translit(l), '[^A-Za-z0-9]', '', 'g') || '@' || domain
        WHEN 2 THEN left(first_s, 1) || left(last_s, 1) || '@' || domain END AS email,
    CASE WHEN has_direct AND NOT x_direct_miss THEN phone_fmt(cc, area, d, d_g, x_phone_v) END
        AS phone_direct,
    CASE WHEN has_mobile AND x_mobile < 2 THEN phone_fmt(cc, mobile_area, m, m_g, x_phone_v) END
        AS phone_mobile,
    iso_ts(x_modified) AS last_modified
FROM q
"""  # noqa: S608 - built from this module's constant SQL fragments and sql_list of constant lists

_PROJECT_CTE = f"""
WITH j AS (
    SELECT *, word || ' ' || object || CASE WHEN with_year THEN ' ' || year::VARCHAR ELSE ''
              END AS pname,
           year::VARCHAR || '-' || printf('%06d', seq) AS pnumber,
           word || ' av ' || object || ' hos ' || {_BASE_SQL} || '.' AS ptext
    FROM src)
"""  # noqa: S608 - built from this module's constant SQL fragments

_CRM_PROJECT_SQL = _PROJECT_CTE + f"""
SELECT id::VARCHAR AS id, company_id::VARCHAR AS company_id, pname AS name,
    CASE WHEN x_erp_number THEN pnumber ELSE (10000 + id)::VARCHAR END AS number,
    CASE WHEN x_text THEN ptext END AS text,
    dmy(day_of(end_day)) AS enddate,
    list_extract({sql_list(_STATUS_CRM)}, status + 1) AS status,
    ptype AS project_type, manager AS project_manager
FROM j
"""  # noqa: S608 - built from this module's constant SQL fragments and sql_list of constant lists

#: x_name: 1 number prefix, 2 upper, 3 typo, 4 cut to 20 characters.
_ERP_PROJECT_SQL = _PROJECT_CTE + f"""
SELECT id::VARCHAR AS id, parent_key::VARCHAR AS parent_key,
    list_extract({sql_list(_ACTOR_TYPES)}, parent_actor + 1) AS parent_actor_type,
    pnumber AS number,
    CASE x_name WHEN 1 THEN pnumber || ' ' || pname WHEN 2 THEN upper(pname)
                WHEN 3 THEN typo(pname, 1, x_u) WHEN 4 THEN left(pname, 20) ELSE pname END
        AS name,
    CASE WHEN x_text THEN ptext END AS text,
    strftime(day_of(end_day + x_shift), '%Y-%m-%d') AS enddate,
    list_extract({sql_list(_STATUS_ERP)}, CASE WHEN x_status THEN 3 ELSE status + 1 END)
        AS status,
    budget::VARCHAR AS budget,
    iso_ts(x_modified) AS last_modified
FROM j
"""  # noqa: S608 - built from this module's constant SQL fragments and sql_list of constant lists


@dataclass(frozen=True)
class _Query:
    """One output table: Arrow rows to register as ``src`` and the SQL that turns them into text."""

    key: TableKey
    src: pa.Table
    sql: str


class _Generator:
    """Draws the synthetic world once, then the six record tables and the truth, one at a time.

    Entities are the real companies; the CRM and the ERP each see a subset of them (plus CRM
    duplicates). Per entity, person and project there is one row of *atoms* (random choices:
    numbers and dictionary-encoded words); each side's table gathers the atoms of its records,
    appends that side's drift choices (``x_*`` columns) and builds its strings in one SQL
    projection. :meth:`queries` yields a :class:`_Query` per output table, whose SQL returns
    canonical column names and values exactly as the export writes them (``NULL`` = empty).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, size: int, seed: int) -> None:
        self.con = con
        self.seed = seed
        self.n = _Sizes.for_size(size)
        self.vocab = _vocabulary()
        con.execute(_MACROS)
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
            (n,) = con.execute(f"""SELECT (row_number() OVER (PARTITION BY left({_SLUG_SQL}, 30),
                                          tld ORDER BY ent) - 1)::INTEGER AS n
                                   FROM atoms ORDER BY ent""").fetchnumpy().values()  # noqa: S608 - the constant _SLUG_SQL over the registered atoms table
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
            "erp_group": _grouped(_ERP_GROUPS).words(rng, np.maximum(self.actor, 0)),
            "account": self.account,
        })

    @staticmethod
    def _word_and_slug(rng: np.random.Generator, vocab: _Vocab, groups: np.ndarray,
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
            number[m] = _org_numbers(rng, country.code, int(m.sum()))
        widths = np.array([_ORG_RULES[c.code][3] for c in COUNTRIES], dtype=np.int8)
        return {
            "org": number,
            "org_width": widths[ci],
            "org_sfx": _fixed((("B01", 85), ("B02", 10), ("B03", 5))).words(
                rng, np.zeros(len(ci), dtype=np.int64)),
        }

    def _crm_category(self, rng: np.random.Generator) -> pa.DictionaryArray:
        """CRM category: from the ERP role, but stale ("Prospekt") for some; others prospects."""
        cat = np.where(self.actor >= 0, self.actor, 3).astype(np.int64)
        cat[(self.actor >= 0) & _flag(rng, len(cat), 0.08)] = 3
        crm_only = self.in_crm & ~self.in_erp
        cat[crm_only] = 3 + _choice(rng, int(crm_only.sum()), (70, 15, 15)) % 3
        cat[crm_only & (cat == 5)] = 0  # a few CRM-only "customers" (the ERP deleted them)
        return _dict(cat, pa.array(_CRM_CATEGORIES, pa.string()))

    # ---- companies ---------------------------------------------------------------------------

    @staticmethod
    def _name_drift(rng: np.random.Generator, count: int, strength: str) -> dict[str, Any]:
        """Per-record name drift columns (see _COMPANY_CTE): none, CRM duplicate or ERP."""
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
            "x_contact": _Vocab.of([_words(_OUR_CONTACTS)]).words(rng, np.zeros(count, np.int64)),
            "x_reg_days": rng.integers(-5400, 2450, count) + np.where(dup, 1500, 0),
        }

    def _erp_company_drift(self, rng: np.random.Generator) -> dict[str, Any]:
        """ERP-side drift of each ERP actor (see _COMPANY_CTE and _ERP_COMPANY_SQL)."""
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
            "x_terms": _fixed(_PAYMENT_TERMS).words(rng, np.zeros(count, dtype=np.int64)),
            "x_modified": rng.integers(0, 310_000_000, count),
        }

    def companies(self) -> Iterator[_Query]:
        crm = _gather(self.atoms, self.crm_ent, self._crm_company_drift(self.rng("crm_company")))
        yield _Query(("crm", "company"), crm, _CRM_COMPANY_SQL)
        del crm
        erp = _gather(self.atoms, self.erp_ent, self._erp_company_drift(self.rng("erp_company")))
        yield _Query(("erp", "company"), erp, _ERP_COMPANY_SQL)

    # ---- persons -----------------------------------------------------------------------------

    def _person_atoms(self) -> pa.Table:
        """Random choices per real person (CRM and ERP views gather these rows)."""
        v = self.vocab
        rng = self.rng("person")
        count = len(self.p_ent)
        ci = self.ci[self.p_ent]
        role = _choice(rng, count, _ROLE_WEIGHTS).astype(np.int64)
        first = v.first.pick(rng, ci * 2 + _flag(rng, count, 0.5))
        middle = v.middles.pick(rng, ci)
        last = v.person_surnames.pick(rng, ci)
        mobile = v.mobile_areas.pick(rng, ci)
        nsn_len = np.array([c.mobile_len for c in COUNTRIES])[ci]
        mobile_len = nsn_len - v.mobile_areas.lengths[mobile]
        self.p_mobile = _subscriber(rng, mobile_len)
        self.p_new_mobile = _subscriber(rng, mobile_len)  # what the ERP has after a change
        company = self.atoms.select(["cc", "area", *_SLUG_COLUMNS]).take(pa.array(self.p_ent))
        return _append(company, {
                "first": v.first.encode(first), "first_s": v.first.encode_slugs(first),
                "middle": v.middles.encode(middle), "middle_s": v.middles.encode_slugs(middle),
                "last": v.person_surnames.encode(last),
                "last_s": v.person_surnames.encode_slugs(last),
                "title": _dict(ci * 10 + role, v.titles),
                "position": _dict(role, pa.array(_POSITIONS, pa.string())),
                "email_style": _choice(rng, count, (60, 15, 10, 5, 10)),
                "has_direct": _flag(rng, count, 0.6),
                "direct": _subscriber(rng, self.sub_len[self.p_ent]),
                "has_mobile": _flag(rng, count, 0.8),
                "mobile_area": v.mobile_areas.encode(mobile),
            })

    def persons(self) -> Iterator[_Query]:
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
        yield _Query(("crm", "person"), crm, _CRM_PERSON_SQL)
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
        yield _Query(("erp", "person"), erp, _ERP_PERSON_SQL)

    # ---- projects ----------------------------------------------------------------------------

    def _project_atoms(self) -> pa.Table:
        rng = self.rng("project")
        count = len(self.j_ent)
        one = np.zeros(count, dtype=np.int64)
        end = rng.integers(0, 365 * 8, count)
        past = end < _STATUS_REFERENCE_DAY
        status = np.where(past, 2 + (rng.random(count) < 0.15), rng.random(count) < 0.7)
        company = self.atoms.select(list(_NAME_COLUMNS)).take(pa.array(self.j_ent))
        return _append(company, {
            "word": _Vocab.of([_words(_PROJECT_WORDS)]).words(rng, one),
            "object": _Vocab.of([_words(_PROJECT_OBJECTS)]).words(rng, one),
            "year": 2019 + end // 365 - (rng.random(count) < 0.5),
            "with_year": _flag(rng, count, 0.5),
            "seq": np.arange(1, count + 1),
            "end_day": end,
            "status": status.astype(np.int8),
            "ptype": _fixed(_PROJECT_TYPES).words(rng, one),
            "manager": _Vocab.of([_words(_OUR_CONTACTS)]).words(rng, one),
            "budget": rng.integers(2, 400, count) * 5000,
        })

    def projects(self) -> Iterator[_Query]:
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
        yield _Query(("crm", "project"), crm, _CRM_PROJECT_SQL)
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
        yield _Query(("erp", "project"), erp, _ERP_PROJECT_SQL)

    # ---- truth -------------------------------------------------------------------------------

    def truth(self) -> _Query:
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
        return _Query(("truth", "all"), src, "SELECT kind::VARCHAR AS kind, crm_id::VARCHAR AS "
                      "crm_id, erp_actor_type::VARCHAR AS erp_actor_type, erp_id::VARCHAR AS "
                      "erp_id FROM src")

    # ---- all tables ------------------------------------------------------------------------

    def queries(self) -> Iterator[_Query]:
        """The seven output tables in :data:`EXPORT_FILES` order, built one at a time."""
        yield from self.companies()
        yield from self.persons()
        yield from self.projects()
        yield self.truth()


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, src: pa.Table) -> Iterator[None]:
    con.register("src", src)
    try:
        yield
    finally:
        con.unregister("src")


# =============================================================================================
# Public API
# =============================================================================================


def generate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> dict[TableKey, pd.DataFrame]:
    """The demo records as DataFrames keyed ``(side, kind)``, and the truth as ``("truth", "all")``.

    Each frame has the canonical column names of :mod:`erpdata.schema` (``id`` first; ERP
    companies have ``actor_type``, ERP persons and projects ``parent_key`` and
    ``parent_actor_type``, CRM persons and projects ``company_id``) plus the export's extra
    columns (see :data:`EXPORT_HEADERS`). Values are strings exactly as the export files hold
    them (dates as written; an empty cell is missing: ``pd.isna``). Rows are in file order (by
    id). The truth frame has ``kind, crm_id, erp_actor_type, erp_id``.

    Meant for tests and small sizes; for large sizes use :func:`write_exports`, which streams
    each table to its file without building DataFrames.
    """
    out: dict[TableKey, pd.DataFrame] = {}
    with scratch() as con:
        for query in _Generator(con, size, seed).queries():
            with _registered(con, query.src):
                out[query.key] = con.sql(query.sql).df()
    return out


@dataclass
class DemoFiles:
    """The files :func:`write_exports` wrote."""

    folder: Path
    files: dict[TableKey, Path]  # (side, kind) -> export file
    truth: Path
    rows: dict[TableKey, int] = field(default_factory=dict)  # rows per file (truth included)


def _copy_sql(key: TableKey, sql: str, path: Path) -> str:
    """``COPY`` of a query's rows to its export file, headers renamed; CRM files get a BOM."""
    headers = EXPORT_HEADERS[key]
    cols = []
    for i, (column, header) in enumerate(headers.items()):
        label = (_BOM + header) if (i == 0 and key[0] == "crm") else header
        cols.append(f"{column} AS {sql_ident(label)}")
    return (f"COPY (SELECT {', '.join(cols)} FROM ({sql})) TO {sql_text(str(path))} "  # noqa: S608 - columns from EXPORT_HEADERS, headers via sql_ident, path via sql_text
            f"(FORMAT csv, HEADER, DELIMITER '{_DELIMITERS[key[0]]}', QUOTE '\"', ESCAPE '\"')")


def write_exports(folder: Path | str, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, *,
                  progress: Progress | None = None) -> DemoFiles:
    """Write the six demo exports and ``truth.csv`` into ``folder`` (created if needed).

    CRM files: ``;``-separated UTF-8 with BOM and Norwegian headers (SuperOffice style); ERP
    files: ``,``-separated UTF-8 with English headers; ``truth.csv``: ``kind,crm_id,
    erp_actor_type,erp_id``. Values holding the delimiter or quotes are quoted (RFC 4180).
    ``progress`` gets ``(label, fraction)`` per table group.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[TableKey, Path] = {}
    rows: dict[TableKey, int] = {}
    with scratch() as con:
        for step, query in enumerate(_Generator(con, size, seed).queries()):
            path = folder / EXPORT_FILES[query.key]
            with _registered(con, query.src):
                con.execute(_copy_sql(query.key, query.sql, path))
            written[query.key] = path
            rows[query.key] = query.src.num_rows
            if progress:
                progress(f"wrote {path.name}", (step + 1) / len(EXPORT_FILES))
    truth = written.pop(("truth", "all"))
    return DemoFiles(folder, written, truth, rows)


@dataclass
class DemoSummary:
    """What :func:`build_demo` did: where, how many records, and how long each stage took."""

    workspace: Path
    exports: DemoFiles
    size: int
    seed: int
    counts: dict[str, Any]
    seconds: dict[str, float]


def default_export_dir(workspace: Path) -> Path:
    """``<workspace stem>.demo/`` beside the workspace file."""
    return workspace.with_name(workspace.stem + ".demo")


#: Share of the progress bar for generating and writing the exports (the loads take the rest);
#: measured at 1,000,000 companies, where writing takes about a third of the time.
_WRITE_SHARE = 0.35


def _refuse_records(ws: Workspace) -> None:
    """Raise :class:`ErpdataError` when the workspace already holds records (present or missing)."""
    counts = ws.counts()
    existing = sum(counts[side][kind] + counts["missing"][side][kind]
                   for side in ("crm", "erp") for kind in ("company", "person", "project"))
    if existing:
        raise ErpdataError(
            f"workspace {ws.path} already holds {existing:,} records; the demo is only built "
            "into an empty workspace, so demo data never mixes with real data. Choose a new "
            "workspace path."
        )


def _load_exports(ws: Workspace, files: DemoFiles, report: Progress, loader: str = "demo"
                  ) -> dict[str, float]:
    """Load the exports in :data:`LOAD_ORDER` as ``loader``; progress weighted by rows;
    seconds per load."""
    from erpdata.ingest.load import load_file  # imported here: ingest is not needed to generate

    seconds: dict[str, float] = {}
    total = sum(files.rows[key] for key in LOAD_ORDER) or 1
    done = 0
    for side, kind in LOAD_ORDER:
        label = f"loading {side} {kind}"
        base = _WRITE_SHARE + (1 - _WRITE_SHARE) * done / total
        done += files.rows[(side, kind)]
        end = _WRITE_SHARE + (1 - _WRITE_SHARE) * done / total
        report(label, base)
        t0 = time.perf_counter()
        load_file(ws, files.files[(side, kind)], side=side, kind=kind, user=loader,
                  progress=lambda stage, f, label=label, base=base, end=end: report(
                      f"{label}: {stage}", min(end, base + (end - base) * f)))
        seconds[label] = time.perf_counter() - t0
    return seconds


@guarded
def build_demo(workspace: str | Path | Workspace | None = None, *, size: int = DEFAULT_SIZE,
               seed: int = DEFAULT_SEED, export_dir: Path | None = None,
               progress: Progress | None = None, user: str | None = None) -> DemoSummary:
    """Write the demo exports and load them into an empty workspace; return a summary.

    ``workspace`` is a path (default: :func:`erpdata.workspace.resolve_path`) or an open
    :class:`~erpdata.workspace.Workspace` (left open). A workspace that already holds records
    is refused with :class:`ErpdataError`: demo data never mixes with real data. The exports go to
    ``export_dir`` (default ``<workspace stem>.demo/`` beside the workspace) and are loaded in
    :data:`LOAD_ORDER` by :func:`erpdata.ingest.load.load_file` (as user ``demo``), so they take
    the same path as a steward's files. ``demo_size`` and ``demo_seed`` are stored with
    ``ws.set_meta``. ``progress`` is called with ``(stage label, fraction 0..1)``: at the start,
    after each file written, at the start of each load ("loading crm company") and at each of
    the load's own stages ("loading crm company: applying"), and 1.0 at the end.

    Building the demo loads records, so ``user`` (default: the current user) must be a
    steward; a fresh workspace lists no users, where everyone is. The loads are stamped
    ``demo`` where that name may load (a one-person workspace), else with ``user``: in a
    multi-user workspace an unlisted "demo" is a viewer and its loads would be refused.
    """
    owned = not isinstance(workspace, Workspace)
    ws = Workspace.open(workspace) if owned else workspace  # type: ignore[arg-type]
    try:
        who = require_for(ws, "build_demo", user)  # a path is checked once opened
        loader = "demo" if role_of(ws, "demo") != "viewer" else who
        _refuse_records(ws)
        report = progress or (lambda label, fraction: None)
        start = time.perf_counter()
        report("generating and writing demo exports", 0.0)
        files = write_exports(export_dir or default_export_dir(ws.path), size, seed,
                              progress=lambda label, f: report(label, _WRITE_SHARE * f))
        seconds = {"generate + write": time.perf_counter() - start}
        seconds |= _load_exports(ws, files, report, loader)
        ws.set_meta("demo_size", str(size))
        ws.set_meta("demo_seed", str(seed))
        seconds["total"] = time.perf_counter() - start
        report("demo workspace ready", 1.0)
        return DemoSummary(ws.path, files, size, seed, ws.counts(), seconds)
    finally:
        if owned:
            ws.close()
