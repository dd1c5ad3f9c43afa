"""The SuperOffice connector, tested against a FAKE SuperOffice server.

Every test that talks HTTP here runs against :class:`tests.fakes.superoffice.FakeSuperOffice`,
a local HTTP server on 127.0.0.1 built from the request and response shapes the domain guide
documents (d2, f), because no SuperOffice can run here (the few tests that need no server say
so in their docstring). Passing proves the connector speaks those shapes
and handles failures as the contract says; what only a real tenant can confirm is listed in
``docs/SUPEROFFICE.md``. Each test asserts exact outcomes: request counts and bodies, field
values, answer states, codes and retryability.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from erpdata.live.connectors.base import CrmRecord
from erpdata.live.connectors.superoffice import SuperOfficeConnector
from tests.fakes.superoffice import TOKEN, FakeSuperOffice
from tests.fakes.superoffice import connector as make

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def so() -> Iterator[FakeSuperOffice]:
    """A started fake tenant with a fixed clock (writes stamp UpdatedDate = NOW)."""
    with FakeSuperOffice(clock=lambda: NOW) as fake:
        yield fake


def full_contact(fake: FakeSuperOffice) -> int:
    return fake.add_contact(
        1001, name="Nordlys AS", Department="Oslo", OrgNr="NO 912 345 678", Number1="NORD",
        Number2="10042", Phones=[{"Value": "+47 22 33 44 55"}], Faxes=[{"Value": "+47 22 00"}],
        Emails=[{"Value": "post@nordlys.no"}, {"Value": "faktura@nordlys.no"}],
        Urls=[{"Value": "https://nordlys.no"}],
        Address={"Street": {"Address1": "Storgata 1", "Address2": "", "Address3": None,
                            "Zipcode": "0155", "City": "Oslo"},
                 "Postal": {"Address1": "Postboks 12", "Zipcode": "0101", "City": "Oslo"}},
        Country={"Name": "Norway"}, Category={"Value": "Customer"},
        updated=datetime(2024, 5, 2, 8, 30, tzinfo=UTC))


# --- reading ----------------------------------------------------------------------------------

def test_paging_follows_next_link_450_contacts_in_3_requests(so: FakeSuperOffice) -> None:
    """Fake: 450 contacts, page size 200 -> exactly 3 GETs (skip 0, 200, 400), 450 records."""
    for i in range(450):
        so.add_contact(i + 1, name=f"Company {i + 1}")
    answer = make(so, page_size=200).records("company")
    assert answer.state == "ok"
    assert [r.crm_id for r in answer.value][:3] == ["1", "2", "3"]
    assert len(answer.value) == 450 and len({r.crm_id for r in answer.value}) == 450
    gets = so.calls("Contact", "GET")
    assert len(gets) == 3
    assert [g.query["$skip"] for g in gets] == ["0", "200", "400"]
    assert all(g.query["$top"] == "200" for g in gets)
    first = gets[0].query
    assert first["$orderBy"] == "contactId"
    assert first["$select"].split(",")[:6] == ["contactId", "name", "department", "orgnr",
                                              "code", "number"]
    assert "$filter" not in first


def test_paging_by_skip_when_no_next_link(so: FakeSuperOffice) -> None:
    """Fake without nextLinks: full pages still lead on by $skip, so 400 rows are not cut to
    200; 400 rows take 3 requests (the third comes back empty)."""
    so.next_links = False
    for i in range(400):
        so.add_contact(i + 1, name=f"C{i}")
    answer = make(so, page_size=200).records("company")
    assert answer.ok and len(answer.value) == 400
    assert [g.query["$skip"] for g in so.calls("Contact")] == ["0", "200", "400"]


def test_failed_second_page_fails_the_whole_read(so: FakeSuperOffice) -> None:
    """Fake: page 2 answers 503 -> an error answer with no partial list, retryable."""
    for i in range(250):
        so.add_contact(i + 1, name=f"C{i}")
    so.fail_next(1, 503, after=1)
    answer = make(so, page_size=200).records("company")
    assert (answer.state, answer.value, answer.retryable) == ("error", None, True)
    assert answer.error_code == "HTTP_503"
    assert len(so.calls("Contact")) == 2


def test_next_link_to_another_host_is_not_followed(so: FakeSuperOffice) -> None:
    """Fake: a nextLink to another host is refused (the token would go there)."""
    so.next_link_base = "http://127.0.0.2:9"
    for i in range(3):
        so.add_contact(i + 1, name=f"C{i}")
    answer = make(so, page_size=2).records("company")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "FOREIGN_HOST",
                                                                   False)
    assert len(so.requests) == 1


def test_since_filter_uses_documented_date_operators_and_cuts_exactly(
        so: FakeSuperOffice) -> None:
    """Fake: the filter asks for updated-or-registered after (since - 2 days); the exact
    cut at ``since`` is made by the connector, in UTC."""
    so.add_contact(1, name="Old", updated=datetime(2024, 4, 1, tzinfo=UTC))
    so.add_contact(2, name="Same day, earlier", updated=datetime(2024, 5, 10, 11, 0,
                                                                  tzinfo=UTC))
    so.add_contact(3, name="Changed after", updated=datetime(2024, 5, 10, 12, 0, tzinfo=UTC))
    so.add_contact(4, name="Created after, never edited",
                   created=datetime(2024, 5, 11, 9, 0, tzinfo=UTC))
    since = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    answer = make(so).records("company", since)
    assert answer.ok
    assert [(r.crm_id, r.last_modified) for r in answer.value] == [
        ("3", datetime(2024, 5, 10, 12, 0, tzinfo=UTC)),
        ("4", datetime(2024, 5, 11, 9, 0, tzinfo=UTC)),
    ]
    assert so.calls("Contact")[0].query["$filter"] == (
        "updatedDate after '2024-05-08' or registeredDate after '2024-05-08'")


def test_company_fields_map_to_canonical_names(so: FakeSuperOffice) -> None:
    """Fake: every archive column lands in its canonical field; empty is None."""
    full_contact(so)
    (rec,) = make(so).records("company").unwrap()
    assert rec.kind == "company" and rec.crm_id == "1001"
    assert rec.fields == {
        "name": "Nordlys AS", "department": "Oslo", "vatno": "NO 912 345 678",
        "number1": "NORD", "number2": "10042", "phone": "+47 22 33 44 55",
        "fax": "+47 22 00", "email": "post@nordlys.no", "url": "https://nordlys.no",
        "streetad1": "Storgata 1", "streetad2": None, "streetad3": None, "streetzip": "0155",
        "streetcity": "Oslo", "postalad1": "Postboks 12", "postalad2": None,
        "postalad3": None, "postalzip": "0101", "postalcity": "Oslo", "country": "Norway",
        "category": "Customer",
    }
    assert rec.last_modified == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)


def test_person_fields_and_company_id(so: FakeSuperOffice) -> None:
    """Fake: persons use the Person archive's own column names (personUpdatedDate…)."""
    so.add_contact(1001, name="Nordlys AS")
    so.add_person(2001, firstname="Kari", lastname="Nordmann", contact_id=1001,
                  MiddleName="B.", Title="CFO", Position={"Value": "Finance"},
                  PersonNumber="P-7", BirthDate="1980-05-17T00:00:00",
                  Emails=[{"Value": "kari@nordlys.no"}], OfficePhones=[{"Value": "111"}],
                  MobilePhones=[{"Value": "222"}], PrivatePhones=[{"Value": "333"}],
                  OtherPhones=[{"Value": "444"}])
    so.add_person(2002, firstname="Ola", lastname="Uten Firma")
    answer = make(so).records("person", datetime(2019, 1, 1, tzinfo=UTC))
    kari, ola = answer.unwrap()
    assert kari.fields == {
        "firstname": "Kari", "middlename": "B.", "lastname": "Nordmann", "title": "CFO",
        "position": "Finance", "number": "P-7", "email": "kari@nordlys.no",
        "phone_direct": "111", "phone_mobile": "222", "phone_private": "333",
        "phone_other": "444", "birthdate": "1980-05-17", "company_id": "1001",
    }
    assert ola.fields["company_id"] is None and ola.fields["birthdate"] is None
    assert so.calls("Person")[0].query["$filter"] == (
        "personUpdatedDate after '2018-12-30' or personRegisteredDate after '2018-12-30'")


def test_project_company_from_members_merged_per_project(so: FakeSuperOffice) -> None:
    """Fake: one archive row per project member; rows merge by projectId, the first
    member's company wins and the answer says how many projects had several."""
    so.add_project(3001, name="Rollout", member_contact_ids=(1001, 1002), ProjectNumber="PR-1",
                   Description="Phase 1", EndDate="2024-12-31T00:00:00",
                   ProjectStatus={"Value": "Running"})
    so.add_project(3002, name="Solo", member_contact_ids=(1003,))
    so.add_project(3003, name="Nobody")
    answer = make(so, page_size=2).records("project")
    assert answer.state == "ok_with_info"
    assert "1 project(s)" in answer.user_explanation
    assert [(r.crm_id, r.fields["company_id"]) for r in answer.value] == [
        ("3001", "1001"), ("3002", "1003"), ("3003", None)]
    assert answer.value[0].fields == {"name": "Rollout", "number": "PR-1", "text": "Phase 1",
                                      "enddate": "2024-12-31", "status": "Running",
                                      "company_id": "1001"}
    # 4 rows, page size 2: two pages by nextLink; the second is full and has no nextLink,
    # so one more page is asked for by $skip (it is empty) rather than trusting a full page.
    assert [c.query["$skip"] for c in so.calls("Project")] == ["0", "2", "4"]


# --- writing ----------------------------------------------------------------------------------

def test_save_sends_a_merge_patch_for_top_level_fields(so: FakeSuperOffice) -> None:
    """Fake: only top-level text changes -> one PATCH, JSON Merge Patch, exact body."""
    full_contact(so)
    answer = make(so).save([CrmRecord("company", "1001",
                                      {"name": "Nordlys Holding AS", "vatno": "912345678",
                                       "department": None})])
    assert answer.state == "ok"
    assert answer.value == [CrmRecord("company", "1001",
                                      {"name": "Nordlys Holding AS", "vatno": "912345678",
                                       "department": None}, NOW)]
    (patch,) = so.calls("Contact/1001", "PATCH")
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert patch.body == {"Name": "Nordlys Holding AS", "OrgNr": "912345678",
                          "Department": None}
    assert so.contacts[1001]["Name"] == "Nordlys Holding AS"
    assert len(so.requests) == 1


def test_save_uses_json_patch_for_address_and_contact_lists(so: FakeSuperOffice) -> None:
    """Fake: an address part under a null Address and e-mail/phone arrays need a JSON Patch
    (a merge patch would fail / replace whole arrays): read first, then replace the first
    e-mail, add the missing phone, keep the second e-mail."""
    so.add_contact(1001, name="Nordlys AS", Emails=[{"Value": "old@x.no"},
                                                    {"Value": "second@x.no"}])
    record = CrmRecord("company", "1001", {"streetcity": "Bergen", "email": "new@x.no",
                                           "phone": "+47 55 00 00 00", "name": "Nordlys"})
    answer = make(so).save([record])
    assert answer.state == "ok" and answer.value[0].last_modified == NOW
    assert [(r.method, r.endpoint) for r in so.requests] == [("GET", "Contact/1001"),
                                                              ("PATCH", "Contact/1001")]
    patch = so.requests[1]
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert patch.body == [
        {"op": "replace", "path": "/Address/Street/City", "value": "Bergen"},
        {"op": "replace", "path": "/Emails/0/Value", "value": "new@x.no"},
        {"op": "add", "path": "/Phones/-", "value": {"Value": "+47 55 00 00 00"}},
        {"op": "replace", "path": "/Name", "value": "Nordlys"},
    ]
    stored = so.contacts[1001]
    assert stored["Address"] == {"Street": {"City": "Bergen"}}
    assert stored["Emails"] == [{"Value": "new@x.no"}, {"Value": "second@x.no"}]
    assert stored["Phones"] == [{"Value": "+47 55 00 00 00"}]


def test_save_person_dates_and_clearing_a_phone(so: FakeSuperOffice) -> None:
    """Fake: a date goes as an ISO date-time; None clears (removes) the first phone."""
    so.add_person(2001, firstname="Kari", lastname="N", MobilePhones=[{"Value": "999"}])
    answer = make(so).save([CrmRecord("person", "2001",
                                      {"birthdate": "1980-05-17", "phone_mobile": None})])
    assert answer.state == "ok"
    assert so.calls("Person/2001", "PATCH")[0].body == [
        {"op": "replace", "path": "/BirthDate", "value": "1980-05-17T00:00:00"},
        {"op": "remove", "path": "/MobilePhones/0"},
    ]
    assert so.persons[2001]["MobilePhones"] == []


def test_save_warns_about_list_fields_it_does_not_write(so: FakeSuperOffice) -> None:
    """Fake: category and company_id are not written; the answer is a warning naming them,
    with the record saved for the fields that were written."""
    full_contact(so)
    answer = make(so).save([CrmRecord("company", "1001", {"name": "N", "category": "VIP"})])
    assert answer.state == "warning" and answer.ok
    assert answer.error_code == "NOT_WRITTEN"
    assert "company: category" in answer.user_explanation
    assert answer.value == [CrmRecord("company", "1001", {"name": "N"}, NOW)]
    assert so.calls("Contact/1001", "PATCH")[0].body == {"Name": "N"}


def test_save_stops_at_first_failure_and_says_what_was_saved(so: FakeSuperOffice) -> None:
    """Fake: the second record does not exist (404) -> error, not retryable, value = the
    first record as saved, third never sent."""
    so.add_contact(1, name="A")
    so.add_contact(3, name="C")
    answer = make(so).save([CrmRecord("company", "1", {"name": "A2"}),
                            CrmRecord("company", "2", {"name": "B2"}),
                            CrmRecord("company", "3", {"name": "C2"})])
    assert (answer.state, answer.retryable, answer.error_code) == ("error", False, "HTTP_404")
    assert answer.value == [CrmRecord("company", "1", {"name": "A2"}, NOW)]
    assert answer.user_explanation.startswith("Saved 1 of 3 records; Contact 2 failed")
    assert "Contact id 2 not found" in answer.user_explanation
    assert [r.endpoint for r in so.requests] == ["Contact/1", "Contact/2"]


def test_save_checks_every_record_before_sending(so: FakeSuperOffice) -> None:
    """Fake: a bad id or a bad date anywhere in the batch -> error, nothing sent."""
    so.add_contact(1, name="A")
    bad_id = make(so).save([CrmRecord("company", "1", {"name": "x"}),
                            CrmRecord("company", "abc", {"name": "y"})])
    bad_date = make(so).save([CrmRecord("project", "5", {"enddate": "31.12.2024"})])
    assert (bad_id.state, bad_id.error_code) == ("error", "BAD_ID")
    assert (bad_date.state, bad_date.error_code) == ("error", "BAD_VALUE")
    assert so.requests == []


# --- links ------------------------------------------------------------------------------------

def test_connect_sends_the_documented_body(so: FakeSuperOffice) -> None:
    """Fake: ConnectActor body exactly as documented; 204 -> ok True; link stored."""
    full_contact(so)
    answer = make(so).connect("company", "1001", "supplier", "L-20",
                              {"name": "Nordlys AS", "vatno": None})
    assert (answer.state, answer.value) == ("ok", True)
    (call,) = so.agent_calls("ConnectActor")
    assert call.body == {
        "ErpConnectionId": 7, "CrmRecordId": 1001, "CrmActorType": "Contact",
        "ErpKey": "L-20", "ErpActorType": "Supplier",
        "FieldValues": [
            {"DisplayName": "Name", "CrmFieldKey": "NAME", "Value": "Nordlys AS",
             "DisplayValue": "Nordlys AS", "SyncToCrm": True, "SyncToErp": True},
            {"DisplayName": "Org. no / VAT no", "CrmFieldKey": "VATNO", "Value": "",
             "DisplayValue": "", "SyncToCrm": True, "SyncToErp": True},
        ]}
    assert call.headers["Content-Type"] == "application/json"
    assert so.links[("Contact", 1001)]["ErpKey"] == "L-20"


@pytest.mark.parametrize(("kind", "actor", "so_kind", "so_actor"), [
    ("company", "customer", "Contact", "Customer"),
    ("company", "partner", "Contact", "Partner"),
    ("person", "person", "Person", "Person"),
    ("project", "project", "Project", "Project"),
])
def test_actor_type_mapping(so: FakeSuperOffice, kind: str, actor: str, so_kind: str,
                            so_actor: str) -> None:
    """Fake: erpdata's lower-case actor types map to SuperOffice's names per kind."""
    so.add_contact(1, name="C")
    so.add_person(1, firstname="P", lastname="Q")
    so.add_project(1, name="R")
    assert make(so).connect(kind, "1", actor, "K1", {}).state == "ok"
    body = so.agent_calls("ConnectActor")[0].body
    assert (body["CrmActorType"], body["ErpActorType"]) == (so_kind, so_actor)


def test_connect_refuses_an_actor_type_the_kind_cannot_have(so: FakeSuperOffice) -> None:
    """Fake: a company cannot be a 'person' actor: error before any request."""
    answer = make(so).connect("company", "1", "person", "K", {})
    assert (answer.state, answer.error_code) == ("error", "BAD_ACTOR_TYPE")
    assert so.requests == []


def test_disconnect_true_then_false(so: FakeSuperOffice) -> None:
    """Fake: BreakActorLink true -> ok; again (no link left) false -> warning, value False."""
    so.add_contact(1001, name="N")
    conn = make(so)
    assert conn.connect("company", "1001", "customer", "K", {}).ok
    first = conn.disconnect("company", "1001")
    second = conn.disconnect("company", "1001")
    assert (first.state, first.value) == ("ok", True)
    assert (second.state, second.value, second.error_code) == ("warning", False, "FALSE")
    assert so.agent_calls("BreakActorLink")[0].body == {
        "ErpConnectionId": 7, "CrmRecordId": 1001, "CrmActorType": "Contact"}


def test_create_erp_actor_documented_bool_answer_is_a_warning_without_key(
        so: FakeSuperOffice) -> None:
    """Fake answering ``true`` (as documented): created and linked, key unknown -> warning
    with an actor whose erp_key is None; body as documented."""
    so.add_person(2001, firstname="Kari", lastname="N")
    answer = make(so).create_erp_actor("person", "2001", "person",
                                       {"firstname": "Kari", "email": "k@x.no"})
    assert (answer.state, answer.error_code) == ("warning", "NO_ERP_KEY")
    assert answer.value.actor_type == "person" and answer.value.erp_key is None
    assert answer.value.fields == {"firstname": "Kari", "email": "k@x.no"}
    assert so.agent_calls("CreateErpActorFromCrm")[0].body == {
        "ConnectionId": 7, "CrmEntityId": 2001, "ErpActorType": "Person",
        "CrmActorType": "Person", "ErpFieldKeyValues": {"FIRSTNAME": "Kari",
                                                        "EMAIL": "k@x.no"}}


def test_create_erp_actor_with_a_key_answer(so: FakeSuperOffice) -> None:
    """Fake answering the new ErpKey: ok, the actor carries it."""
    so.create_returns = "key"
    so.add_contact(1001, name="N")
    answer = make(so).create_erp_actor("company", "1001", "customer", {"name": "N"})
    assert answer.state == "ok"
    assert (answer.value.erp_key, answer.value.actor_type) == ("ERP-5001", "customer")
    assert so.links[("Contact", 1001)]["ErpKey"] == "ERP-5001"


def test_create_erp_actor_false_is_an_error(so: FakeSuperOffice) -> None:
    """Fake answering ``false``: nothing was created -> error."""
    so.add_contact(1001, name="N")
    so.answer_next("CreateErpActorFromCrm", 200, False)
    answer = make(so).create_erp_actor("company", "1001", "customer", {})
    assert (answer.state, answer.error_code, answer.value) == ("error", "FALSE", None)


def test_force_resync_bodies_and_refusals(so: FakeSuperOffice) -> None:
    """Fake: ForceResync from the CRM sends ErpConnectionId 0, from the ERP connection its
    id; an empty list (= everything) sends nothing."""
    conn = make(so)
    assert conn.force_resync([11, 12]).state == "ok"
    assert conn.force_resync([13], from_erp=True).state == "ok"
    assert [c.body for c in so.agent_calls("ForceResync")] == [
        {"ErpConnectionId": 0, "InternalKeyIds": [11, 12]},
        {"ErpConnectionId": 7, "InternalKeyIds": [13]},
    ]
    empty = conn.force_resync([])
    assert (empty.state, empty.error_code) == ("error", "EMPTY")
    assert len(so.agent_calls("ForceResync")) == 2


def test_warn_plugin_response_is_a_warning_answer(so: FakeSuperOffice) -> None:
    """Fake: a PluginResponse with Status Warn -> warning (ok, with its English text)."""
    so.answer_next("ForceResync", 200, {
        "IsOk": True, "Status": "Warn", "UserExplanation": 'US:"2 fields cut"NO:"2 felt kuttet"',
        "TechExplanation": "MaxLength 30", "ErrorCode": "TRUNC", "Changes": None})
    answer = make(so).force_resync([1])
    assert (answer.state, answer.ok, answer.value) == ("warning", True, True)
    assert (answer.user_explanation, answer.tech_explanation, answer.error_code) == (
        "2 fields cut", "MaxLength 30", "TRUNC")


@pytest.mark.parametrize(("status", "is_ok"), [("Error", False), ("Ok", False)])
def test_error_plugin_response_is_an_error(so: FakeSuperOffice, status: str, is_ok: bool
                                           ) -> None:
    """Fake: Status Error, or IsOk false whatever the Status -> error, not retryable."""
    so.add_contact(1, name="N")
    so.answer_next("ConnectActor", 200, {"IsOk": is_ok, "Status": status,
                                         "UserExplanation": "ERP said no",
                                         "TechExplanation": "", "ErrorCode": "E1"})
    answer = make(so).connect("company", "1", "customer", "K", {})
    assert (answer.state, answer.user_explanation, answer.error_code, answer.retryable) == (
        "error", "ERP said no", "E1", False)
    assert ("Contact", 1) not in so.links


def test_ok_with_info_plugin_response(so: FakeSuperOffice) -> None:
    """Fake: Status OkWithInfo -> ok_with_info with its text."""
    so.answer_next("ForceResync", 200, {"IsOk": True, "Status": "OkWithInfo",
                                        "UserExplanation": "queued", "ErrorCode": ""})
    answer = make(so).force_resync([1])
    assert (answer.state, answer.user_explanation) == ("ok_with_info", "queued")


# --- authentication ---------------------------------------------------------------------------

def test_bearer_headers(so: FakeSuperOffice) -> None:
    """Fake: Bearer auth sends Authorization: Bearer and Accept: application/json, and no
    app token. (test_connection now makes two calls, the REST read and the agent's
    GetAllConnections; both carry the same credentials.)"""
    answer = make(so).test_connection()
    assert answer.state == "ok" and "ERP connection 7" in answer.value
    req, agent = so.requests
    assert (req.endpoint, agent.endpoint) == ("Contact", "Agents/ErpSync/GetAllConnections")
    for sent in (req, agent):
        assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
        assert sent.headers["Accept"] == "application/json"
        assert "SO-AppToken" not in sent.headers


def test_ticket_and_app_token_headers() -> None:
    """Fake: ticket auth sends Authorization: SOTicket <ticket> plus SO-AppToken."""
    with FakeSuperOffice(token=None, ticket="7T:abc==", app_token="app-secret") as fake:
        fake.add_contact(1, name="N")
        answer = make(fake, ticket="7T:abc==", app_token="app-secret").records("company")
        assert answer.ok and len(answer.value) == 1
        (req,) = fake.requests
        assert req.headers["Authorization"] == "SOTicket 7T:abc=="
        assert req.headers["SO-AppToken"] == "app-secret"


def test_401_is_an_error_answer_not_an_exception_nor_an_empty_list(
        so: FakeSuperOffice) -> None:
    """Fake: a wrong token -> 401 -> error answer, no value, not retryable."""
    so.add_contact(1, name="N")
    answer = make(so, token="wrong-token").records("company")
    assert (answer.state, answer.value, answer.error_code, answer.retryable) == (
        "error", None, "HTTP_401", False)
    assert "refused the credentials" in answer.user_explanation


def test_constructor_needs_a_complete_credential() -> None:
    """No server needed: a ticket without an app token, or nothing, is a configuration
    error raised at once (not a remote failure)."""
    with pytest.raises(ValueError):
        SuperOfficeConnector("https://sod.superoffice.com/Cust1", ticket="t",
                             erp_connection_id=1)
    with pytest.raises(ValueError):
        SuperOfficeConnector("https://sod.superoffice.com/Cust1", erp_connection_id=1)


# --- failures ---------------------------------------------------------------------------------

def test_503_is_a_retryable_error(so: FakeSuperOffice) -> None:
    """Fake: 503 with SuperOffice's error body -> retryable error quoting its message."""
    so.fail_next(1, 503)
    answer = make(so).records("company")
    assert (answer.state, answer.retryable, answer.error_code) == ("error", True, "HTTP_503")
    assert "Fake failure 503" in answer.user_explanation
    assert "FakeFailure FakeSuperOffice" in answer.tech_explanation


def test_400_is_a_non_retryable_error(so: FakeSuperOffice) -> None:
    """Fake: 400 -> error, not retryable."""
    so.add_contact(1, name="N")
    so.fail_next(1, 400)
    answer = make(so).connect("company", "1", "customer", "K", {})
    assert (answer.state, answer.retryable, answer.error_code) == ("error", False, "HTTP_400")


def test_a_hanging_server_is_a_retryable_timeout(so: FakeSuperOffice) -> None:
    """Fake that hangs 3 s; the connector's 0.3 s timeout -> retryable TIMEOUT, quickly."""
    so.hang_next(1, seconds=3.0)
    started = time.monotonic()
    answer = make(so, timeout=0.3).records("company")
    assert time.monotonic() - started < 2.0
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "TIMEOUT", True)


def test_a_closed_port_is_a_retryable_connection_error() -> None:
    """No server at all (a port just freed on 127.0.0.1) -> retryable CONNECTION error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = SuperOfficeConnector(f"http://127.0.0.1:{port}/Cust1", token="t",
                                erp_connection_id=1, timeout=2.0)
    answer = conn.test_connection()
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "CONNECTION", True)


def test_a_redirect_is_not_followed(so: FakeSuperOffice) -> None:
    """Fake answering 307: not followed (credentials stay put), not retryable."""
    so.fail_next(1, 307)
    answer = make(so).records("company")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "HTTP_307", False)
    assert len(so.requests) == 1


# --- secrets ----------------------------------------------------------------------------------

SECRETS = {"token": "tok-SECRET-4711", "ticket": "7T:TICKET-SECRET==",
           "app_token": "APP-SECRET-0815"}


def _texts(answer: Any) -> str:
    return f"{answer.user_explanation}\n{answer.tech_explanation}\n{answer.error_code}"


@pytest.mark.parametrize("auth", ["bearer", "ticket"])
def test_no_secret_appears_in_any_answer_log_or_repr(caplog: pytest.LogCaptureFixture,
                                                     auth: str) -> None:
    """Fake echoing the received credentials in its error messages (as a bad proxy might),
    plus 401, 503 and timeout answers: no token, ticket or app token in any answer text, in
    the log or in the connector's repr."""
    creds = ({"token": SECRETS["token"]} if auth == "bearer"
             else {"ticket": SECRETS["ticket"], "app_token": SECRETS["app_token"]})
    with FakeSuperOffice(token=SECRETS["token"], ticket=SECRETS["ticket"],
                         app_token=SECRETS["app_token"]) as fake:
        fake.add_contact(1, name="N")
        conn = make(fake, timeout=0.3, **creds)
        wrong = make(fake, **({"token": SECRETS["token"] + "x"} if auth == "bearer" else
                              {"ticket": SECRETS["ticket"] + "x",
                               "app_token": SECRETS["app_token"]}))
        caplog.set_level(logging.DEBUG)
        answers = []
        fake.fail_next(1, 400, echo_auth=True)
        answers.append(conn.records("company"))
        fake.fail_next(1, 503, echo_auth=True)
        answers.append(conn.connect("company", "1", "customer", "K", {}))
        fake.fail_next(1, 401, echo_auth=True)
        answers.append(conn.save([CrmRecord("company", "1", {"name": "M"})]))
        answers.append(wrong.records("company"))
        fake.hang_next(1, seconds=2.0)
        answers.append(conn.test_connection())
        assert [a.state for a in answers] == ["error"] * 5
        assert "***" in answers[0].user_explanation  # the echo was there, and scrubbed
        everything = "\n".join(_texts(a) for a in answers) + caplog.text + repr(conn)
        for secret in creds.values():
            assert secret not in everything


def test_close_leaves_a_session_it_was_given_open(so: FakeSuperOffice) -> None:
    """Fake: a session passed in is neither closed nor given the credentials."""
    import requests

    session = requests.Session()
    conn = make(so, session=session)
    assert conn.test_connection().ok
    conn.close()
    assert "Authorization" not in session.headers
    assert session.get(f"{so.url}/api/v1/Contact", headers={
        "Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 200
    session.close()


def test_since_naive_datetime_is_taken_as_utc(so: FakeSuperOffice) -> None:
    """Fake: a naive ``since`` is UTC, like the API's own dates."""
    so.add_contact(1, name="A", updated=datetime(2024, 5, 10, 12, 0, tzinfo=UTC))
    so.add_contact(2, name="B", updated=datetime(2024, 5, 10, 11, 59, tzinfo=UTC))
    naive = datetime(2024, 5, 10, 12, 0)
    answer = make(so).records("company", naive)
    assert [r.crm_id for r in answer.unwrap()] == ["1"]
    assert answer.value[0].last_modified - datetime(2024, 5, 10, 12, tzinfo=UTC) == timedelta(0)


def test_every_canonical_crm_field_is_read_and_writable_ones_exist() -> None:
    """No server needed: each canonical CRM field of each kind has an archive column, and
    every written field is a canonical field (so the mapping cannot drift from the schema)."""
    from erpdata.live.connectors.superoffice import COLLECTIONS, WRITABLE
    from erpdata.schema import KINDS, fields

    for kind in KINDS:
        names = [f.name for f in fields("crm", kind)]
        assert list(COLLECTIONS[kind].columns) == names, kind
        assert set(WRITABLE[kind]) <= set(names), kind
