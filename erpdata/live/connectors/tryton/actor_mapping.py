"""How Tryton's records map to erpdata's :class:`~erpdata.live.connectors.base.ErpActor` and
back: reading a party (its addresses, contact mechanisms, identifiers, categories and relations)
or a project into canonical fields, and the write values (nested actions) that store an actor's
fields, so that the mapping is one place apart from the calls that send it.

Why this mapping (details and the reasons in ``docs/TRYTON.md``): Tryton has no customer or
supplier flag and no person/company distinction, so

* a **customer / supplier / partner** is a ``party.party`` in the party category "Customer",
  "Supplier" or both;
* a **person** is a ``party.party`` with a relation "Employee of" to its company (module
  ``party_relationship``); the first such relation gives its parent;
* a **project** is a ``project.work`` of type "project" whose ``party`` is the customer.

(The names of the categories and relation types are the connection's: :mod:`.tryton_setup`.)
ERP keys are Tryton ids as strings. ``last_modified`` is the latest ``write_date`` or
``create_date`` of the record and of its addresses, contact mechanisms and identifiers, in naive
UTC, because Tryton does not move a party's ``write_date`` when a child is written directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from erpdata.live.connectors.base import Answer, ErpActor, FieldInfo
from erpdata.live.connectors.tryton.transport import TrytonTransport, _bad_request, _Failure
from erpdata.live.connectors.tryton.tryton_setup import TrytonSetup
from erpdata.schema import fields as schema_fields

COMPANY_TYPES: tuple[str, ...] = ("customer", "supplier", "partner")
TRYTON_ACTOR_TYPES: tuple[str, ...] = (*COMPANY_TYPES, "person", "project")
#: Prefix of the CRM key stored with what the connector creates ("CRM-company-42").
CRM_PREFIX = "CRM-"

#: Canonical contact fields -> Tryton contact mechanism type, per kind.
COMPANY_CONTACTS: dict[str, str] = {
    "phone": "phone", "fax": "fax", "email": "email", "url": "website"}
PERSON_CONTACTS: dict[str, str] = {
    "email": "email", "phone_direct": "phone", "phone_mobile": "mobile"}
#: Canonical address fields -> (address index, role): index 0 is the party's first address
#: (postal), index 1 its second (street / visiting).
ADDRESS_ROLES: dict[str, tuple[int, str]] = {
    "postalad1": (0, "line1"), "postalad2": (0, "line2"), "postalad3": (0, "line3"),
    "postalzip": (0, "zip"), "postalcity": (0, "city"), "country": (0, "country"),
    "streetad1": (1, "line1"), "streetad2": (1, "line2"), "streetad3": (1, "line3"),
    "streetzip": (1, "zip"), "streetcity": (1, "city"),
}

_PARTY_COMMON = [
    "name", "code", "create_date", "write_date",
    "contact_mechanisms.type", "contact_mechanisms.value", "contact_mechanisms.value_compact",
    "contact_mechanisms.create_date", "contact_mechanisms.write_date",
    "identifiers.type", "identifiers.code", "identifiers.create_date",
    "identifiers.write_date",
]
_COMPANY_READ = [
    *_PARTY_COMMON, "categories.name",
    "addresses.street", "addresses.postal_code", "addresses.city", "addresses.country.code",
    "addresses.create_date", "addresses.write_date",
]
_PERSON_READ = [
    *_PARTY_COMMON, "relations.type", "relations.to.categories",
    "addresses.create_date", "addresses.write_date",
]
_PROJECT_READ = [
    "name", "number", "comment", "timesheet_end_date", "status.name", "party.categories",
    "create_date", "write_date",
]
#: What one read fetches per kind: the record and the children that make its values and
#: its last_modified.
_READ: dict[str, list[str]] = {
    "company": _COMPANY_READ, "person": _PERSON_READ, "project": _PROJECT_READ}


def _kind(actor_type: str) -> str:
    """company / person / project for an actor type (validated by the caller)."""
    return "company" if actor_type in COMPANY_TYPES else actor_type


def _model(kind: str) -> str:
    return "project.work" if kind == "project" else "party.party"


def _check_type(actor_type: str) -> str:
    if actor_type not in TRYTON_ACTOR_TYPES:
        raise _bad_request(
            f"Tryton has no actor type {actor_type!r}: use one of "
            f"{', '.join(TRYTON_ACTOR_TYPES)}.")
    return _kind(actor_type)


def _default_type(kind: str) -> str:
    return {"company": "customer", "person": "person", "project": "project"}[kind]


def _int_key(key: str | int | None) -> int | None:
    """A Tryton id from an ERP key; None for anything that is not one."""
    if key is None:
        return None
    text = str(key).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _crm_code(kind: str, crm_key: str) -> str:
    """The code under which a CRM key is stored with the ERP record it created."""
    return f"{CRM_PREFIX}{kind}-{crm_key}"


_PROJECT_MARKER = re.compile(r"\n*\[(CRM-project-[^\]\n]+)\]\s*$")


def _latest(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def _changed(record: Mapping[str, Any]) -> datetime | None:
    """``write_date`` is null until the first write, so fall back on ``create_date``."""
    return _latest(record.get("write_date"), record.get("create_date"))


def _split_name(name: str | None) -> tuple[str, str, str]:
    """Tryton has one name; the CRM has first, middle and last. One word is a last name; with
    more, the first word is the first name, the last word the last name and the words between
    the middle name ("Jan van der Berg" -> Jan / van der / Berg), so that a name joined from
    single-word parts splits back into the same parts."""
    words = (name or "").split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]


def _join_name(first: str | None, middle: str | None, last: str | None) -> str:
    return " ".join(p.strip() for p in (first, middle, last) if p and p.strip())


def _lines(street: str | None) -> list[str]:
    """Address lines 1-3 of a Tryton street text (lines past the third join the third)."""
    parts = [p.strip() for p in (street or "").splitlines()]
    while parts and not parts[-1]:
        parts.pop()
    if len(parts) > 3:
        parts = [*parts[:2], ", ".join(p for p in parts[2:] if p)]
    return parts + [""] * (3 - len(parts))


def _check_fields(kind: str, values: Mapping[str, Any]) -> list[str]:
    """The canonical fields that Tryton has no place for (the caller leaves them out and
    says so); a key that is no canonical field at all is refused, not dropped silently."""
    known = {f.key for f in _FIELDS[kind]}
    canonical = {f.name for f in schema_fields("erp", kind)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known - canonical)
    if unknown:
        raise _bad_request(f"Tryton's {kind} has no field {', '.join(unknown)}: use "
                           f"{', '.join(sorted(known))}.")
    return sorted(set(values) - known)


def _fi(key: str, name: str, type: Any = "text", access: Any = "normal",
        list_name: str | None = None) -> FieldInfo:
    return FieldInfo(key, name, type, access, 0, list_name)


_FIELDS: dict[str, tuple[FieldInfo, ...]] = {
    "company": (
        _fi("actor_type", "Actor type (categories Customer/Supplier)", "list", "normal",
            "actor_type"),
        _fi("name", "Name", access="mandatory"),
        _fi("number2", "Party code (set on create only)", access="readonly"),
        _fi("vatno", "VAT / org. no (party identifier)"),
        _fi("phone", "Phone"), _fi("fax", "Fax"), _fi("email", "E-mail"),
        _fi("url", "Website"),
        _fi("postalad1", "Postal address 1"), _fi("postalad2", "Postal address 2"),
        _fi("postalad3", "Postal address 3"), _fi("postalzip", "Postcode"),
        _fi("postalcity", "City"),
        _fi("streetad1", "Street address 1"), _fi("streetad2", "Street address 2"),
        _fi("streetad3", "Street address 3"), _fi("streetzip", "Street postcode"),
        _fi("streetcity", "Street city"),
        _fi("country", "Country (ISO code)", "list", list_name="country"),
        _fi("category", "Other party categories", access="readonly"),
        _fi("last_modified", "Last modified (UTC)", "datetime", "readonly"),
    ),
    "person": (
        _fi("firstname", "First name"), _fi("middlename", "Middle name"),
        _fi("lastname", "Last name", access="mandatory"),
        _fi("number", "Party code (set on create only)", access="readonly"),
        _fi("email", "E-mail"), _fi("phone_direct", "Phone"),
        _fi("phone_mobile", "Mobile phone"),
        _fi("last_modified", "Last modified (UTC)", "datetime", "readonly"),
    ),
    "project": (
        _fi("name", "Name", access="mandatory"),
        _fi("number", "Number (Tryton's sequence)", access="readonly"),
        _fi("text", "Comment"),
        _fi("enddate", "Timesheet end date", "datetime"),
        _fi("status", "Status", "list", list_name="status"),
        _fi("last_modified", "Last modified (UTC)", "datetime", "readonly"),
    ),
}

#: Fields never written by ``save`` (``last_modified`` is not a field value of an actor).
_READONLY: dict[str, set[str]] = {
    "company": {"number2", "category", "last_modified"},
    "person": {"number", "last_modified"},
    "project": {"number", "last_modified"},
}


class TrytonMapping:
    """Tryton records <-> actors for one connector: its transport (for the lookups a write
    needs: countries, project statuses, the user's company) and its set-up (the ids of the
    categories and the employee relation type)."""

    def __init__(self, tryton: TrytonTransport, setup: TrytonSetup) -> None:
        self._tryton = tryton
        self._setup = setup

    def company_type(self, category_ids: Iterable[int]) -> str | None:
        """customer / supplier / partner from a party's categories (None: neither)."""
        cats = set(category_ids)
        cust, sup = self._setup.customer() in cats, self._setup.supplier() in cats
        if cust and sup:
            return "partner"
        return "customer" if cust else "supplier" if sup else None

    # --- records -> actors -------------------------------------------------------------------

    def actor(self, kind: str, rec: dict[str, Any]) -> ErpActor | None:
        """An actor from a record read with the fields of ``_READ[kind]`` (None: the record
        is not of that kind)."""
        if kind == "project":
            return self._project_actor(rec)
        addresses = rec.get("addresses.") or []
        mechanisms = rec.get("contact_mechanisms.") or []
        identifiers = rec.get("identifiers.") or []
        modified = _latest(_changed(rec), *(_changed(c) for c in
                                            (*addresses, *mechanisms, *identifiers)))
        first_of: dict[str, str] = {}
        for mech in mechanisms:
            first_of.setdefault(mech["type"], mech["value"])
        cats = rec.get("categories.") or []
        if kind == "company":
            actor_type = self.company_type(c["id"] for c in cats)
            if actor_type is None:
                return None
            values: dict[str, str | None] = {
                "actor_type": actor_type,
                "name": rec.get("name"),
                "number2": rec.get("code"),
                "vatno": (self._vat_identifier(identifiers) or {}).get("code"),
                "category": ", ".join(
                    c["name"] for c in cats
                    if c["id"] not in (self._setup.customer(), self._setup.supplier())
                ) or None,
            }
            for key, mech_type in COMPANY_CONTACTS.items():
                values[key] = first_of.get(mech_type)
            for key, (index, role) in ADDRESS_ROLES.items():
                values[key] = self._address_value(addresses, index, role)
            return ErpActor(actor_type, str(rec["id"]), values, modified)
        relation = self.employer_relation(rec)
        if relation is None:
            return None
        first, middle, last = _split_name(rec.get("name"))
        values = {"firstname": first or None, "middlename": middle or None,
                  "lastname": last or None, "number": rec.get("code")}
        for key, mech_type in PERSON_CONTACTS.items():
            values[key] = first_of.get(mech_type)
        employer = relation.get("to.") or {}
        return ErpActor("person", str(rec["id"]), values, modified,
                        self.company_type(employer.get("categories") or []),
                        str(employer["id"]) if employer.get("id") else None)

    def _project_actor(self, rec: dict[str, Any]) -> ErpActor:
        text, _ = self.split_comment(rec.get("comment"))
        end = rec.get("timesheet_end_date")
        party = rec.get("party.") or {}
        values: dict[str, str | None] = {
            "name": rec.get("name"), "number": rec.get("number"), "text": text or None,
            "enddate": end.isoformat() if end else None,
            "status": (rec.get("status.") or {}).get("name"),
        }
        return ErpActor(
            "project", str(rec["id"]), values, _changed(rec),
            self.company_type(party.get("categories") or []) if party else None,
            str(party["id"]) if party.get("id") else None)

    @staticmethod
    def split_comment(comment: str | None) -> tuple[str, str | None]:
        """A project's comment without the CRM-key marker line, and that key's code."""
        text = comment or ""
        m = _PROJECT_MARKER.search(text)
        if not m:
            return text, None
        return text[:m.start()], m.group(1)

    def employer_relation(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        employee_of = self._setup.employee_of()
        for rel in rec.get("relations.") or []:
            if rel.get("type") == employee_of:
                return rel
        return None

    @staticmethod
    def _vat_identifier(identifiers: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The identifier that holds ``vatno``: a typed one (say ``no_vat``, ``eu_vat``) if the
        party has one, else the first untyped one that is not a CRM key."""
        ours = [i for i in identifiers if not str(i.get("code") or "").startswith(CRM_PREFIX)]
        typed = [i for i in ours if i.get("type")]
        return (typed or ours or [None])[0]

    @staticmethod
    def _address_value(addresses: list[dict[str, Any]], index: int, role: str) -> str | None:
        if index >= len(addresses):
            return None
        addr = addresses[index]
        if role.startswith("line"):
            return _lines(addr.get("street"))[int(role[-1]) - 1] or None
        if role == "zip":
            return addr.get("postal_code") or None
        if role == "city":
            return addr.get("city") or None
        return (addr.get("country.") or {}).get("code") or None

    # --- actors -> write values --------------------------------------------------------------

    @staticmethod
    def normalised(kind: str, actor: ErpActor, notes: list[str]) -> ErpActor:
        """The actor with its parent taken from the ``parent_key`` field when the actor has
        none, and without the canonical fields Tryton has no place for (noted)."""
        values = dict(actor.fields)
        parent = actor.parent_erp_key
        if kind != "company":
            field_parent = values.pop("parent_key", None)
            values.pop("parent_actor_type", None)
            if parent is None and field_parent:
                parent = str(field_parent)
        ignored = _check_fields(kind, values)
        for key in ignored:
            del values[key]
        if ignored:
            notes.append(f"not stored in Tryton: {', '.join(ignored)} of "
                         f"{actor.erp_key or 'a new ' + kind}")
        return replace(actor, fields=values, parent_erp_key=parent)

    def countries(self, actors: Sequence[ErpActor]) -> dict[str, int]:
        """Country ids for the ISO codes the actors name (one call); unknown codes fail."""
        codes = {str(a.fields["country"]).strip().upper() for a in actors
                 if a.fields.get("country") and str(a.fields["country"]).strip()}
        if not codes:
            return {}
        found = {r["code"]: int(r["id"]) for r in self._tryton.search_read(
            "country.country", [["code", "in", sorted(codes)]], ["code"])}
        unknown = sorted(codes - found.keys())
        if unknown:
            raise _bad_request(f"Tryton has no country with the ISO code "
                               f"{', '.join(unknown)}.")
        return found

    def create_values(self, kind: str, actor: ErpActor, code: str,
                      countries: Mapping[str, int]) -> dict[str, Any]:
        if kind == "project":
            values = self.project_values(actor, None)
            if self._tryton.context.get("company") is None:  # a set-up since the login gave one?
                self._tryton.load_context()
            values.update(type="project", company=self._tryton.context.get("company"))
            values["comment"] = self.join_comment(values.get("comment"), code)
            if not values.get("name"):
                raise _bad_request("A project needs a name.")
            if values["company"] is None:
                raise _Failure(Answer.failed(
                    f"The Tryton user {self._tryton.user!r} has no company, which projects "
                    f"need; {self._setup.setup_hint} to create one, or set one in Tryton.",
                    code="setup_missing"))
            return values
        values = self.party_values(kind, actor, None, countries)
        if not values.get("name"):
            raise _bad_request(f"A {kind} needs a name.")
        values.setdefault("identifiers", []).append(
            ["create", [{"type": None, "code": code}]])
        number = actor.fields.get("number2" if kind == "company" else "number")
        if number:
            values["code"] = str(number).strip()
        if kind == "company":
            customer, supplier = self._setup.customer, self._setup.supplier
            cats = {"customer": [customer()], "supplier": [supplier()],
                    "partner": [customer(), supplier()]}[actor.actor_type]
            values["categories"] = [["add", cats]]
        else:
            parent = _int_key(actor.parent_erp_key)
            if parent is None:
                raise _bad_request("A person needs its company (parent_erp_key) in Tryton.")
            values["relations"] = [["create", [{"to": parent,
                                                "type": self._setup.employee_of()}]]]
        return values

    @staticmethod
    def join_comment(text: str | None, code: str | None) -> str | None:
        if not code:
            return text or None
        return f"{text}\n\n[{code}]" if text else f"[{code}]"

    def party_values(self, kind: str, actor: ErpActor, current: dict[str, Any] | None,
                     countries: Mapping[str, int]) -> dict[str, Any]:
        """Write values for a party (``current``: as read, None when creating). Children
        change through nested actions so that the party's ``write_date`` moves too."""
        f = actor.fields
        values: dict[str, Any] = {}
        cur = current or {}
        if kind == "company":
            if "name" in f:
                values["name"] = (f["name"] or "").strip()
        elif {"firstname", "middlename", "lastname"} & f.keys():
            parts = dict(zip(("firstname", "middlename", "lastname"),
                             _split_name(cur.get("name")), strict=True))
            parts.update({k: f[k] for k in parts if k in f})
            values["name"] = _join_name(parts["firstname"], parts["middlename"],
                                        parts["lastname"])
        if current is not None and values.get("name") == current.get("name"):
            values.pop("name", None)  # unchanged values are not written (no echo in syncs)
        # contact mechanisms: the first of each type is the one the field maps to
        actions: list[Any] = []
        mechanisms = cur.get("contact_mechanisms.") or []
        for key, mech_type in (COMPANY_CONTACTS if kind == "company"
                               else PERSON_CONTACTS).items():
            if key not in f:
                continue
            new = (f[key] or "").strip()
            mech = next((m for m in mechanisms if m["type"] == mech_type), None)
            if mech is None:
                if new:
                    actions.append(["create", [{"type": mech_type, "value": new}]])
            elif not new:
                actions.append(["delete", [mech["id"]]])
            elif new not in (mech.get("value"), mech.get("value_compact")):
                actions.append(["write", [mech["id"]], {"value": new}])
        if kind == "company":
            # addresses before contact mechanisms: Tryton creates nested records in this
            # order, and validates phone numbers against the countries of the addresses
            addr_actions = self._address_actions(f, cur.get("addresses.") or [], countries)
            if addr_actions:
                values["addresses"] = addr_actions
        if actions:
            values["contact_mechanisms"] = actions
        if kind == "company" and "vatno" in f:
            ident = self._vat_identifier(cur.get("identifiers.") or [])
            new = (f["vatno"] or "").strip()
            if ident is None and new:
                values["identifiers"] = [["create", [{"type": None, "code": new}]]]
            elif ident is not None and not new:
                values["identifiers"] = [["delete", [ident["id"]]]]
            elif ident is not None and new != ident.get("code"):
                values["identifiers"] = [["write", [ident["id"]], {"code": new}]]
        return values

    @staticmethod
    def _address_actions(f: Mapping[str, str | None], addresses: list[dict[str, Any]],
                         countries: Mapping[str, int]) -> list[Any]:
        """Nested address actions: the first address is the postal one, the second the
        street one; an address is created when a field of its role is first given."""
        actions: list[Any] = []
        creates: list[dict[str, Any]] = []
        for index in (0, 1):
            keys = [k for k, (i, _) in ADDRESS_ROLES.items() if i == index and k in f]
            if not keys:
                continue
            addr = addresses[index] if index < len(addresses) else None
            lines = _lines(addr.get("street") if addr else None)
            changes: dict[str, Any] = {}
            for key in keys:
                role = ADDRESS_ROLES[key][1]
                new = (f[key] or "").strip()
                if role.startswith("line"):
                    lines[int(role[-1]) - 1] = new
                elif role == "zip":
                    changes["postal_code"] = new or None
                elif role == "city":
                    changes["city"] = new or None
                else:
                    changes["country"] = countries.get(new.upper()) if new else None
            if any(ADDRESS_ROLES[k][1].startswith("line") for k in keys):
                text = "\n".join(lines).rstrip("\n")
                changes["street_unstructured"] = text or None
            if addr is None:
                if not any(changes.values()):
                    continue  # nothing to put in an address that does not exist
                if index == 1 and not addresses and not creates:
                    creates.append({})  # the postal address comes first
                creates.append(changes)
            else:
                old = {"postal_code": addr.get("postal_code"), "city": addr.get("city"),
                       "country": (addr.get("country.") or {}).get("id"),
                       "street_unstructured": addr.get("street") or None}
                diff = {k: v for k, v in changes.items() if old.get(k) != v}
                if diff:
                    actions.append(["write", [addr["id"]], diff])
        if creates:
            actions.append(["create", creates])
        return actions

    def project_values(self, actor: ErpActor, current: dict[str, Any] | None
                       ) -> dict[str, Any]:
        """Write values for a project (``current``: as read, None when creating)."""
        f = actor.fields
        values: dict[str, Any] = {}
        if "name" in f:
            values["name"] = (f["name"] or "").strip()
        if "text" in f:
            _, code = self.split_comment((current or {}).get("comment"))
            values["comment"] = self.join_comment((f["text"] or "").strip(), code)
        if "enddate" in f:
            raw = (f["enddate"] or "").strip()
            try:
                end = date.fromisoformat(raw[:10]) if raw else None
            except ValueError:
                raise _bad_request(f"enddate {raw!r} is not a date (YYYY-MM-DD).") from None
            if end is not None:
                values["timesheet_available"] = True
            values["timesheet_end_date"] = end
        if f.get("status"):
            statuses = {r["name"].casefold(): r for r in self._tryton.search_read(
                "project.work.status", [], ["name", "progress"])}
            status = statuses.get(str(f["status"]).strip().casefold())
            if status is None:
                raise _bad_request(f"Tryton has no project status {f['status']!r}: use one of "
                                   f"{', '.join(s['name'] for s in statuses.values())}.")
            values["status"] = status["id"]
            if status.get("progress"):
                values["progress"] = status["progress"]  # Tryton's rule for "Done"
        if actor.parent_erp_key is not None:
            parent = _int_key(actor.parent_erp_key)
            current_party = ((current or {}).get("party.") or {}).get("id")
            if parent != current_party:
                values["party"] = parent
        if current is not None:  # unchanged values are not written (no echo in syncs)
            before = {"name": current.get("name"), "comment": current.get("comment"),
                      "timesheet_end_date": current.get("timesheet_end_date"),
                      "status": (current.get("status.") or {}).get("id")}
            companions = {"timesheet_end_date": "timesheet_available", "status": "progress"}
            for key, old in before.items():
                if key in values and values[key] == old:
                    del values[key]
                    values.pop(companions.get(key, ""), None)
        return values

    def category_change(self, rec: dict[str, Any], actor_type: str | None
                        ) -> dict[str, Any]:
        if actor_type not in COMPANY_TYPES:
            raise _bad_request(f"actor_type must be customer, supplier or partner, not "
                               f"{actor_type!r}.")
        customer, supplier = self._setup.customer, self._setup.supplier
        want = {"customer": {customer()}, "supplier": {supplier()},
                "partner": {customer(), supplier()}}[actor_type]
        have = {c["id"] for c in rec.get("categories.") or []} & {customer(), supplier()}
        actions: list[Any] = []
        if want - have:
            actions.append(["add", sorted(want - have)])
        if have - want:
            actions.append(["remove", sorted(have - want)])
        return {"categories": actions} if actions else {}

    def employer_change(self, rec: dict[str, Any], parent_key: str) -> dict[str, Any]:
        parent = _int_key(parent_key)
        if parent is None:
            raise _bad_request(f"{parent_key!r} is no Tryton key.")
        relation = self.employer_relation(rec)
        if relation is not None and (relation.get("to.") or {}).get("id") == parent:
            return {}
        actions: list[Any] = []
        if relation is not None:
            actions.append(["delete", [relation["id"]]])
        actions.append(["create", [{"to": parent, "type": self._setup.employee_of()}]])
        return {"relations": actions}
