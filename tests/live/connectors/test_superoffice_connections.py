"""A superoffice connection's options and secrets become connector arguments.

The end-to-end test talks real HTTP to :class:`tests.fakes.superoffice.FakeSuperOffice` on
127.0.0.1 (a fake, because no SuperOffice can run here); the others need no server.
"""

from __future__ import annotations

import pytest

from erpdata.live.connections import Connection, ConnectionSetupError, check, open_connector
from erpdata.live.connectors.superoffice import OidcRefresh, SuperOfficeConnector
from tests.fakes.superoffice import FakeSuperOffice

VAR = "ERPDATA_SECRET_CRM"


def so_conn(url: str = "https://online.superoffice.com/Cust12345", **options: str
            ) -> Connection:
    return Connection("crm", "superoffice", "crm", url,
                      options={"erp_connection_id": "7", **options})


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in ("", "_APP", "_REFRESH", "_CLIENT_SECRET"):
        monkeypatch.delenv(VAR + suffix, raising=False)


def test_check_refuses_unknown_and_bad_options() -> None:
    """No server needed: a misspelt option, a non-numeric connection id, an unknown auth and
    a plain-http token endpoint are all named."""
    with pytest.raises(ConnectionSetupError) as err:
        check(so_conn(client_idd="x", auth="basic", token_url="http://sod.superoffice.com/t",
                      erp_connection_id="seven"))
    said = str(err.value)
    assert "no option 'client_idd'" in said and "erp_connection_id 'seven'" in said
    assert "option auth" in said and "must be https" in said
    check(so_conn(client_id="abc", language="nb", timezone="NO",
                  trusted_domains="superoffice.com"))


def test_a_refresh_token_in_the_environment_turns_renewal_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No server needed: ``..._REFRESH`` with option client_id and ``..._CLIENT_SECRET``
    gives the connector an OidcRefresh at the environment's token endpoint; language,
    timezone and trusted domains are passed on."""
    monkeypatch.setenv(VAR, "access")
    monkeypatch.setenv(VAR + "_REFRESH", "refresh-secret")
    monkeypatch.setenv(VAR + "_CLIENT_SECRET", "client-secret")
    conn = open_connector(so_conn("https://sod2.superoffice.com/Cust12345", client_id="cid",
                                  language="nb", trusted_domains="superoffice.com, example.no"))
    assert isinstance(conn, SuperOfficeConnector)
    renew = conn._renew
    assert isinstance(renew, OidcRefresh)
    assert renew.token_url == "https://sod.superoffice.com/login/common/oauth/tokens"
    assert renew.client_id == "cid" and set(renew.secrets) == {"client-secret",
                                                                "refresh-secret"}
    assert (conn.language, conn.trusted_domains) == ("nb", ("superoffice.com", "example.no"))
    assert "secret" not in repr(conn) + repr(renew)


def test_missing_renewal_pieces_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """No server needed: a refresh token without client id and client secret, or a ticket
    without its app token, is a setup error naming what is missing."""
    monkeypatch.setenv(VAR, "access")
    monkeypatch.setenv(VAR + "_REFRESH", "refresh-secret")
    with pytest.raises(ConnectionSetupError) as err:
        open_connector(so_conn())
    assert "option client_id and ERPDATA_SECRET_CRM_CLIENT_SECRET" in str(err.value)
    with pytest.raises(ConnectionSetupError) as err:
        open_connector(so_conn(auth="ticket"))
    assert "ERPDATA_SECRET_CRM_APP" in str(err.value)


def test_an_expired_token_is_renewed_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake: the stored access token has expired; the connection's refresh token renews it
    at the fake's token endpoint and the read goes through."""
    with FakeSuperOffice() as so:
        so.add_contact(1, name="A")
        so.expire_credentials()
        monkeypatch.setenv(VAR, "fake-bearer-token")
        monkeypatch.setenv(VAR + "_REFRESH", so.refresh_token)
        monkeypatch.setenv(VAR + "_CLIENT_SECRET", so.client_secret)
        conn = open_connector(so_conn(so.url, client_id=so.client_id,
                                      token_url=f"{so.root}/login/common/oauth/tokens"))
        answer = conn.records("company")  # type: ignore[union-attr]
        assert answer.ok and [r.crm_id for r in answer.value] == ["1"]
        assert len(so.token_calls()) == 1
