"""The ErpSync agent as a real tenant uses it, against a FAKE SuperOffice.

No SuperOffice can run here, so every test talks real HTTP to
:class:`tests.fakes.superoffice.FakeSuperOffice` on 127.0.0.1. Its ERP connection has a
field mapping (``GetActorTypeMapping``) and new-actor fields (``GetFieldsForNewErpActor``)
the tests shape, refuses a ``CrmFieldKey`` its mapping does not know, a second link, and a
create without its mandatory values; its agent can be withheld (403) as SuperOffice Online
does for apps it was not granted to.
"""

from __future__ import annotations

from erpdata.live.connectors.superoffice import SuperOfficeLink
from tests.fakes.superoffice import TOKEN, FakeSuperOffice, new_field
from tests.fakes.superoffice import connector as make

# --- connect: CrmFieldKeys from the agent -----------------------------------------------------

def test_connect_sends_the_agents_crm_keys_and_only_those(so: FakeSuperOffice) -> None:
    """Fake mapping of Customer whose CRM keys are spelt ``Name`` and ``VatNo`` (matched
    case-insensitively to the canonical sync keys NAME, VATNO) and where category and country
    are not mapped: the FieldValues carry the agent's spelling, the unmapped values are left
    out, and the answer is a warning naming them; the mapping is read once for two links."""
    so.add_contact(1, name="A")
    so.add_contact(2, name="B")
    so.set_mapping("Customer", {"CustName": "Name", "VatNumber": "VatNo"})
    conn = make(so)
    first = conn.connect("company", "1", "customer", "K1",
                         {"name": "A", "vatno": "NO1", "category": "VIP", "country": "Norway"})
    assert (first.state, first.value, first.error_code) == ("warning", True, "NOT_MAPPED")
    assert "category, country" in first.user_explanation
    body = so.agent_calls("ConnectActor")[0].body
    assert [(v["CrmFieldKey"], v["Value"]) for v in body["FieldValues"]] == [
        ("Name", "A"), ("VatNo", "NO1")]
    assert conn.connect("company", "2", "customer", "K2", {"name": "B"}).state == "ok"
    assert len(so.agent_calls("GetActorTypeMapping")) == 1
    assert so.agent_calls("GetActorTypeMapping")[0].body == {"ErpConnectionId": 7,
                                                            "ActorType": "Customer"}


def test_the_fake_refuses_a_crm_key_its_mapping_does_not_know(so: FakeSuperOffice) -> None:
    """Fake: a ConnectActor with a key the mapping does not have (``NAME`` where it says
    ``Name``) is a 400 (which is why the connector sends the agent's own keys)."""
    import requests

    so.add_contact(1, name="A")
    so.set_mapping("Customer", {"CustName": "Name"})
    resp = requests.post(f"{so.url}/api/v1/Agents/ErpSync/ConnectActor", timeout=5,
                         headers={"Authorization": f"Bearer {TOKEN}"}, json={
                             "ErpConnectionId": 7, "CrmRecordId": 1, "CrmActorType": "Contact",
                             "ErpKey": "K", "ErpActorType": "Customer", "FieldValues": [
                                 {"CrmFieldKey": "NAME", "Value": "A"}]})
    assert resp.status_code == 400 and "Unknown CrmFieldKey 'NAME'" in resp.json()[
        "ErrorMessage"]
    assert ("Contact", 1) not in so.links


def test_a_duplicate_link_is_refused_not_overwritten(so: FakeSuperOffice) -> None:
    """Fake: the company is linked already (to K-OLD) in connection 7; linking it to K-NEW is
    refused: error ALREADY_LINKED, not retryable, saying to disconnect first; the old link
    stands. An ERP actor linked to another record is refused the same way."""
    so.add_contact(1, name="A")
    so.add_contact(2, name="B")
    so.add_link("Contact", 1, "Customer", "K-OLD")
    conn = make(so)
    answer = conn.connect("company", "1", "customer", "K-NEW", {"name": "A"})
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "ALREADY_LINKED",
                                                                   False)
    assert "already linked in ERP connection 7" in answer.user_explanation
    assert "Disconnect" in answer.user_explanation
    assert so.links[("Contact", 1)]["ErpKey"] == "K-OLD"
    other = conn.connect("company", "2", "customer", "K-OLD", {})
    assert other.error_code == "ALREADY_LINKED" and ("Contact", 2) not in so.links


# --- create: the ERP's field keys, defaults, mandatory fields ---------------------------------

def _customer_fields(so: FakeSuperOffice) -> None:
    """The ERP's new-Customer fields: CustName mapped to the CRM name, Terms mandatory with
    a default, Currency mandatory without one, Note optional."""
    so.set_mapping("Customer", {"CustName": "NAME", "VatNumber": "VATNO"})
    so.set_new_actor_fields("Customer", [
        new_field("CustName", "Customer name", access="Mandatory"),
        new_field("Terms", "Payment terms", access="Mandatory", default="30D"),
        new_field("Currency", "Currency", access="Mandatory"),
        new_field("Note", "Note")])


def test_create_sends_erp_keys_and_mandatory_defaults(so: FakeSuperOffice) -> None:
    """Fake: the CRM name goes under the ERP key CustName (through the mapping), Terms gets
    its default 30D; a value with a mapped key that is not a new-actor field (VatNumber) is
    not sent. With Currency given (a value the test maps to it), the create goes through."""
    _customer_fields(so)
    so.set_mapping("Customer", {"CustName": "NAME", "VatNumber": "VATNO",
                                "Currency": "COUNTRY"})
    so.add_contact(1, name="Nordlys AS")
    answer = make(so).create_erp_actor("company", "1", "customer",
                                       {"name": "Nordlys AS", "vatno": "NO1",
                                        "country": "NOK"})
    assert (answer.state, answer.error_code) == ("warning", "NO_ERP_KEY")
    (call,) = so.agent_calls("CreateErpActorFromCrm")
    assert call.body["ErpFieldKeyValues"] == {"CustName": "Nordlys AS", "Terms": "30D",
                                              "Currency": "NOK"}
    assert so.links[("Contact", 1)]["ErpActorType"] == "Customer"


def test_create_lacking_a_mandatory_value_is_refused_before_sending(so: FakeSuperOffice
                                                                    ) -> None:
    """Fake: Currency is mandatory, has no default and no mapped CRM value: an error naming
    it (display name and key), and no CreateErpActorFromCrm was sent."""
    _customer_fields(so)
    so.add_contact(1, name="Nordlys AS")
    answer = make(so).create_erp_actor("company", "1", "customer", {"name": "Nordlys AS"})
    assert (answer.state, answer.error_code, answer.retryable) == (
        "error", "MISSING_MANDATORY", False)
    assert "Currency (Currency)" in answer.user_explanation
    assert "Payment terms" not in answer.user_explanation
    assert so.agent_calls("CreateErpActorFromCrm") == []


def test_the_fake_refuses_a_create_without_mandatory_values(so: FakeSuperOffice) -> None:
    """Fake: a CreateErpActorFromCrm without the mandatory Currency is a 400 (the fake holds
    the ERP to its own mandatory fields, as the connector expects a real one to)."""
    import requests

    _customer_fields(so)
    so.add_contact(1, name="A")
    resp = requests.post(f"{so.url}/api/v1/Agents/ErpSync/CreateErpActorFromCrm", timeout=5,
                         headers={"Authorization": f"Bearer {TOKEN}"}, json={
                             "ConnectionId": 7, "CrmEntityId": 1, "ErpActorType": "Customer",
                             "CrmActorType": "Contact",
                             "ErpFieldKeyValues": {"CustName": "A", "Terms": "30D"}})
    assert resp.status_code == 400
    assert resp.json()["ErrorMessage"] == "Mandatory field 'Currency' has no value"


# --- test_connection: the agent's grant and the ERP connection --------------------------------

def test_connect_test_finds_a_missing_agent_grant(so: FakeSuperOffice) -> None:
    """Fake without the ErpSync agent granted: the REST read works, the agent answers 403:
    the test fails saying the agent is not granted and what to do."""
    so.agent_granted = False
    answer = make(so).test_connection()
    assert (answer.state, answer.error_code) == ("error", "AGENT_NOT_GRANTED")
    assert "ErpSync agent is not granted" in answer.user_explanation
    assert "approve the app again" in answer.user_explanation
    assert [r.endpoint for r in so.requests] == ["Contact", "Agents/ErpSync/GetAllConnections"]


def test_connect_test_names_the_connections_there_are(so: FakeSuperOffice) -> None:
    """Fake with connections 7 and 9: a connector for 8 fails, naming 7 and 9 and whether
    they are active."""
    so.erp_connections[9] = {**so.erp_connections[7], "DisplayName": "Visma",
                             "Active": False}
    answer = make(so, erp_connection_id=8).test_connection()
    assert (answer.state, answer.error_code) == ("error", "UNKNOWN_CONNECTION")
    assert "no ERP connection 8" in answer.user_explanation
    assert "7 'Fake ERP' (active), 9 'Visma' (inactive)" in answer.user_explanation


def test_connect_test_warns_about_an_inactive_connection(so: FakeSuperOffice) -> None:
    """Fake: connection 7 exists but is not active: a warning (ok), saying nothing syncs
    until an administrator activates it."""
    so.erp_connections[7]["Active"] = False
    answer = make(so).test_connection()
    assert (answer.state, answer.ok, answer.error_code) == ("warning", True, "INACTIVE")
    assert "not active" in answer.user_explanation and "(inactive)" in answer.value


# --- links: what SuperOffice holds already ----------------------------------------------------

def test_links_lists_the_connections_links_of_a_kind_page_by_page(so: FakeSuperOffice
                                                                  ) -> None:
    """Fake holding 5 company links in connection 7 (customers and a supplier), one in
    another connection, and a person link: links("company") reads the Dynamic archive in
    pages of 2 (3 requests) and gives exactly the 5, with their internal key ids."""
    for i in range(1, 6):
        so.add_contact(i, name=f"C{i}")
    ids = [so.add_link("Contact", i, "Customer" if i != 3 else "Supplier", f"E{i}")
           for i in range(1, 6)]
    so.add_contact(6, name="C6")
    so.add_link("Contact", 6, "Customer", "X6", connection=8)
    so.add_person(1, firstname="P", lastname="Q")
    so.add_link("Person", 1, "Person", "P1")
    answer = make(so, page_size=2).links("company")
    assert answer.state == "ok"
    assert answer.value == [
        SuperOfficeLink("1", "customer", "E1", ids[0]),
        SuperOfficeLink("2", "customer", "E2", ids[1]),
        SuperOfficeLink("3", "supplier", "E3", ids[2]),
        SuperOfficeLink("4", "customer", "E4", ids[3]),
        SuperOfficeLink("5", "customer", "E5", ids[4])]
    reads = so.calls("archive/dynamic")
    assert [r.query["$skip"] for r in reads] == ["0", "2", "4"]
    assert reads[0].query["$filter"] == ("erpexternalkey.ErpConnectionId eq 7 and "
                                         "erpexternalkey.ErpInternalKeyId.tableId eq 5")
    persons = make(so).links("person").unwrap()
    assert [(x.crm_id, x.erp_actor_type, x.erp_key) for x in persons] == [("1", "person",
                                                                           "P1")]


def test_links_made_here_are_listed(so: FakeSuperOffice) -> None:
    """Fake: a link made through connect is listed by links, and its internal key id is one
    ForceResync takes."""
    so.add_contact(1, name="A")
    conn = make(so)
    assert conn.connect("company", "1", "partner", "P-9", {}).ok
    (link,) = conn.links("company").unwrap()
    assert (link.crm_id, link.erp_actor_type, link.erp_key) == ("1", "partner", "P-9")
    assert conn.force_resync([link.internal_key_id]).ok


def test_links_fail_rather_than_shorten(so: FakeSuperOffice) -> None:
    """Fake: the archive read fails on page 2 -> an error, no partial list; an unknown kind
    is refused before any request."""
    for i in range(1, 4):
        so.add_contact(i, name=f"C{i}")
        so.add_link("Contact", i, "Customer", f"E{i}")
    so.fail_next(1, 500, after=1)
    answer = make(so, page_size=2).links("company")
    assert (answer.state, answer.value, answer.retryable) == ("error", None, True)
    before = len(so.requests)
    assert make(so).links("sale").error_code == "BAD_KIND" and len(so.requests) == before
