"""Entity kinds, actor types and the canonical fields of each kind.

Canonical field names are SuperOffice's ERP-sync field keys in lower case (``NAME`` -> ``name``,
``VATNO`` -> ``vatno``, ``STREETZIP`` -> ``streetzip``), so a field mapping written against
SuperOffice reads the same here. Each field also carries the header synonyms that real exports
use for it (English, Norwegian, Swedish, Danish, Dutch, German): that list is what lets
:mod:`erpdata.ingest.load` map an unknown export without a mapping file.

The table layout of the workspace is derived from this module, so adding a field here adds a
column everywhere (a schema migration is still needed for existing workspaces).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Side = Literal["crm", "erp"]
Kind = Literal["company", "person", "project"]
FieldType = Literal["text", "date", "timestamp"]

SIDES: tuple[Side, ...] = ("crm", "erp")
KINDS: tuple[Kind, ...] = ("company", "person", "project")

#: Plural nouns for messages ("3 companies").
PLURAL: dict[str, str] = {"company": "companies", "person": "persons", "project": "projects"}

#: ERP actor types per kind (SuperOffice ``ErpActorType``; Employee and Sale are not synced).
#: ``partner`` is an actor that is both customer and supplier.
ACTOR_TYPES: dict[Kind, tuple[str, ...]] = {
    "company": ("customer", "supplier", "partner"),
    "person": ("person",),
    "project": ("project",),
}

#: SuperOffice ``CrmActorType`` per kind (UI trap: "Company" is the API's Contact).
CRM_ACTOR_TYPE: dict[Kind, str] = {"company": "Contact", "person": "Person", "project": "Project"}

#: Words that real exports use for each actor type, folded like headers (see ``fold``).
ACTOR_TYPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer", "cust", "c", "kunde", "kund", "klant", "debitor", "debiteur", "asiakas",
        "client", "1",
    ),
    "supplier": (
        "supplier", "vendor", "s", "leverandor", "leverantor", "leverancier", "crediteur",
        "kreditor", "lieferant", "toimittaja", "2",
    ),
    "partner": ("partner", "both", "begge", "bada", "beide", "p", "3"),
    "person": ("person", "contact", "kontakt", "contactpersoon", "4"),
    "project": ("project", "prosjekt", "projekt", "5"),
}


@dataclass(frozen=True)
class Field:
    """One canonical field: its name, what it holds and what exports call it."""

    name: str
    label: str
    type: FieldType = "text"
    #: SuperOffice sync field key (``None`` for our own structural fields).
    sync_key: str | None = None
    synonyms: tuple[str, ...] = field(default_factory=tuple)
    #: ``None``: both sides; otherwise the only side that has it.
    side: Side | None = None


def _f(
    name: str,
    label: str,
    synonyms: str,
    *,
    type: FieldType = "text",
    sync_key: str | None = "",
    side: Side | None = None,
) -> Field:
    """Compact constructor: synonyms as one ``|``-separated string; sync_key defaults to NAME."""
    key = name.upper() if sync_key == "" else sync_key
    syns = tuple(s.strip() for s in synonyms.split("|") if s.strip())
    return Field(name, label, type, key, syns, side)


# --- shared synonym groups -------------------------------------------------------------------

def _numbered(stems: str, suffixes: str, *more: str) -> tuple[str, ...]:
    """Every ``stem suffix`` pair ("kunde" + "nr" -> "kunde nr"), then ``more``. Folding drops
    the space and punctuation, so one pair also stands for "Kundenr", "Kunde-Nr." and
    "KUNDE_NR"."""
    return (*(f"{a} {b}" for a in stems.split("|") for b in suffixes.split("|")), *more)


_NUMBER_SUFFIXES = "number|no|nr|num|id|code|key|nummer|kode|kod|numero|ident"

#: What ERPs head their customer and supplier numbers with, by meaning (English, Norwegian,
#: Swedish, Danish, Dutch, German; debtor/creditor are the ledgers' words for customer and
#: supplier; KUNNR/LIFNR are SAP's field names). Why generated: each language glues stem and
#: suffix its own way (Kundenr, Kundennummer, Debiteurnummer, Leverantörsnummer, VendorNo), and
#: a hand-written list always misses one. The same header means different fields by side and
#: kind: on an ERP company it is the record key; on an ERP person or project it names the
#: company the record belongs to (``parent_key``); on a CRM company it is the ERP number the
#: CRM record carries (``number2``). The key (``ID_SYNONYMS``) wins over ``number2`` on ERP
#: companies because the record key's synonyms are looked up first (``columns.synonym_index``).
ERP_NUMBER_HEADERS: dict[str, tuple[str, ...]] = {
    "customer number": _numbered(
        "customer|cust|debtor|kunde|kunden|kund|klant|klanten|debiteur|debiteuren|debitor|"
        "debitoren|asiakas", _NUMBER_SUFFIXES, "kunnr"),
    "supplier number": _numbered(
        "supplier|supp|vendor|creditor|leverandør|leverandørs|leverantör|leverantörs|"
        "leverancier|leveranciers|crediteur|crediteuren|kreditor|kreditoren|lieferant|"
        "lieferanten|toimittaja", _NUMBER_SUFFIXES, "lifnr"),
}
_ERP_NUMBERS = "|".join(h for group in ERP_NUMBER_HEADERS.values() for h in group)

_EMAIL = ("email|e-mail|e_mail|mail|epost|e-post|epostadresse|e-postadresse|emailaddress|"
          "e-mailadres|emailadres|mailadresse|sahkoposti")
_URL = ("url|web|website|www|homepage|hjemmeside|nettside|webside|hemsida|webbplats|webadres|"
        "website-adres|webseite|internetadresse|kotisivu")
_PHONE = ("phone|telephone|tel|tlf|telefon|telefonnummer|phone number|telefoonnummer|telefoon|"
          "puhelin|tel.|phonenumber|telefonnr|tlfnr|sentralbord|switchboard|vaxel")

COMPANY_FIELDS: tuple[Field, ...] = (
    _f("name", "Name",
       "name|company|company name|companyname|account name|firma|firmanavn|firmenname|"
       "selskap|selskapsnavn|bedrift|bedriftsnavn|foretag|foretagsnamn|företag|företagsnamn|"
       "virksomhed|virksomhedsnavn|firmanavn|bedrijf|bedrijfsnaam|naam|organisatie|"
       "organisation|organization|unternehmen|firma name|yritys|yrityksen nimi|nimi|navn|namn|"
       "customer name|kundenavn|kundnamn|klantnaam|supplier name|leverandørnavn|party name|"
       "contact name|contactname|kontaktnavn|debiteurnaam|crediteurnaam"),
    _f("department", "Department",
       "department|dept|avdeling|avdelning|afdeling|abteilung|osasto|division"),
    _f("vatno", "Org. no / VAT no",
       "vatno|vat|vat no|vat number|vatnumber|vat_no|org_nr|orgnr|org nr|org.nr|org no|org.no|"
       "orgno|organisation number|organization number|organisasjonsnummer|org.nummer|"
       "organisationsnummer|orgnummer|cvr|cvr-nummer|cvr nummer|cvrnr|kvk|kvk-nummer|kvknummer|"
       "kvk nummer|btw|btw-nummer|btw nummer|btwnummer|ust-idnr|ustidnr|ust-id|umsatzsteuer-id|"
       "steuernummer|handelsregisternummer|hrb|y-tunnus|ytunnus|business id|company number|"
       "company registration number|registration number|crn|mva-nummer|momsnr|momsnummer|"
       "tax id|taxid|tax number|identifier|registreringsnummer"),
    _f("number1", "Code",
       "number1|code|kode|kod|short name|kortnavn|shortname|zoeknaam|suchname|matchcode"),
    _f("number2", "Number",
       "number2|number|no|nr|nummer|customer number|customer no|kundenummer|kundenr|kundnummer|"
       "kundnr|klantnummer|kundennummer|debiteurnummer|debitornummer|account number|"
       "supplier number|leverandørnummer|leverantörsnummer|crediteurnummer|lieferantennummer|"
       "asiakasnumero"
       + "|" + _ERP_NUMBERS),
    _f("phone", "Phone", _PHONE),
    _f("fax", "Fax", "fax|telefax|faxnummer|telefaxnummer"),
    _f("email", "E-mail", _EMAIL),
    _f("url", "Website", _URL),
    _f("streetad1", "Street address 1",
       "streetad1|street address|streetaddress|street|street address 1|visiting address|"
       "visit address|besøksadresse|besoksadresse|besøksadresse 1|gateadresse|besöksadress|"
       "gatuadress|besøgsadresse|vejnavn|bezoekadres|straat|straatnaam|strasse|straße|"
       "hausanschrift|käyntiosoite|katuosoite|address line 1 (street)"),
    _f("streetad2", "Street address 2",
       "streetad2|street address 2|besøksadresse 2|bezoekadres 2|strasse 2|address 2 (street)"),
    _f("streetad3", "Street address 3", "streetad3|street address 3|besøksadresse 3"),
    _f("streetzip", "Street postcode",
       "streetzip|street zip|street postcode|visiting postcode|besøkspostnummer|"
       "besøkspostnr|besökspostnummer|bezoekpostcode|postcode bezoekadres"),
    _f("streetcity", "Street city",
       "streetcity|street city|visiting city|besøkssted|besøkspoststed|besöksort|"
       "bezoekplaats|plaats bezoekadres"),
    _f("postalad1", "Postal address 1",
       "postalad1|address|address 1|address1|address line 1|addressline1|postal address|"
       "postaladdress|postal address 1|mailing address|adresse|adresse 1|adresse1|postadresse|"
       "postadresse 1|adress|adress 1|postadress|utdelningsadress|adres|postadres|"
       "correspondentieadres|anschrift|postanschrift|osoite|postiosoite|billing address"),
    _f("postalad2", "Postal address 2",
       "postalad2|address 2|address2|address line 2|addressline2|adresse 2|adresse2|"
       "postadresse 2|adress 2|adres 2|co|c/o|anschrift 2|osoite 2"),
    _f("postalad3", "Postal address 3",
       "postalad3|address 3|address3|address line 3|addressline3|adresse 3|postadresse 3|adres 3"),
    _f("postalzip", "Postcode",
       "postalzip|zip|zipcode|zip code|postcode|post code|postal code|postalcode|postnummer|"
       "postnr|post nr|postnr.|postnumber|plz|postleitzahl|postinumero|postcode postadres|"
       "postzip|eircode"),
    _f("postalcity", "City",
       "postalcity|city|town|poststed|postort|ort|sted|by|postdistrikt|plaats|woonplaats|"
       "stad|stadt|ort/stadt|kaupunki|postitoimipaikka|postal city|post town|kommune"),
    _f("country", "Country",
       "country|land|country code|countrycode|landkode|landskod|landcode|maa"),
    _f("category", "Category",
       "category|kategori|categorie|kategorie|kategoria|customer group|kundegruppe|kundgrupp|"
       "klantgroep|kundengruppe|segment"),
)

PERSON_FIELDS: tuple[Field, ...] = (
    _f("firstname", "First name",
       "firstname|first name|first_name|given name|givenname|forename|fornavn|förnamn|"
       "fornavn|voornaam|vorname|etunimi|prenom"),
    _f("middlename", "Middle name",
       "middlename|middle name|middle_name|mellomnavn|mellannamn|mellemnavn|tussenvoegsel|"
       "zweiter vorname|toinen nimi"),
    _f("lastname", "Last name",
       "lastname|last name|last_name|surname|family name|familyname|etternavn|efternamn|"
       "efternavn|achternaam|nachname|familienname|sukunimi"),
    _f("title", "Title",
       "title|job title|jobtitle|tittel|titel|titteli|befattning|functietitel|berufsbezeichnung"),
    _f("position", "Position",
       "position|role|stilling|stillingskategori|roll|functie|funktion|position/funktion|"
       "asema|tehtävä"),
    _f("number", "Person number", "number|person number|personnummer|personnr|contact number"),
    _f("email", "E-mail", _EMAIL),
    _f("phone_direct", "Direct phone",
       "phone_direct|phone|direct phone|work phone|office phone|business phone|telephone|tel|"
       "telefon|direkte|direktenummer|telefon direkte|direktnummer|telefon arbete|"
       "direkte telefon|telefoon|telefoonnummer|zakelijk telefoonnummer|telefon geschäftlich|"
       "puhelin|työpuhelin"),
    _f("phone_mobile", "Mobile phone",
       "phone_mobile|mobile|mobile phone|cell|cell phone|mobil|mobilnummer|mobiltelefon|"
       "mobil telefon|mobiel|mobiel nummer|mobielnummer|06-nummer|handy|handynummer|"
       "matkapuhelin|gsm"),
    _f("phone_private", "Private phone",
       "phone_private|private phone|home phone|privat|privattelefon|telefon privat|"
       "telefon hjem|hemtelefon|privé|telefoon privé|telefon privat|kotipuhelin"),
    _f("phone_other", "Other phone",
       "phone_other|other phone|annen telefon|övrig telefon|andere telefoon"),
    _f("birthdate", "Birth date",
       "birthdate|birth date|date of birth|dob|birthday|fødselsdato|födelsedatum|"
       "geboortedatum|geburtsdatum|syntymäaika",
       type="date"),
    _f("company_id", "Company id",
       "company_id|companyid|company id|contact_id|contactid|contact id|firma id|firmaid|"
       "firma-id|foretag id|bedrijf id|bedrijfsid|firmen-id|yritys id",
       sync_key=None, side="crm"),
)

PROJECT_FIELDS: tuple[Field, ...] = (
    _f("name", "Name",
       "name|project|project name|projectname|prosjekt|prosjektnavn|projekt|projektnamn|"
       "projektnavn|project naam|projectnaam|projektname|projekti|projektin nimi|navn|naam|namn|"
       "description short"),
    _f("number", "Project number",
       "number|project number|projectnumber|project no|prosjektnummer|prosjektnr|"
       "projektnummer|projektnr|projectnummer|projectnr|projektinumero|nr|no"),
    _f("text", "Description",
       "text|description|beskrivelse|beskrivning|omschrijving|beschreibung|kuvaus|notes|note"),
    _f("enddate", "End date",
       "enddate|end date|end|end_date|due date|deadline|sluttdato|slutdatum|slutdato|"
       "einddatum|enddatum|endedatum|päättymispäivä",
       type="date"),
    _f("status", "Status", "status|project status|prosjektstatus|projektstatus|tila|state"),
    _f("company_id", "Company id",
       "company_id|companyid|company id|contact_id|contactid|contact id|firma id|firmaid|"
       "firma-id|bedrijf id|kunde id",
       sync_key=None, side="crm"),
)

#: Header synonyms of the record key per side and kind (``id`` is the CRM id or the ERP key).
ID_SYNONYMS: dict[tuple[Side, Kind], tuple[str, ...]] = {
    ("crm", "company"): (
        "id", "crm_id", "crm id", "record id", "contactid", "contact id", "company id",
        "firma id", "firma-id", "foretag id", "bedrijf id", "firmen-id", "superoffice id",
    ),
    ("crm", "person"): (
        "id", "crm_id", "crm id", "record id", "personid", "person id", "contact person id",
        "kontaktperson id", "superoffice id",
    ),
    ("crm", "project"): (
        "id", "crm_id", "crm id", "record id", "projectid", "project id", "prosjekt id",
    ),
    ("erp", "company"): (
        "id", "erp_id", "erp key", "key", "party id", "actor id", "record id", "customer id",
        "customer key", "kunde id", "kund id", "klant id", "debiteur id", "kunden-id",
        "supplier id", "leverandør id", "leverantör id", "crediteur id", "lieferanten-id",
    ) + ERP_NUMBER_HEADERS["customer number"] + ERP_NUMBER_HEADERS["supplier number"],
    ("erp", "person"): (
        "id", "erp_id", "erp key", "key", "party id", "person id", "person key", "contact id",
        "contact key", "record id",
    ),
    ("erp", "project"): (
        "id", "erp_id", "erp key", "key", "project id", "project key", "record id",
    ),
}

ERP_EXTRA_FIELDS: dict[Kind, tuple[Field, ...]] = {
    "company": (
        _f("actor_type", "Actor type",
           "actor_type|actortype|actor type|type|kind|erp actor type|party type|relation type|"
           "relasjonstype|relationstyp|relatietype|aktørtype|typ",
           sync_key=None, side="erp"),
    ),
    "person": (
        _f("parent_key", "Parent ERP key",
           "parent_key|parentkey|parent key|parent erp key|parenterpkey|customer key|customer id|"
           "customer|company key|company id|company_id|kunde id|kundenummer|kundnummer|"
           "klantnummer|debiteurnummer|party|employer|employer key|arbeidsgiver|werkgever|"
           + _ERP_NUMBERS, sync_key=None, side="erp"),
        _f("parent_actor_type", "Parent actor type",
           "parent_actor_type|parentactortype|parent actor type|parent type",
           sync_key=None, side="erp"),
    ),
    "project": (
        _f("parent_key", "Customer ERP key",
           "parent_key|parentkey|parent key|customer key|customer id|customer|customer number|"
           "kunde id|kundenummer|kundnummer|klantnummer|debiteurnummer|party|" + _ERP_NUMBERS,
           sync_key=None, side="erp"),
        _f("parent_actor_type", "Customer actor type",
           "parent_actor_type|parentactortype|parent actor type|parent type",
           sync_key=None, side="erp"),
    ),
}

LAST_MODIFIED = _f(
    "last_modified", "Last modified",
    "last_modified|lastmodified|last modified|modified|modified at|updated|updated at|"
    "updated_at|write_date|changed|sist endret|endret|senast ändrad|ändrad|sidst ændret|"
    "gewijzigd|laatst gewijzigd|geändert|zuletzt geändert|muokattu",
    type="timestamp", sync_key=None, side="erp",
)

_KIND_FIELDS: dict[Kind, tuple[Field, ...]] = {
    "company": COMPANY_FIELDS,
    "person": PERSON_FIELDS,
    "project": PROJECT_FIELDS,
}


def fields(side: Side, kind: Kind) -> tuple[Field, ...]:
    """The canonical data fields of one side and kind, in column order (``id`` not included)."""
    base = tuple(f for f in _KIND_FIELDS[kind] if f.side in (None, side))
    if side == "erp":
        return ERP_EXTRA_FIELDS[kind] + base + (LAST_MODIFIED,)
    return base


def field_names(side: Side, kind: Kind) -> tuple[str, ...]:
    """Names of :func:`fields`, for building SQL column lists."""
    return tuple(f.name for f in fields(side, kind))


def synced_fields(kind: Kind) -> tuple[Field, ...]:
    """Fields that carry a SuperOffice sync key: the ones a field mapping can synchronise."""
    return tuple(f for f in _KIND_FIELDS[kind] if f.sync_key)


def table_name(side: Side, kind: Kind) -> str:
    """Workspace table holding one side's records of one kind, e.g. ``crm_company``."""
    check_side_kind(side, kind)
    return f"{side}_{kind}"


def check_side_kind(side: str, kind: str) -> None:
    """Refuse an unknown side or kind with a message that lists the valid ones."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}: use one of {', '.join(SIDES)}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")


def parent_kind(kind: Kind) -> Kind | None:
    """The kind a record of ``kind`` hangs under (persons and projects under companies)."""
    return None if kind == "company" else "company"


#: How a record of each kind is named to a person, as SQL over a table alias ``{t}``.
_DISPLAY_NAME: dict[Kind, str] = {"company": "{t}.name",
                                  "person": "concat_ws(' ', {t}.firstname, {t}.lastname)",
                                  "project": "{t}.name"}


def display_name_sql(kind: Kind, alias: str) -> str:
    """SQL for a record's display name (persons: first and last name)."""
    return _DISPLAY_NAME[kind].format(t=alias)
