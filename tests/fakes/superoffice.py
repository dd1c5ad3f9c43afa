"""A FAKE SuperOffice REST server, for tests only.

It is a fake because no SuperOffice can run here: SuperOffice is a hosted, licensed product
with no local or container edition. It is built from the request and response shapes that the
domain guide documents (``/work/shared/guide/domain.md``, sections d2 and f, and the public
SuperOffice reference pages it cites), and it lives in ``tests/`` only, never in the product.
Passing against it proves that the connector speaks the documented shapes; it proves nothing
about what a real tenant does where the documentation is silent (``docs/SUPEROFFICE.md``).

What it serves (under ``/<tenant>/api/v1``):

- ``GET Contact | Person | Project``: archive rows ``{PrimaryKey, EntityName, <column>: ...}``
  for the documented archive columns, with ``$select`` (unknown columns: 400), ``$filter``
  (``<col> eq|ne|gt|ge|lt|le N|'text'``, dates ``after|before|date`` on the date part and
  ``afterOrEqual|afterTime`` on the full time, joined by ``and``/``or``), ``$orderBy``,
  ``$top``/``$skip`` and ``odata.nextLink``. Selecting a ``projectMember/`` column gives one
  row per project member, as an archive join does.
- ``GET|PATCH <Entity>/<id>``: the entity; PATCH takes a JSON Merge Patch or a JSON Patch
  (``add``/``replace``/``remove``/``test``; paths case-insensitive). As documented, a merge patch
  cannot set a property under a currently-null parent (400); a JSON Patch ``replace`` can.
- ``POST Agents/ErpSync/ConnectActor`` (204), ``BreakActorLink`` (true/false),
  ``CreateErpActorFromCrm`` (true, as documented; or the new key when ``create_returns="key"``),
  ``ForceResync`` (a PluginResponse), with their documented bodies checked (400 otherwise).
- Errors as ``{Error, ErrorType, ErrorMessage, ErrorSource}`` with an HTTP status; 401 unless
  ``Authorization: Bearer <token>`` or ``Authorization: SOTicket <ticket>`` plus
  ``SO-AppToken: <app token>``.

Test controls: :attr:`FakeSuperOffice.requests` records every request; :meth:`fail_next`,
:meth:`hang_next` and :meth:`answer_next` make the next calls fail, hang or answer something
else (a Warn PluginResponse, say).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Entity = dict[str, Any]


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None

    @property
    def endpoint(self) -> str:
        """The path after ``/api/v1/`` (``Contact``, ``Agents/ErpSync/ConnectActor``)."""
        return self.path.split("/api/v1/", 1)[-1]


class FakeError(Exception):
    """An error answer: HTTP status and SuperOffice's error body."""

    def __init__(self, status: int, message: str, error_type: str = "SoException") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _iso(dt: datetime | None) -> str | None:
    """Dates as the API sends them: ISO, UTC, no offset."""
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None).isoformat()


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
_CLAUSE = re.compile(r"^\s*([\w/]+)\s+(\w+)\s+(?:'([^']*)'|(-?\d+))\s*$")


def _parse_dt(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _match(row: dict[str, Any], column: str, op: str, value: str | int) -> bool:
    """One ``$filter`` clause against a row."""
    cell = row.get(column)
    if column in _DATE_COLUMNS:
        if not cell:
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


def _filter(rows: list[dict[str, Any]], expression: str, columns: dict[str, Getter]
            ) -> list[dict[str, Any]]:
    """``A and B or C and D``: ``and`` binds tighter than ``or``; no parentheses."""
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression.strip()):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            m = _CLAUSE.match(clause)
            if not m:
                raise FakeError(400, f"Cannot parse filter clause {clause!r}")
            column, op, text, number = m.groups()
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


@dataclass
class _Override:
    status: int
    body: Any = None
    echo_auth: bool = False


@dataclass
class FakeSuperOffice:
    """The fake tenant. Use as a context manager: ``with FakeSuperOffice() as so: so.url``."""

    tenant: str = "Cust12345"
    token: str | None = "fake-bearer-token"
    ticket: str | None = None
    app_token: str | None = None
    #: False: never send ``odata.nextLink`` (pages only by $top/$skip).
    next_links: bool = True
    #: Where nextLinks point; None: this server. A foreign base tests that it is not followed.
    next_link_base: str | None = None
    #: "bool": CreateErpActorFromCrm answers ``true`` (documented); "key": the new ErpKey.
    create_returns: str = "bool"
    clock: Callable[[], datetime] = field(
        default=lambda: datetime.now(UTC).replace(microsecond=0))

    contacts: dict[int, Entity] = field(default_factory=dict)
    persons: dict[int, Entity] = field(default_factory=dict)
    projects: dict[int, Entity] = field(default_factory=dict)
    #: (CrmActorType, record id) -> the link as ConnectActor/CreateErpActorFromCrm stored it.
    links: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._failures: list[_Override | None] = []
        self._hangs: list[float] = []
        self._agent_overrides: dict[str, list[_Override]] = {}
        self._next_id = 1000
        self._next_key = 5000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeSuperOffice:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def root(self) -> str:
        assert self._server, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The tenant base URL, as a connector is configured with."""
        return f"{self.root}/{self.tenant}"

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

    def hang_next(self, n: int = 1, seconds: float = 3.0) -> None:
        """Let the next ``n`` requests wait ``seconds`` (or until stop) before answering."""
        with self._lock:
            self._hangs.extend([seconds] * n)

    def answer_next(self, agent_method: str, status: int, body: Any = None) -> None:
        """The next call of ``Agents/ErpSync/<agent_method>`` answers this instead (after its
        body was checked)."""
        with self._lock:
            self._agent_overrides.setdefault(agent_method, []).append(_Override(status, body))

    def agent_calls(self, agent_method: str) -> list[Recorded]:
        return [r for r in self.requests if r.endpoint == f"Agents/ErpSync/{agent_method}"]

    def calls(self, endpoint: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests
                if r.endpoint == endpoint and (method is None or r.method == method)]

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
            "Title": "", "PersonNumber": "", "BirthDate": None, "Position": None,
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
            "EndDate": None, "ProjectStatus": None,
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
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in h.headers.items()}
        rec = Recorded(h.command, parts.path, dict(parse_qsl(parts.query)), headers, body)
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
                payload = {"Error": message, "ErrorType": "FakeFailure",
                           "ErrorMessage": message, "ErrorSource": "FakeSuperOffice"}
            self._send(h, failure.status, payload)
            return
        try:
            self._check_auth(headers)
            status, payload = self._route(rec)
        except FakeError as err:
            status, payload = err.status, {"Error": err.message, "ErrorType": err.error_type,
                                           "ErrorMessage": err.message,
                                           "ErrorSource": "FakeSuperOffice"}
        self._send(h, status, payload)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _check_auth(self, headers: dict[str, str]) -> None:
        auth = headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if self.token and scheme.lower() == "bearer" and value == self.token:
            return
        if (self.ticket and scheme.lower() == "soticket" and value == self.ticket
                and headers.get("SO-AppToken") == self.app_token):
            return
        raise FakeError(401, "Authentication failed: missing or invalid credentials",
                        "UnauthorizedAccessException")

    def _route(self, rec: Recorded) -> tuple[int, Any]:
        prefix = f"/{self.tenant}/api/v1/"
        if not rec.path.startswith(prefix):
            raise FakeError(404, f"No such resource {rec.path}")
        segments = rec.path[len(prefix):].strip("/").split("/")
        names = {"contact": "Contact", "person": "Person", "project": "Project"}
        if len(segments) == 1 and segments[0].lower() in names and rec.method == "GET":
            return 200, self._collection(names[segments[0].lower()], rec)
        if (len(segments) == 2 and segments[0].lower() in names and segments[1].isdigit()
                and rec.method in ("GET", "PATCH")):
            entity = names[segments[0].lower()]
            return 200, self._entity(entity, int(segments[1]), rec)
        if (len(segments) == 3 and segments[0] == "Agents" and segments[1] == "ErpSync"
                and rec.method == "POST"):
            return self._agent(segments[2], rec.body)
        raise FakeError(404, f"No such resource {rec.method} {rec.path}")

    # --- collections -----------------------------------------------------------------------

    def _rows(self, entity: str, select: list[str]) -> list[dict[str, Any]]:
        columns = COLUMNS[entity]
        rows = []
        for eid, ent in sorted(self._store(entity).items()):
            base = {"PrimaryKey": eid, "EntityName": entity.lower()}
            base.update({col: columns[col](ent) for col in columns})
            members = ent.get("ProjectMembers") or []
            if entity == "Project" and any(c.startswith("projectMember/") for c in select) \
                    and members:
                for member in members:
                    rows.append({**base, "projectMember/contactId": member.get("ContactId"),
                                 "projectMember/personId": member.get("PersonId")})
            else:
                rows.append(base)
        return rows

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
        if q.get("$orderBy"):
            col, _, direction = q["$orderBy"].strip().partition(" ")
            if col not in columns:
                raise FakeError(400, f"Unknown column '{col}' in $orderBy")
            rows.sort(key=lambda r: (r.get(col) is None, r.get(col)),
                      reverse=direction.lower() == "desc")
        try:
            skip = int(q.get("$skip", "0"))
            top = int(q["$top"]) if "$top" in q else len(rows)
        except ValueError as exc:
            raise FakeError(400, f"Bad $top/$skip: {exc}") from exc
        page = rows[skip: skip + top]
        keep = ["PrimaryKey", "EntityName", *(select or list(columns))]
        value = [{k: row.get(k) for k in keep} for row in page]
        out: dict[str, Any] = {"odata.metadata": f"{self.root}/{self.tenant}/api/v1/archive"
                                                 "$metadata", "value": value}
        if self.next_links and skip + top < len(rows):
            nxt = dict(q, **{"$skip": str(skip + top)})
            out["odata.nextLink"] = (f"{self.next_link_base or self.root}{rec.path}?"
                                     f"{urlencode(nxt)}")
        return out

    # --- entities --------------------------------------------------------------------------

    def _entity(self, entity: str, eid: int, rec: Recorded) -> Entity:
        with self._lock:
            store = self._store(entity)
            if eid not in store:
                raise FakeError(404, f"{entity} id {eid} not found", "NotFoundException")
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
            raise FakeError(404, f"{crm_type} id {record_id} not found", "NotFoundException")

    def _agent(self, method: str, body: Any) -> tuple[int, Any]:
        """Check the documented body, then act, unless an override answers an error."""
        with self._lock:
            if method == "ConnectActor":
                b = self._need(body, {"ErpConnectionId": int, "CrmRecordId": int,
                                      "CrmActorType": str, "ErpKey": str, "ErpActorType": str,
                                      "FieldValues": list})
                self._record_exists(b["CrmActorType"], b["CrmRecordId"])
                if b["ErpActorType"] not in _ERP_ACTOR_TYPES or not b["ErpKey"]:
                    raise FakeError(400, "Bad ErpActorType or ErpKey")
                for item in b["FieldValues"]:
                    if not isinstance(item, dict) or "CrmFieldKey" not in item \
                            or "Value" not in item:
                        raise FakeError(400, "FieldValues items need CrmFieldKey and Value")
            elif method == "BreakActorLink":
                b = self._need(body, {"ErpConnectionId": int, "CrmRecordId": int,
                                      "CrmActorType": str})
                self._record_exists(b["CrmActorType"], b["CrmRecordId"])
            elif method == "CreateErpActorFromCrm":
                b = self._need(body, {"ConnectionId": int, "CrmEntityId": int,
                                      "ErpActorType": str, "CrmActorType": str,
                                      "ErpFieldKeyValues": dict})
                self._record_exists(b["CrmActorType"], b["CrmEntityId"])
                if b["ErpActorType"] not in _ERP_ACTOR_TYPES:
                    raise FakeError(400, f"Unknown ErpActorType '{b['ErpActorType']}'")
            elif method == "ForceResync":
                b = self._need(body, {"ErpConnectionId": int, "InternalKeyIds": list})
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
            self.links[(b["CrmActorType"], b["CrmRecordId"])] = {
                "ErpConnectionId": b["ErpConnectionId"], "ErpKey": b["ErpKey"],
                "ErpActorType": b["ErpActorType"], "FieldValues": b["FieldValues"]}
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
            self.links[(b["CrmActorType"], b["CrmEntityId"])] = {
                "ErpConnectionId": b["ConnectionId"], "ErpKey": key,
                "ErpActorType": b["ErpActorType"], "FieldValues": b["ErpFieldKeyValues"]}
            return 200, key if self.create_returns == "key" else True
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

