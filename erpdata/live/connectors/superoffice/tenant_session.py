"""One session with one SuperOffice tenant: finding the tenant's current host, sending the
credentials only where they may go, renewing them on a 401, waiting out ``Retry-After``, and
turning every HTTP and ErpSync-agent answer into an :class:`~erpdata.live.connectors.base.Answer`.

Why apart from the connector: this is how to talk to a tenant, whatever is asked of it; the
connector (:mod:`.superoffice_connector`) is what is asked (records, writes, links) in the terms
of the connector contract. The reasons for each rule are in that module's docstring and in
``docs/SUPEROFFICE.md``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from erpdata.live.connectors.base import Answer, State
from erpdata.live.connectors.superoffice.crm_records import _parse_datetime
from erpdata.live.connectors.superoffice.erpsync_agent import _AGENT, _localised
from erpdata.live.connectors.superoffice.renewal import _retry_after
from erpdata.live.connectors.superoffice.tenant_hosts import (
    _FINAL_STATES,
    DEFAULT_TRUSTED_DOMAINS,
    _host_is_trusted,
    origin_of,
)

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 429})
_THROTTLE_STATUS = frozenset({429, 503})


class TenantSession:
    """The HTTP side of :class:`~.superoffice_connector.SuperOfficeConnector`, whose docstring
    gives the arguments: the tenant's host, credentials and their renewal, throttling, and the
    answers of one call."""

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

    def close(self) -> None:
        """Close the HTTP session if this connector made it."""
        if self._own_session:
            self._session.close()
