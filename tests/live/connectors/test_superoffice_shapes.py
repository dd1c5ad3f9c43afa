"""The FAKE SuperOffice answers in the shapes of SuperOffice's public recordings and pages.

``tests/data/superoffice/*.json`` are response shapes taken from SuperOffice's public
documentation and from public SDK test recordings (each cited in ``docs/SUPEROFFICE.md``). The
fake (:class:`tests.fakes.superoffice.FakeSuperOffice`, real HTTP on 127.0.0.1, because no
SuperOffice can run here) fills them as templates; these tests hold it to them, key for key,
so that the connector's other tests run against the real shapes. The last tests read the
recorded shapes with the connector itself (no server needed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from erpdata.live.connectors.superoffice import SuperOfficeConnector, _parse_datetime
from tests.fakes.superoffice import TOKEN, FakeSuperOffice, fixture

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def agent(fake: FakeSuperOffice, method: str, body: dict[str, Any]) -> Any:
    resp = requests.post(f"{fake.url}/api/v1/Agents/ErpSync/{method}", json=body, timeout=5,
                         headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_tenant_state_has_the_documented_keys(so: FakeSuperOffice) -> None:
    """Fake ``/api/state``: the keys of the documented state answer."""
    state = requests.get(f"{so.root}/api/state/Cust12345", timeout=5).json()
    assert set(state) == set(fixture("tenant_state"))
    assert state["IsRunning"] is True and state["Endpoint"] == so.url


def test_error_bodies_have_the_documented_keys(so: FakeSuperOffice) -> None:
    """Fake 404 and 421 bodies: ``Error`` true plus type, message and source."""
    not_found = requests.get(f"{so.url}/api/v1/Contact/1", headers=AUTH, timeout=5)
    so.move_tenant("elsewhere.example")
    wrong = requests.get(f"{so.url}/api/v1/Contact", headers=AUTH, timeout=5)
    assert (not_found.status_code, wrong.status_code) == (404, 421)
    for resp in (not_found, wrong):
        assert set(resp.json()) == set(fixture("error_not_found"))
        assert resp.json()["Error"] is True
    assert wrong.json() == fixture("error_wrong_subdomain")


def test_archive_rows_have_the_recorded_shape(so: FakeSuperOffice) -> None:
    """Fake project archive vs the recorded page: the same envelope, PrimaryKey a string, the
    id a number, empty dates as 0001-01-01T00:00:00, a null nextLink on the last page."""
    so.add_project(1, name="Example: Internal project", ProjectNumber="10011",
                   updated=datetime(2020, 4, 22, 15, 51, 25, tzinfo=UTC))
    recorded = fixture("archive_project_page")
    columns = [k for k in recorded["value"][0] if k not in ("PrimaryKey", "EntityName",
                                                            "activeErpLinks")]
    page = requests.get(f"{so.url}/api/v1/Project", params={"$select": ",".join(columns)},
                        headers=AUTH, timeout=5).json()
    assert set(page) == set(recorded) and page["odata.nextLink"] is None
    (row,) = page["value"]
    want = {k: type(v) for k, v in recorded["value"][0].items() if k != "activeErpLinks"}
    assert {k: type(v) for k, v in row.items()} == want
    assert (row["PrimaryKey"], row["endDate"], row["updatedDate"]) == (
        "1", "0001-01-01T00:00:00", "2020-04-22T15:51:25")


def test_agent_answers_have_the_documented_keys(so: FakeSuperOffice) -> None:
    """Fake GetAllConnections, GetActorTypeMapping (and its items) and
    GetFieldsForNewErpActor (items): the keys of the documented answers."""
    (conn,) = agent(so, "GetAllConnections", {"IncludeDeleted": False})
    assert set(conn) == set(fixture("erpsync_get_all_connections")[0])
    mapping = agent(so, "GetActorTypeMapping", {"ErpConnectionId": 7, "ActorType": "Customer"})
    template = fixture("erpsync_get_actor_type_mapping")
    assert set(mapping) == set(template)
    assert all(set(m) == set(template["FieldMappings"][0]) for m in mapping["FieldMappings"])
    assert (mapping["ActorTypeErp"], mapping["ActorTypeCrm"]) == ("Customer", "Contact")
    new = agent(so, "GetFieldsForNewErpActor", {"ErpConnectionId": 7, "ErpActorType": "Person"})
    assert new and all(set(f) == set(fixture("erpsync_get_fields_for_new_erp_actor")[0])
                       for f in new)


def test_dynamic_archive_rows_have_the_documented_shape(so: FakeSuperOffice) -> None:
    """Fake Dynamic archive: rows keyed by the selected ``table.column`` names as sent, plus
    PrimaryKey (a string) and EntityName, as the documented dynamic samples show."""
    so.add_contact(1001, name="A")
    so.add_link("Contact", 1001, "Customer", "10023")
    recorded = fixture("archive_dynamic_erp_links")
    select = [k for k in recorded["value"][0] if "." in k]
    page = requests.get(f"{so.url}/api/v1/archive/dynamic", params={"$select": ",".join(select)},
                        headers=AUTH, timeout=5).json()
    (row,) = page["value"]
    assert set(row) == set(recorded["value"][0])
    assert {k: type(v) for k, v in row.items()} == {
        k: type(v) for k, v in recorded["value"][0].items()}


def test_token_answers_have_the_recorded_keys(so: FakeSuperOffice) -> None:
    """Fake token endpoint vs the recorded refresh answer: the same keys (no new refresh
    token); a bad grant answers OAuth's error shape."""
    form = {"grant_type": "refresh_token", "client_id": so.client_id,
            "client_secret": so.client_secret, "refresh_token": so.refresh_token}
    good = requests.post(f"{so.root}/login/common/oauth/tokens", data=form, timeout=5).json()
    bad = requests.post(f"{so.root}/login/common/oauth/tokens",
                        data={**form, "refresh_token": "x"}, timeout=5)
    assert set(good) == set(fixture("oauth_refresh_response"))
    assert bad.status_code == 400 and set(bad.json()) == {"error", "error_description"}


def test_the_connector_reads_the_recorded_project_page() -> None:
    """No server needed: the recorded archive page itself, read by the connector: the
    string primary key, the empty end date as no date, the updated date as UTC."""
    conn = SuperOfficeConnector("https://sod2.superoffice.com/Cust12345", token="t",
                                erp_connection_id=1)
    from erpdata.live.connectors.superoffice import COLLECTIONS

    (rec,), _ = conn._to_records("project", COLLECTIONS["project"],
                                 fixture("archive_project_page")["value"])
    assert (rec.crm_id, rec.fields["name"], rec.fields["number"]) == (
        "1", "Example: Internal project", "10011")
    assert rec.fields["enddate"] is None
    assert rec.last_modified == datetime(2020, 4, 22, 15, 51, 25, tzinfo=UTC)


def test_the_recorded_state_dates_parse() -> None:
    """No server needed: ValidUntil as recorded (seven fractional digits, Z) parses."""
    assert _parse_datetime(fixture("tenant_state")["ValidUntil"]) == datetime(
        2020, 10, 5, 9, 52, 1, 934296, tzinfo=UTC)
