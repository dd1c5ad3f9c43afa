"""Tryton's JSON-RPC over ``requests``: the one part of the Tryton connector that talks to the
server, so that sessions, logins and the ways a call can fail are handled in one place.

Every call is ``POST /<db>/rpc/`` with ``{"id", "method", "params"}`` and the user's context as
the last parameter. One ``requests.Session`` and one Tryton session (logged in once, again once
on a 401), because a login costs an argon2 check (~140 ms). A failure is raised as
:class:`_Failure`, carrying the failed :class:`~erpdata.live.connectors.base.Answer` (its
explanations, its error code and whether a retry may help) up to the public method that
returns it; the password appears in no explanation.
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from urllib3.exceptions import ProtocolError

from erpdata.live.connectors.base import Answer

_MAX_TECH = 2000


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


# --- failures --------------------------------------------------------------------------------

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


class TrytonTransport:
    """A live Tryton database over JSON-RPC. One ``requests.Session`` and one Tryton session
    (logged in once, again once on a 401), because a login costs an argon2 check (~140 ms).

    Not thread-safe (one session, one request counter): the connector that owns it is used by
    one thread at a time (the workbench's calls take turns, ``connections.serialised``).
    ``auth`` (the session header; None: not logged in), ``uid`` and ``context`` (the user's
    company, companies and language) are the login's, read by the set-up."""

    def __init__(self, url: str, database: str, user: str, password: str, *,
                 verify: bool = True, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.user = user
        self._password = password
        self._verify = verify
        self._timeout = timeout
        self._own_session = session is None
        self._http = session if session is not None else requests.Session()
        self.auth: str | None = None
        self.uid: int | None = None
        self.context: dict[str, Any] = {}
        self._next_id = 0

    def scrub(self, text: str) -> str:
        """Technical text, shortened and with the password blanked should it ever appear."""
        if self._password:
            text = text.replace(self._password, "***")
        return text[:_MAX_TECH]

    def post(self, path: str, method: str, params: list[Any], *, auth: bool = True) -> Any:
        """One JSON-RPC call; the result, or :class:`_Failure` saying why not."""
        self._next_id += 1
        request_id = self._next_id
        body = json.dumps({"id": request_id, "method": method, "params": params},
                          default=_encode)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth and self.auth:
            headers["Authorization"] = self.auth
        where = f"Tryton at {self.url}"
        try:
            resp = self._http.post(self.url + path, data=body.encode(), headers=headers,
                                   timeout=self._timeout, verify=self._verify)
        except requests.Timeout as exc:
            raise _Failure(Answer.failed(
                f"{where} did not answer within {self._timeout:g} s; try again later.",
                self.scrub(f"{method}: {exc}"), code="timeout", retryable=True)) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            # the answer broke off mid-body (fewer bytes than its Content-Length promised):
            # the call may have been done, and the connector's calls are safe to repeat
            raise _Failure(Answer.failed(
                f"{where} broke off its answer to {method} (incomplete response); trying "
                "again may help.", self.scrub(f"{method}: {exc}"), code="incomplete",
                retryable=True)) from None
        except requests.ConnectionError as exc:
            if _dropped(exc):  # reached, then lost: not "is the server running?"
                raise _Failure(Answer.failed(
                    f"{where} dropped the connection before answering {method} (connection "
                    "reset or closed); trying again may help.",
                    self.scrub(f"{method}: {exc}"), code="connection",
                    retryable=True)) from None
            raise _Failure(Answer.failed(
                f"{where} cannot be reached; is the server running?",
                self.scrub(f"{method}: {exc}"), code="connection", retryable=True)) from None
        except requests.RequestException as exc:
            raise _Failure(Answer.failed(
                f"The request to {where} failed.", self.scrub(f"{method}: {exc}"),
                code="request")) from None
        status = resp.status_code
        tech = self.scrub(f"{method}: HTTP {status} {resp.text[:300]}")
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
        tech = self.scrub(f"{method}: {json.dumps(error, default=str)}")
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

    def login(self) -> None:
        """Log in (``common.db.login``) and load the user's context (company, language)."""
        self.auth = None
        result = self.post(f"/{self.database}/rpc/", "common.db.login",
                           [self.user, {"password": self._password}, "en"], auth=False)
        uid, key = result[0], result[1]
        token = base64.b64encode(f"{self.user}:{uid}:{key}".encode()).decode()
        self.auth = f"Session {token}"
        self.uid = int(uid)
        try:
            self.load_context()
        except BaseException:
            # logged in without the user's context (company, language): calls would go out
            # with an empty or stale context, so the whole login is tried again next time
            self.auth = None
            raise

    def load_context(self) -> None:
        prefs = self.post(f"/{self.database}/rpc/", "model.res.user.get_preferences",
                          [True, {}])
        self.context = {k: prefs[k] for k in ("company", "companies", "language")
                        if prefs.get(k) is not None}

    def rpc(self, method: str, *params: Any) -> Any:
        """A database call with the context as last parameter; logs in first if needed and
        once more when the session has expired."""
        if self.auth is None:
            self.login()
        path = f"/{self.database}/rpc/"
        try:
            return self.post(path, method, [*params, self.context])
        except _Unauthorized:
            self.login()
            return self.post(path, method, [*params, self.context])

    def call(self, model: str, method: str, *params: Any) -> Any:
        return self.rpc(f"model.{model}.{method}", *params)

    def search_read(self, model: str, domain: list[Any], fields: list[str], *,
                    offset: int = 0, limit: int | None = None,
                    order: list[list[str]] | None = None) -> list[dict[str, Any]]:
        return self.call(model, "search_read", domain, offset, limit,
                         order or [["id", "ASC"]], fields)

    def close(self) -> None:
        """Log out (best effort) and release the HTTP session if this transport made it."""
        if self.auth is not None:
            with contextlib.suppress(_Failure):
                self.post(f"/{self.database}/rpc/", "common.db.logout", [])
            self.auth = None
        if self._own_session:
            self._http.close()
