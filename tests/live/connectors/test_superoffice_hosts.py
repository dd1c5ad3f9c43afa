"""The SuperOffice connector finds and follows the tenant's host, against a FAKE SuperOffice.

No SuperOffice can run here (a hosted, licensed product), so every test talks real HTTP to
:class:`tests.fakes.superoffice.FakeSuperOffice` on 127.0.0.1. Its listeners stand for
SuperOffice's hosts: the environment host (``sod``, serving ``/api/state``) and the numbered
tenant hosts (``sod2``, ``sod3``), which answer the tenant's API only while it lives there and
``421 Wrong subdomain`` otherwise. Tests that need real-looking ``https://...superoffice.com``
hosts (the default trusted domain, ``:443`` in links) reach the same fake through
:func:`tests.fakes.superoffice.loopback_session` (plain HTTP, the ``Host`` header kept).
"""

from __future__ import annotations

from typing import Any

from erpdata.live.connectors.superoffice import SuperOfficeConnector, origin_of
from tests.fakes.superoffice import TOKEN, FakeSuperOffice, host_of, loopback_session

LOCAL = ("127.0.0.1",)


def local(fake: FakeSuperOffice, **kwargs: Any) -> SuperOfficeConnector:
    """A connector configured with the fake's environment listener, resolving the tenant's
    host there, trusting 127.0.0.1 (a test-only trust: the default is superoffice.com)."""
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("erp_connection_id", 7)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("resolve_host", True)
    kwargs.setdefault("trusted_domains", LOCAL)
    return SuperOfficeConnector(fake.url, **kwargs)


def test_origins_compare_normalised() -> None:
    """No server needed: scheme and host in any case, the default port spelt or not, are one
    origin; another port or scheme is not."""
    same = ["https://sod2.superoffice.com/Cust1", "https://SOD2.SuperOffice.com:443/Cust1/x",
            "HTTPS://sod2.superoffice.com:443"]
    assert {origin_of(u) for u in same} == {("https", "sod2.superoffice.com", 443)}
    assert origin_of("https://sod2.superoffice.com:8443/") != origin_of(same[0])
    assert origin_of("http://sod2.superoffice.com/") != origin_of(same[0])


def test_env_host_is_resolved_lazily_without_credentials(so: FakeSuperOffice) -> None:
    """Fake: the tenant lives on a second listener; the configured (environment) listener
    answers 421 for the API. Nothing is sent at construction; the first call asks
    /api/state (no Authorization, no app token), then goes to the tenant's host."""
    tenant = so.add_listener()
    so.move_tenant(host_of(tenant))
    so.add_contact(1, name="A")
    conn = local(so)
    assert so.requests == []
    answer = conn.records("company")
    assert answer.ok and [r.crm_id for r in answer.value] == ["1"]
    state, read = so.requests
    assert state.path == "/api/state/Cust12345" and state.host == host_of(so.root)
    assert "Authorization" not in state.headers and "SO-AppToken" not in state.headers
    assert (read.endpoint, read.host) == ("Contact", host_of(tenant))
    assert conn.base_url == f"{tenant}/Cust12345"
    conn.records("company")
    assert len(so.state_calls()) == 1  # resolved once, not per call


def test_421_resolves_again_once_and_retries(so: FakeSuperOffice) -> None:
    """Fake: the tenant moves from host 2 to host 3 between two reads. The second read gets
    421 on host 2, asks /api/state again and retries on host 3: the answer is complete."""
    host2, host3 = so.add_listener(), so.add_listener()
    so.move_tenant(host_of(host2))
    for i in range(3):
        so.add_contact(i + 1, name=f"C{i}")
    conn = local(so)
    assert conn.records("company").ok
    so.move_tenant(host_of(host3))
    answer = conn.records("company")
    assert answer.state == "ok" and len(answer.value) == 3
    tail = [(r.path.split("/")[-1], r.host) for r in so.requests[2:]]
    assert tail == [("Contact", host_of(host2)), ("Cust12345", host_of(so.root)),
                    ("Contact", host_of(host3))]
    assert conn.base_url == f"{host3}/Cust12345"


def test_421_twice_is_a_plain_error(so: FakeSuperOffice) -> None:
    """Fake: the state API keeps naming a host that answers 421: one re-resolution, then an
    error that says what to configure, not a loop."""
    host2 = so.add_listener()
    so.move_tenant(host_of(host2))
    conn = local(so)
    assert conn.test_connection().ok
    so.state_endpoint = f"{host2}/Cust12345"
    so.move_tenant("elsewhere.example")
    answer = conn.records("company")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "HTTP_421", False)
    assert "Wrong subdomain" in answer.tech_explanation
    assert len(so.state_calls()) == 2


def test_an_untrusted_host_gets_no_credentials(so: FakeSuperOffice) -> None:
    """Fake: the state API names a host outside the trusted domains (127.0.0.1 is not under
    the default superoffice.com): refused before any credentialed request."""
    host2 = so.add_listener()
    so.move_tenant(host_of(host2))
    conn = local(so, trusted_domains=("superoffice.com",))
    answer = conn.records("company")
    assert (answer.state, answer.error_code) == ("error", "UNTRUSTED_HOST")
    assert "not under superoffice.com" in answer.user_explanation
    assert [r.path for r in so.requests] == ["/api/state/Cust12345"]


def test_a_tenant_in_maintenance_is_a_retryable_error(so: FakeSuperOffice) -> None:
    """Fake: State OfflineMaintenance (IsRunning false): retryable error naming the state."""
    so.state = "OfflineMaintenance"
    answer = local(so).records("company")
    assert (answer.state, answer.error_code, answer.retryable) == (
        "error", "TENANT_NOT_RUNNING", True)
    assert "OfflineMaintenance" in answer.user_explanation
    assert len(so.requests) == 1


def test_real_env_url_resolves_to_numbered_host_under_default_trust(so: FakeSuperOffice
                                                                    ) -> None:
    """Fake behind loopback_session: the URL https://sod.superoffice.com/Cust12345 is an
    environment host, so it is resolved (default trusted domains, https) to sod2, whose
    421-free API answers; sod itself is never sent credentials."""
    so.move_tenant("sod2.superoffice.com")
    so.add_contact(1, name="A")
    conn = SuperOfficeConnector("https://sod.superoffice.com/Cust12345", token=TOKEN,
                                erp_connection_id=7, session=loopback_session(so))
    answer = conn.records("company")
    assert answer.ok and len(answer.value) == 1
    assert [(r.host, r.path) for r in so.requests] == [
        ("sod.superoffice.com", "/api/state/Cust12345"),
        ("sod2.superoffice.com", "/Cust12345/api/v1/Contact")]
    assert "Authorization" not in so.requests[0].headers


def test_an_http_endpoint_is_refused_for_an_https_url(so: FakeSuperOffice) -> None:
    """Fake behind loopback_session: the state API names an http:// host under
    superoffice.com: refused (a downgrade), nothing credentialed sent."""
    so.state_endpoint = "http://sod2.superoffice.com/Cust12345"
    conn = SuperOfficeConnector("https://sod.superoffice.com/Cust12345", token=TOKEN,
                                erp_connection_id=7, session=loopback_session(so))
    answer = conn.records("company")
    assert (answer.state, answer.error_code) == ("error", "UNTRUSTED_HOST")
    assert "not https" in answer.user_explanation
    assert len(so.requests) == 1


def test_three_pages_with_explicit_443_links(so: FakeSuperOffice) -> None:
    """Fake behind loopback_session: the tenant host is https://sod2.superoffice.com and the
    nextLinks are spelt as real ones are, https://SOD2.SuperOffice.com:443/...: the same
    origin once normalised, so all three pages are read (5 contacts, page size 2)."""
    so.next_link_base = "https://SOD2.SuperOffice.com:443"
    for i in range(5):
        so.add_contact(i + 1, name=f"C{i}")
    conn = SuperOfficeConnector("https://sod2.superoffice.com/Cust12345", token=TOKEN,
                                erp_connection_id=7, page_size=2, session=loopback_session(so))
    answer = conn.records("company")
    assert answer.state == "ok"
    assert [r.crm_id for r in answer.value] == ["1", "2", "3", "4", "5"]
    gets = so.calls("Contact")
    assert [g.query["$skip"] for g in gets] == ["0", "2", "4"]
    # the links were followed as spelt (requests lower-cases the host, the port stays)
    assert [g.headers["Host"] for g in gets] == [
        "sod2.superoffice.com", "sod2.superoffice.com:443", "sod2.superoffice.com:443"]
    assert all(g.headers["Authorization"] == f"Bearer {TOKEN}" for g in gets)


def test_a_numbered_host_that_moved_is_resolved_on_421(so: FakeSuperOffice) -> None:
    """Fake behind loopback_session: configured on sod2, the tenant now lives on sod3: the
    first call gets 421, the environment host (sod, the number dropped) is asked, and the
    call is retried on sod3."""
    so.move_tenant("sod3.superoffice.com")
    so.add_contact(1, name="A")
    conn = SuperOfficeConnector("https://sod2.superoffice.com/Cust12345", token=TOKEN,
                                erp_connection_id=7, session=loopback_session(so))
    assert conn.records("company").ok
    assert [r.host for r in so.requests] == ["sod2.superoffice.com", "sod.superoffice.com",
                                             "sod3.superoffice.com"]
