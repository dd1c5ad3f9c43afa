"""A FAKE SuperOffice REST server, for tests only.

It is a fake because no SuperOffice can run here: SuperOffice is a hosted, licensed product
with no local or container edition. It is built from the request and response shapes that the
domain guide documents (``/work/shared/guide/domain.md``, sections d2 and f), SuperOffice's
public reference pages and public recordings; the response templates it fills are the JSON
files in ``tests/data/superoffice/``, each cited in ``docs/SUPEROFFICE.md``. It lives in
``tests/`` only, never in the product. Passing against it proves that the connector speaks the
documented shapes and survives the documented behaviours; it proves nothing about what a real
tenant does where the documentation is silent (``docs/SUPEROFFICE.md`` lists those).

What it serves, on one or more loopback listeners (:meth:`FakeSuperOffice.add_listener`),
told apart by the ``Host`` header as SuperOffice's hosts are:

- ``GET /api/state/<tenant>``: the tenant status (no credentials needed), pointing at the
  tenant's current host (:attr:`FakeSuperOffice.tenant_host`). When that is set, the tenant's
  API answers only there; any other host answers ``421`` "Wrong subdomain used to access
  tenant". :meth:`FakeSuperOffice.move_tenant` moves it.
- ``POST /login/common/oauth/tokens``: the refresh-token grant (form body), issuing a new
  access token.
- ``GET /<tenant>/api/v1/Contact | Person | Project``: archive rows ``{PrimaryKey (a string),
  EntityName, <column>: ...}`` for the documented archive columns, with ``$select`` (unknown
  columns: 400), ``$filter`` (``<col> eq|ne|gt|ge|lt|le N|'text'``, dates ``after|before|date``
  on the date part), ``$orderBy``, ``$top``/``$skip`` and ``odata.nextLink`` (``null`` on the
  last page). Empty dates are ``0001-01-01T00:00:00``; with ``SO-TimeZone: ...,
  includeTZOffset`` created/updated dates carry ``Z``. A ``projectMember/`` column gives one
  row per project member, as an archive join does.
- ``GET /<tenant>/api/v1/archive/dynamic``: the Dynamic archive over the link tables
  (``erpexternalkey.*`` with ``ErpInternalKeyId.*`` traversal), for listing links.
- ``GET|PATCH <Entity>/<id>``: the entity; PATCH takes a JSON Merge Patch or a JSON Patch.
  As documented, a merge patch cannot set a property under a currently-null parent (400).
- ``POST Agents/ErpSync/...``: ``ConnectActor`` (204; refuses a record or ERP actor linked
  already, and a ``CrmFieldKey`` the connection's mapping does not know), ``BreakActorLink``
  (true/false), ``CreateErpActorFromCrm`` (true, or the new key with ``create_returns="key"``;
  refuses ERP field keys that are not the new actor's and empty mandatory fields),
  ``GetAllConnections``, ``GetConnection``, ``GetActorTypeMapping``,
  ``GetFieldsForNewErpActor``, ``ForceResync``; every one 403 while the agent is not granted.
- Errors as ``{Error: true, ErrorType, ErrorMessage, ErrorSource}`` with an HTTP status; 401
  unless ``Authorization: Bearer <token>`` or ``Authorization: SOTicket <ticket>`` plus
  ``SO-AppToken: <app token>``, and once the credential expired.

Test controls: :attr:`FakeSuperOffice.requests` records every request; :meth:`fail_next`,
:meth:`hang_next`, :meth:`throttle_next` and :meth:`answer_next` make the next calls fail,
hang, ask to wait (``Retry-After``) or answer something else; :attr:`token_uses`,
:meth:`expire_credentials` and :meth:`issue_token` make credentials expire and renew them;
:attr:`agent_granted` takes the ErpSync agent away; :meth:`set_mapping`,
:meth:`set_new_actor_fields` and :meth:`add_link` shape the ERP connection.
:func:`loopback_session` lets a connector configured with real-looking ``https://`` hosts
reach this server on 127.0.0.1 (plain HTTP, the ``Host`` header kept).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from erpdata.live.connectors.superoffice import SuperOfficeConnector

Entity = dict[str, Any]

#: The response templates: shaped after SuperOffice's public pages and recordings.
DATA = Path(__file__).resolve().parent.parent / "data" / "superoffice"
#: SuperOffice's "no date".
EMPTY_DATE = "0001-01-01T00:00:00"


def fixture(name: str) -> Any:
    """A response template from ``tests/data/superoffice/<name>.json`` (a fresh copy)."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def _error_body(template: str, message: str | None = None, error_type: str | None = None
                ) -> dict[str, Any]:
    body = fixture(template)
    if message is not None:
        body["ErrorMessage"] = message
    if error_type is not None:
        body["ErrorType"] = error_type
    return body


@dataclass
class Recorded:
    """One request as the fake saw it; ``host`` is its ``Host`` header, normalised."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    host: str = ""

    @property
    def endpoint(self) -> str:
        """The path after ``/api/v1/`` (``Contact``, ``Agents/ErpSync/ConnectActor``)."""
        return self.path.split("/api/v1/", 1)[-1]


class FakeError(Exception):
    """An error answer: HTTP status and SuperOffice's error body."""

    def __init__(self, status: int, message: str, error_type: str = "SoException",
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.body = body

    def payload(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        return _error_body("error_not_found", self.message, self.error_type) | {
            "ErrorSource": "FakeSuperOffice"}


def _norm_host(host: str) -> str:
    """A ``Host`` header as compared: lower case, without the scheme's default port."""
    host = host.strip().lower()
    return re.sub(r":(443|80)$", "", host)


def host_of(url: str) -> str:
    """The normalised host[:port] of a URL, as :attr:`FakeSuperOffice.tenant_host` takes."""
    return _norm_host(urlsplit(url).netloc)


def _iso(dt: datetime | None) -> str:
    """Dates as the API sends them: ISO, UTC, no offset; no date is ``0001-01-01T00:00:00``."""
    return EMPTY_DATE if dt is None else dt.astimezone(UTC).replace(tzinfo=None).isoformat()


def _no_date(cell: Any) -> bool:
    return not cell or str(cell).startswith("0001-01-01")


def _first(entity: Entity, prop: str) -> Any:
    items = entity.get(prop) or []
    return items[0].get("Value") if items else None


def _addr(entity: Entity, part: str, prop: str) -> Any:
    return ((entity.get("Address") or {}).get(part) or {}).get(prop)


def _item(entity: Entity, prop: str, key: str = "Value") -> Any:
    return (entity.get(prop) or {}).get(key)


Getter = Callable[[Entity], Any]

_ADDRESS_COLUMNS: dict[str, Getter] = {
    f"{col}/{suffix}": (lambda e, p=part, q=prop: _addr(e, p, q))
    for col, part in (("streetAddress", "Street"), ("postAddress", "Postal"))
    for suffix, prop in (("line1", "Address1"), ("line2", "Address2"), ("line3", "Address3"),
                         ("zip", "Zipcode"), ("city", "City"))
}

#: Archive columns per collection (SimpleContact, Person, FindProject): the documented names.
COLUMNS: dict[str, dict[str, Getter]] = {
    "Contact": {
        "contactId": lambda e: e["ContactId"],
        "name": lambda e: e.get("Name"),
        "department": lambda e: e.get("Department"),
        "orgnr": lambda e: e.get("OrgNr"),
        "code": lambda e: e.get("Number1"),
        "number": lambda e: e.get("Number2"),
        "contactPhone/formattedNumber": lambda e: _first(e, "Phones"),
        "contactFax/formattedNumber": lambda e: _first(e, "Faxes"),
        "email/emailAddress": lambda e: _first(e, "Emails"),
        "url/URLAddress": lambda e: _first(e, "Urls"),
        **_ADDRESS_COLUMNS,
        "country": lambda e: _item(e, "Country", "Name"),
        "category": lambda e: _item(e, "Category"),
        "updatedDate": lambda e: e.get("UpdatedDate"),
        "registeredDate": lambda e: e.get("CreatedDate"),
    },
    "Person": {
        "personId": lambda e: e["PersonId"],
        "firstName": lambda e: e.get("Firstname"),
        "middleName": lambda e: e.get("MiddleName"),
        "lastName": lambda e: e.get("Lastname"),
        "title": lambda e: e.get("Title"),
        "position": lambda e: _item(e, "Position"),
        "personNumber": lambda e: e.get("PersonNumber"),
        "email/emailAddress": lambda e: _first(e, "Emails"),
        "personDirectPhone/formattedNumber": lambda e: _first(e, "OfficePhones"),
        "personMobilePhone/formattedNumber": lambda e: _first(e, "MobilePhones"),
        "personPrivate/formattedNumber": lambda e: _first(e, "PrivatePhones"),
        "personPager/formattedNumber": lambda e: _first(e, "OtherPhones"),
        "birthdate": lambda e: e.get("BirthDate"),
        "contactId": lambda e: _item(e, "Contact", "ContactId") or 0,
        "personUpdatedDate": lambda e: e.get("UpdatedDate"),
        "personRegisteredDate": lambda e: e.get("CreatedDate"),
    },
    "Project": {
        "projectId": lambda e: e["ProjectId"],
        "name": lambda e: e.get("Name"),
        "number": lambda e: e.get("ProjectNumber"),
        "description": lambda e: e.get("Description"),
        "endDate": lambda e: e.get("EndDate"),
        "status": lambda e: _item(e, "ProjectStatus"),
        "updatedDate": lambda e: e.get("UpdatedDate"),
        "registeredDate": lambda e: e.get("CreatedDate"),
        # Join columns: filled per member row (see _rows).
        "projectMember/contactId": lambda e: None,
        "projectMember/personId": lambda e: None,
    },
}

_ID = {"Contact": "ContactId", "Person": "PersonId", "Project": "ProjectId"}
_DATE_COLUMNS = {"updatedDate", "registeredDate", "personUpdatedDate", "personRegisteredDate",
                 "endDate", "birthdate"}
_CRM_ACTOR_TYPES = {"Contact", "Person", "Project"}
_ERP_ACTOR_TYPES = {"Customer", "Supplier", "Partner", "Person", "Project"}
_CLAUSE = re.compile(r"^\s*([\w/.]+)\s+(\w+)\s+(?:'([^']*)'|(-?\d+))\s*$")


def _parse_dt(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _match(row: dict[str, Any], column: str, op: str, value: str | int) -> bool:
    """One ``$filter`` clause against a row."""
    cell = row.get(column)
    if column in _DATE_COLUMNS:
        if _no_date(cell):
            return False
        have, want = _parse_dt(str(cell)), _parse_dt(str(value))
        date_ops = {"after": have.date() > want.date(), "before": have.date() < want.date(),
                    "date": have.date() == want.date(), "afterOrEqual": have >= want,
                    "afterTime": have >= want, "beforeTime": have < want}
        if op not in date_ops:
            raise FakeError(400, f"Operator '{op}' is not valid for date column {column}")
        return date_ops[op]
    if isinstance(value, int) or str(value).lstrip("-").isdigit():
        try:
            have_n, want_n = int(cell or 0), int(value)
        except (TypeError, ValueError):
            return False
        ops = {"eq": have_n == want_n, "ne": have_n != want_n, "gt": have_n > want_n,
               "ge": have_n >= want_n, "lt": have_n < want_n, "le": have_n <= want_n}
    else:
        text = "" if cell is None else str(cell)
        ops = {"eq": text == value, "is": text == value, "ne": text != value,
               "begins": text.startswith(str(value)), "contains": str(value) in text}
    if op not in ops:
        raise FakeError(400, f"Operator '{op}' is not valid for column {column}")
    return ops[op]


def _filter(rows: list[dict[str, Any]], expression: str, columns: Mapping[str, Any],
            fold: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """``A and B or C and D``: ``and`` binds tighter than ``or``; no parentheses. ``fold``
    spells a column as ``columns`` keys it (the Dynamic archive's are case-insensitive)."""
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression.strip()):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            m = _CLAUSE.match(clause)
            if not m:
                raise FakeError(400, f"Cannot parse filter clause {clause!r}")
            column, op, text, number = m.groups()
            column = fold(column)
            if column not in columns:
                raise FakeError(400, f"Unknown column '{column}' in $filter")
            clauses.append((column, op, text if text is not None else int(number)))
        alternatives.append(clauses)
    return [row for row in rows
            if any(all(_match(row, c, o, v) for c, o, v in clauses)
                   for clauses in alternatives)]


def _find_key(obj: dict[str, Any], name: str) -> str:
    """The existing key matching ``name`` case-insensitively, else ``name``."""
    for key in obj:
        if key.lower() == name.lower():
            return key
    return name


def _merge(target: dict[str, Any], patch: dict[str, Any], where: str = "") -> None:
    """RFC 7396, with SuperOffice's documented limit: no merging into a null parent."""
    for name, value in patch.items():
        key = _find_key(target, name)
        if isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                raise FakeError(400, f"Cannot merge into null property '{where}{key}': "
                                     "use a JSON Patch replace")
            _merge(current, value, f"{where}{key}/")
        elif value is None:
            target[key] = None
        else:
            target[key] = copy.deepcopy(value)


def _json_patch(entity: Entity, ops: list[dict[str, Any]]) -> None:
    """RFC 6902 add/replace/remove/test; a replace creates null intermediate objects."""
    for op in ops:
        kind, path = op.get("op"), str(op.get("path", ""))
        parts = [p for p in path.strip("/").split("/") if p]
        if kind not in ("add", "replace", "remove", "test") or not parts:
            raise FakeError(400, f"Unsupported patch operation {op!r}")
        parent: Any = entity
        for i, part in enumerate(parts[:-1]):
            if isinstance(parent, list):
                index = int(part)
                if index >= len(parent):
                    raise FakeError(400, f"Index {index} out of range in {path}")
                parent = parent[index]
                continue
            key = _find_key(parent, part)
            if parent.get(key) is None:
                if kind == "replace":
                    nxt_is_index = parts[i + 1].isdigit() or parts[i + 1] == "-"
                    parent[key] = [] if nxt_is_index else {}
                else:
                    raise FakeError(400, f"Path {path} goes through null '{key}'")
            parent = parent[key]
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-" and kind == "add":
                parent.append(copy.deepcopy(op.get("value")))
                continue
            index = int(last)
            if index >= len(parent) + (1 if kind == "add" else 0):
                raise FakeError(400, f"Index {index} out of range in {path}")
            if kind == "remove":
                parent.pop(index)
            elif kind == "add":
                parent.insert(index, copy.deepcopy(op.get("value")))
            elif kind == "replace":
                parent[index] = copy.deepcopy(op.get("value"))
            elif parent[index] != op.get("value"):
                raise FakeError(409, f"Test failed at {path}")
            continue
        key = _find_key(parent, last)
        if kind == "remove":
            parent.pop(key, None)
        elif kind == "test":
            if parent.get(key) != op.get("value"):
                raise FakeError(409, f"Test failed at {path}")
        else:
            parent[key] = copy.deepcopy(op.get("value"))




#: The ERP field keys SuperOffice's automatic field mapping pre-maps, per CRM actor type
#: (domain guide e4): the fake's default mapping maps each to the CRM field of the same name.
AUTO_KEYS: dict[str, tuple[str, ...]] = {
    "Contact": ("NAME", "NUMBER1", "NUMBER2", "DEPARTMENT", "PHONE", "FAX", "EMAIL", "URL",
                "POSTALAD1", "POSTALAD2", "POSTALAD3", "POSTALZIP", "POSTALCITY",
                "POSTALCOUNTY", "POSTALSTATE", "STREETAD1", "STREETAD2", "STREETAD3",
                "STREETZIP", "STREETCITY", "STREETCOUNTY", "STREETSTATE", "COUNTRY", "VATNO"),
    "Person": ("FIRSTNAME", "MIDDLENAME", "LASTNAME", "TITLE", "NUMBER", "PHONE_DIRECT",
               "PHONE_PRIVATE", "PHONE_MOBILE", "PHONE_OTHER", "EMAIL", "POSITION",
               "BIRTHDATE", "URL", "POSTALAD1", "POSTALAD2", "POSTALAD3", "POSTALZIP",
               "POSTALCITY", "POSTALSTATE", "POSTALCOUNTY", "POSTALCOUNTRY"),
    "Project": ("NAME", "TEXT", "NUMBER", "URL", "ENDDATE"),
}
_CRM_FOR_ERP = {"Customer": "Contact", "Supplier": "Contact", "Partner": "Contact",
                "Person": "Person", "Project": "Project"}
_ERP_TYPE_NUMBER = {"Customer": 1, "Supplier": 2, "Partner": 3, "Person": 4, "Project": 5}
_TABLE_ID = {"Contact": 5, "Person": 6, "Project": 11}
#: The Dynamic archive's link columns (lower case; the archive matches them so).
_LINK_COLUMNS = ("erpexternalkey.erpexternalkey_id", "erpexternalkey.erpkey",
                 "erpexternalkey.actortype", "erpexternalkey.erpconnectionid",
                 "erpexternalkey.erpinternalkeyid.erpinternalkey_id",
                 "erpexternalkey.erpinternalkeyid.recordid",
                 "erpexternalkey.erpinternalkeyid.tableid")


def mapping_item(erp_key: str, crm_key: str, *, field_id: int = 0, display: str | None = None,
                 access: str = "Normal") -> dict[str, Any]:
    """One ``FieldMappings`` item of ``GetActorTypeMapping``, shaped after the fixture."""
    item = fixture("erpsync_get_actor_type_mapping")["FieldMappings"][0]
    item.update({"ErpFieldId": field_id, "CrmFieldKey": crm_key, "ErpFieldKey": erp_key,
                 "CrmDisplayName": display or crm_key.title(),
                 "ErpDisplayName": display or erp_key.title(), "Access": access})
    return item


def new_field(key: str, display: str | None = None, *, access: str = "Normal",
              default: str = "", rank: int = 0) -> dict[str, Any]:
    """One field of ``GetFieldsForNewErpActor`` (a ``FieldMetadataInfo``)."""
    item = fixture("erpsync_get_fields_for_new_erp_actor")[0]
    item.update({"FieldKey": key, "DisplayName": display or key.title(), "Access": access,
                 "DefaultValue": default, "Rank": rank})
    return item


@dataclass
class _Override:
    status: int
    body: Any = None
    echo_auth: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSuperOffice:
    """The fake tenant. Use as a context manager: ``with FakeSuperOffice() as so: so.url``."""

    tenant: str = "Cust12345"
    token: str | None = "fake-bearer-token"
    ticket: str | None = None
    app_token: str | None = None
    #: False: never send ``odata.nextLink`` (pages only by $top/$skip).
    next_links: bool = True
    #: Where nextLinks point; None: this server. A foreign base tests that it is not followed;
    #: ``https://SOD2.superoffice.com:443`` spells them as real ones are.
    next_link_base: str | None = None
    #: "bool": CreateErpActorFromCrm answers ``true`` (documented); "key": the new ErpKey.
    create_returns: str = "bool"
    clock: Callable[[], datetime] = field(
        default=lambda: datetime.now(UTC).replace(microsecond=0))
    #: The tenant's current host (``sod2.superoffice.com``, or ``127.0.0.1:<port>`` of a
    #: listener); None: every host serves the API (no 421).
    tenant_host: str | None = None
    #: The Endpoint the state API gives; None: derived from :attr:`tenant_host`.
    state_endpoint: str | None = None
    #: The tenant state (``Running``, ``OfflineMaintenance``, ...).
    state: str = "Running"
    #: False: the ErpSync agent is not granted to the app (every agent call answers 403).
    agent_granted: bool = True
    #: Authenticated calls the credential still allows before it expires; None: no limit.
    token_uses: int | None = None
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    refresh_token: str = "fake-refresh-token"

    contacts: dict[int, Entity] = field(default_factory=dict)
    persons: dict[int, Entity] = field(default_factory=dict)
    projects: dict[int, Entity] = field(default_factory=dict)
    #: (CrmActorType, record id) -> the link as ConnectActor/CreateErpActorFromCrm stored it.
    links: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    #: ERP connection id -> the connection (``GetAllConnections`` items).
    erp_connections: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._failures: list[_Override | None] = []
        self._hangs: list[float] = []
        self._agent_overrides: dict[str, list[_Override]] = {}
        self._mappings: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._new_fields: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._expired = False
        self._issued = 0
        self._next_id = 1000
        self._next_key = 5000
        self._next_link_id = 40
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        if not self.erp_connections:
            template = fixture("erpsync_get_all_connections")[0]
            self.erp_connections[int(template["ErpConnectionId"])] = template

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeSuperOffice:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.add_listener()

    def add_listener(self) -> str:
        """Start one more listener on 127.0.0.1 (another "host" of the same SuperOffice) and
        return its root URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._release.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def root(self) -> str:
        assert self._servers, "start the fake first"
        host, port = self._servers[0].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The tenant base URL, as a connector is configured with."""
        return f"{self.root}/{self.tenant}"

    def move_tenant(self, host: str) -> None:
        """SuperOffice rebalanced: the tenant now answers on ``host`` only."""
        self.tenant_host = _norm_host(host)

    # --- test controls ---------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, body: Any = None, *,
                  after: int = 0, echo_auth: bool = False) -> None:
        """Answer ``n`` requests, after the next ``after`` ones, with ``status`` and an error
        body (SuperOffice's shape unless ``body`` is given). ``echo_auth`` puts the received
        credentials into the error message, as a badly behaved proxy might, to test that they
        are scrubbed."""
        with self._lock:
            self._failures.extend([None] * after)
            self._failures.extend(_Override(status, body, echo_auth) for _ in range(n))

    def throttle_next(self, n: int = 1, retry_after: str | None = "0", *, status: int = 429,
                      after: int = 0) -> None:
        """Answer ``n`` requests (after ``after``) with ``status`` and ``Retry-After``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = _error_body("error_not_found", "Too many requests", "SoThrottledException")
        with self._lock:
            self._failures.extend([None] * after)
            self._failures.extend(_Override(status, body, headers=headers) for _ in range(n))

    def hang_next(self, n: int = 1, seconds: float = 3.0) -> None:
        """Let the next ``n`` requests wait ``seconds`` (or until stop) before answering."""
        with self._lock:
            self._hangs.extend([seconds] * n)

    def answer_next(self, agent_method: str, status: int, body: Any = None) -> None:
        """The next call of ``Agents/ErpSync/<agent_method>`` answers this instead (after its
        body was checked)."""
        with self._lock:
            self._agent_overrides.setdefault(agent_method, []).append(_Override(status, body))

    def expire_credentials(self) -> None:
        """The token (or ticket) expires now: every call answers 401 until renewed."""
        with self._lock:
            self._expired = True

    def issue_token(self) -> str:
        """A fresh, valid access token (what a renewal gets); the old one stops working."""
        with self._lock:
            self._issued += 1
            self.token = f"fake-bearer-token-{self._issued}"
            self._expired = False
            self.token_uses = None
            return self.token

    def issue_ticket(self) -> str:
        """A fresh, valid system-user ticket; the old one stops working."""
        with self._lock:
            self._issued += 1
            self.ticket = f"7T:fake-ticket-{self._issued}=="
            self._expired = False
            self.token_uses = None
            return self.ticket

    def set_mapping(self, erp_actor_type: str, erp_to_crm: Mapping[str, str], *,
                    connection: int = 7) -> None:
        """The connection's field mapping of ``erp_actor_type``: ERP field key -> CRM key."""
        self._mappings[(connection, erp_actor_type)] = [
            mapping_item(erp, crm, field_id=i + 1) for i, (erp, crm) in
            enumerate(erp_to_crm.items())]

    def mapping(self, erp_actor_type: str, connection: int = 7) -> list[dict[str, Any]]:
        """The mapping items (the automatic mapping unless :meth:`set_mapping` said)."""
        key = (connection, erp_actor_type)
        if key not in self._mappings:
            crm = _CRM_FOR_ERP.get(erp_actor_type, "Contact")
            self.set_mapping(erp_actor_type, {k: k for k in AUTO_KEYS[crm]},
                             connection=connection)
        return self._mappings[key]

    def set_new_actor_fields(self, erp_actor_type: str, fields: list[dict[str, Any]], *,
                             connection: int = 7) -> None:
        """``GetFieldsForNewErpActor`` of ``erp_actor_type`` (items from :func:`new_field`)."""
        self._new_fields[(connection, erp_actor_type)] = fields

    def new_actor_fields(self, erp_actor_type: str, connection: int = 7
                         ) -> list[dict[str, Any]]:
        """The new-actor fields (every mapped ERP key, none mandatory, unless set)."""
        key = (connection, erp_actor_type)
        if key not in self._new_fields:
            self._new_fields[key] = [new_field(m["ErpFieldKey"], rank=i) for i, m in
                                     enumerate(self.mapping(erp_actor_type, connection))]
        return self._new_fields[key]

    def add_link(self, crm_type: str, record_id: int, erp_actor_type: str, erp_key: str, *,
                 connection: int = 7) -> int:
        """A link SuperOffice holds already; returns its ErpInternalKey id."""
        with self._lock:
            return self._store_link(crm_type, record_id, {
                "ErpConnectionId": connection, "ErpKey": erp_key,
                "ErpActorType": erp_actor_type, "FieldValues": []})

    def _store_link(self, crm_type: str, record_id: int, link: dict[str, Any]) -> int:
        self._next_link_id += 1
        link = {**link, "ExternalKeyId": self._next_link_id,
                "InternalKeyId": 9000 + self._next_link_id}
        self.links[(crm_type, record_id)] = link
        return int(link["InternalKeyId"])

    def agent_calls(self, agent_method: str) -> list[Recorded]:
        return [r for r in self.requests if r.endpoint == f"Agents/ErpSync/{agent_method}"]

    def calls(self, endpoint: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests
                if r.endpoint == endpoint and (method is None or r.method == method)]

    def state_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.lower().startswith("/api/state/")]

    def token_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.lower() == "/login/common/oauth/tokens"]

    # --- the store -------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_contact(self, contact_id: int | None = None, *, name: str, updated: datetime | None
                    = None, created: datetime | None = None, **props: Any) -> int:
        """A ContactEntity. ``props`` are entity properties (``OrgNr``, ``Emails=[{"Value":
        ...}]``, ``Address={"Street": {...}}``, ``Category={"Value": ...}``)."""
        cid = contact_id or self._new_id()
        created = created or datetime(2020, 1, 1, tzinfo=UTC)
        self.contacts[cid] = {
            "ContactId": cid, "Name": name, "Department": "", "OrgNr": "", "Number1": "",
            "Number2": "", "Emails": [], "Phones": [], "Faxes": [], "Urls": [],
            "Address": None, "Country": None, "Category": None,
            "UpdatedDate": _iso(updated), "CreatedDate": _iso(created), **props}
        return cid

    def add_person(self, person_id: int | None = None, *, firstname: str, lastname: str,
                   contact_id: int | None = None, updated: datetime | None = None,
                   created: datetime | None = None, **props: Any) -> int:
        pid = person_id or self._new_id()
        created = created or datetime(2020, 1, 1, tzinfo=UTC)
        self.persons[pid] = {
            "PersonId": pid, "Firstname": firstname, "MiddleName": "", "Lastname": lastname,
            "Title": "", "PersonNumber": "", "BirthDate": EMPTY_DATE, "Position": None,
            "Emails": [], "OfficePhones": [], "MobilePhones": [], "PrivatePhones": [],
            "OtherPhones": [],
            "Contact": {"ContactId": contact_id} if contact_id else None,
            "UpdatedDate": _iso(updated), "CreatedDate": _iso(created), **props}
        return pid

    def add_project(self, project_id: int | None = None, *, name: str,
                    member_contact_ids: tuple[int, ...] = (), updated: datetime | None = None,
                    created: datetime | None = None, **props: Any) -> int:
        pid = project_id or self._new_id()
        created = created or datetime(2020, 1, 1, tzinfo=UTC)
        self.projects[pid] = {
            "ProjectId": pid, "Name": name, "ProjectNumber": "", "Description": "",
            "EndDate": EMPTY_DATE, "ProjectStatus": None,
            "ProjectMembers": [{"ContactId": c, "PersonId": 0} for c in member_contact_ids],
            "UpdatedDate": _iso(updated), "CreatedDate": _iso(created), **props}
        return pid

    def _store(self, entity: str) -> dict[int, Entity]:
        return {"Contact": self.contacts, "Person": self.persons,
                "Project": self.projects}[entity]

    # --- serving ---------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items()}
        ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
        body: Any
        if raw and ctype == "application/x-www-form-urlencoded":
            body = dict(parse_qsl(raw.decode("utf-8", "replace")))
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        rec = Recorded(h.command, parts.path, dict(parse_qsl(parts.query)), headers, body,
                       _norm_host(headers.get("Host", "")))
        with self._lock:
            self.requests.append(rec)
            hang = self._hangs.pop(0) if self._hangs else None
            failure = self._failures.pop(0) if self._failures else None
        if hang is not None:
            self._release.wait(hang)
        if failure is not None:
            payload = failure.body
            if payload is None:
                message = f"Fake failure {failure.status}"
                if failure.echo_auth:
                    message += (f" for Authorization={headers.get('Authorization')} "
                                f"SO-AppToken={headers.get('SO-AppToken')}")
                payload = _error_body("error_not_found", message, "FakeFailure") | {
                    "ErrorSource": "FakeSuperOffice"}
            self._send(h, failure.status, payload, failure.headers)
            return
        try:
            status, payload = self._route(rec)
        except FakeError as err:
            status, payload = err.status, err.payload()
        self._send(h, status, payload)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any,
              headers: Mapping[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _check_auth(self, headers: dict[str, str]) -> None:
        auth = headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        with self._lock:
            ok = ((self.token and scheme.lower() == "bearer" and value == self.token)
                  or (self.ticket and scheme.lower() == "soticket" and value == self.ticket
                      and headers.get("SO-AppToken") == self.app_token))
            if ok and self.token_uses is not None:
                if self.token_uses <= 0:
                    self._expired = True
                else:
                    self.token_uses -= 1
            if ok and not self._expired:
                return
        raise FakeError(401, "Authentication failed: missing, invalid or expired credentials",
                        "UnauthorizedAccessException")

    def _route(self, rec: Recorded) -> tuple[int, Any]:
        lower = rec.path.lower()
        if lower == f"/api/state/{self.tenant.lower()}" and rec.method == "GET":
            return 200, self._state()
        if lower.startswith("/api/state/"):
            raise FakeError(404, f"Unknown tenant {rec.path.rsplit('/', 1)[-1]}")
        if lower == "/login/common/oauth/tokens" and rec.method == "POST":
            return self._tokens(rec.body)
        prefix = f"/{self.tenant}/api/v1/"
        if not rec.path.startswith(prefix):
            raise FakeError(404, f"No such resource {rec.path}")
        if self.tenant_host is not None and rec.host != self.tenant_host:
            raise FakeError(421, "Wrong subdomain used to access tenant",
                            body=fixture("error_wrong_subdomain"))
        self._check_auth(rec.headers)
        segments = rec.path[len(prefix):].strip("/").split("/")
        names = {"contact": "Contact", "person": "Person", "project": "Project"}
        if len(segments) == 1 and segments[0].lower() in names and rec.method == "GET":
            return 200, self._collection(names[segments[0].lower()], rec)
        if ([s.lower() for s in segments] == ["archive", "dynamic"]
                and rec.method == "GET"):
            return 200, self._dynamic(rec)
        if (len(segments) == 2 and segments[0].lower() in names and segments[1].isdigit()
                and rec.method in ("GET", "PATCH")):
            entity = names[segments[0].lower()]
            return 200, self._entity(entity, int(segments[1]), rec)
        if (len(segments) == 3 and segments[0] == "Agents" and segments[1] == "ErpSync"
                and rec.method == "POST"):
            if not self.agent_granted:
                raise FakeError(403, "not granted", body=fixture("error_agent_not_granted"))
            return self._agent(segments[2], rec.body)
        raise FakeError(404, f"No such resource {rec.method} {rec.path}")

    # --- the state API and the token endpoint ----------------------------------------------

    def _state(self) -> dict[str, Any]:
        """``/api/state/<tenant>``, from the fixture, pointing at the current host."""
        body = fixture("tenant_state")
        if self.state_endpoint is not None:
            endpoint = self.state_endpoint
        elif self.tenant_host is not None:
            hostname = self.tenant_host.split(":")[0]
            scheme = "http" if hostname in ("127.0.0.1", "localhost") else "https"
            endpoint = f"{scheme}://{self.tenant_host}/{self.tenant}"
        else:
            endpoint = self.url
        valid = datetime.now(UTC) + timedelta(hours=1)
        body.update({"ContextIdentifier": self.tenant, "Endpoint": endpoint,
                     "Api": f"{endpoint}/api", "State": self.state,
                     "IsRunning": self.state in ("Running", "OnlineMaintenance"),
                     "ValidUntil": valid.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")})
        return body

    def _tokens(self, form: Any) -> tuple[int, Any]:
        """The refresh-token grant: the form's client and refresh token must match."""
        form = form if isinstance(form, dict) else {}
        if (form.get("grant_type") != "refresh_token" or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
                or form.get("refresh_token") != self.refresh_token):
            return 400, fixture("oauth_error_invalid_grant")
        body = fixture("oauth_refresh_response")
        body["access_token"] = self.issue_token()
        return 200, body

    # --- collections -----------------------------------------------------------------------

    def _rows(self, entity: str, select: list[str]) -> list[dict[str, Any]]:
        columns = COLUMNS[entity]
        rows = []
        for eid, ent in sorted(self._store(entity).items()):
            base = {"PrimaryKey": str(eid), "EntityName": entity.lower()}
            base.update({col: columns[col](ent) for col in columns})
            for col, cell in base.items():  # archives give no nulls: "" and year 1
                if cell is None:
                    base[col] = EMPTY_DATE if col in _DATE_COLUMNS else ""
            members = ent.get("ProjectMembers") or []
            if entity == "Project" and any(c.startswith("projectMember/") for c in select) \
                    and members:
                for member in members:
                    rows.append({**base, "projectMember/contactId": member.get("ContactId"),
                                 "projectMember/personId": member.get("PersonId")})
            else:
                rows.append(base)
        return rows

    def _page(self, rows: list[dict[str, Any]], rec: Recorded, keep: list[str],
              columns: Mapping[str, Any], fold: Callable[[str], str] = str
              ) -> dict[str, Any]:
        """Order, page and shape rows (``keep``: the output keys, in order, each the folded
        column it reads), with ``odata.nextLink`` while rows are left."""
        q = rec.query
        if q.get("$orderBy"):
            col, _, direction = q["$orderBy"].strip().partition(" ")
            if fold(col) not in columns:
                raise FakeError(400, f"Unknown column '{col}' in $orderBy")
            rows.sort(key=lambda r: (r.get(fold(col)) is None, r.get(fold(col))),
                      reverse=direction.lower() == "desc")
        try:
            skip = int(q.get("$skip", "0"))
            top = int(q["$top"]) if "$top" in q else len(rows)
        except ValueError as exc:
            raise FakeError(400, f"Bad $top/$skip: {exc}") from exc
        page = rows[skip: skip + top]
        value = [{k: row.get(fold(k)) for k in keep} for row in page]
        out: dict[str, Any] = {"odata.metadata": f"{self.root}/{self.tenant}/api/v1/archive/"
                                                 "$metadata", "odata.nextLink": None,
                               "value": value}
        if self.next_links and skip + top < len(rows):
            nxt = dict(q, **{"$skip": str(skip + top)})
            out["odata.nextLink"] = (f"{self.next_link_base or self.root}{rec.path}?"
                                     f"{urlencode(nxt)}")
        return out

    @staticmethod
    def _offsets(rows: list[dict[str, Any]], rec: Recorded, columns: set[str]) -> None:
        """``SO-TimeZone: ..., includeTZOffset``: created/updated dates tagged as UTC."""
        if "includetzoffset" not in rec.headers.get("SO-TimeZone", "").lower():
            return
        for row in rows:
            for col in columns & set(row):
                if not _no_date(row[col]) and not str(row[col]).endswith("Z"):
                    row[col] = f"{row[col]}Z"

    def _collection(self, entity: str, rec: Recorded) -> dict[str, Any]:
        q = rec.query
        columns = COLUMNS[entity]
        select = [c.strip() for c in q.get("$select", "").split(",") if c.strip()]
        for col in select:
            if col not in columns:
                raise FakeError(400, f"Unknown column '{col}' in $select for {entity}")
        with self._lock:
            rows = self._rows(entity, select)
        if q.get("$filter"):
            rows = _filter(rows, q["$filter"], columns)
        out = self._page(rows, rec, ["PrimaryKey", "EntityName", *(select or list(columns))],
                         {**columns, "PrimaryKey": None, "EntityName": None})
        self._offsets(out["value"], rec, {"updatedDate", "registeredDate",
                                          "personUpdatedDate", "personRegisteredDate"})
        return out

    def _dynamic(self, rec: Recorded) -> dict[str, Any]:
        """The Dynamic archive over the link tables: ``erpexternalkey.<column>`` and its
        ``ErpInternalKeyId.<column>`` traversal; names case-insensitive."""
        q = rec.query
        select = [c.strip() for c in q.get("$select", "").split(",") if c.strip()]
        if not select:
            raise FakeError(400, "The Dynamic archive needs $select")
        for col in select:
            if col.lower() not in _LINK_COLUMNS:
                raise FakeError(400, f"Unknown column '{col}' in $select for Dynamic")
        with self._lock:
            rows = []
            for (crm_type, record_id), link in sorted(self.links.items(),
                                                      key=lambda i: i[1]["ExternalKeyId"]):
                ext = link["ExternalKeyId"]
                rows.append(dict(zip(("primarykey", "entityname", *_LINK_COLUMNS), (
                    str(ext), "erpexternalkey", ext, link["ErpKey"],
                    _ERP_TYPE_NUMBER[link["ErpActorType"]], link["ErpConnectionId"],
                    link["InternalKeyId"], record_id, _TABLE_ID[crm_type]), strict=True)))
        known = dict.fromkeys((*_LINK_COLUMNS, "primarykey", "entityname"))
        if q.get("$filter"):
            rows = _filter(rows, q["$filter"], known, str.lower)
        return self._page(rows, rec, ["PrimaryKey", "EntityName", *select], known, str.lower)

    # --- entities --------------------------------------------------------------------------

    def _entity(self, entity: str, eid: int, rec: Recorded) -> Entity:
        with self._lock:
            store = self._store(entity)
            if eid not in store:
                raise FakeError(404, f"{entity} id {eid} not found", "SoNotFoundException")
            if rec.method == "GET":
                return copy.deepcopy(store[eid])
            ctype = rec.headers.get("Content-Type", "").split(";")[0].strip().lower()
            working = copy.deepcopy(store[eid])
            if isinstance(rec.body, list) and ctype in ("application/json-patch+json",
                                                        "application/json"):
                _json_patch(working, rec.body)
            elif isinstance(rec.body, dict) and ctype in ("application/merge-patch+json",
                                                          "application/json"):
                _merge(working, rec.body)
            else:
                raise FakeError(400, f"Cannot apply a {type(rec.body).__name__} as {ctype!r}")
            working[_ID[entity]] = eid
            working["UpdatedDate"] = _iso(self.clock())
            store[eid] = working
            return copy.deepcopy(working)

    # --- the ErpSync agent -----------------------------------------------------------------

    @staticmethod
    def _need(body: Any, spec: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise FakeError(400, "Request body must be a JSON object")
        for key, kind in spec.items():
            if key not in body:
                raise FakeError(400, f"Missing property '{key}'")
            if not isinstance(body[key], kind) or (isinstance(body[key], bool) and kind is int):
                raise FakeError(400, f"Property '{key}' has the wrong type")
        return body

    def _record_exists(self, crm_type: str, record_id: int) -> None:
        if crm_type not in _CRM_ACTOR_TYPES:
            raise FakeError(400, f"Unknown CrmActorType '{crm_type}'")
        if record_id not in self._store(crm_type):
            raise FakeError(404, f"{crm_type} id {record_id} not found", "SoNotFoundException")

    def _connection(self, connection_id: int) -> dict[str, Any]:
        conn = self.erp_connections.get(connection_id)
        if conn is None or conn.get("Deleted"):
            raise FakeError(404, f"ERP connection id {connection_id} not found",
                            "SoNotFoundException")
        return conn

    def _already_linked(self, conn: int, crm_type: str, record_id: int, erp_type: str,
                        erp_key: str | None) -> None:
        """The link tables' unique indexes: one link per CRM record and connection, one CRM
        record per (connection, actor type, ERP key). The real failure shape is not
        documented; this one is a choice (docs/SUPEROFFICE.md)."""
        mine = self.links.get((crm_type, record_id))
        clash = mine is not None and mine["ErpConnectionId"] == conn
        if not clash and erp_key is not None:
            clash = any(v["ErpConnectionId"] == conn and v["ErpActorType"] == erp_type
                        and v["ErpKey"] == erp_key and k != (crm_type, record_id)
                        for k, v in self.links.items())
        if clash:
            message = (f"{crm_type} {record_id} is already connected to an ERP actor in ERP "
                       f"connection {conn}")
            raise FakeError(400, message, body=_error_body("error_already_linked", message))

    def _agent(self, method: str, body: Any) -> tuple[int, Any]:
        """Check the documented body, then act, unless an override answers an error."""
        with self._lock:
            if method == "ConnectActor":
                b = self._need(body, {"ErpConnectionId": int, "CrmRecordId": int,
                                      "CrmActorType": str, "ErpKey": str, "ErpActorType": str,
                                      "FieldValues": list})
                self._record_exists(b["CrmActorType"], b["CrmRecordId"])
                self._connection(b["ErpConnectionId"])
                if b["ErpActorType"] not in _ERP_ACTOR_TYPES or not b["ErpKey"]:
                    raise FakeError(400, "Bad ErpActorType or ErpKey")
                known = {m["CrmFieldKey"] for m in self.mapping(b["ErpActorType"],
                                                                b["ErpConnectionId"])}
                for item in b["FieldValues"]:
                    if not isinstance(item, dict) or "CrmFieldKey" not in item \
                            or "Value" not in item:
                        raise FakeError(400, "FieldValues items need CrmFieldKey and Value")
                    if item["CrmFieldKey"] not in known:
                        raise FakeError(400, f"Unknown CrmFieldKey '{item['CrmFieldKey']}' "
                                             f"for {b['ErpActorType']} in ERP connection "
                                             f"{b['ErpConnectionId']}")
                self._already_linked(b["ErpConnectionId"], b["CrmActorType"],
                                     b["CrmRecordId"], b["ErpActorType"], b["ErpKey"])
            elif method == "BreakActorLink":
                b = self._need(body, {"ErpConnectionId": int, "CrmRecordId": int,
                                      "CrmActorType": str})
                self._record_exists(b["CrmActorType"], b["CrmRecordId"])
            elif method == "CreateErpActorFromCrm":
                b = self._need(body, {"ConnectionId": int, "CrmEntityId": int,
                                      "ErpActorType": str, "CrmActorType": str,
                                      "ErpFieldKeyValues": dict})
                self._record_exists(b["CrmActorType"], b["CrmEntityId"])
                self._connection(b["ConnectionId"])
                if b["ErpActorType"] not in _ERP_ACTOR_TYPES:
                    raise FakeError(400, f"Unknown ErpActorType '{b['ErpActorType']}'")
                wanted = {f["FieldKey"]: f for f in self.new_actor_fields(b["ErpActorType"],
                                                                          b["ConnectionId"])}
                for key in b["ErpFieldKeyValues"]:
                    if key not in wanted:
                        raise FakeError(400, f"'{key}' is not a field of a new "
                                             f"{b['ErpActorType']}")
                for key, info in wanted.items():
                    if info["Access"] == "Mandatory" and not str(
                            b["ErpFieldKeyValues"].get(key) or "").strip():
                        raise FakeError(400, f"Mandatory field '{key}' has no value")
                self._already_linked(b["ConnectionId"], b["CrmActorType"], b["CrmEntityId"],
                                     b["ErpActorType"], None)
            elif method == "ForceResync":
                b = self._need(body, {"ErpConnectionId": int, "InternalKeyIds": list})
            elif method == "GetAllConnections":
                b = body if isinstance(body, dict) else {}
            elif method == "GetConnection":
                b = self._need(body, {"ErpConnectionId": int})
                self._connection(b["ErpConnectionId"])
            elif method == "GetActorTypeMapping":
                b = self._need(body, {"ErpConnectionId": int, "ActorType": str})
                self._connection(b["ErpConnectionId"])
            elif method == "GetFieldsForNewErpActor":
                b = self._need(body, {"ErpConnectionId": int, "ErpActorType": str})
                self._connection(b["ErpConnectionId"])
            else:
                raise FakeError(404, f"No agent method ErpSync/{method}")
            override = self._override(method)
            if override is not None and self._is_failure(override):
                return override.status, override.body
            result = self._act(method, b)
        if override is not None:
            return override.status, override.body
        return result

    def _act(self, method: str, b: dict[str, Any]) -> tuple[int, Any]:
        if method == "ConnectActor":
            self._store_link(b["CrmActorType"], b["CrmRecordId"], {
                "ErpConnectionId": b["ErpConnectionId"], "ErpKey": b["ErpKey"],
                "ErpActorType": b["ErpActorType"], "FieldValues": b["FieldValues"]})
            return 204, None
        if method == "BreakActorLink":
            link = self.links.get((b["CrmActorType"], b["CrmRecordId"]))
            found = bool(link and link["ErpConnectionId"] == b["ErpConnectionId"])
            if found:
                del self.links[(b["CrmActorType"], b["CrmRecordId"])]
            return 200, found
        if method == "CreateErpActorFromCrm":
            self._next_key += 1
            key = f"ERP-{self._next_key}"
            self._store_link(b["CrmActorType"], b["CrmEntityId"], {
                "ErpConnectionId": b["ConnectionId"], "ErpKey": key,
                "ErpActorType": b["ErpActorType"], "FieldValues": b["ErpFieldKeyValues"]})
            return 200, key if self.create_returns == "key" else True
        if method == "GetAllConnections":
            return 200, [{**copy.deepcopy(c), "ErpConnectionId": cid, "ConfigFields": None}
                         for cid, c in sorted(self.erp_connections.items())
                         if b.get("IncludeDeleted") or not c.get("Deleted")]
        if method == "GetConnection":
            return 200, {**copy.deepcopy(self.erp_connections[b["ErpConnectionId"]]),
                         "ErpConnectionId": b["ErpConnectionId"]}
        if method == "GetActorTypeMapping":
            out = fixture("erpsync_get_actor_type_mapping")
            out.update({"ErpConnectionId": b["ErpConnectionId"], "ActorTypeErp": b["ActorType"],
                        "ActorTypeCrm": _CRM_FOR_ERP.get(b["ActorType"], "Contact"),
                        "FieldMappings": copy.deepcopy(self.mapping(b["ActorType"],
                                                                    b["ErpConnectionId"]))})
            return 200, out
        if method == "GetFieldsForNewErpActor":
            return 200, copy.deepcopy(self.new_actor_fields(b["ErpActorType"],
                                                            b["ErpConnectionId"]))
        return 200, {"IsOk": True, "UserExplanation": "", "TechExplanation": "",
                     "ErrorCode": "", "Changes": None, "Status": "Ok", "TableRight": None,
                     "FieldProperties": {}}

    @staticmethod
    def _is_failure(override: _Override) -> bool:
        """An override that says the call did not happen: an HTTP error, ``false``, or a
        PluginResponse with IsOk false or Status Error."""
        body = override.body
        if override.status >= 300 or body is False:
            return True
        return isinstance(body, dict) and (body.get("IsOk") is False
                                           or body.get("Status") == "Error")

    def _override(self, method: str) -> _Override | None:
        queue = self._agent_overrides.get(method)
        return queue.pop(0) if queue else None


class LoopbackAdapter(HTTPAdapter):
    """A transport that sends every ``https://<host>/...`` request to the fake on 127.0.0.1
    over plain HTTP, keeping ``<host>`` (as spelt, port included) in the ``Host`` header. Why:
    real tenant hosts (``sod2.superoffice.com``), their explicit ``:443`` and the default
    trusted domains can then be exercised with real HTTP, without DNS or TLS."""

    def __init__(self, fake: FakeSuperOffice) -> None:
        super().__init__()
        self._netloc = urlsplit(fake.root).netloc

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(("http", self._netloc, parts.path, parts.query, ""))
        return super().send(request, **kwargs)


def loopback_session(fake: FakeSuperOffice) -> requests.Session:
    """A session whose ``https://`` requests reach ``fake`` (:class:`LoopbackAdapter`)."""
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(fake))
    return session


#: The bearer token the tests' connectors send (the fake accepts it until told otherwise).
TOKEN = "fake-bearer-token"


def connector(fake: FakeSuperOffice, **kwargs: Any) -> SuperOfficeConnector:
    """A connector to ``fake``: bearer ``TOKEN`` (unless a ticket is given), ERP connection
    7, a 5 s timeout; ``kwargs`` override."""
    if "ticket" not in kwargs:
        kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("erp_connection_id", 7)
    kwargs.setdefault("timeout", 5.0)
    return SuperOfficeConnector(fake.url, **kwargs)
