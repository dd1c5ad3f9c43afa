"""SuperOffice's collections and entities <-> erpdata's CRM records: the archive columns read per
kind (:data:`COLLECTIONS`), the entity properties written per kind (:data:`WRITABLE`) and the
conversions of SuperOffice's cells, dates and ids. Apart from the connector so that the mapping
can be read (and checked against recorded answers) without the HTTP side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

# --- reading: archive columns per kind ---------------------------------------------------------

@dataclass(frozen=True)
class _Collection:
    """One REST collection: its entity name, id and date columns, and canonical field -> column.

    Column names are those of the archive providers behind the collections (SimpleContact,
    Person, FindProject); the person archive prefixes its dates with ``person``.
    """

    entity: str
    id_column: str
    updated_column: str
    registered_column: str
    columns: Mapping[str, str]
    date_fields: frozenset[str] = frozenset()


COLLECTIONS: dict[str, _Collection] = {
    "company": _Collection(
        "Contact", "contactId", "updatedDate", "registeredDate",
        {
            "name": "name", "department": "department", "vatno": "orgnr",
            "number1": "code", "number2": "number",
            "phone": "contactPhone/formattedNumber", "fax": "contactFax/formattedNumber",
            "email": "email/emailAddress", "url": "url/URLAddress",
            "streetad1": "streetAddress/line1", "streetad2": "streetAddress/line2",
            "streetad3": "streetAddress/line3", "streetzip": "streetAddress/zip",
            "streetcity": "streetAddress/city",
            "postalad1": "postAddress/line1", "postalad2": "postAddress/line2",
            "postalad3": "postAddress/line3", "postalzip": "postAddress/zip",
            "postalcity": "postAddress/city",
            "country": "country", "category": "category",
        },
    ),
    "person": _Collection(
        "Person", "personId", "personUpdatedDate", "personRegisteredDate",
        {
            "firstname": "firstName", "middlename": "middleName", "lastname": "lastName",
            "title": "title", "position": "position", "number": "personNumber",
            "email": "email/emailAddress",
            "phone_direct": "personDirectPhone/formattedNumber",
            "phone_mobile": "personMobilePhone/formattedNumber",
            "phone_private": "personPrivate/formattedNumber",
            "phone_other": "personPager/formattedNumber",
            "birthdate": "birthdate", "company_id": "contactId",
        },
        frozenset({"birthdate"}),
    ),
    "project": _Collection(
        "Project", "projectId", "updatedDate", "registeredDate",
        {
            "name": "name", "number": "number", "text": "description", "enddate": "endDate",
            "status": "status",
            # A project has no owning company; its company is that of its members (one row
            # per member comes back, merged here by projectId; the first company wins).
            "company_id": "projectMember/contactId",
        },
        frozenset({"enddate"}),
    ),
}


# --- writing: entity properties per kind -------------------------------------------------------

_How = Literal["scalar", "nested", "multi"]


@dataclass(frozen=True)
class _Target:
    """Where a canonical field lives on the entity: a top-level property (``scalar``), a
    property under a nested object (``nested``, e.g. Address/Street/City) or the ``Value`` of
    the first entry of an array (``multi``, e.g. Emails)."""

    how: _How
    path: tuple[str, ...]
    is_date: bool = False


def _s(prop: str, *, is_date: bool = False) -> _Target:
    return _Target("scalar", (prop,), is_date)


def _n(*path: str) -> _Target:
    return _Target("nested", path)


def _m(prop: str) -> _Target:
    return _Target("multi", (prop,))


_ADDRESS = {
    f"{prefix}{suffix}": _n("Address", part, prop)
    for prefix, part in (("street", "Street"), ("postal", "Postal"))
    for suffix, prop in (("ad1", "Address1"), ("ad2", "Address2"), ("ad3", "Address3"),
                         ("zip", "Zipcode"), ("city", "City"))
}


#: Canonical field -> entity property. A field of the kind that is missing here is not written
#: (list fields and the company link): :meth:`SuperOfficeConnector.save` says so in a warning.
WRITABLE: dict[str, dict[str, _Target]] = {
    "company": {
        "name": _s("Name"), "department": _s("Department"), "vatno": _s("OrgNr"),
        "number1": _s("Number1"), "number2": _s("Number2"),
        "phone": _m("Phones"), "fax": _m("Faxes"), "email": _m("Emails"), "url": _m("Urls"),
        **_ADDRESS,
    },
    "person": {
        "firstname": _s("Firstname"), "middlename": _s("MiddleName"),
        "lastname": _s("Lastname"), "title": _s("Title"), "number": _s("PersonNumber"),
        "birthdate": _s("BirthDate", is_date=True),
        "email": _m("Emails"), "phone_direct": _m("OfficePhones"),
        "phone_mobile": _m("MobilePhones"), "phone_private": _m("PrivatePhones"),
        "phone_other": _m("OtherPhones"),
    },
    "project": {
        "name": _s("Name"), "number": _s("ProjectNumber"), "text": _s("Description"),
        "enddate": _s("EndDate", is_date=True),
    },
}


# --- values: dates, cells and ids --------------------------------------------------------------

def _parse_datetime(value: Any) -> datetime | None:
    """An ISO date-time from SuperOffice as aware UTC: with ``SO-TimeZone: ..., includeTZOffset``
    dates carry their offset (``Z``, ``-0500``); naive values are UTC (created and updated
    dates are documented as UTC). ``0001-01-01T00:00:00`` (SuperOffice's empty date) and the
    1899/1900 placeholders mean "no date"; the year is checked before any conversion, which
    could not go below year 1."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if dt.year <= 1900:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _text(value: Any) -> str | None:
    """An archive cell as erpdata text: empty is None, numbers lose a trailing ``.0``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if text.strip() else None


def _date_text(value: Any) -> str | None:
    """A date cell as ``YYYY-MM-DD``; anything unparseable is kept as it came."""
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return None if parsed.year <= 1900 else parsed.date().isoformat()


def _cell(row: Mapping[str, Any], column: str) -> Any:
    """A row's cell by archive column, also under its ``$jsonSafe`` name (``/`` -> ``_``)."""
    if column in row:
        return row[column]
    return row.get(column.replace("/", "_"))


def _crm_int(crm_id: str) -> int | None:
    text = str(crm_id).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
