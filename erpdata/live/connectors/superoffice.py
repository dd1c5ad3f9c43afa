"""SuperOffice CRM over its REST Web API: read companies, persons and projects, write their
fields, list the links SuperOffice holds, and link, unlink and create ERP actors through the
ErpSync agent (domain guide, d2, f).

Why this module is shaped the way it is:

- **The tenant's host moves.** SuperOffice Online answers a tenant's API only on its current
  numbered host (``sod2``, ``online3``, ...); any other host answers ``421 Wrong subdomain``.
  The host comes from ``GET https://{env}.superoffice.com/api/state/{tenant}`` and changes
  when SuperOffice rebalances. So a URL naming the environment host
  (``https://online.superoffice.com/Cust12345``) is resolved at the first call, and a 421
  resolves again once and retries the call. The credentials only ever go to the configured
  host or to a resolved host that is trusted (https, under ``trusted_domains``); the state
  call itself carries none.
- **Reading** goes through the archive-backed collections ``GET /api/v1/Contact | Person |
  Project`` (archives ``SimpleContact``, ``Person`` and ``FindProject``) with ``$select`` of the
  documented archive columns, ordered by the primary key and paged with ``$top``/``$skip``,
  following ``odata.nextLink`` (whose origin is compared normalised: real links spell
  ``:443``). When a full page comes back without a nextLink the next page is asked for by
  ``$skip`` all the same: a collection cut short after its first page must not look like a
  complete one. ``0001-01-01T00:00:00`` is SuperOffice's "no date".
- **Since** uses only documented date operators: the archive's ``updatedDate`` columns are of
  restriction type *date* (date part only; ``before``, ``after``, ``date``, ``dateBetween``).
  So the filter asks for ``updated after (since - 2 days) or registered after (since - 2
  days)`` and the exact cut is made here, in UTC.
- **Writing** is ``PATCH /api/v1/<Entity>/<id>``: a JSON Merge Patch when only top-level text
  properties change; a JSON Patch (RFC 6902) as soon as an address part or a phone/e-mail/URL
  changes, because a merge patch cannot set a property under a currently-null parent (guide f)
  and would replace a whole ``Emails``/``Phones`` array.
- **Links** go through ``POST /api/v1/Agents/ErpSync/<Method>``. The field keys are the
  agent's own: ``ConnectActor`` sends only the ``CrmFieldKey`` values the connection's
  actor-type mapping (``GetActorTypeMapping``) knows, and ``CreateErpActorFromCrm`` sends the
  ERP field keys of ``GetFieldsForNewErpActor``, filled from the CRM values through that
  mapping and from the fields' defaults; a mandatory field left empty stops the create before
  anything is sent. Both are read once per connector and actor type. The links SuperOffice
  already holds are read with the documented ``Dynamic`` archive over the ``ErpExternalKey``
  and ``ErpInternalKey`` tables, page by page (:meth:`SuperOfficeConnector.links`).
- **Long runs** survive what a real tenant does to them: an expired credential (access tokens
  live an hour, tickets six) is renewed once through ``renew`` and the call retried; a ``429``
  or ``503`` with ``Retry-After`` is waited out (up to ``retry_after_cap`` seconds, a bounded
  number of times) and retried.
- **Failures** never raise: every remote failure is an :class:`Answer` error, retryable for
  timeouts, lost connections, 5xx, 408 and 429. Credentials are sent per request (a session
  passed in is never changed), redirects are not followed, and every text that leaves this
  module is scrubbed of the token, ticket, app token, renewed tokens and renewal secrets.

What is verified only against the fake server (``tests/fakes/superoffice.py``) and what must be
checked on a real tenant is listed in ``docs/SUPEROFFICE.md``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from erpdata.live.connectors.base import Answer, CrmConnector, CrmLink, CrmRecord, ErpActor, State
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
#: ``ErpActorType`` enum values (database enum ``ErpActorType``), as the Dynamic archive may
#: give them as numbers.
_ERP_ACTOR_TYPE_NUMBER: dict[int, str] = {1: "customer", 2: "supplier", 3: "partner",
                                          4: "person", 5: "project"}
#: Database table numbers of the linked records (``ErpInternalKey.tableId``): contact 5,
#: person 6, project 11 (SuperOffice database reference).
TABLE_ID: dict[str, int] = {"company": 5, "person": 6, "project": 11}

#: Domains a resolved tenant host must lie under before credentials go there.
DEFAULT_TRUSTED_DOMAINS: tuple[str, ...] = ("superoffice.com",)
#: ``/api/state`` states in which waiting will not help.
_FINAL_STATES = frozenset({"deleted", "suspended", "provisioningfailed", "deleting",
                           "deletefailed"})

_AGENT = "Agents/ErpSync"
_RETRYABLE_STATUS = frozenset({408, 429})
_THROTTLE_STATUS = frozenset({429, 503})
_DEFAULT_PORT = {"http": 80, "https": 443}
_ALREADY_LINKED = re.compile(r"already\s+(?:been\s+)?(?:linked|connected)|already\s+exists"
                             r"|duplicate|unique", re.IGNORECASE)

Origin = tuple[str, str, int | None]


def origin_of(url: str) -> Origin:
    """``(scheme, host, port)`` of a URL, normalised so that two spellings of one server
    compare equal: the scheme and host in lower case and the scheme's default port filled in
    (real ``odata.nextLink`` URLs spell ``https://sod2.superoffice.com:443/...`` while the
    configured URL usually has no port)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORT.get(scheme)


#: The options of a ``superoffice`` connection (``erpdata connect add --option KEY=VALUE``),
#: with what each is for; :func:`erpdata.live.connections.check` refuses any other.
OPTIONS: dict[str, str] = {
    "erp_connection_id": "the ERP connection's id in SuperOffice's ERP-sync settings",
    "auth": "token (an OIDC access token, the default) or ticket (a system-user ticket)",
    "client_id": "the app's client id, to renew the access token with a refresh token",
    "redirect_uri": "the app's redirect URI, when its token endpoint asks for it",
    "token_url": "the OIDC token endpoint (default: https://<env>.superoffice.com/login/"
                 "common/oauth/tokens, the environment of the url)",
    "language": "Accept-Language of the answers (default en)",
    "timezone": "SO-TimeZone of the dates (default UTC; empty: not sent)",
    "trusted_domains": "comma-separated domains a resolved tenant host must lie under "
                       "(default superoffice.com)",
}


def token_url_for(url: str) -> str:
    """The OIDC token endpoint of a tenant URL's environment: ``sod2.superoffice.com`` and
    ``sod.superoffice.com`` both log in at ``https://sod.superoffice.com/login/common/oauth/
    tokens``; another server (onsite, a test) at its own ``/login/common/oauth/tokens``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.endswith(".superoffice.com"):
        first, _, rest = host.partition(".")
        env = re.sub(r"\d+$", "", first) or first
        return f"https://{env}.{rest}/login/common/oauth/tokens"
    return f"{parts.scheme}://{parts.netloc}/login/common/oauth/tokens"


def _host_is_trusted(host: str, domains: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def _is_loopback(host: str) -> bool:
    return host.lower() in ("127.0.0.1", "localhost", "::1")


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


def _access(field_info: Mapping[str, Any]) -> str:
    """A ``FieldMetadataInfo.Access`` as ``normal``, ``mandatory`` or ``readonly``; the agent
    documents it as a string (``"Mandatory"``); the enum number (1, 2) is read too."""
    value = field_info.get("Access")
    if isinstance(value, int) and not isinstance(value, bool):
        return {1: "mandatory", 2: "readonly"}.get(value, "normal")
    text = str(value or "").strip().lower()
    return text if text in ("mandatory", "readonly") else "normal"


def _retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: a number of seconds or an HTTP date); None when
    there is none or it cannot be read."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class SuperOfficeLink(CrmLink):
    """A link SuperOffice holds (:class:`CrmLink`), with its ``ErpInternalKey`` id: the id
    ``ForceResync`` takes (:meth:`SuperOfficeConnector.force_resync`)."""

    internal_key_id: int | None = None


class RenewalError(Exception):
    """A credential could not be renewed; the message says why (no secret in it)."""


class OidcRefresh:
    """Renew an OIDC access token with a refresh token: ``POST {token_url}`` with the form
    ``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token`` (and
    ``redirect_uri`` when given), answering ``{access_token, token_type, expires_in,
    id_token}``. Pass an instance as ``renew`` to :class:`SuperOfficeConnector`.

    Why a class: the connector must know the client secret and the refresh token to scrub
    them from every text (:attr:`secrets`), and a token endpoint that rotates the refresh
    token is followed. The form goes in the body, not the query, so that proxies and server
    logs do not see the secrets (the endpoint accepts ``client_secret_post``)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                 *, redirect_uri: str | None = None, verify: bool = True, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        parts = urlsplit(token_url)
        if parts.scheme != "https" and not (parts.scheme == "http"
                                            and _is_loopback(parts.hostname or "")):
            raise ValueError("the token endpoint must be https (http only on this machine)")
        if not (client_id and client_secret and refresh_token):
            raise ValueError("refreshing a token needs the client id, the client secret and "
                             "the refresh token")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.redirect_uri = redirect_uri
        self.verify = verify
        self.timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"OidcRefresh({self.token_url!r}, client_id={self.client_id!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a text: the client secret and the refresh token."""
        return (self._client_secret, self._refresh_token)

    def __call__(self) -> str:
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "client_secret": self._client_secret, "refresh_token": self._refresh_token}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        try:
            resp = self._session.post(self.token_url, data=form,
                                      headers={"Accept": "application/json"},
                                      timeout=self.timeout, verify=self.verify,
                                      allow_redirects=False)
        except requests.RequestException as exc:
            raise RenewalError(f"the token endpoint could not be reached "
                               f"({type(exc).__name__})") from None
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if resp.status_code != 200 or not isinstance(payload, dict):
            said = ""
            if isinstance(payload, dict):
                said = str(payload.get("error_description") or payload.get("error") or "")
            raise RenewalError(f"the token endpoint answered {resp.status_code}"
                               + (f": {said}" if said else ""))
        token = payload.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise RenewalError("the token endpoint answered without an access token")
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated.strip():
            self._refresh_token = rotated.strip()
        return token.strip()


class SuperOfficeConnector(CrmConnector):
    """One SuperOffice tenant and one of its ERP connections (``erp_connection_id``).

    ``url`` is the tenant base: the environment host (``https://online.superoffice.com/
    Cust12345``, resolved to the tenant's current host at the first call) or a tenant host
    (``https://sod2.superoffice.com/Cust12345``, resolved again when it answers 421); calls go
    to ``{base}/api/v1/...``. Authenticate with ``token`` (``Authorization: Bearer``) or with
    ``ticket`` and ``app_token`` (``Authorization: SOTicket`` plus ``SO-AppToken``).

    Options: ``renew`` returns a fresh token (or ticket, with ticket auth) when SuperOffice
    answers 401, e.g. an :class:`OidcRefresh`; ``trusted_domains`` are the domains a resolved
    host must lie under (``("superoffice.com",)``; tests on this machine pass
    ``("127.0.0.1",)``) and ``resolve_host`` forces (True) or stops (False) resolving a URL
    that is not an environment host; ``language`` (``Accept-Language``) and ``timezone``
    (``SO-TimeZone: <timezone>, includeTZOffset``; empty: not sent) shape the answers;
    ``retry_after_cap`` and ``max_throttle_retries`` bound the waits a ``Retry-After`` asks
    for; ``sleep`` is how to wait (tests pass their own).
    """

    type = "superoffice"

    def __init__(self, url: str, *, token: str | None = None, ticket: str | None = None,
                 app_token: str | None = None, erp_connection_id: int, verify: bool = True,
                 timeout: float = 30.0, session: requests.Session | None = None,
                 page_size: int = 200, renew: Callable[[], str] | None = None,
                 trusted_domains: Sequence[str] = DEFAULT_TRUSTED_DOMAINS,
                 resolve_host: bool | None = None, language: str = "en",
                 timezone: str = "UTC", retry_after_cap: float = 60.0,
                 max_throttle_retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
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
        domains = tuple(d.strip().lower().strip(".") for d in trusted_domains if d.strip())
        if not domains:
            raise ValueError("trusted_domains needs at least one domain")
        self.url = base
        self.erp_connection_id = int(erp_connection_id)
        self.verify = verify
        self.timeout = timeout
        self.page_size = page_size
        self.language = language
        self.timezone = timezone
        self.trusted_domains = domains
        self.retry_after_cap = float(retry_after_cap)
        self.max_throttle_retries = max(0, int(max_throttle_retries))
        self._sleep = sleep
        self._token = token
        self._ticket = ticket
        self._app_token = app_token
        self._renew = renew
        self._secrets: list[str] = [s for s in (token, ticket, app_token) if s]
        self._own_session = session is None
        self._session = session or requests.Session()
        self._scheme = parts.scheme
        self._tenant = next((p for p in parts.path.split("/") if p), "")
        self._base = base
        self._state_url, resolve_first = self._state_endpoint(parts, resolve_host)
        self._resolve_first = resolve_first
        self._valid_until: datetime | None = None
        self._mappings: dict[str, list[dict[str, Any]]] = {}
        self._new_actor_fields: dict[str, list[dict[str, Any]]] = {}

    def _state_endpoint(self, parts: Any, resolve_host: bool | None) -> tuple[str | None, bool]:
        """Where the tenant's current host is asked for, and whether to ask before the first
        call. An environment host (``sod``, ``online``: no number) must be resolved; a tenant
        host (``sod2``) is used as given and resolved only when it answers 421, at the
        environment host without the number. Other hosts resolve only with ``resolve_host``
        (their own ``/api/state``)."""
        if not self._tenant or resolve_host is False:
            return None, False
        host = (parts.hostname or "").lower()
        if host.endswith(".superoffice.com"):
            first, _, rest = host.partition(".")
            env = re.sub(r"\d+$", "", first)
            if not env:
                return None, False
            is_env = env == first
            return (f"https://{env}.{rest}/api/state/{self._tenant}",
                    is_env if resolve_host is None else resolve_host)
        if resolve_host:
            return f"{parts.scheme}://{parts.netloc}/api/state/{self._tenant}", True
        return None, False

    def __repr__(self) -> str:
        auth = "bearer" if self._token else "ticket"
        return (f"SuperOfficeConnector({self.url!r}, auth={auth}, "
                f"erp_connection_id={self.erp_connection_id})")

    @property
    def base_url(self) -> str:
        """The tenant base the calls go to now: the configured one, or the resolved host."""
        return self._base

    # --- plumbing --------------------------------------------------------------------------

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        """Headers of one request. Built per request so that a session passed in never holds
        the credentials. ``SO-TimeZone ..., includeTZOffset`` makes dates carry their offset
        and ``Accept-Language`` turns multi-language list texts into one language."""
        headers = {"Accept": "application/json"}
        if self.language:
            headers["Accept-Language"] = self.language
        if self.timezone:
            headers["SO-TimeZone"] = f"{self.timezone}, includeTZOffset"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        else:
            headers["Authorization"] = f"SOTicket {self._ticket}"
            headers["SO-AppToken"] = str(self._app_token)
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _all_secrets(self) -> list[str]:
        secrets = list(self._secrets)
        secrets += [s for s in getattr(self._renew, "secrets", ()) or () if s]
        return sorted(set(secrets), key=len, reverse=True)

    def _redact(self, text: str) -> str:
        for secret in self._all_secrets():
            text = text.replace(secret, "***")
        return text

    def _answer(self, state: State, value: Any, user: str, tech: str = "", code: str = "",
                retryable: bool = False) -> Answer[Any]:
        """Every answer with text goes through here, so that no secret ever leaves."""
        return Answer(state, value, self._redact(user), self._redact(tech), code, retryable)

    def _fail(self, user: str, tech: str = "", *, code: str = "", retryable: bool = False
              ) -> Answer[Any]:
        return self._answer("error", None, user, tech, code, retryable)

    @property
    def _api(self) -> str:
        return f"{self._base}/api/v1"

    def _same_origin(self, url: str) -> bool:
        return origin_of(url) == origin_of(self._base)

    def _url_for(self, target: str) -> str:
        """A relative API path (``Contact``, ``Agents/ErpSync/ConnectActor``) against the
        current base, or an absolute URL (a nextLink) as it is."""
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", target):
            return target
        return f"{self._api}/{target.lstrip('/')}"

    def _rehost(self, url: str, old_base: str) -> str:
        """An absolute URL on the old tenant host moved to the new one (a nextLink followed
        after a 421), path and query kept."""
        if origin_of(url) != origin_of(old_base):
            return url
        new = urlsplit(self._base)
        parts = urlsplit(url)
        return urlunsplit((new.scheme, new.netloc, parts.path, parts.query, parts.fragment))

    # --- the tenant's host -------------------------------------------------------------------

    def _needs_resolution(self) -> bool:
        if self._state_url is None:
            return False
        if self._resolve_first:
            return True
        return (self._valid_until is not None and datetime.now(UTC) >= self._valid_until)

    def _trust_problem(self, url: str) -> str | None:
        """Why credentials must not go to ``url`` (None when they may): https (or http when
        http was configured, which only a test or an onsite server does), a host under
        :attr:`trusted_domains`, no user info in the URL."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" and not (parts.scheme == "http" and self._scheme == "http"):
            return f"it is not https ({parts.scheme or 'no scheme'})"
        if parts.username or parts.password:
            return "it carries a user name"
        if not host or not _host_is_trusted(host, self.trusted_domains):
            return (f"its host {host or '(none)'} is not under "
                    f"{', '.join(self.trusted_domains)}")
        return None

    def _resolve(self, what: str) -> Answer[str]:
        """Ask ``/api/state/{tenant}`` for the tenant's current host (no credentials are
        sent: the state API needs none) and make it the base of the next calls."""
        assert self._state_url is not None
        state_path = urlsplit(self._state_url).path
        try:
            resp = self._session.get(self._state_url, headers={"Accept": "application/json"},
                                     timeout=self.timeout, verify=self.verify,
                                     allow_redirects=False)
        except requests.Timeout:
            return self._fail(f"SuperOffice's tenant status did not answer in time while "
                              f"{what}", f"GET {state_path}: timeout", code="TIMEOUT",
                              retryable=True)
        except requests.RequestException as exc:
            return self._fail(f"Could not reach SuperOffice's tenant status while {what}",
                              f"GET {state_path}: {type(exc).__name__}", code="CONNECTION",
                              retryable=True)
        try:
            state = resp.json()
        except ValueError:
            state = None
        if resp.status_code != 200 or not isinstance(state, dict):
            return self._fail(
                f"SuperOffice's tenant status answered {resp.status_code} for tenant "
                f"{self._tenant} while {what}: check the tenant id in the URL",
                f"GET {state_path} -> {resp.status_code}", code="TENANT_STATE",
                retryable=resp.status_code >= 500)
        said = str(state.get("ContextIdentifier") or "")
        if said and said.lower() != self._tenant.lower():
            return self._fail(f"SuperOffice's tenant status answered for {said}, not "
                              f"{self._tenant}, while {what}", f"GET {state_path}",
                              code="TENANT_STATE")
        if state.get("IsRunning") is False:
            name = str(state.get("State") or "not running")
            final = name.replace(" ", "").lower() in _FINAL_STATES
            return self._fail(
                f"SuperOffice tenant {self._tenant} is not running ({name}) while {what}"
                + ("" if final else "; try again later"),
                f"GET {state_path}: State {name}", code="TENANT_NOT_RUNNING",
                retryable=not final)
        endpoint = str(state.get("Endpoint") or "").strip().rstrip("/")
        if not endpoint and state.get("Api"):
            endpoint = re.sub(r"/api/?$", "", str(state["Api"]).strip().rstrip("/"))
        if not re.match(r"^https?://", endpoint):
            return self._fail(f"SuperOffice's tenant status gave no address for tenant "
                              f"{self._tenant} while {what}", f"GET {state_path}: no Endpoint",
                              code="TENANT_STATE")
        problem = self._trust_problem(endpoint)
        if problem:
            return self._fail(
                f"SuperOffice's tenant status points tenant {self._tenant} to {endpoint}; "
                f"the credentials were not sent there because {problem} (trusted domains: "
                f"{', '.join(self.trusted_domains)})",
                f"GET {state_path}: untrusted Endpoint", code="UNTRUSTED_HOST")
        self._base = endpoint
        self._resolve_first = False
        valid = _parse_datetime(state.get("ValidUntil"))
        self._valid_until = valid if valid and valid > datetime.now(UTC) else None
        log.debug("superoffice tenant %s answers at %s", self._tenant, urlsplit(endpoint).netloc)
        return Answer.good(endpoint)

    # --- credentials -----------------------------------------------------------------------

    def _renew_credential(self, what: str) -> Answer[str]:
        assert self._renew is not None
        kind = "token" if self._token else "ticket"
        try:
            fresh = self._renew()
        except Exception as exc:  # any failure of the caller's renewal is an answer
            return self._fail(
                f"SuperOffice refused the {kind} while {what} (401: expired?) and renewing "
                f"it failed: {exc}. Sign in again (a new refresh token) or give a fresh "
                f"{kind}", f"renewal: {type(exc).__name__}", code="RENEW_FAILED")
        if not isinstance(fresh, str) or not fresh.strip():
            return self._fail(f"SuperOffice refused the {kind} while {what} (401: expired?) "
                              f"and renewing it gave no new {kind}", "renewal: empty",
                              code="RENEW_FAILED")
        fresh = fresh.strip()
        if self._token:
            self._token = fresh
        else:
            self._ticket = fresh
        self._secrets.append(fresh)
        log.debug("superoffice %s renewed after a 401", kind)
        return Answer.good(kind)

    # --- one call --------------------------------------------------------------------------

    def _call(self, method: str, target: str, what: str, *,
              params: Mapping[str, str] | None = None, body: Any = None,
              content_type: str | None = None) -> Answer[Any]:
        """One API call; the value is the parsed JSON body (None when empty). ``target`` is
        a path under ``/api/v1`` or an absolute URL (a nextLink); ``what`` names the action
        for the steward ("reading companies"). Resolves the tenant's host first when needed,
        and at most once more on a 421; renews the credential at most once on a 401; waits
        out a ``Retry-After`` on 429/503 a bounded number of times."""
        if self._needs_resolution():
            resolved = self._resolve(what)
            if not resolved.ok:
                return resolved
        data = None if body is None else json.dumps(body).encode("utf-8")
        if body is not None and content_type is None:
            content_type = "application/json"
        re_resolved = renewed = False
        throttled = 0
        while True:
            url = self._url_for(target)
            if not self._same_origin(url):
                return self._fail(
                    f"Not {what}: the address is not on the tenant's SuperOffice host, so "
                    "the credentials were not sent", f"{method} refused for a foreign host",
                    code="FOREIGN_HOST")
            path = urlsplit(url).path
            try:
                resp = self._session.request(
                    method, url, params=params, data=data,
                    headers=self._headers(content_type), timeout=self.timeout,
                    verify=self.verify, allow_redirects=False)
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
                                  f"{method} {path}: {type(exc).__name__}: {exc}",
                                  code="REQUEST")
            status = resp.status_code
            log.debug("superoffice %s %s -> %s", method, path, status)
            if status == 421 and self._state_url is not None and not re_resolved:
                re_resolved = True
                old_base = self._base
                resolved = self._resolve(what)
                if not resolved.ok:
                    return resolved
                target = self._rehost(target, old_base)
                continue
            if status == 401 and self._renew is not None and not renewed:
                renewed = True
                fresh = self._renew_credential(what)
                if not fresh.ok:
                    return fresh
                continue
            if status in _THROTTLE_STATUS:
                wait = _retry_after(resp.headers.get("Retry-After"), datetime.now(UTC))
                if wait is not None:
                    if wait <= self.retry_after_cap and throttled < self.max_throttle_retries:
                        throttled += 1
                        log.debug("superoffice asked to wait %.1f s (%s)", wait, status)
                        self._sleep(wait)
                        continue
                    return self._throttled(resp, method, path, what, wait, throttled)
            if 300 <= status < 400:
                where = urlsplit(resp.headers.get("Location", "")).netloc or "elsewhere"
                return self._fail(
                    f"SuperOffice redirected to {where} while {what}; redirects are not "
                    "followed so the credentials stay on the tenant's host: check the URL",
                    f"{method} {path} -> {status}", code=f"HTTP_{status}")
            if status >= 400:
                return self._http_error(resp, method, path, what, renewed=renewed)
            if not resp.content or not resp.content.strip():
                return Answer.good(None)
            try:
                return Answer.good(resp.json())
            except ValueError:
                snippet = resp.text[:200]
                return self._fail(f"SuperOffice gave an answer that is not JSON while {what}",
                                  f"{method} {path} -> {status}: {snippet!r}",
                                  code="NOT_JSON")

    def _throttled(self, resp: requests.Response, method: str, path: str, what: str,
                   wait: float, waited: int) -> Answer[Any]:
        """A 429/503 whose ``Retry-After`` this connector does not wait out (longer than
        :attr:`retry_after_cap`, or asked again after the bounded retries): a retryable error
        that says when to try again."""
        status = resp.status_code
        again = datetime.now(UTC) + timedelta(seconds=wait)
        if wait > self.retry_after_cap:
            why = (f"it asks to wait {wait:.0f} s, longer than the {self.retry_after_cap:.0f} s "
                   "this connector waits by itself")
        else:
            why = f"it still asked to wait after {waited} wait(s)"
        busy = "too many requests" if status == 429 else "unavailable"
        return self._fail(
            f"SuperOffice is {busy} ({status}) while {what}: {why}; try again after "
            f"{again:%H:%M:%S} UTC", f"{method} {path} -> {status}, Retry-After {wait:.0f} s",
            code=f"HTTP_{status}", retryable=True)

    def _http_error(self, resp: requests.Response, method: str, path: str, what: str, *,
                    renewed: bool = False) -> Answer[Any]:
        """An HTTP error as an answer, from SuperOffice's ``{Error: true, ErrorType,
        ErrorMessage, ErrorSource}`` body where there is one."""
        status = resp.status_code
        message = error_type = source = ""
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            said = payload.get("ErrorMessage") or payload.get("Message")
            if not said and isinstance(payload.get("Error"), str):
                said = payload["Error"]
            message = str(said or "")
            error_type = str(payload.get("ErrorType") or "")
            source = str(payload.get("ErrorSource") or "")
        elif resp.text:
            message = resp.text.strip()[:200]
        retryable = status >= 500 or status in _RETRYABLE_STATUS
        if status == 401 and renewed:
            user = (f"SuperOffice refused the renewed credentials too while {what} (401): the "
                    "app's authorisation may have been revoked or the user lost access; sign "
                    "in again (a new refresh token) or issue a new system-user ticket")
        elif status == 401:
            user = (f"SuperOffice refused the credentials while {what} (401): check the token, "
                    "or the ticket and app token; access tokens last an hour and tickets six, "
                    "so give a fresh one or set up renewal (docs/SUPEROFFICE.md)")
        elif status == 403:
            user = (f"SuperOffice denied access while {what} (403): the user or app lacks the "
                    "right (the ErpSync agent must be granted to the app in Online)")
        elif status == 421:
            user = (f"SuperOffice says this is not the tenant's host (421 Wrong subdomain) "
                    f"while {what}: configure the environment URL (like "
                    "https://online.superoffice.com/Cust12345) so the current host is found")
        else:
            reason = f": {message}" if message else ""
            user = f"SuperOffice answered {status} {resp.reason or ''} while {what}{reason}"
        tech = f"{method} {path} -> {status}"
        if error_type or source:
            tech += f" {error_type} {source}".rstrip()
        if message and status in (401, 403, 421):
            tech += f": {message}"
        return self._fail(" ".join(user.split()), tech, code=f"HTTP_{status}",
                          retryable=retryable)

    def _agent(self, method: str, body: Mapping[str, Any], what: str) -> Answer[Any]:
        return self._call("POST", f"{_AGENT}/{method}", what, body=dict(body))

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
        """One cheap read (the first company id) proves the URL, the tenant's host, the
        credentials and the REST API; then the ErpSync agent is asked for its connections
        (``GetAllConnections``, read-only and without the ERP's config values), because in
        Online the agent must be granted to the app and a missing grant would otherwise show
        only as a 403 on the first link. The configured ERP connection must exist; an
        inactive one is a warning (links are kept, nothing syncs)."""
        answer = self._call("GET", "Contact", "testing the connection",
                            params={"$select": "contactId", "$top": "1"})
        if not answer.ok:
            return answer  # type: ignore[return-value]
        if not isinstance(answer.value, dict) or "value" not in answer.value:
            return self._fail("SuperOffice answered, but not with a collection",
                              "GET /api/v1/Contact: no 'value'", code="UNEXPECTED")
        agent = self._agent("GetAllConnections", {"IncludeDeleted": False},
                            "asking the ErpSync agent for the ERP connections")
        if not agent.ok:
            if agent.error_code == "HTTP_403":
                return self._fail(
                    "SuperOffice answers, but the ErpSync agent is not granted to this app "
                    "(403): linking, unlinking and creating ERP actors will all fail. In "
                    "SuperOffice Online the ErpSync agent is restricted: ask SuperOffice to "
                    "grant it to the app's registration (Developer Portal), then have the "
                    "tenant's administrator approve the app again",
                    agent.tech_explanation, code="AGENT_NOT_GRANTED")
            return agent  # type: ignore[return-value]
        rows = [c for c in (agent.value or []) if isinstance(c, dict)] \
            if isinstance(agent.value, list) else []
        host = urlsplit(self._base).netloc

        def describe(c: Mapping[str, Any]) -> str:
            name = _localised(c.get("DisplayName")) or "unnamed"
            active = "active" if c.get("Active") else "inactive"
            return f"{c.get('ErpConnectionId')} '{name}' ({active})"

        mine = [c for c in rows if str(c.get("ErpConnectionId")) == str(self.erp_connection_id)
                and not c.get("Deleted")]
        if not mine:
            there = [describe(c) for c in rows if not c.get("Deleted")]
            have = (f"the tenant has {', '.join(there)}" if there else
                    "the tenant has no ERP connection (Settings and maintenance > Quote/Sync > "
                    "Sync)")
            return self._fail(f"SuperOffice has no ERP connection {self.erp_connection_id}: "
                              f"{have}; set the connection's erp_connection_id to one of them",
                              f"GetAllConnections: {len(rows)} connection(s)",
                              code="UNKNOWN_CONNECTION")
        conn = mine[0]
        name = _localised(conn.get("DisplayName")) or "unnamed"
        said = (f"SuperOffice {self.url} (tenant host {host}), ERP connection "
                f"{self.erp_connection_id} '{name}'")
        if not conn.get("Active"):
            return self._answer(
                "warning", f"{said} (inactive)",
                f"ERP connection {self.erp_connection_id} '{name}' is not active: links can "
                "be made and read, but SuperOffice does not sync it until an administrator "
                "activates it (Settings and maintenance > Quote/Sync > Sync)",
                code="INACTIVE")
        return Answer.good(f"{said} (active)")

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
        rows = self._pages(coll.entity, params, f"reading {kind} records")
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

    def _pages(self, path: str, params: dict[str, str], what: str
               ) -> Answer[list[dict[str, Any]]]:
        """All rows of a collection or archive: nextLink while there is one, else ``$skip``
        while pages come back full. A nextLink to another host, a repeated nextLink or a full
        page that repeats the previous one (a server ignoring ``$skip``) fail rather than
        loop."""
        target: str = path
        query: dict[str, str] | None = params
        rows: list[dict[str, Any]] = []
        seen_links: set[str] = set()
        previous: list[Any] | None = None
        while True:
            answer = self._call("GET", target, what, params=query)
            if not answer.ok:
                return answer
            body = answer.value
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                return self._fail(f"SuperOffice answered without a list of rows while {what}",
                                  f"GET {path}: no 'value' array", code="UNEXPECTED")
            page = [r for r in body["value"] if isinstance(r, dict)]
            if previous is not None and page and page == previous:
                return self._fail(f"SuperOffice sent the same page twice while {what}",
                                  "paging does not advance ($skip ignored?)", code="PAGING")
            rows.extend(page)
            previous = page
            link = body.get("odata.nextLink")
            if isinstance(link, str) and link.strip():
                nxt = urljoin(f"{self._api}/{path}", link.strip())
                if not self._same_origin(nxt):
                    return self._fail(
                        f"SuperOffice's next-page link points to another host while {what}; "
                        "not followed, so the credentials stay on the tenant's host",
                        f"nextLink host {urlsplit(nxt).netloc}", code="FOREIGN_HOST")
                if nxt in seen_links:
                    return self._fail(f"SuperOffice's next-page link repeats while {what}",
                                      "odata.nextLink loops", code="PAGING")
                seen_links.add(nxt)
                target, query = nxt, None
            elif len(page) >= self.page_size:
                target, query = path, {**params, "$skip": str(len(rows))}
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
        url = f"{entity}/{record_id}"

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

    def _field_mappings(self, so_type: str) -> Answer[list[dict[str, Any]]]:
        """The field mappings of ``so_type`` in the ERP connection (``GetActorTypeMapping``:
        ErpFieldKey <-> CrmFieldKey), read once per connector: the keys the agent knows."""
        if so_type in self._mappings:
            return Answer.good(self._mappings[so_type])
        what = f"reading ERP connection {self.erp_connection_id}'s mapping of {so_type}"
        answer = self._agent("GetActorTypeMapping", {"ErpConnectionId": self.erp_connection_id,
                                                     "ActorType": so_type}, what)
        if not answer.ok:
            return answer
        value = answer.value if isinstance(answer.value, dict) else {}
        items = value.get("FieldMappings")
        if not isinstance(items, list):
            return self._fail(f"SuperOffice gave no field mappings while {what}",
                              "GetActorTypeMapping: no FieldMappings", code="UNEXPECTED")
        self._mappings[so_type] = [m for m in items if isinstance(m, dict)]
        return Answer.good(self._mappings[so_type])

    def _fields_for_new(self, so_type: str) -> Answer[list[dict[str, Any]]]:
        """The ERP's fields for a new ``so_type`` (``GetFieldsForNewErpActor``), read once
        per connector."""
        if so_type in self._new_actor_fields:
            return Answer.good(self._new_actor_fields[so_type])
        what = f"reading the ERP's fields for a new {so_type}"
        answer = self._agent("GetFieldsForNewErpActor",
                             {"ErpConnectionId": self.erp_connection_id, "ErpActorType": so_type},
                             what)
        if not answer.ok:
            return answer
        if not isinstance(answer.value, list):
            return self._fail(f"SuperOffice gave no field list while {what}",
                              "GetFieldsForNewErpActor: not an array", code="UNEXPECTED")
        self._new_actor_fields[so_type] = [f for f in answer.value
                                           if isinstance(f, dict) and f.get("FieldKey")]
        return Answer.good(self._new_actor_fields[so_type])

    @staticmethod
    def _crm_keys(mappings: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """The mappings by CrmFieldKey (upper-cased for the lookup; the agent's own spelling
        is what is sent). A mapping without a CRM field syncs nothing and is left out."""
        return {str(m["CrmFieldKey"]).upper(): m for m in mappings
                if str(m.get("CrmFieldKey") or "").strip()}

    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                values: dict[str, str | None]) -> Answer[bool]:
        """``ConnectActor``: link the record to ``erp_key`` and apply the chosen values. Each
        value goes under the ``CrmFieldKey`` the connection's mapping of the actor type has
        for it (read from the agent, never guessed); a value the mapping does not know is not
        sent, and the answer is then a warning naming it. SuperOffice refusing because the
        record or the ERP actor is linked already is an error ``ALREADY_LINKED`` (a retry
        would not help)."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        assert so_type is not None
        if not str(erp_key).strip():
            return self._fail("An ERP key is needed to connect", code="BAD_KEY")
        mappings = self._field_mappings(so_type)
        if not mappings.ok:
            return mappings  # type: ignore[return-value]
        known = self._crm_keys(mappings.value or [])
        items: list[dict[str, Any]] = []
        dropped: list[str] = []
        for name, value in values.items():
            key = _sync_key(kind, name)
            if key is None:
                continue
            mapping = known.get(key.upper())
            if mapping is None:
                dropped.append(name)
                continue
            text = "" if value is None else str(value)
            items.append({"DisplayName": _label(kind, name),
                          "CrmFieldKey": str(mapping["CrmFieldKey"]), "Value": text,
                          "DisplayValue": text, "SyncToCrm": True, "SyncToErp": True})
        what = f"connecting {crm_type} {record_id} to {so_type} {erp_key}"
        body = {"ErpConnectionId": self.erp_connection_id, "CrmRecordId": record_id,
                "CrmActorType": crm_type, "ErpKey": str(erp_key), "ErpActorType": so_type,
                "FieldValues": items}
        answer = self._agent_outcome(self._agent("ConnectActor", body, what), what,
                                     false_state="error")
        if not answer.ok and _ALREADY_LINKED.search(
                f"{answer.user_explanation} {answer.tech_explanation}"):
            return self._fail(
                f"SuperOffice refused to link {crm_type} {record_id} to {so_type} {erp_key}: "
                f"one of them is already linked in ERP connection {self.erp_connection_id}. "
                "Disconnect the existing link first if it is wrong",
                f"{answer.error_code}: {answer.user_explanation}", code="ALREADY_LINKED")
        if answer.ok and dropped:
            return self._answer(
                "warning", True,
                f"Linked {crm_type} {record_id} to {so_type} {erp_key}; not sent, as ERP "
                f"connection {self.erp_connection_id}'s mapping of {so_type} has no CRM field "
                f"for them: {', '.join(dropped)}", answer.tech_explanation, code="NOT_MAPPED")
        return answer

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

    def _new_actor_values(self, kind: str, so_type: str, values: Mapping[str, str | None]
                          ) -> Answer[dict[str, str]]:
        """``ErpFieldKeyValues`` for a new ``so_type``: the ERP field keys of
        ``GetFieldsForNewErpActor``, each filled from the CRM value mapped to it
        (``GetActorTypeMapping``: CrmFieldKey -> ErpFieldKey), else from the field's default
        (as the Create dialog pre-fills them). A mandatory field left without a value is an
        error naming it, so that nothing half-made reaches the ERP."""
        new_fields = self._fields_for_new(so_type)
        if not new_fields.ok:
            return new_fields  # type: ignore[return-value]
        mappings = self._field_mappings(so_type)
        if not mappings.ok:
            return mappings  # type: ignore[return-value]
        wanted = {str(f["FieldKey"]): f for f in new_fields.value or []
                  if _access(f) != "readonly"}
        erp_for_crm = {crm: str(m.get("ErpFieldKey") or "")
                       for crm, m in self._crm_keys(mappings.value or []).items()}
        out: dict[str, str] = {}
        for name, value in values.items():
            key = _sync_key(kind, name)
            erp_key = erp_for_crm.get(key.upper()) if key else None
            if erp_key and erp_key in wanted and value not in (None, ""):
                out[erp_key] = str(value)
        for key, info in wanted.items():
            default = info.get("DefaultValue")
            if key not in out and default not in (None, ""):
                out[key] = str(default)
        missing = [f"{_localised(info.get('DisplayName')) or key} ({key})"
                   for key, info in wanted.items()
                   if _access(info) == "mandatory" and not out.get(key, "").strip()]
        if missing:
            return self._fail(
                f"Cannot create the {so_type}: the ERP requires {', '.join(missing)}, and "
                "neither a mapped CRM value nor a default fills it. Give the CRM record a "
                "value for it, or set a default for the field in the ERP connection's "
                "mapping (Default values)", f"GetFieldsForNewErpActor: {len(missing)} "
                "mandatory field(s) empty", code="MISSING_MANDATORY")
        return Answer.good(out)

    def create_erp_actor(self, kind: str, crm_id: str, erp_actor_type: str,
                         values: dict[str, str | None]) -> Answer[ErpActor]:
        """``CreateErpActorFromCrm``, with ``ErpFieldKeyValues`` keyed by the ERP's own field
        keys (:meth:`_new_actor_values`). SuperOffice documents a bool answer, without the new
        ERP key: then the answer is a *warning* whose actor has ``erp_key`` None (created and
        linked, key unknown). A string answer, or an object with ``ErpKey``, gives the key."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        assert so_type is not None
        key_values = self._new_actor_values(kind, so_type, values)
        if not key_values.ok:
            return key_values  # type: ignore[return-value]
        what = f"creating a {so_type} in the ERP from {crm_type} {record_id}"
        body = {"ConnectionId": self.erp_connection_id, "CrmEntityId": record_id,
                "ErpActorType": so_type, "CrmActorType": crm_type,
                "ErpFieldKeyValues": key_values.value}
        answer = self._agent("CreateErpActorFromCrm", body, what)
        if not answer.ok:
            if _ALREADY_LINKED.search(f"{answer.user_explanation} {answer.tech_explanation}"):
                return self._fail(f"SuperOffice refused to create a {so_type} for {crm_type} "
                                  f"{record_id}: it is already linked in ERP connection "
                                  f"{self.erp_connection_id}", answer.user_explanation,
                                  code="ALREADY_LINKED")
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

    #: The Dynamic archive's columns for :meth:`links` (table.column, FK traversal by ``.``).
    LINK_COLUMNS: tuple[str, ...] = (
        "erpexternalkey.erpexternalkey_id", "erpexternalkey.ErpKey",
        "erpexternalkey.ActorType", "erpexternalkey.ErpInternalKeyId.erpinternalkey_id",
        "erpexternalkey.ErpInternalKeyId.recordId", "erpexternalkey.ErpInternalKeyId.tableId")

    def links(self, kind: str) -> Answer[list[CrmLink]]:
        """The links SuperOffice holds for ``kind`` in the configured ERP connection, as
        :class:`SuperOfficeLink` (crm_id, erp_actor_type, erp_key, internal_key_id), so that a
        workspace starts from them.

        Read from the documented ``Dynamic`` archive provider over the link tables
        (``ErpExternalKey``: ErpConnectionId, ErpKey, ActorType; its ``ErpInternalKeyId`` ->
        ``ErpInternalKey``: tableId, recordId), filtered to the connection and the kind's
        table, ordered by key and paged like :meth:`records`: a few requests for any number
        of links. The per-record agent calls (``GetConnectionsAndDisplayFields``) and the
        ``activeErpLinks`` archive column say only *whether* a record is linked, not to
        which ERP key. A row of another table, an unknown actor type or an empty key fails
        the read (an error, never a silently shorter list)."""
        if kind not in TABLE_ID:
            return self._fail(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}",
                              code="BAD_KIND")
        cols = self.LINK_COLUMNS
        params = {"$select": ",".join(cols),
                  "$filter": (f"erpexternalkey.ErpConnectionId eq {self.erp_connection_id} "
                              f"and erpexternalkey.ErpInternalKeyId.tableId eq {TABLE_ID[kind]}"),
                  "$orderBy": cols[0], "$top": str(self.page_size), "$skip": "0"}
        what = f"reading the {kind} links of ERP connection {self.erp_connection_id}"
        rows = self._pages("archive/dynamic", params, what)
        if not rows.ok:
            return rows  # type: ignore[return-value]
        out: list[CrmLink] = []
        allowed = ACTOR_TYPES[kind]  # type: ignore[index]
        for row in rows.value or []:
            cells = {str(k).lower(): v for k, v in row.items()}
            ext_id, erp_key, actor, int_id, record, table = (cells.get(c.lower()) for c in cols)
            where = f"link {_text(ext_id) or '?'}"
            if table not in (None, "") and str(table) not in (str(TABLE_ID[kind]),
                                                              CRM_ACTOR_TYPE[kind].lower()):
                return self._fail(f"SuperOffice listed a link of another table while {what}",
                                  f"{where}: tableId {table!r}", code="UNEXPECTED")
            actor_type = self._link_actor_type(actor)
            crm_id = _text(record)
            if actor_type not in allowed or not _text(erp_key) or crm_id in (None, "0"):
                return self._fail(f"SuperOffice listed a link that cannot be read while {what}",
                                  f"{where}: ActorType {actor!r}, ErpKey {erp_key!r}, "
                                  f"recordId {record!r}", code="UNEXPECTED")
            internal = _text(int_id)
            out.append(SuperOfficeLink(str(crm_id), actor_type, str(_text(erp_key)),
                                       int(internal) if internal and internal.isdigit()
                                       else None))
        return Answer.good(out)

    @staticmethod
    def _link_actor_type(value: Any) -> str | None:
        """An ``ActorType`` cell (the enum's name or number) in erpdata's vocabulary."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _ERP_ACTOR_TYPE_NUMBER.get(int(value))
        text = str(value or "").strip()
        if text.isdigit():
            return _ERP_ACTOR_TYPE_NUMBER.get(int(text))
        return {v.lower(): k for k, v in ERP_ACTOR_TYPE.items()}.get(text.lower())

    def force_resync(self, internal_key_ids: Sequence[int], *, from_erp: bool = False
                     ) -> Answer[bool]:
        """``ForceResync`` with ErpInternalKey ids (not CRM record ids, which SuperOffice's
        ForceResync cannot take; :meth:`links` gives each link's ``internal_key_id``): from
        the CRM to every connection (``ErpConnectionId`` 0), or from this ERP connection with
        ``from_erp``. An empty list would mean "all records" to SuperOffice, so it is
        refused."""
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
