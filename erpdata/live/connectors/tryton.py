"""The Tryton ERP connector: erpdata's connector contract (:mod:`erpdata.live.connectors.base`) over
Tryton's JSON-RPC, so that linking, creating and syncing are tested against a real ERP.

Why this mapping (details and the reasons in ``docs/TRYTON.md``): Tryton has no customer or
supplier flag and no person/company distinction, so

* a **customer / supplier / partner** is a ``party.party`` in the party category "Customer",
  "Supplier" or both;
* a **person** is a ``party.party`` with a relation "Employee of" to its company (module
  ``party_relationship``); the first such relation gives its parent;
* a **project** is a ``project.work`` of type "project" whose ``party`` is the customer.

Those names are defaults: a Tryton set up in another language has its own ("Kunde",
"Leverandør", "Ansatt hos"), which a connection names in its options (:data:`NAME_OPTIONS`).
What a fresh database lacks, :meth:`TrytonConnector.ensure_setup` creates (``erpdata connect
setup NAME`` or the Settings page's button). The employee relation type is needed only when
persons are read or written, so a Tryton without it still syncs its companies.

ERP keys are Tryton ids as strings. ``last_modified`` is the latest ``write_date`` or
``create_date`` of the record and of its addresses, contact mechanisms and identifiers, in naive
UTC, because Tryton does not move a party's ``write_date`` when a child is written directly.

Every public method returns an :class:`~erpdata.live.connectors.base.Answer` and never raises for a
remote failure; the password appears in no explanation.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import requests
from urllib3.exceptions import ProtocolError

from erpdata.live.connectors.base import (
    OPERATORS,
    Answer,
    Connector,
    ErpActor,
    FieldInfo,
    Page,
    Restriction,
)
from erpdata.schema import fields as schema_fields

COMPANY_TYPES: tuple[str, ...] = ("customer", "supplier", "partner")
TRYTON_ACTOR_TYPES: tuple[str, ...] = (*COMPANY_TYPES, "person", "project")

#: The default names of what the mapping needs in Tryton. A Tryton set up in another language
#: names them in that language ("Kunde", "Leverandør", "Ansatt hos"): a connection's options
#: (:data:`NAME_OPTIONS`) then name them, and the constructor takes them.
CUSTOMER_CATEGORY = "Customer"
SUPPLIER_CATEGORY = "Supplier"
EMPLOYEE_OF = "Employee of"
EMPLOYER_OF = "Employer of"
#: Connection option -> its default name (the constructor's keyword of the same name).
NAME_OPTIONS: dict[str, str] = {
    "customer_category": CUSTOMER_CATEGORY, "supplier_category": SUPPLIER_CATEGORY,
    "employee_relation": EMPLOYEE_OF, "employer_relation": EMPLOYER_OF}
#: Connection option -> (the Tryton model it names, that model in words).
_NAMED: dict[str, tuple[str, str]] = {
    "customer_category": ("party.category", "party category"),
    "supplier_category": ("party.category", "party category"),
    "employee_relation": ("party.relation.type", "relation type"),
    "employer_relation": ("party.relation.type", "relation type"),
}
#: The button of the Settings page that runs :meth:`TrytonConnector.ensure_setup`.
SETUP_BUTTON = "Set up Tryton for erpdata"
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

#: Countries ``ensure_setup`` adds when a fresh database lacks them (Tryton ships none).
DEFAULT_COUNTRIES: dict[str, str] = {
    "NO": "Norway", "SE": "Sweden", "DK": "Denmark", "FI": "Finland", "IS": "Iceland",
    "DE": "Germany", "NL": "Netherlands", "BE": "Belgium", "GB": "United Kingdom",
    "US": "United States", "FR": "France",
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

_MAX_TECH = 2000

P = ParamSpec("P")
R = TypeVar("R")


def _kind(actor_type: str) -> str:
    """company / person / project for an actor type (validated by the caller)."""
    return "company" if actor_type in COMPANY_TYPES else actor_type


def _crm_code(kind: str, crm_key: str) -> str:
    """The code under which a CRM key is stored with the ERP record it created."""
    return f"{CRM_PREFIX}{kind}-{crm_key}"


_PROJECT_MARKER = re.compile(r"\n*\[(CRM-project-[^\]\n]+)\]\s*$")


# --- JSON-RPC value encoding -----------------------------------------------------------------

def _encode(value: Any) -> Any:
    """Tryton's typed JSON objects (``{"__class__": "datetime", ...}``) for Python values."""
    if isinstance(value, datetime):
        return {"__class__": "datetime", "year": value.year, "month": value.month,
                "day": value.day, "hour": value.hour, "minute": value.minute,
                "second": value.second, "microsecond": value.microsecond}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month,
                "day": value.day}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, bytes):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict[str, Any]) -> Any:
    """Python values for Tryton's typed JSON objects (the reverse of :func:`_encode`)."""
    cls = obj.get("__class__")
    if cls == "datetime":
        return datetime(obj["year"], obj["month"], obj["day"], obj.get("hour", 0),
                        obj.get("minute", 0), obj.get("second", 0), obj.get("microsecond", 0))
    if cls == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if cls == "Decimal":
        return Decimal(obj["decimal"])
    if cls == "timedelta":
        return timedelta(seconds=obj["seconds"])
    if cls == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def _naive_utc(moment: datetime) -> datetime:
    """Tryton stores naive UTC; an aware datetime is converted, a naive one taken as UTC."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _latest(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def _changed(record: Mapping[str, Any]) -> datetime | None:
    """``write_date`` is null until the first write, so fall back on ``create_date``."""
    return _latest(record.get("write_date"), record.get("create_date"))


def _like_escape(text: str) -> str:
    """A literal for a LIKE pattern (Tryton's escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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


def _parse_moment(text: str) -> tuple[datetime, datetime]:
    """A restriction's datetime value as the span it names: a date is that day, a time
    without fractions that second, otherwise that instant. Accepts ISO 8601 and SuperOffice's
    ``[DT:12/31/2013 23:59:59.0000000]``."""
    raw = text.strip()
    m = re.fullmatch(r"\[DT:(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\]", raw)
    if m:
        mo, d, y, hh, mm, ss, frac = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        start = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), micro)
        return start, start + (timedelta(microseconds=1) if micro else timedelta(seconds=1))
    if re.fullmatch(r"\d{4}-\d\d-\d\d", raw):
        day = date.fromisoformat(raw)
        start = datetime(day.year, day.month, day.day)
        return start, start + timedelta(days=1)
    moment = _naive_utc(datetime.fromisoformat(raw))
    if moment.microsecond:
        return moment, moment + timedelta(microseconds=1)
    return moment, moment + timedelta(seconds=1)


class _Failure(Exception):
    """Carries a failed :class:`Answer` from deep inside to the public method's boundary."""

    def __init__(self, answer: Answer[Any]) -> None:
        super().__init__(answer.user_explanation)
        self.answer = answer


class _Unauthorized(_Failure):
    """HTTP 401: the session expired (log in again once) or the login was refused."""


def _bad_request(user: str) -> _Failure:
    return _Failure(Answer.failed(user, code="bad_request"))


def _dropped(exc: requests.ConnectionError) -> bool:
    """Whether the server was reached and the connection then lost (closed without an answer,
    reset, a broken pipe), as opposed to a server that cannot be reached at all."""
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, ProtocolError | ConnectionResetError | BrokenPipeError)


def _answering(method: Callable[P, Answer[R]]) -> Callable[P, Answer[R]]:
    """Turn the internal failures of a public method into failed answers, because the contract
    forbids raising for remote failures (an answer of an unexpected shape is one too)."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Answer[R]:
        try:
            return method(*args, **kwargs)
        except _Failure as exc:
            return exc.answer
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self = args[0]
            assert isinstance(self, TrytonConnector)
            return Answer.failed(
                "Tryton answered in a way the connector did not expect.",
                self._scrub(f"{type(exc).__name__}: {exc}"), code="unexpected")

    return wrapper


class TrytonConnector(Connector):
    """A live Tryton database over JSON-RPC. One ``requests.Session`` and one Tryton session
    (logged in once, again once on a 401), because a login costs an argon2 check (~140 ms)."""

    type = "tryton"

    def __init__(self, url: str, database: str, user: str, password: str, *,
                 verify: bool = True, timeout: float = 30.0,
                 session: requests.Session | None = None,
                 customer_category: str = CUSTOMER_CATEGORY,
                 supplier_category: str = SUPPLIER_CATEGORY,
                 employee_relation: str = EMPLOYEE_OF, employer_relation: str = EMPLOYER_OF,
                 connection: str | None = None) -> None:
        """``customer_category`` … ``employer_relation``: the names of the party categories
        and relation types the mapping uses, as this Tryton calls them (a Norwegian one says
        "Kunde"). ``connection``: the erpdata connection's name, so that a message about a
        missing category can say which ``erpdata connect setup NAME`` creates it."""
        names = {"customer_category": customer_category,
                 "supplier_category": supplier_category,
                 "employee_relation": employee_relation, "employer_relation": employer_relation}
        for option, value in names.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{option} must name a Tryton record, not {value!r}")
        names = {k: v.strip() for k, v in names.items()}
        if names["customer_category"] == names["supplier_category"]:
            raise ValueError("customer_category and supplier_category must differ")
        if names["employee_relation"] == names["employer_relation"]:
            raise ValueError("employee_relation and employer_relation must differ")
        self.names: dict[str, str] = names
        self.connection = connection
        self.url = url.rstrip("/")
        self.database = database
        self.user = user
        self._password = password
        self._verify = verify
        self._timeout = timeout
        self._own_session = session is None
        self._http = session if session is not None else requests.Session()
        self._auth: str | None = None
        self._uid: int | None = None
        self._context: dict[str, Any] = {}
        self._next_id = 0
        self._ids: dict[str, int] = {}  # cached ids of categories and relation types

    def __repr__(self) -> str:  # never the password
        return f"TrytonConnector({self.url!r}, {self.database!r}, user={self.user!r})"

    # --- transport -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Technical text, shortened and with the password blanked should it ever appear."""
        if self._password:
            text = text.replace(self._password, "***")
        return text[:_MAX_TECH]

    def _post(self, path: str, method: str, params: list[Any], *, auth: bool = True) -> Any:
        """One JSON-RPC call; the result, or :class:`_Failure` saying why not."""
        self._next_id += 1
        request_id = self._next_id
        body = json.dumps({"id": request_id, "method": method, "params": params},
                          default=_encode)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth and self._auth:
            headers["Authorization"] = self._auth
        where = f"Tryton at {self.url}"
        try:
            resp = self._http.post(self.url + path, data=body.encode(), headers=headers,
                                   timeout=self._timeout, verify=self._verify)
        except requests.Timeout as exc:
            raise _Failure(Answer.failed(
                f"{where} did not answer within {self._timeout:g} s; try again later.",
                self._scrub(f"{method}: {exc}"), code="timeout", retryable=True)) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            # the answer broke off mid-body (fewer bytes than its Content-Length promised):
            # the call may have been done, and the connector's calls are safe to repeat
            raise _Failure(Answer.failed(
                f"{where} broke off its answer to {method} (incomplete response); trying "
                "again may help.", self._scrub(f"{method}: {exc}"), code="incomplete",
                retryable=True)) from None
        except requests.ConnectionError as exc:
            if _dropped(exc):  # reached, then lost: not "is the server running?"
                raise _Failure(Answer.failed(
                    f"{where} dropped the connection before answering {method} (connection "
                    "reset or closed); trying again may help.",
                    self._scrub(f"{method}: {exc}"), code="connection",
                    retryable=True)) from None
            raise _Failure(Answer.failed(
                f"{where} cannot be reached; is the server running?",
                self._scrub(f"{method}: {exc}"), code="connection", retryable=True)) from None
        except requests.RequestException as exc:
            raise _Failure(Answer.failed(
                f"The request to {where} failed.", self._scrub(f"{method}: {exc}"),
                code="request")) from None
        status = resp.status_code
        tech = self._scrub(f"{method}: HTTP {status} {resp.text[:300]}")
        if status == 401:
            raise _Unauthorized(Answer.failed(
                f"Tryton refused user {self.user!r} on database {self.database!r}: check the "
                "user name and password.", tech, code="unauthorized"))
        if status == 429:
            raise _Failure(Answer.failed(
                "Tryton refuses logins for a while after too many failed ones; try later.",
                tech, code="rate_limited", retryable=True))
        if status >= 500:
            raise _Failure(Answer.failed(
                f"{where} answered HTTP {status} {resp.reason or ''}".rstrip()
                + " (a failure of the server or of a gateway before it); trying again may "
                "help.", tech, code=f"http_{status}", retryable=True))
        if status >= 400:
            user = {
                403: f"Tryton does not allow {method} over RPC for this user.",
                404: f"Tryton at {self.url} has no database {self.database!r}.",
            }.get(status, f"Tryton rejected the request {method} (HTTP {status}).")
            raise _Failure(Answer.failed(user, tech, code=f"http_{status}"))
        try:
            payload = resp.json(object_hook=_decode)
        except ValueError:
            if resp.content.lstrip()[:1] in (b"{", b"["):
                # JSON that does not parse: an answer cut short (by a proxy that frames it by
                # closing the connection), not a wrong URL; the call may have been done
                raise _Failure(Answer.failed(
                    f"{where} sent an incomplete or invalid answer to {method} (cut-off "
                    "JSON); trying again may help.", tech, code="incomplete",
                    retryable=True)) from None
            raise _Failure(Answer.failed(
                f"{where} did not answer with JSON-RPC; is the URL right?", tech,
                code="not_jsonrpc")) from None
        if not isinstance(payload, dict) or ("result" not in payload
                                             and "error" not in payload):
            raise _Failure(Answer.failed(
                f"{where} did not answer with JSON-RPC; is the URL right?", tech,
                code="not_jsonrpc"))
        if payload.get("id") != request_id:
            # an answer to another request (a connection reused after a fault): never take
            # one call's result for another's
            raise _Failure(Answer.failed(
                f"{where} sent the answer of another request (id {payload.get('id')!r}, "
                f"expected {request_id}) to {method}; trying again may help.", tech,
                code="incomplete", retryable=True))
        if payload.get("error") is not None:
            raise _Failure(self._error_answer(method, payload["error"]))
        return payload.get("result")

    def _error_answer(self, method: str, error: Any) -> Answer[Any]:
        """A Tryton error payload as an answer: business errors are the user's to read and
        will fail again as they are; a concurrent change may succeed on a retry."""
        name = error[0] if isinstance(error, list | tuple) and error else str(error)
        args = error[1] if isinstance(error, list | tuple) and len(error) > 1 else ""
        tech = self._scrub(f"{method}: {json.dumps(error, default=str)}")
        if name == "UserError" and isinstance(args, list | tuple) and args:
            message = str(args[0])
            if len(args) > 1 and args[1]:
                message += f" {args[1]}"
            return Answer.failed(f"Tryton: {message}", tech, code="user_error")
        if name == "UserWarning" and isinstance(args, list | tuple) and len(args) > 1:
            return Answer.failed(f"Tryton asks for confirmation: {args[1]}", tech,
                                 code="user_warning")
        if name == "ConcurrencyException":
            return Answer.failed("The record was changed in Tryton meanwhile; try again.",
                                 tech, code="concurrency", retryable=True)
        return Answer.failed(f"Tryton failed on {method}.", tech, code="server_error")

    def _login(self) -> None:
        """Log in (``common.db.login``) and load the user's context (company, language)."""
        self._auth = None
        result = self._post(f"/{self.database}/rpc/", "common.db.login",
                            [self.user, {"password": self._password}, "en"], auth=False)
        uid, key = result[0], result[1]
        token = base64.b64encode(f"{self.user}:{uid}:{key}".encode()).decode()
        self._auth = f"Session {token}"
        self._uid = int(uid)
        try:
            self._load_context()
        except BaseException:
            # logged in without the user's context (company, language): calls would go out
            # with an empty or stale context, so the whole login is tried again next time
            self._auth = None
            raise

    def _load_context(self) -> None:
        prefs = self._post(f"/{self.database}/rpc/", "model.res.user.get_preferences",
                           [True, {}])
        self._context = {k: prefs[k] for k in ("company", "companies", "language")
                         if prefs.get(k) is not None}

    def _rpc(self, method: str, *params: Any) -> Any:
        """A database call with the context as last parameter; logs in first if needed and
        once more when the session has expired."""
        if self._auth is None:
            self._login()
        path = f"/{self.database}/rpc/"
        try:
            return self._post(path, method, [*params, self._context])
        except _Unauthorized:
            self._login()
            return self._post(path, method, [*params, self._context])

    def _call(self, model: str, method: str, *params: Any) -> Any:
        return self._rpc(f"model.{model}.{method}", *params)

    def _search_read(self, model: str, domain: list[Any], fields: list[str], *,
                     offset: int = 0, limit: int | None = None,
                     order: list[list[str]] | None = None) -> list[dict[str, Any]]:
        return self._call(model, "search_read", domain, offset, limit,
                          order or [["id", "ASC"]], fields)

    # --- set-up lookups --------------------------------------------------------------------

    @property
    def setup_hint(self) -> str:
        """How a steward creates what is missing: the CLI command of this connection, or
        the Settings page's button (both call :meth:`ensure_setup`)."""
        return (f"run `erpdata connect setup {self.connection or 'NAME'}` (or "
                f"\"{SETUP_BUTTON}\" on the Settings page)")

    def _find(self, option: str) -> int | None:
        """The id of the category or relation type named by ``option`` (None: Tryton has
        none of that name); found ids are cached per connector, a missing one is asked again
        next time, so that a set-up made meanwhile is seen."""
        model, _ = _NAMED[option]
        name = self.names[option]
        key = f"{model}:{name}"
        if key not in self._ids:
            found = self._search_read(model, [["name", "=", name]], ["name"], limit=1)
            if not found:
                return None
            self._ids[key] = int(found[0]["id"])
        return self._ids[key]

    def _existing_names(self, model: str) -> str:
        """The names Tryton has for ``model``, for a message about a missing one."""
        recs = self._search_read(model, [], ["name"], limit=21, order=[["name", "ASC"]])
        names = [str(r["name"]) for r in recs[:20]]
        return (", ".join(names) + (", …" if len(recs) > 20 else "")) or "none"

    def _missing(self, options: Sequence[str], *, hint: str | None = None,
                 blocked: str | None = None) -> str:
        """A sentence naming what Tryton lacks of ``options`` (of one model), what it has,
        and the two ways out: the set-up, or the connection's option. ``blocked``: what
        cannot be synced until it exists (else the sentence says Tryton has none)."""
        model, what = _NAMED[options[0]]
        names = " or ".join(repr(self.names[o]) for o in options)
        fixes = " / ".join(f"--option {o}" for o in options)
        it = "it" if len(options) == 1 else "them"
        lack = (f"{blocked} cannot be synced until Tryton has the {what} {names}" if blocked
                else f"Tryton has no {what} {names}")
        return (f"{lack} (existing: {self._existing_names(model)}); "
                f"{hint or self.setup_hint} to create {it}, or fix {fixes}.")

    def _lookup(self, option: str) -> int:
        """The id of a category or relation type the mapping needs, or a ``setup_missing``
        failure that says how to create it."""
        found = self._find(option)
        if found is None:
            model, _ = _NAMED[option]
            raise _Failure(Answer.failed(
                self._missing([option]), f"no {model} named {self.names[option]!r}",
                code="setup_missing"))
        return found

    def _customer(self) -> int:
        return self._lookup("customer_category")

    def _supplier(self) -> int:
        return self._lookup("supplier_category")

    def _employee_of(self) -> int:
        return self._lookup("employee_relation")

    def _persons_unmapped(self, kind: str) -> str | None:
        """Why persons cannot be read (Tryton lacks the employee relation type), or None.

        Why reads of persons do not fail then: without that relation type Tryton holds no
        person of this mapping, and a Tryton used for companies only must still sync them;
        a sync pulls every kind. Writing a person still fails (it needs the relation)."""
        if kind != "person" or self._find("employee_relation") is not None:
            return None
        return self._missing(["employee_relation"], blocked="Persons")

    def _company_type(self, category_ids: Iterable[int]) -> str | None:
        """customer / supplier / partner from a party's categories (None: neither)."""
        cats = set(category_ids)
        cust, sup = self._customer() in cats, self._supplier() in cats
        if cust and sup:
            return "partner"
        return "customer" if cust else "supplier" if sup else None

    def _company_domain(self, actor_type: str | None) -> list[Any]:
        """Parties of one company actor type (None: of any of them)."""
        cust, sup = self._customer(), self._supplier()
        has = lambda c: ["categories", "where", [["id", "=", c]]]  # noqa: E731
        lacks = lambda c: ["categories", "not where", [["id", "=", c]]]  # noqa: E731
        if actor_type == "customer":
            return [has(cust), lacks(sup)]
        if actor_type == "supplier":
            return [has(sup), lacks(cust)]
        if actor_type == "partner":
            return [has(cust), has(sup)]
        return [["categories", "where", [["id", "in", [cust, sup]]]]]

    def _type_domain(self, actor_type: str, *, exact: bool = True) -> list[Any]:
        """The records of an actor type; ``exact=False`` takes every company type for one."""
        kind = _kind(actor_type)
        if kind == "company":
            return self._company_domain(actor_type if exact else None)
        if kind == "person":
            return [["relations", "where", [["type", "=", self._employee_of()]]]]
        return [["type", "=", "project"]]

    @staticmethod
    def _model(kind: str) -> str:
        return "project.work" if kind == "project" else "party.party"

    @staticmethod
    def _check_type(actor_type: str) -> str:
        if actor_type not in TRYTON_ACTOR_TYPES:
            raise _bad_request(
                f"Tryton has no actor type {actor_type!r}: use one of "
                f"{', '.join(TRYTON_ACTOR_TYPES)}.")
        return _kind(actor_type)

    # --- records -> actors -----------------------------------------------------------------

    def _actor(self, kind: str, rec: dict[str, Any]) -> ErpActor | None:
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
            actor_type = self._company_type(c["id"] for c in cats)
            if actor_type is None:
                return None
            values: dict[str, str | None] = {
                "actor_type": actor_type,
                "name": rec.get("name"),
                "number2": rec.get("code"),
                "vatno": (self._vat_identifier(identifiers) or {}).get("code"),
                "category": ", ".join(
                    c["name"] for c in cats
                    if c["id"] not in (self._customer(), self._supplier())) or None,
            }
            for key, mech_type in COMPANY_CONTACTS.items():
                values[key] = first_of.get(mech_type)
            for key, (index, role) in ADDRESS_ROLES.items():
                values[key] = self._address_value(addresses, index, role)
            return ErpActor(actor_type, str(rec["id"]), values, modified)
        relation = self._employer_relation(rec)
        if relation is None:
            return None
        first, middle, last = _split_name(rec.get("name"))
        values = {"firstname": first or None, "middlename": middle or None,
                  "lastname": last or None, "number": rec.get("code")}
        for key, mech_type in PERSON_CONTACTS.items():
            values[key] = first_of.get(mech_type)
        employer = relation.get("to.") or {}
        return ErpActor("person", str(rec["id"]), values, modified,
                        self._company_type(employer.get("categories") or []),
                        str(employer["id"]) if employer.get("id") else None)

    def _project_actor(self, rec: dict[str, Any]) -> ErpActor:
        text, _ = self._split_comment(rec.get("comment"))
        end = rec.get("timesheet_end_date")
        party = rec.get("party.") or {}
        values: dict[str, str | None] = {
            "name": rec.get("name"), "number": rec.get("number"), "text": text or None,
            "enddate": end.isoformat() if end else None,
            "status": (rec.get("status.") or {}).get("name"),
        }
        return ErpActor(
            "project", str(rec["id"]), values, _changed(rec),
            self._company_type(party.get("categories") or []) if party else None,
            str(party["id"]) if party.get("id") else None)

    @staticmethod
    def _split_comment(comment: str | None) -> tuple[str, str | None]:
        """A project's comment without the CRM-key marker line, and that key's code."""
        text = comment or ""
        m = _PROJECT_MARKER.search(text)
        if not m:
            return text, None
        return text[:m.start()], m.group(1)

    def _employer_relation(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        employee_of = self._employee_of()
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

    def _fetch(self, kind: str, ids: Sequence[int], *, exact_type: str | None = None
               ) -> dict[int, ErpActor]:
        """Actors by id in one call; ids that are missing or of another kind are left out."""
        if not ids:
            return {}
        domain = [["id", "in", list(ids)],
                  *self._type_domain(exact_type or _default_type(kind),
                                     exact=exact_type is not None)]
        fields = _READ[kind]
        found: dict[int, ErpActor] = {}
        for rec in self._search_read(self._model(kind), domain, fields):
            actor = self._actor(kind, rec)
            if actor is not None:
                found[int(rec["id"])] = actor
        return found

    def _page(self, kind: str, actor_type: str, domain: list[Any], offset: int, limit: int,
              ) -> Page[ErpActor]:
        """One page of actors (``limit`` + 1 asked for, to know whether more follow)."""
        if offset < 0 or limit < 1:
            raise _bad_request("offset must be 0 or more and limit 1 or more.")
        fields = _READ[kind]
        recs = self._search_read(
            self._model(kind), [*self._type_domain(actor_type), *domain], fields,
            offset=offset, limit=limit + 1, order=[["name", "ASC"], ["id", "ASC"]])
        actors = [a for a in (self._actor(kind, r) for r in recs[:limit]) if a is not None]
        return Page(actors, len(recs) > limit)

    # --- the contract: connection and metadata ---------------------------------------------

    @_answering
    def test_connection(self) -> Answer[str]:
        """Whether Tryton answers, has the database and takes the login; then whether it has
        what the mapping needs, each missing name said with the names Tryton has and both
        fixes (the set-up, or the connection's option). Why two levels: without the customer
        and supplier categories nothing can be synced (an error); without the employee
        relation type or a company for the user, companies still sync and only persons or
        projects wait (a warning)."""
        version = self._post("/rpc/", "common.server.version", [], auth=False)
        databases = self._post("/rpc/", "common.db.list", [], auth=False)
        if isinstance(databases, list) and self.database not in databases:
            return Answer.failed(
                f"Tryton {version} at {self.url} has no database {self.database!r} (it has: "
                f"{', '.join(map(str, databases)) or 'none'}).", code="no_database")
        self._login()
        what = f"Tryton {version}, database {self.database}, user {self.user}"
        hints = iter([self.setup_hint])

        def hint() -> str:  # the whole hint once, then a back-reference
            return next(hints, "run the same set-up")

        errors: list[str] = []
        categories = [o for o in ("customer_category", "supplier_category")
                      if self._find(o) is None]
        if categories:
            errors.append(self._missing(categories, hint=hint()))
        warnings: list[str] = []
        if self._find("employee_relation") is None:
            warnings.append(self._missing(["employee_relation"], hint=hint(),
                                          blocked="Persons"))
        elif self._find("employer_relation") is None:
            warnings.append(self._missing(["employer_relation"], hint=hint()))
        if not self._context.get("company"):
            warnings.append(f"Projects cannot be created until the Tryton user {self.user!r} "
                            f"has a company; {hint()} to create one.")
        if errors:
            return Answer.failed(f"{what}: " + " ".join(errors + warnings),
                                 code="setup_missing")
        if warnings:
            return Answer.warn(what, " ".join(warnings), code="setup_missing")
        return Answer.good(what)

    @_answering
    def ensure_setup(self, *, company_name: str = "erpdata ERP company",
                     currency_code: str = "EUR",
                     countries: Mapping[str, str] = DEFAULT_COUNTRIES) -> Answer[list[str]]:
        """Create, where missing, what a fresh Tryton database lacks for this mapping: the
        party categories this connector names (``customer_category``, ``supplier_category``),
        the relation types ``employee_relation`` / ``employer_relation`` as each other's
        reverse, a company with its currency for the user (``project.work`` needs one) and the
        given countries. Idempotent: the value lists what was created, in words (empty: it
        was all there). Nothing that exists is renamed or re-linked: a relation type already
        linked to another reverse is left alone, and the answer says so (``ok_with_info``)."""
        if self._auth is None:
            self._login()
        made: list[str] = []
        notes: list[str] = []
        names = self.names
        wanted = [names["customer_category"], names["supplier_category"]]
        existing = {r["name"] for r in self._search_read(
            "party.category", [["name", "in", wanted]], ["name"])}
        new = [n for n in wanted if n not in existing]
        if new:
            self._call("party.category", "create", [{"name": n} for n in new])
            made += [f"party category {n}" for n in new]
        emp_name, empr_name = names["employee_relation"], names["employer_relation"]
        types = {r["name"]: r for r in self._search_read(
            "party.relation.type", [["name", "in", [emp_name, empr_name]]],
            ["name", "reverse", "reverse.name"])}
        emp = types.get(emp_name)
        if emp is not None and emp.get("reverse") is not None and \
                emp["reverse"] != (types.get(empr_name) or {}).get("id"):
            # this Tryton pairs the employee type with a reverse of its own: use it as it is
            other = (emp.get("reverse.") or {}).get("name")
            notes.append(f"the relation type {emp_name!r} already has the reverse {other!r}, "
                         f"not {empr_name!r}, and was left as it is "
                         f"(--option employer_relation=\"{other}\" names it)")
        else:
            created_type = False
            for name in (emp_name, empr_name):
                if name not in types:
                    rid = self._call("party.relation.type", "create", [{"name": name}])[0]
                    types[name] = {"id": rid, "reverse": None}
                    made.append(f"relation type {name}")
                    created_type = True
            emp, empr = types[emp_name], types[empr_name]
            if empr.get("reverse") not in (None, emp["id"]):
                notes.append(f"the relation type {empr_name!r} is already the reverse of "
                             "another type and was left as it is, so "
                             f"{emp_name!r} has no reverse")
            elif emp.get("reverse") != empr["id"] or empr.get("reverse") != emp["id"]:
                self._call("party.relation.type", "write", [emp["id"]],
                           {"reverse": empr["id"]}, [empr["id"]], {"reverse": emp["id"]})
                if not created_type:
                    made.append(f"{emp_name} and {empr_name} linked as each other's reverse")
        have = {r["code"] for r in self._search_read(
            "country.country", [["code", "in", list(countries)]], ["code"])}
        new_countries = [{"code": c, "name": n} for c, n in countries.items() if c not in have]
        if new_countries:
            self._call("country.country", "create", new_countries)
            made += [f"country {c['code']}" for c in new_countries]
        companies = self._search_read("company.company", [], ["id"], limit=1)
        if companies:
            company_id = int(companies[0]["id"])
        else:
            currencies = self._search_read("currency.currency", [["code", "=", currency_code]],
                                           ["id"], limit=1)
            if currencies:
                currency_id = int(currencies[0]["id"])
            else:
                currency_id = self._call("currency.currency", "create", [{
                    "name": currency_code, "code": currency_code, "digits": 2,
                    "rounding": Decimal("0.01"), "symbol": currency_code}])[0]
                made.append(f"currency {currency_code}")
            party_id = self._call("party.party", "create", [{"name": company_name}])[0]
            company_id = self._call("company.company", "create",
                                    [{"party": party_id, "currency": currency_id}])[0]
            made.append(f"company {company_name}")
        if not self._context.get("company"):  # never switch a user's existing company
            self._call("res.user", "write", [self._uid],
                       {"companies": [["add", [company_id]]], "company": company_id})
            self._load_context()
            made.append("the user's company")
        self._ids.clear()
        return Answer.good(made, "; ".join(notes))

    @_answering
    def actor_types(self) -> Answer[list[str]]:
        return Answer.good(list(TRYTON_ACTOR_TYPES))

    @_answering
    def fields(self, actor_type: str) -> Answer[list[FieldInfo]]:
        kind = self._check_type(actor_type)
        found = list(_FIELDS[kind])
        if kind == "company":  # the category names this Tryton uses, not the defaults
            found[0] = replace(found[0], name=f"Actor type (categories "
                               f"{self.names['customer_category']}/"
                               f"{self.names['supplier_category']})")
        return Answer.good(found)

    @_answering
    def searchable_fields(self, actor_type: str) -> Answer[list[str]]:
        kind = self._check_type(actor_type)
        return Answer.good([*_SEARCHABLE[kind], "parent_erp_key", "parent_actor_type"]
                           if kind != "company" else list(_SEARCHABLE[kind]))

    @_answering
    def list_values(self, list_name: str) -> Answer[dict[str, str]]:
        """``status`` (project statuses), ``country`` (ISO code -> name), ``actor_type``."""
        if list_name == "status":
            recs = self._search_read("project.work.status", [], ["name"])
            return Answer.good({r["name"]: r["name"] for r in recs})
        if list_name == "country":
            recs = self._search_read("country.country", [], ["code", "name"],
                                     order=[["code", "ASC"]])
            return Answer.good({r["code"]: r["name"] for r in recs if r.get("code")})
        if list_name == "actor_type":
            return Answer.good({t: t.capitalize() for t in COMPANY_TYPES})
        return Answer.good({}, f"tryton has no list {list_name!r}")

    # --- the contract: reading ---------------------------------------------------------------

    @_answering
    def search(self, actor_type: str, text: str = "", *, offset: int = 0, limit: int = 50
               ) -> Answer[Page[ErpActor]]:
        """Free text against Tryton's own record name search (a party's name, code,
        identifiers and contact values; a project's name and number); empty lists all."""
        kind = self._check_type(actor_type)
        unmapped = self._persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        return Answer.good(self._page(kind, actor_type, self._text_domain(kind, text),
                                      offset, limit))

    @staticmethod
    def _text_domain(kind: str, text: str) -> list[Any]:
        text = (text or "").strip()
        if not text:
            return []
        pattern = f"%{_like_escape(text)}%"
        if kind == "project":
            return [["OR", ["rec_name", "ilike", pattern], ["number", "ilike", pattern]]]
        return [["rec_name", "ilike", pattern]]

    @_answering
    def search_by_parent(self, actor_type: str, text: str, parent_actor_type: str,
                         parent_erp_key: str, *, offset: int = 0, limit: int = 50
                         ) -> Answer[Page[ErpActor]]:
        """Persons employed by, or projects of, one company. The parent's actor type is not
        checked: its key alone names it (every company type is a party)."""
        kind = self._check_type(actor_type)
        if kind == "company":
            raise _bad_request("Customers, suppliers and partners have no parent in Tryton.")
        if parent_actor_type not in COMPANY_TYPES:
            raise _bad_request(f"A {actor_type}'s parent is a customer, supplier or partner, "
                               f"not {parent_actor_type!r}.")
        unmapped = self._persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        parent = _int_key(parent_erp_key)
        if parent is None:
            return Answer.good(Page([], False), f"{parent_erp_key!r} is no Tryton key")
        domain = [*self._parent_domain(kind, [parent]), *self._text_domain(kind, text)]
        return Answer.good(self._page(kind, actor_type, domain, offset, limit))

    def _parent_domain(self, kind: str, parents: list[int]) -> list[Any]:
        if kind == "person":
            return [["relations", "where", [["to", "in", parents],
                                            ["type", "=", self._employee_of()]]]]
        return [["party", "in", parents]]

    @_answering
    def search_advanced(self, actor_type: str, restrictions: Sequence[Restriction], *,
                        offset: int = 0, limit: int = 50) -> Answer[Page[ErpActor]]:
        """Every restriction translated to a Tryton domain, except those on a person's
        first/middle/last name, which Tryton keeps as one name: these are checked here, on the
        name split as :func:`_split_name` does (then paging happens here too)."""
        kind = self._check_type(actor_type)
        unmapped = self._persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        domain: list[Any] = []
        local: list[Callable[[ErpActor], bool]] = []
        for r in restrictions:
            self._restrict(kind, r, domain, local)
        if not local:
            return Answer.good(self._page(kind, actor_type, domain, offset, limit))
        if offset < 0 or limit < 1:
            raise _bad_request("offset must be 0 or more and limit 1 or more.")
        recs = self._search_read(
            self._model(kind), [*self._type_domain(actor_type), *domain], _READ[kind],
            order=[["name", "ASC"], ["id", "ASC"]])
        actors = [a for a in (self._actor(kind, rec) for rec in recs)
                  if a is not None and all(check(a) for check in local)]
        return Answer.good(Page(actors[offset:offset + limit], len(actors) > offset + limit))

    def _restrict(self, kind: str, r: Restriction, domain: list[Any],
                  local: list[Callable[[ErpActor], bool]]) -> None:
        """Add one restriction to the domain (or, for name parts, to the local checks)."""
        op, values = r.operator, [str(v) for v in r.values]
        if r.field == "parent_erp_key" and kind != "company":
            keys = [k for k in (_int_key(v) for v in values) if k is not None]
            if op not in ("=", "oneof"):
                raise _bad_request("parent_erp_key takes the operator = or oneof.")
            domain.extend(self._parent_domain(kind, keys or [-1]))
            return
        if r.field == "parent_actor_type" and kind != "company":
            if op not in ("=", "oneof") or not set(values) <= set(COMPANY_TYPES):
                raise _bad_request("parent_actor_type takes = or oneof with customer, "
                                   "supplier or partner.")
            alternatives = [self._company_domain(v) for v in values]
            parents = alternatives[0] if len(alternatives) == 1 else ["OR", *alternatives]
            if kind == "person":
                domain.append(["relations", "where", [
                    ["type", "=", self._employee_of()], ["to", "where", parents]]])
            else:
                domain.append(["party", "where", parents])
            return
        spec = _SEARCHABLE[kind].get(r.field)
        if spec is None:
            raise _bad_request(
                f"{r.field!r} is not searchable for a Tryton {kind}: use one of "
                f"{', '.join(_SEARCHABLE[kind])}.")
        value_type, target = spec
        if op not in OPERATORS[value_type]:
            raise _bad_request(f"The operator {op!r} does not apply to {r.field} (a "
                               f"{value_type} field): use one of "
                               f"{', '.join(OPERATORS[value_type])}.")
        need = 2 if op == "between" else 1
        if len(values) < need:
            raise _bad_request(f"{r.field} {op} needs {need} value(s).")
        if target.startswith("@name:"):
            local.append(_name_check(target.split(":", 1)[1], op, values))
            return
        if value_type == "datetime":
            domain.extend(self._moment_domain(target, op, values))
            return
        if value_type == "list":
            path, _, sub = target.partition(" ")
            oneof = op == "oneof"
            if sub:
                domain.append([path, "where" if oneof else "not where", [[sub, "in", values]]])
            else:
                domain.append([path, "in" if oneof else "not in", values])
            return
        domain.extend(_text_clause(target, op, values))

    @staticmethod
    def _moment_domain(target: str, op: str, values: list[str]) -> list[Any]:
        """Datetime operators on the span a value names; ``last_modified`` is
        coalesce(write_date, create_date) of the record itself (children not included)."""
        try:
            spans = [_parse_moment(v) for v in values]
        except ValueError:
            raise _bad_request(f"Not a date or time: {', '.join(values)}.") from None
        start, end = spans[0]
        last_end = spans[-1][1]
        if target != "last_modified":
            # a date field: day d lies in [start, end) iff ceil(start) <= d < ceil(end)
            def ceil(moment: datetime) -> date:
                day = moment.date()
                return day if moment.time() == datetime.min.time() else day + timedelta(1)
            start, end, last_end = ceil(start), ceil(end), ceil(last_end)  # type: ignore[assignment]
        bounds: list[tuple[str, Any]] = {
            "=": [(">=", start), ("<", end)], "before": [("<", start)],
            "after": [(">=", end)], "beforeOrEqual": [("<", end)],
            "afterOrEqual": [(">=", start)], "between": [(">=", start), ("<", last_end)],
        }[op]
        if target != "last_modified":
            return [[target, o, v] for o, v in bounds]
        written = [["write_date", "!=", None], *(["write_date", o, v] for o, v in bounds)]
        created = [["write_date", "=", None], *(["create_date", o, v] for o, v in bounds)]
        return [["OR", written, created]]

    @_answering
    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        """Actors by key in one call, in the order asked. For a company type, any company
        type is found (the actor says which it is now): a customer that also became a supplier
        is still the same record."""
        kind = self._check_type(actor_type)
        wanted = list(dict.fromkeys(erp_keys))
        unmapped = self._persons_unmapped(kind)
        if unmapped:
            return Answer.warn([], f"Tryton has no person with the key {', '.join(wanted)}. "
                               + unmapped, code="setup_missing")
        ids = [k for k in (_int_key(x) for x in wanted) if k is not None]
        found = self._fetch(kind, ids)
        actors = [found[i] for i in (_int_key(x) for x in wanted) if i in found]
        missing = [x for x in wanted if _int_key(x) not in found]
        if missing:
            noun = "company" if kind == "company" else kind
            return Answer("warning", actors,
                          f"Tryton has no {noun} with the key {', '.join(missing)}.",
                          f"not found or not a {noun}: {missing}", error_code="not_found")
        return Answer.good(actors)

    @_answering
    def changed_since(self, actor_type: str, since: datetime | None
                      ) -> Answer[list[ErpActor]]:
        """Polls the records and, for parties, their addresses, contact mechanisms,
        identifiers and relations, because writing a child directly leaves the party's
        ``write_date`` alone."""
        kind = self._check_type(actor_type)
        unmapped = self._persons_unmapped(kind)
        if unmapped:
            return Answer.good([], unmapped)
        model = self._model(kind)
        fields = _READ[kind]
        if since is None:
            recs = self._search_read(model, self._type_domain(actor_type), fields)
            return Answer.good([a for a in (self._actor(kind, r) for r in recs) if a])
        moment = _naive_utc(since)
        recent = ["OR", ["write_date", ">=", moment], ["create_date", ">=", moment]]
        ids = {int(r["id"]) for r in self._search_read(model, [recent], ["id"])}
        if kind != "project":
            children = [("party.address", "party", []), ("party.contact_mechanism", "party", []),
                        ("party.identifier", "party", [])]
            if kind == "person":  # a new employer is a change of the person only
                children.append(("party.relation.all", "from_",
                                 [["type", "=", self._employee_of()]]))
            for child, link, extra in children:
                for rec in self._search_read(child, [recent, *extra], [link]):
                    if rec.get(link):
                        ids.add(int(rec[link]))
        found = self._fetch(kind, sorted(ids), exact_type=actor_type)
        return Answer.good([found[i] for i in sorted(found)])

    # --- the contract: writing ---------------------------------------------------------------

    @staticmethod
    def _normalised(kind: str, actor: ErpActor, notes: list[str]) -> ErpActor:
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

    @_answering
    def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
               ) -> Answer[list[ErpActor]]:
        """Create in one ``create`` call per Tryton model, each record carrying its CRM key
        (a party identifier ``CRM-<kind>-<key>``; for a project, a last comment line
        ``[CRM-project-<key>]``). Records already carrying the key are returned instead of
        created again, so a retry after a lost answer makes no duplicate. If Tryton refuses
        the batch, each record is created on its own to name the ones it refuses."""
        if len(actors) != len(crm_keys):
            raise _bad_request("create needs one CRM key per actor.")
        if len(set(crm_keys)) != len(crm_keys) or any(not str(k) for k in crm_keys):
            raise _bad_request("create needs distinct, non-empty CRM keys.")
        kinds = [self._check_type(a.actor_type) for a in actors]
        notes: list[str] = []
        actors = [self._normalised(k, a, notes) for k, a in zip(kinds, actors, strict=True)]
        codes = [_crm_code(k, str(c)) for k, c in zip(kinds, crm_keys, strict=True)]
        existing = self._existing(codes, kinds)
        new: dict[str, list[int]] = {"party.party": [], "project.work": []}
        for i, kind in enumerate(kinds):
            if codes[i] not in existing:
                new[self._model(kind)].append(i)
        countries = self._countries(actors)
        errors: list[str] = []
        created: dict[int, int] = {}  # actor index -> Tryton id
        # every record's values first, so that bad input creates nothing at all
        vlists = {model: [self._create_values(kinds[i], actors[i], codes[i], countries)
                          for i in indexes] for model, indexes in new.items() if indexes}
        for model, vlist in vlists.items():
            indexes = new[model]
            try:
                ids = self._call(model, "create", vlist)
                created.update(zip(indexes, ids, strict=True))
                continue
            except _Failure as exc:
                if exc.answer.retryable:
                    raise
                if len(indexes) == 1:
                    errors.append(f"CRM key {crm_keys[indexes[0]]}: "
                                  f"{exc.answer.user_explanation}")
                    continue
            for i, values in zip(indexes, vlist, strict=True):  # find the refused ones
                try:
                    created[i] = self._call(model, "create", [values])[0]
                except _Failure as one:
                    if one.answer.retryable:
                        raise
                    errors.append(f"CRM key {crm_keys[i]}: {one.answer.user_explanation}")
        if errors:
            done = len(created)
            return Answer.failed(
                f"Tryton refused {len(errors)} of {len(actors)} record(s); "
                f"{done} were created and a retry of the same create finds them. "
                + " ".join(errors), code="user_error")
        key_of = {i: existing.get(codes[i], created.get(i)) for i in range(len(actors))}
        result: list[ErpActor | None] = [None] * len(actors)
        for kind in dict.fromkeys(kinds):
            idx = [i for i in range(len(actors)) if kinds[i] == kind]
            fetched = self._fetch(kind, [k for i in idx if (k := key_of[i]) is not None])
            for i in idx:
                key = key_of[i]
                result[i] = fetched.get(key) if key is not None else None
                if result[i] is None:
                    raise _Failure(Answer.failed(
                        f"Record {key} made for CRM key {crm_keys[i]} is no {kind} in Tryton "
                        "(any more).", code="not_found"))
        return Answer.good([a for a in result if a is not None], "; ".join(notes))

    def _existing(self, codes: list[str], kinds: list[str]) -> dict[str, int]:
        """Records already created for these CRM codes (code -> Tryton id)."""
        found: dict[str, int] = {}
        party_codes = [c for c, k in zip(codes, kinds, strict=True) if k != "project"]
        if party_codes:
            for rec in self._search_read("party.identifier", [["code", "in", party_codes]],
                                         ["code", "party"]):
                found.setdefault(rec["code"], int(rec["party"]))
        if "project" in kinds:
            wanted = {c for c, k in zip(codes, kinds, strict=True) if k == "project"}
            for rec in self._search_read(
                    "project.work", [["type", "=", "project"],
                                     ["comment", "like", f"%[{CRM_PREFIX}project-%"]],
                    ["comment"]):
                _, code = self._split_comment(rec.get("comment"))
                if code in wanted:
                    found.setdefault(code, int(rec["id"]))
        return found

    def _countries(self, actors: Sequence[ErpActor]) -> dict[str, int]:
        """Country ids for the ISO codes the actors name (one call); unknown codes fail."""
        codes = {str(a.fields["country"]).strip().upper() for a in actors
                 if a.fields.get("country") and str(a.fields["country"]).strip()}
        if not codes:
            return {}
        found = {r["code"]: int(r["id"]) for r in self._search_read(
            "country.country", [["code", "in", sorted(codes)]], ["code"])}
        unknown = sorted(codes - found.keys())
        if unknown:
            raise _bad_request(f"Tryton has no country with the ISO code "
                               f"{', '.join(unknown)}.")
        return found

    def _create_values(self, kind: str, actor: ErpActor, code: str,
                       countries: Mapping[str, int]) -> dict[str, Any]:
        if kind == "project":
            values = self._project_values(actor, None)
            if self._context.get("company") is None:  # a set-up since the login gave one?
                self._load_context()
            values.update(type="project", company=self._context.get("company"))
            values["comment"] = self._join_comment(values.get("comment"), code)
            if not values.get("name"):
                raise _bad_request("A project needs a name.")
            if values["company"] is None:
                raise _Failure(Answer.failed(
                    f"The Tryton user {self.user!r} has no company, which projects need; "
                    f"{self.setup_hint} to create one, or set one in Tryton.",
                    code="setup_missing"))
            return values
        values = self._party_values(kind, actor, None, countries)
        if not values.get("name"):
            raise _bad_request(f"A {kind} needs a name.")
        values.setdefault("identifiers", []).append(
            ["create", [{"type": None, "code": code}]])
        number = actor.fields.get("number2" if kind == "company" else "number")
        if number:
            values["code"] = str(number).strip()
        if kind == "company":
            cats = {"customer": [self._customer()], "supplier": [self._supplier()],
                    "partner": [self._customer(), self._supplier()]}[actor.actor_type]
            values["categories"] = [["add", cats]]
        else:
            parent = _int_key(actor.parent_erp_key)
            if parent is None:
                raise _bad_request("A person needs its company (parent_erp_key) in Tryton.")
            values["relations"] = [["create", [{"to": parent, "type": self._employee_of()}]]]
        return values

    @staticmethod
    def _join_comment(text: str | None, code: str | None) -> str | None:
        if not code:
            return text or None
        return f"{text}\n\n[{code}]" if text else f"[{code}]"

    def _party_values(self, kind: str, actor: ErpActor, current: dict[str, Any] | None,
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

    def _project_values(self, actor: ErpActor, current: dict[str, Any] | None
                        ) -> dict[str, Any]:
        """Write values for a project (``current``: as read, None when creating)."""
        f = actor.fields
        values: dict[str, Any] = {}
        if "name" in f:
            values["name"] = (f["name"] or "").strip()
        if "text" in f:
            _, code = self._split_comment((current or {}).get("comment"))
            values["comment"] = self._join_comment((f["text"] or "").strip(), code)
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
            statuses = {r["name"].casefold(): r for r in self._search_read(
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

    @_answering
    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        """Write the given fields of existing actors: one read of their current state, then
        one ``write`` call per Tryton model with an (ids, values) pair per record. Read-only
        fields (codes, numbers, category) are not written; the answer says so when they
        differ. A company's categories change only when ``actor_type`` is among its fields."""
        if not actors:
            return Answer.good([])
        kinds = [self._check_type(a.actor_type) for a in actors]
        notes: list[str] = []
        actors = [self._normalised(k, a, notes) for k, a in zip(kinds, actors, strict=True)]
        ids = [_int_key(a.erp_key) for a in actors]
        if any(i is None for i in ids):
            raise _bad_request("save needs the ERP key of every actor.")
        countries = self._countries(actors)
        pairs: dict[str, list[Any]] = {"party.party": [], "project.work": []}
        for kind in dict.fromkeys(kinds):
            idx = [i for i, k in enumerate(kinds) if k == kind]
            fields = _READ[kind]
            raw = {int(r["id"]): r for r in self._search_read(
                self._model(kind), [["id", "in", [ids[i] for i in idx]],
                                    *self._type_domain(_default_type(kind), exact=False)],
                fields)}
            missing = [str(ids[i]) for i in idx if ids[i] not in raw]
            if missing:
                raise _Failure(Answer.failed(
                    f"Tryton has no {kind} with the key {', '.join(missing)}; nothing saved.",
                    code="not_found"))
            for i in idx:
                actor, rec = actors[i], raw[ids[i]]  # type: ignore[index]
                current = self._actor(kind, rec)
                for key in sorted((_READONLY[kind] - {"last_modified"}) & actor.fields.keys()):
                    if current is not None and (actor.fields[key] or None) != \
                            current.fields.get(key):
                        notes.append(f"{key} of {actor.erp_key} is read-only in Tryton and "
                                     "was not written")
                if kind == "project":
                    values = self._project_values(actor, rec)
                else:
                    values = self._party_values(kind, actor, rec, countries)
                    if kind == "company" and "actor_type" in actor.fields:
                        values.update(self._category_change(rec, actor.fields["actor_type"]))
                    if kind == "person" and actor.parent_erp_key is not None:
                        values.update(self._employer_change(rec, actor.parent_erp_key))
                if values:
                    pairs[self._model(kind)] += [[ids[i]], values]
        for model, args in pairs.items():
            if args:
                self._call(model, "write", *args)
        result: list[ErpActor] = []
        for kind in dict.fromkeys(kinds):
            found = self._fetch(kind, [ids[i] for i, k in enumerate(kinds) if k == kind])
            result += [found[ids[i]] for i, k in enumerate(kinds)  # type: ignore[index]
                       if k == kind and ids[i] in found]
        order = {ids[i]: i for i in range(len(ids))}
        result.sort(key=lambda a: order[int(a.erp_key or 0)])
        return Answer.good(result, "; ".join(notes))

    def _category_change(self, rec: dict[str, Any], actor_type: str | None
                         ) -> dict[str, Any]:
        if actor_type not in COMPANY_TYPES:
            raise _bad_request(f"actor_type must be customer, supplier or partner, not "
                               f"{actor_type!r}.")
        want = {"customer": {self._customer()}, "supplier": {self._supplier()},
                "partner": {self._customer(), self._supplier()}}[actor_type]
        have = {c["id"] for c in rec.get("categories.") or []} & {self._customer(),
                                                                    self._supplier()}
        actions: list[Any] = []
        if want - have:
            actions.append(["add", sorted(want - have)])
        if have - want:
            actions.append(["remove", sorted(have - want)])
        return {"categories": actions} if actions else {}

    def _employer_change(self, rec: dict[str, Any], parent_key: str) -> dict[str, Any]:
        parent = _int_key(parent_key)
        if parent is None:
            raise _bad_request(f"{parent_key!r} is no Tryton key.")
        relation = self._employer_relation(rec)
        if relation is not None and (relation.get("to.") or {}).get("id") == parent:
            return {}
        actions: list[Any] = []
        if relation is not None:
            actions.append(["delete", [relation["id"]]])
        actions.append(["create", [{"to": parent, "type": self._employee_of()}]])
        return {"relations": actions}

    def close(self) -> None:
        """Log out (best effort) and release the HTTP session if this connector made it."""
        if self._auth is not None:
            with contextlib.suppress(_Failure):
                self._post(f"/{self.database}/rpc/", "common.db.logout", [])
            self._auth = None
        if self._own_session:
            self._http.close()


def _default_type(kind: str) -> str:
    return {"company": "customer", "person": "person", "project": "project"}[kind]


def _int_key(key: str | int | None) -> int | None:
    """A Tryton id from an ERP key; None for anything that is not one."""
    if key is None:
        return None
    text = str(key).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _text_clause(target: str, op: str, values: list[str]) -> list[Any]:
    """A text operator as Tryton clauses (``=`` and the like operators ignore case, as
    SuperOffice's do). ``target`` is a field, or ``x2many subfield [contact type]`` for a
    child's field: then a negated operator means that no such child matches."""
    path, *rest = target.split(" ")
    field = rest[0] if rest else path
    v = _like_escape(values[0])
    negated = op in ("isnot", "notbegins", "notcontains", "notends")
    if op == "between":
        conds: list[Any] = [[field, ">=", values[0]], [field, "<=", values[1]]]
    else:
        pattern = {"=": v, "isnot": v, "begins": f"{v}%", "notbegins": f"{v}%",
                   "contains": f"%{v}%", "notcontains": f"%{v}%", "ends": f"%{v}",
                   "notends": f"%{v}"}[op]
        conds = [[field, "not ilike" if negated and not rest else "ilike", pattern]]
    if not rest:
        return conds
    if len(rest) > 1:
        conds.append(["type", "=", rest[1]])
    if path == "identifiers":
        conds.append(["code", "not like", f"{CRM_PREFIX}%"])
    return [[path, "not where" if negated else "where", conds]]


def _name_check(part: str, op: str, values: list[str]) -> Callable[[ErpActor], bool]:
    """A restriction on a person's first, middle or last name, checked on the split name."""
    wanted = [v.casefold() for v in values]

    def check(actor: ErpActor) -> bool:
        value = (actor.fields.get(part) or "").casefold()
        w = wanted[0]
        return {
            "=": value == w, "isnot": value != w,
            "begins": value.startswith(w), "notbegins": not value.startswith(w),
            "contains": w in value, "notcontains": w not in value,
            "ends": value.endswith(w), "notends": not value.endswith(w),
            "between": len(wanted) > 1 and wanted[0] <= value <= wanted[1],
        }[op]

    return check


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

#: Searchable fields: (value type of :data:`OPERATORS`, Tryton target). A target is a field
#: path, ``x2many field [contact type]`` for a child's field, ``@name:<part>`` for a name part
#: checked locally, or for lists ``x2many subfield`` / ``field``.
_SEARCHABLE: dict[str, dict[str, tuple[str, str]]] = {
    "company": {
        "name": ("text", "name"),
        "number2": ("text", "code"),
        "vatno": ("text", "identifiers code"),
        "phone": ("text", "contact_mechanisms value phone"),
        "fax": ("text", "contact_mechanisms value fax"),
        "email": ("text", "contact_mechanisms value email"),
        "url": ("text", "contact_mechanisms value website"),
        "postalzip": ("text", "addresses postal_code"),
        "postalcity": ("text", "addresses city"),
        "country": ("list", "addresses country.code"),
        "category": ("list", "categories name"),
        "last_modified": ("datetime", "last_modified"),
    },
    "person": {
        "firstname": ("text", "@name:firstname"),
        "middlename": ("text", "@name:middlename"),
        "lastname": ("text", "@name:lastname"),
        "number": ("text", "code"),
        "email": ("text", "contact_mechanisms value email"),
        "phone_direct": ("text", "contact_mechanisms value phone"),
        "phone_mobile": ("text", "contact_mechanisms value mobile"),
        "last_modified": ("datetime", "last_modified"),
    },
    "project": {
        "name": ("text", "name"),
        "number": ("text", "number"),
        "text": ("text", "comment"),
        "status": ("list", "status.name"),
        "enddate": ("datetime", "timesheet_works.timesheet_end_date"),
        "last_modified": ("datetime", "last_modified"),
    },
}
