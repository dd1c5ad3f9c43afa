"""The SuperOffice connector renews expired credentials, against a FAKE SuperOffice.

No SuperOffice can run here, so every test talks real HTTP to
:class:`tests.fakes.superoffice.FakeSuperOffice` on 127.0.0.1, whose credentials expire on
command (after N calls, or now) and whose ``/login/common/oauth/tokens`` issues new access
tokens for the refresh-token grant. Access tokens last an hour and tickets six, so a long bulk
run meets a 401 part-way: it must renew once and go on, and say plainly when it cannot.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from erpdata.live.connectors.base import CrmRecord
from erpdata.live.connectors.superoffice import OidcRefresh, RenewalError
from tests.fakes.superoffice import TOKEN, FakeSuperOffice
from tests.fakes.superoffice import connector as make


def refresh(fake: FakeSuperOffice, **kwargs: Any) -> OidcRefresh:
    """The built-in OIDC renewal, at the fake's token endpoint (http: this machine only)."""
    args = {"client_id": fake.client_id, "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token} | kwargs
    return OidcRefresh(f"{fake.root}/login/common/oauth/tokens", timeout=5.0, **args)


def test_a_token_expiring_mid_run_is_renewed_and_the_read_completes(so: FakeSuperOffice
                                                                      ) -> None:
    """Fake: 450 contacts, page size 200; the token allows 2 calls. The third page gets 401,
    the connector posts the refresh grant (form body, not the query), gets a new token and
    retries that page: all 450 records, the new token on the retry."""
    for i in range(450):
        so.add_contact(i + 1, name=f"C{i}")
    so.token_uses = 2
    answer = make(so, page_size=200, renew=refresh(so)).records("company")
    assert answer.state == "ok" and len(answer.value) == 450
    (grant,) = so.token_calls()
    assert grant.query == {}
    assert grant.body == {"grant_type": "refresh_token", "client_id": "fake-client-id",
                          "client_secret": "fake-client-secret",
                          "refresh_token": "fake-refresh-token"}
    assert "Authorization" not in grant.headers
    gets = so.calls("Contact")
    assert [g.query["$skip"] for g in gets] == ["0", "200", "400", "400"]
    assert gets[2].headers["Authorization"] == f"Bearer {TOKEN}"
    assert gets[3].headers["Authorization"] == "Bearer fake-bearer-token-1"


def test_a_renewal_that_fails_is_a_clear_error_and_scrubbed(so: FakeSuperOffice,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    """Fake: the token expired and the refresh token is not the fake's (invalid_grant): an
    error RENEW_FAILED that says to sign in again, no retry of the call, and neither the
    refresh token nor the client secret in any text or log."""
    caplog.set_level(logging.DEBUG)
    so.add_contact(1, name="A")
    so.expire_credentials()
    renew = refresh(so, refresh_token="stale-REFRESH-secret-99")
    conn = make(so, renew=renew)
    answer = conn.save([CrmRecord("company", "1", {"name": "B"})])
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "RENEW_FAILED",
                                                                   False)
    assert "answered 400: The refresh token is not valid" in answer.user_explanation
    assert "Sign in again" in answer.user_explanation
    assert len(so.calls("Contact/1")) == 1 and len(so.token_calls()) == 1
    texts = f"{answer.user_explanation}{answer.tech_explanation}{caplog.text}{conn!r}{renew!r}"
    assert "stale-REFRESH-secret-99" not in texts and so.client_secret not in texts


def test_a_second_401_after_renewal_is_final(so: FakeSuperOffice) -> None:
    """Fake: the renewal hands out a token the server does not take: one renewal, one retry,
    then an error saying the renewed credentials were refused too (not a loop)."""
    so.add_contact(1, name="A")
    so.expire_credentials()
    calls: list[int] = []

    def renew() -> str:
        calls.append(1)
        return "still-not-valid"

    answer = make(so, renew=renew).records("company")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "HTTP_401", False)
    assert "renewed credentials too" in answer.user_explanation
    assert len(calls) == 1 and len(so.calls("Contact")) == 2


def test_a_ticket_is_renewed_through_the_callable(so: FakeSuperOffice) -> None:
    """Fake with ticket auth: the ticket expires; ``renew`` returns a new ticket (as a
    partner's system-user flow would), which goes as ``SOTicket`` with the same app token."""
    so.token, so.ticket, so.app_token = None, "7T:old==", "app-secret"
    so.add_contact(1, name="A")
    so.expire_credentials()
    conn = make(so, ticket="7T:old==", app_token="app-secret", renew=so.issue_ticket)
    assert conn.records("company").ok
    last = so.calls("Contact")[-1]
    assert last.headers["Authorization"] == "SOTicket 7T:fake-ticket-1=="
    assert last.headers["SO-AppToken"] == "app-secret"


def test_without_renewal_a_401_says_how_long_credentials_last(so: FakeSuperOffice) -> None:
    """Fake: an expired token and no renewal: final 401 whose text names the lifetimes and
    renewal."""
    so.expire_credentials()
    answer = make(so).records("company")
    assert (answer.error_code, answer.retryable) == ("HTTP_401", False)
    assert "refused the credentials" in answer.user_explanation
    assert "an hour" in answer.user_explanation and "renewal" in answer.user_explanation


def test_renewed_tokens_are_scrubbed_from_every_text(so: FakeSuperOffice) -> None:
    """Fake echoing the received credentials in an error after a renewal: the renewed token
    is replaced by *** like the first one."""
    so.add_contact(1, name="A")
    so.expire_credentials()
    conn = make(so, renew=so.issue_token)
    so.fail_next(1, 400, echo_auth=True, after=1)
    answer = conn.records("company")
    assert answer.state == "error" and "***" in answer.user_explanation
    assert "fake-bearer-token-1" not in answer.user_explanation + answer.tech_explanation


def test_oidc_refresh_refuses_plain_http_off_this_machine() -> None:
    """No server needed: the client secret and refresh token only go over https (http only
    to this machine, for tests)."""
    with pytest.raises(ValueError):
        OidcRefresh("http://sod.superoffice.com/login/common/oauth/tokens", "c", "s", "r")
    with pytest.raises(ValueError):
        OidcRefresh("https://sod.superoffice.com/login/common/oauth/tokens", "c", "", "r")


def test_oidc_refresh_follows_a_rotated_refresh_token(so: FakeSuperOffice,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake token endpoint answering a new refresh token (some endpoints rotate them): the
    next renewal sends the new one; a renewal error is a RenewalError."""
    renew = refresh(so)
    real = so._tokens

    def rotating(form: Any) -> tuple[int, Any]:
        status, body = real(form)
        if status == 200:
            so.refresh_token = "rotated-refresh"
            body["refresh_token"] = "rotated-refresh"
        return status, body

    monkeypatch.setattr(so, "_tokens", rotating)
    assert renew() == "fake-bearer-token-1"
    assert renew() == "fake-bearer-token-2"
    assert [c.body["refresh_token"] for c in so.token_calls()] == ["fake-refresh-token",
                                                                   "rotated-refresh"]
    assert "rotated-refresh" in renew.secrets
    so.refresh_token = "changed-elsewhere"
    with pytest.raises(RenewalError):
        renew()
