"""SuperOffice CRM over its REST Web API: read companies, persons and projects, write their
fields, and link, unlink and create ERP actors through the ErpSync agent (domain guide, d2, f).

Why this module is shaped the way it is:

- **Reading** goes through the archive-backed collections ``GET /api/v1/Contact | Person |
  Project`` (archives ``SimpleContact``, ``Person`` and ``FindProject``) with ``$select`` of the
  documented archive columns, ordered by the primary key and paged with ``$top``/``$skip``,
  following ``odata.nextLink``. When a full page comes back without a nextLink the next page is
  asked for by ``$skip`` all the same: a collection cut short after its first page must not look
  like a complete one.
- **Since** uses only documented date operators: the archive's ``updatedDate`` columns are of
  restriction type *date* (date part only; ``before``, ``after``, ``date``, ``dateBetween``).
  ``afterOrEqual`` is an operator of the ERP connector contract (d1), not of the archives. So
  the filter asks for ``updated after (since - 2 days) or registered after (since - 2 days)``
  (two days cover any server time zone; ``registered`` because a record never edited since it
  was created may carry no updated date) and the exact cut is made here, in UTC.
- **Writing** is ``PATCH /api/v1/<Entity>/<id>``: a JSON Merge Patch when only top-level text
  properties change; a JSON Patch (RFC 6902) as soon as an address part or a phone/e-mail/URL
  changes, because a merge patch cannot set a property under a currently-null parent (guide f)
  and would replace a whole ``Emails``/``Phones`` array. For those arrays the entity is read
  first, so the first entry is replaced when there is one and added when there is none (other
  entries are kept). List fields (category, country, position, project status) and a record's
  company are not written: they need list ids that nothing here verifies; the answer warns.
- **Links** go through ``POST /api/v1/Agents/ErpSync/<Method>``. Agents answer ``204`` / ``true``
  / ``false`` or a ``PluginResponse``; its ``Status`` is mapped, so a ``Warn`` is a warning
  answer and never an empty success.
- **Failures** never raise: every remote failure is an :class:`Answer` error, retryable for
  timeouts, lost connections, 5xx, 408 and 429. Credentials are sent per request (a session
  passed in is never changed), redirects are not followed and a nextLink to another host is
  refused, so the token, ticket and app token only ever reach the configured host; every text
  that leaves this module is scrubbed of them.

What is verified only against the fake server (``tests/fakes/superoffice.py``) and what must be
checked on a real tenant is listed in ``docs/SUPEROFFICE.md``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests

from erpdata.connectors.base import Answer, CrmConnector, CrmRecord, ErpActor, State
from erpdata.schema import ACTOR_TYPES, CRM_ACTOR_TYPE, KINDS, fields

log = logging.getLogger(__name__)

#: erpdata's lower-case actor types -> SuperOffice ``ErpActorType`` names (guide a). Employee
#: and Sale exist in SuperOffice but ERP Sync does not sync them, so erpdata has no such type.
ERP_ACTOR_TYPE: dict[str, str] = {
    "customer": "Customer",
    "supplier": "Supplier",
    "partner": "Partner",
    "person": "Person",
    "project": "Project",
}

_AGENT = "Agents/ErpSync"
_RETRYABLE_STATUS = frozenset({408, 429})


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


# --- small helpers -----------------------------------------------------------------------------

def _parse_datetime(value: Any) -> datetime | None:
    """An ISO date-time from SuperOffice as aware UTC; naive values are UTC (the API documents
    its dates in UTC). Year 1 and the 1899/1900 placeholders mean "no date"."""
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


_US_TEXT = re.compile(r'US:"([^"]*)"')


def _localised(text: Any) -> str:
    """The English part of a multi-language explanation (``US:"…"NO:"…"``), else the text."""
    if not isinstance(text, str):
        return ""
    match = _US_TEXT.search(text)
    return match.group(1) if match else text


def _sync_key(kind: str, name: str) -> str | None:
    """The SuperOffice sync field key of a canonical field (``vatno`` -> ``VATNO``); a name
    that is not a canonical field is taken as a key already; structural fields have none."""
    for f in fields("crm", kind):  # type: ignore[arg-type]
        if f.name == name:
            return f.sync_key
    return name


def _label(kind: str, name: str) -> str:
    for f in fields("crm", kind):  # type: ignore[arg-type]
        if f.name == name:
            return f.label
    return name


class SuperOfficeConnector(CrmConnector):
    """One SuperOffice tenant and one of its ERP connections (``erp_connection_id``).

    ``url`` is the tenant base (``https://sod.superoffice.com/Cust12345``); calls go to
    ``{url}/api/v1/...``. Authenticate with ``token`` (``Authorization: Bearer``) or with
    ``ticket`` and ``app_token`` (``Authorization: SOTicket`` plus ``SO-AppToken``).
    """

    type = "superoffice"

    def __init__(self, url: str, *, token: str | None = None, ticket: str | None = None,
                 app_token: str | None = None, erp_connection_id: int, verify: bool = True,
                 timeout: float = 30.0, session: requests.Session | None = None,
                 page_size: int = 200) -> None:
        base = url.strip().rstrip("/")
        if base.lower().endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("SuperOffice url must be http(s)://host/tenant")
        if token and ticket:
            raise ValueError("give either a token or a ticket, not both")
        if not token and not (ticket and app_token):
            raise ValueError("give a token, or a ticket together with an app token")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.url = base
        self.erp_connection_id = int(erp_connection_id)
        self.verify = verify
        self.timeout = timeout
        self.page_size = page_size
        self._api = f"{base}/api/v1"
        self._origin = (parts.scheme, parts.netloc.lower())
        self._token = token
        self._ticket = ticket
        self._app_token = app_token
        self._secrets = tuple(s for s in (token, ticket, app_token) if s)
        self._own_session = session is None
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        auth = "bearer" if self._token else "ticket"
        return (f"SuperOfficeConnector({self.url!r}, auth={auth}, "
                f"erp_connection_id={self.erp_connection_id})")

    # --- plumbing --------------------------------------------------------------------------

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        """Headers of one request. Built per request so that a session passed in never holds
        the credentials."""
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        else:
            headers["Authorization"] = f"SOTicket {self._ticket}"
            headers["SO-AppToken"] = str(self._app_token)
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _answer(self, state: State, value: Any, user: str, tech: str = "", code: str = "",
                retryable: bool = False) -> Answer[Any]:
        """Every answer with text goes through here, so that no secret ever leaves."""
        return Answer(state, value, self._redact(user), self._redact(tech), code, retryable)

    def _fail(self, user: str, tech: str = "", *, code: str = "", retryable: bool = False
              ) -> Answer[Any]:
        return self._answer("error", None, user, tech, code, retryable)

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc.lower()) == self._origin

    def _call(self, method: str, url: str, what: str, *,
              params: Mapping[str, str] | None = None, body: Any = None,
              content_type: str | None = None) -> Answer[Any]:
        """One HTTP call; the value is the parsed JSON body (None when empty). ``what`` names
        the action for the steward ("reading companies")."""
        if not self._same_origin(url):
            return self._fail(f"Not {what}: the address is not on the configured SuperOffice "
                              "host, so the credentials were not sent",
                              f"{method} refused for a foreign host", code="FOREIGN_HOST")
        path = urlsplit(url).path
        data = None if body is None else json.dumps(body).encode("utf-8")
        if body is not None and content_type is None:
            content_type = "application/json"
        try:
            resp = self._session.request(
                method, url, params=params, data=data, headers=self._headers(content_type),
                timeout=self.timeout, verify=self.verify, allow_redirects=False)
        except requests.Timeout as exc:
            return self._fail(f"SuperOffice did not answer in time while {what}",
                              f"{method} {path}: timeout after {self.timeout:g} s "
                              f"({type(exc).__name__})", code="TIMEOUT", retryable=True)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            return self._fail(f"Could not reach SuperOffice while {what}",
                              f"{method} {path}: {type(exc).__name__}: {exc}",
                              code="CONNECTION", retryable=True)
        except requests.RequestException as exc:
            return self._fail(f"The request to SuperOffice failed while {what}",
                              f"{method} {path}: {type(exc).__name__}: {exc}", code="REQUEST")
        log.debug("superoffice %s %s -> %s", method, path, resp.status_code)
        if 300 <= resp.status_code < 400:
            where = urlsplit(resp.headers.get("Location", "")).netloc or "elsewhere"
            return self._fail(
                f"SuperOffice redirected to {where} while {what}; redirects are not followed "
                "so the credentials stay on the configured host: check the tenant URL",
                f"{method} {path} -> {resp.status_code}", code=f"HTTP_{resp.status_code}")
        if resp.status_code >= 400:
            return self._http_error(resp, method, path, what)
        if not resp.content or not resp.content.strip():
            return Answer.good(None)
        try:
            return Answer.good(resp.json())
        except ValueError:
            snippet = resp.text[:200]
            return self._fail(f"SuperOffice gave an answer that is not JSON while {what}",
                              f"{method} {path} -> {resp.status_code}: {snippet!r}",
                              code="NOT_JSON")

    def _http_error(self, resp: requests.Response, method: str, path: str, what: str
                    ) -> Answer[Any]:
        """An HTTP error as an answer, from SuperOffice's ``{Error, ErrorType, ErrorMessage,
        ErrorSource}`` body where there is one."""
        status = resp.status_code
        message = error_type = source = ""
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            message = str(payload.get("ErrorMessage") or payload.get("Error") or "")
            error_type = str(payload.get("ErrorType") or "")
            source = str(payload.get("ErrorSource") or "")
        elif resp.text:
            message = resp.text.strip()[:200]
        retryable = status >= 500 or status in _RETRYABLE_STATUS
        if status == 401:
            user = (f"SuperOffice refused the credentials while {what} (401): check the token, "
                    "or the ticket and app token")
        elif status == 403:
            user = (f"SuperOffice denied access while {what} (403): the user or app lacks the "
                    "right (the ErpSync agent must be granted to the app in Online)")
        else:
            reason = f": {message}" if message else ""
            user = f"SuperOffice answered {status} {resp.reason or ''} while {what}{reason}"
        tech = f"{method} {path} -> {status}"
        if error_type or source:
            tech += f" {error_type} {source}".rstrip()
        if message and status in (401, 403):
            tech += f": {message}"
        return self._fail(" ".join(user.split()), tech, code=f"HTTP_{status}",
                          retryable=retryable)

    def _agent(self, method: str, body: Mapping[str, Any], what: str) -> Answer[Any]:
        return self._call("POST", f"{self._api}/{_AGENT}/{method}", what, body=dict(body))

    def _agent_outcome(self, answer: Answer[Any], what: str, *, false_state: State
                       ) -> Answer[bool]:
        """An agent's answer as ``Answer[bool]``: ``204``/``null``/``true`` succeed, ``false``
        takes ``false_state``, a ``PluginResponse`` keeps its status."""
        if not answer.ok:
            return answer  # type: ignore[return-value]
        value = answer.value
        if value is None or value is True:
            return Answer.good(True)
        if value is False:
            return self._answer(false_state, False if false_state != "error" else None,
                                f"SuperOffice answered false while {what}",
                                code="FALSE")
        if isinstance(value, dict) and ("Status" in value or "IsOk" in value):
            return self._plugin_response(value, True, what)
        return self._fail(f"SuperOffice gave an unexpected answer while {what}",
                          f"answer of type {type(value).__name__}", code="UNEXPECTED")

    def _plugin_response(self, resp: Mapping[str, Any], value: Any, what: str) -> Answer[Any]:
        """A ``PluginResponse`` {IsOk, Status Ok/OkWithInfo/Warn/Error, UserExplanation,
        TechExplanation, ErrorCode} as an answer. A Warn is a warning with its text, never a
        silent success; IsOk=false is an error whatever the Status says."""
        status = str(resp.get("Status") or "").lower()
        is_ok = resp.get("IsOk")
        user = _localised(resp.get("UserExplanation"))
        tech = str(resp.get("TechExplanation") or "")
        code = str(resp.get("ErrorCode") or "")
        if status == "error" or is_ok is False:
            return self._fail(user or f"SuperOffice reported an error while {what}", tech,
                              code=code)
        if status in ("warn", "warning"):
            return self._answer("warning", value, user or f"SuperOffice warned while {what}",
                                tech, code)
        if status == "okwithinfo":
            return self._answer("ok_with_info", value, user, tech, code)
        return self._answer("ok", value, user, tech, code)

    # --- contract ---------------------------------------------------------------------------

    def test_connection(self) -> Answer[str]:
        """One cheap read (the first company id): proves the URL, the credentials and the
        REST API; the ErpSync agent is only exercised by the link calls."""
        answer = self._call("GET", f"{self._api}/Contact", "testing the connection",
                            params={"$select": "contactId", "$top": "1"})
        if not answer.ok:
            return answer  # type: ignore[return-value]
        if not isinstance(answer.value, dict) or "value" not in answer.value:
            return self._fail("SuperOffice answered, but not with a collection",
                              "GET /api/v1/Contact: no 'value'", code="UNEXPECTED")
        return Answer.good(f"SuperOffice {self.url}, ERP connection {self.erp_connection_id}")

    def records(self, kind: str, since: datetime | None = None) -> Answer[list[CrmRecord]]:
        """Every company, person or project (or those changed on or after ``since``), read
        page by page; any failed page fails the whole read (no partial list)."""
        if kind not in COLLECTIONS:
            return self._fail(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}",
                              code="BAD_KIND")
        coll = COLLECTIONS[kind]
        select = [coll.id_column, *coll.columns.values(), coll.updated_column,
                  coll.registered_column]
        params = {"$select": ",".join(dict.fromkeys(select)), "$orderBy": coll.id_column,
                  "$top": str(self.page_size), "$skip": "0"}
        since_utc = _as_utc(since) if since else None
        if since_utc:
            day = (since_utc.date() - timedelta(days=2)).isoformat()
            params["$filter"] = (f"{coll.updated_column} after '{day}' or "
                                 f"{coll.registered_column} after '{day}'")
        rows = self._pages(coll, params, f"reading {kind} records")
        if not rows.ok:
            return rows  # type: ignore[return-value]
        records, several = self._to_records(kind, coll, rows.value or [])
        if since_utc:
            records = [r for r in records
                       if r.last_modified is None or r.last_modified >= since_utc]
        if several:
            return Answer.good(records, f"{several} project(s) have members from several "
                                        "companies; the first member's company was taken")
        return Answer.good(records)

    def _pages(self, coll: _Collection, params: dict[str, str], what: str
               ) -> Answer[list[dict[str, Any]]]:
        """All rows of a collection: nextLink while there is one, else ``$skip`` while pages
        come back full. A nextLink to another host, a repeated nextLink or a full page that
        repeats the previous one (a server ignoring ``$skip``) fail rather than loop."""
        base = f"{self._api}/{coll.entity}"
        url: str = base
        query: dict[str, str] | None = params
        rows: list[dict[str, Any]] = []
        seen_links: set[str] = set()
        previous: list[Any] | None = None
        while True:
            answer = self._call("GET", url, what, params=query)
            if not answer.ok:
                return answer
            body = answer.value
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                return self._fail(f"SuperOffice answered without a list of rows while {what}",
                                  f"GET {urlsplit(url).path}: no 'value' array",
                                  code="UNEXPECTED")
            page = [r for r in body["value"] if isinstance(r, dict)]
            if previous is not None and page and page == previous:
                return self._fail(f"SuperOffice sent the same page twice while {what}",
                                  "paging does not advance ($skip ignored?)", code="PAGING")
            rows.extend(page)
            previous = page
            link = body.get("odata.nextLink")
            if isinstance(link, str) and link.strip():
                nxt = urljoin(base, link.strip())
                if not self._same_origin(nxt):
                    return self._fail(
                        f"SuperOffice's next-page link points to another host while {what}; "
                        "not followed, so the credentials stay on the configured host",
                        f"nextLink host {urlsplit(nxt).netloc}", code="FOREIGN_HOST")
                if nxt in seen_links:
                    return self._fail(f"SuperOffice's next-page link repeats while {what}",
                                      "odata.nextLink loops", code="PAGING")
                seen_links.add(nxt)
                url, query = nxt, None
            elif len(page) >= self.page_size:
                url, query = base, {**params, "$skip": str(len(rows))}
            else:
                return Answer.good(rows)

    def _to_records(self, kind: str, coll: _Collection, rows: list[dict[str, Any]]
                    ) -> tuple[list[CrmRecord], int]:
        """Rows -> records, merged by id (a join column such as a project's members gives
        several rows per record; the first non-empty value wins). Returns the records and how
        many had more than one company."""
        merged: dict[str, dict[str, str | None]] = {}
        modified: dict[str, datetime | None] = {}
        companies: dict[str, set[str]] = {}
        for row in rows:
            crm_id = _text(_cell(row, coll.id_column)) or _text(row.get("PrimaryKey"))
            if crm_id is None:
                continue
            values = merged.setdefault(crm_id, dict.fromkeys(coll.columns))
            for name, column in coll.columns.items():
                raw = _cell(row, column)
                value = _date_text(raw) if name in coll.date_fields else _text(raw)
                if name == "company_id" and value in ("0", None):
                    continue
                if name == "company_id" and value is not None:
                    companies.setdefault(crm_id, set()).add(value)
                if values.get(name) is None and value is not None:
                    values[name] = value
            stamps = [d for d in (_parse_datetime(_cell(row, coll.updated_column)),
                                  _parse_datetime(_cell(row, coll.registered_column))) if d]
            best = max(stamps, default=None)
            old = modified.get(crm_id)
            modified[crm_id] = max(d for d in (old, best) if d) if (old or best) else None
        records = [CrmRecord(kind, crm_id, values, modified.get(crm_id))
                   for crm_id, values in merged.items()]
        several = sum(1 for ids in companies.values() if len(ids) > 1)
        return records, several

    def save(self, records: Sequence[CrmRecord]) -> Answer[list[CrmRecord]]:
        """Write the given fields of existing records, one PATCH each (see the module
        docstring for merge patch vs JSON Patch). Every record is checked before anything is
        sent. The first failure stops the batch: the error answer's value holds the records
        saved before it, so the caller knows exactly what was written."""
        plans: list[tuple[CrmRecord, int, dict[str, _Target], list[str]]] = []
        for rec in records:
            if rec.kind not in WRITABLE:
                return self._fail(f"Unknown kind {rec.kind!r}", code="BAD_KIND")
            record_id = _crm_int(rec.crm_id)
            if record_id is None:
                return self._fail(f"{rec.crm_id!r} is not a SuperOffice {rec.kind} id",
                                  code="BAD_ID")
            targets: dict[str, _Target] = {}
            skipped: list[str] = []
            for name, value in rec.fields.items():
                target = WRITABLE[rec.kind].get(name)
                if target is None:
                    skipped.append(name)
                    continue
                if target.is_date and value not in (None, ""):
                    try:
                        date.fromisoformat(str(value))
                    except ValueError:
                        return self._fail(f"{name} of {rec.kind} {rec.crm_id} is not a date "
                                          f"(YYYY-MM-DD): {value!r}", code="BAD_VALUE")
                targets[name] = target
            plans.append((rec, record_id, targets, skipped))

        saved: list[CrmRecord] = []
        skipped_all: dict[str, set[str]] = {}
        for rec, record_id, targets, skipped in plans:
            entity = COLLECTIONS[rec.kind].entity
            written = {name: rec.fields[name] for name in targets}
            if skipped:
                skipped_all.setdefault(rec.kind, set()).update(skipped)
            if not targets:
                saved.append(replace(rec, fields={}))
                continue
            answer = self._patch(entity, record_id, rec, targets)
            if not answer.ok:
                user = (f"Saved {len(saved)} of {len(plans)} records; {entity} {record_id} "
                        f"failed: {answer.user_explanation}")
                return self._answer("error", saved, user, answer.tech_explanation,
                                    answer.error_code, answer.retryable)
            entity_json = answer.value if isinstance(answer.value, dict) else {}
            stamp = (_parse_datetime(entity_json.get("UpdatedDate"))
                     or datetime.now(UTC).replace(microsecond=0))
            saved.append(CrmRecord(rec.kind, rec.crm_id, written, stamp))
        if skipped_all:
            names = "; ".join(f"{kind}: {', '.join(sorted(names))}"
                              for kind, names in sorted(skipped_all.items()))
            return self._answer(
                "warning", saved,
                f"Not written (list fields and company links need list ids): {names}",
                code="NOT_WRITTEN")
        return Answer.good(saved)

    def _patch(self, entity: str, record_id: int, rec: CrmRecord,
               targets: Mapping[str, _Target]) -> Answer[Any]:
        what = f"saving {entity} {record_id}"
        url = f"{self._api}/{entity}/{record_id}"

        def wire(name: str, target: _Target) -> Any:
            value = rec.fields[name]
            if value in (None, ""):
                return None
            return f"{value}T00:00:00" if target.is_date else value

        if all(t.how == "scalar" for t in targets.values()):
            merge = {t.path[0]: wire(name, t) for name, t in targets.items()}
            return self._call("PATCH", url, what, body=merge,
                              content_type="application/merge-patch+json")

        current: dict[str, Any] = {}
        if any(t.how == "multi" for t in targets.values()):
            got = self._call("GET", url, f"reading {entity} {record_id} before saving")
            if not got.ok:
                return got
            current = got.value if isinstance(got.value, dict) else {}
        ops: list[dict[str, Any]] = []
        for name, target in targets.items():
            value = wire(name, target)
            if target.how in ("scalar", "nested"):
                ops.append({"op": "replace", "path": "/" + "/".join(target.path),
                            "value": value})
                continue
            prop = target.path[0]
            existing = current.get(prop) or []
            has_first = isinstance(existing, list) and len(existing) > 0
            if value is not None and has_first:
                ops.append({"op": "replace", "path": f"/{prop}/0/Value", "value": value})
            elif value is not None:
                ops.append({"op": "add", "path": f"/{prop}/-", "value": {"Value": value}})
            elif has_first:
                ops.append({"op": "remove", "path": f"/{prop}/0"})
        if not ops:
            return Answer.good(current)
        return self._call("PATCH", url, what, body=ops,
                          content_type="application/json-patch+json")

    # --- links through the ErpSync agent --------------------------------------------------------

    def _check_link(self, kind: str, crm_id: str, erp_actor_type: str | None = None
                    ) -> Answer[Any] | tuple[int, str, str | None]:
        """(record id, CrmActorType, ErpActorType) or the error answer saying what is wrong."""
        if kind not in CRM_ACTOR_TYPE:
            return self._fail(f"Unknown kind {kind!r}", code="BAD_KIND")
        record_id = _crm_int(crm_id)
        if record_id is None:
            return self._fail(f"{crm_id!r} is not a SuperOffice {kind} id", code="BAD_ID")
        so_type = None
        if erp_actor_type is not None:
            if erp_actor_type not in ACTOR_TYPES[kind]:  # type: ignore[index]
                allowed = ", ".join(ACTOR_TYPES[kind])  # type: ignore[index]
                return self._fail(f"A {kind} cannot be linked as {erp_actor_type!r} "
                                  f"(allowed: {allowed})", code="BAD_ACTOR_TYPE")
            so_type = ERP_ACTOR_TYPE[erp_actor_type]
        return record_id, CRM_ACTOR_TYPE[kind], so_type  # type: ignore[index]

    def _field_values(self, kind: str, values: Mapping[str, str | None]
                      ) -> list[dict[str, Any]]:
        """``FieldValues`` items in the documented shape. The chosen value goes to both
        sides (SyncToCrm and SyncToErp), as the Connect dialog does after the user chose."""
        items = []
        for name, value in values.items():
            key = _sync_key(kind, name)
            if key is None:
                continue
            text = "" if value is None else str(value)
            items.append({"DisplayName": _label(kind, name), "CrmFieldKey": key,
                          "Value": text, "DisplayValue": text,
                          "SyncToCrm": True, "SyncToErp": True})
        return items

    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                values: dict[str, str | None]) -> Answer[bool]:
        """``ConnectActor``: link the record to ``erp_key`` and apply the chosen values."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        if not str(erp_key).strip():
            return self._fail("An ERP key is needed to connect", code="BAD_KEY")
        what = f"connecting {crm_type} {record_id} to {so_type} {erp_key}"
        body = {"ErpConnectionId": self.erp_connection_id, "CrmRecordId": record_id,
                "CrmActorType": crm_type, "ErpKey": str(erp_key), "ErpActorType": so_type,
                "FieldValues": self._field_values(kind, values)}
        return self._agent_outcome(self._agent("ConnectActor", body, what), what,
                                   false_state="error")

    def disconnect(self, kind: str, crm_id: str) -> Answer[bool]:
        """``BreakActorLink``. ``false`` is a warning (value False): SuperOffice removed no
        link, which may mean there was none in this connection."""
        checked = self._check_link(kind, crm_id)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, _ = checked
        what = f"disconnecting {crm_type} {record_id}"
        body = {"ErpConnectionId": self.erp_connection_id, "CrmRecordId": record_id,
                "CrmActorType": crm_type}
        answer = self._agent_outcome(self._agent("BreakActorLink", body, what), what,
                                     false_state="warning")
        if answer.state == "warning" and answer.value is False:
            return self._answer("warning", False,
                                f"SuperOffice removed no link for {crm_type} {record_id} "
                                f"in ERP connection {self.erp_connection_id} (answered "
                                "false): it may not have been linked there",
                                code="FALSE")
        return answer

    def create_erp_actor(self, kind: str, crm_id: str, erp_actor_type: str,
                         values: dict[str, str | None]) -> Answer[ErpActor]:
        """``CreateErpActorFromCrm``. SuperOffice documents a bool answer, without the new
        ERP key: then the answer is a *warning* whose actor has ``erp_key`` None (created and
        linked, key unknown). A string answer, or an object with ``ErpKey``, gives the key."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        what = f"creating a {so_type} in the ERP from {crm_type} {record_id}"
        key_values = {}
        for name, value in values.items():
            key = _sync_key(kind, name)
            if key is not None:
                key_values[key] = "" if value is None else str(value)
        body = {"ConnectionId": self.erp_connection_id, "CrmEntityId": record_id,
                "ErpActorType": so_type, "CrmActorType": crm_type,
                "ErpFieldKeyValues": key_values}
        answer = self._agent("CreateErpActorFromCrm", body, what)
        if not answer.ok:
            return answer
        actor = ErpActor(erp_actor_type, None, dict(values))
        result = answer.value
        no_key = (f"Created in the ERP and linked to {crm_type} {record_id}, but SuperOffice "
                  "does not return the new ERP key: read it from the ERP (by this CRM "
                  "record) before relying on it")
        if isinstance(result, str) and result.strip():
            return Answer.good(actor.with_key(result.strip()))
        if result is False:
            return self._fail(f"SuperOffice did not create the ERP actor (answered false) "
                              f"while {what}", code="FALSE")
        if result is True or result is None:
            return self._answer("warning", actor, no_key, code="NO_ERP_KEY")
        if isinstance(result, dict):
            key = str(result.get("ErpKey") or "").strip()
            plugin: Answer[Any] = Answer.good(actor)
            if "Status" in result or "IsOk" in result:
                plugin = self._plugin_response(result, actor, what)
                if not plugin.ok:
                    return plugin
            if key:
                return replace(plugin, value=actor.with_key(key))
            said = f" ({plugin.user_explanation})" if plugin.user_explanation else ""
            return self._answer("warning", actor, no_key + said, plugin.tech_explanation,
                                plugin.error_code or "NO_ERP_KEY")
        return self._fail(f"SuperOffice gave an unexpected answer while {what}",
                          f"answer of type {type(result).__name__}", code="UNEXPECTED")

    def force_resync(self, internal_key_ids: Sequence[int], *, from_erp: bool = False
                     ) -> Answer[bool]:
        """``ForceResync`` with ErpInternalKey ids (not CRM record ids, which SuperOffice's
        ForceResync cannot take; the REST API does not show a record's internal key, so this
        is for callers that know them): from the CRM to every connection
        (``ErpConnectionId`` 0), or from this ERP connection with ``from_erp``. An empty list
        would mean "all records" to SuperOffice, so it is refused."""
        ids = [int(i) for i in internal_key_ids]
        if not ids:
            return self._fail("No records given: an empty ForceResync would resync every "
                              "record, so nothing was sent", code="EMPTY")
        what = f"resyncing {len(ids)} record(s)"
        body = {"ErpConnectionId": self.erp_connection_id if from_erp else 0,
                "InternalKeyIds": ids}
        return self._agent_outcome(self._agent("ForceResync", body, what), what,
                                   false_state="error")

    def close(self) -> None:
        """Close the HTTP session if this connector made it."""
        if self._own_session:
            self._session.close()
