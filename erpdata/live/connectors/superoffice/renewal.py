"""What keeps a long run against SuperOffice going: renewing an expired access token with a
refresh token (:class:`OidcRefresh`, failing with :class:`RenewalError`) and reading how long a
throttled call is asked to wait (``Retry-After``). Apart from the connector because a renewal is
made from a connection's settings and handed to the connector, which only calls it.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from erpdata.live.connectors.superoffice.tenant_hosts import _is_loopback


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
