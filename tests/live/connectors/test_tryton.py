"""The Tryton connector against a REAL trytond (``conftest.py`` starts or finds it).

Each test makes its own records, named with the test's ``token``, and asserts exact outcomes
on them: values as Tryton stored them, answer states, error codes and retryability. Phone
numbers come back in Tryton's international format because trytond_party validates them with
``phonenumbers`` (installed with erpdata), using the country of the party's address.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from erpdata.live.connectors.base import ErpActor, Page, Restriction
from erpdata.live.connectors.tryton import TrytonConnector
from tests.tryton_server import FirstSetup, RawTryton, TrytonServer

COMPANY_KEYS = [
    "actor_type", "name", "number2", "vatno", "phone", "fax", "email", "url", "postalad1",
    "postalad2", "postalad3", "postalzip", "postalcity", "streetad1", "streetad2", "streetad3",
    "streetzip", "streetcity", "country", "category", "last_modified"]
PERSON_KEYS = ["firstname", "middlename", "lastname", "number", "email", "phone_direct",
               "phone_mobile", "last_modified"]
PROJECT_KEYS = ["name", "number", "text", "enddate", "status", "last_modified"]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ok(answer):  # type: ignore[no-untyped-def]
    """The value of an answer that must be plain ok."""
    assert answer.state == "ok", answer
    return answer.value


def company(tryton: TrytonConnector, token: str, n: int = 1, actor_type: str = "customer",
            **values: str) -> list[ErpActor]:
    """``n`` companies named "<token> Co <i>" (one create call)."""
    actors = [ErpActor(actor_type, None, {"name": f"{token} Co {i}", **values})
              for i in range(1, n + 1)]
    return ok(tryton.create(actors, [f"{token}-{actor_type}-{i}" for i in range(1, n + 1)]))


def person(tryton: TrytonConnector, token: str, parent: ErpActor, first: str, last: str,
           **values: str) -> ErpActor:
    return ok(tryton.create([ErpActor("person", None, {"firstname": first, "lastname": last,
                                                       **values},
                                      parent_erp_key=parent.erp_key)],
                            [f"{token}-{first}-{last}"]))[0]


# --- connection and metadata ------------------------------------------------------------------

def test_connection_names_server_database_and_user(tryton: TrytonConnector,
                                                    tryton_server: TrytonServer) -> None:
    assert ok(tryton.test_connection()) == (
        f"Tryton 8.2, database {tryton_server.database}, user admin")


#: What ``test_connection`` says of a database as ``trytond-admin`` left it ({name}: the
#: connection's name, "NAME" when the connector was made without one).
FRESH_LACKS = (
    "Tryton has no party category 'Customer' or 'Supplier' (existing: none); run `erpdata "
    "connect setup {name}` (or \"Set up Tryton for erpdata\" on the Settings page) to create "
    "them, or fix --option customer_category / --option supplier_category. Persons cannot be "
    "synced until Tryton has the relation type 'Employee of' (existing: none); run the same "
    "set-up to create it, or fix --option employee_relation. Projects cannot be created until "
    "the Tryton user 'admin' has a company; run the same set-up to create one.")

FRESH_SETUP = [
    "party category Customer", "party category Supplier", "relation type Employee of",
    "relation type Employer of", "country NO", "country SE", "country DK", "country FI",
    "country IS", "country DE", "country NL", "country BE", "country GB", "country US",
    "country FR", "currency EUR", "company erpdata ERP company", "the user's company"]


def test_ensure_setup_makes_what_a_fresh_database_lacks_once(
        tryton_first_setup: tuple[TrytonConnector, FirstSetup]) -> None:
    tryton, first = tryton_first_setup
    if first.setup.value:  # this session's server was fresh (always so unless reused)
        assert first.setup.value == FRESH_SETUP
        assert (first.before.state, first.before.error_code) == ("error", "setup_missing")
        assert first.before.user_explanation == (
            f"Tryton 8.2, database {tryton.database}, user admin: "
            + FRESH_LACKS.format(name="NAME"))
    else:
        assert first.before.state == "ok"
    assert ok(tryton.ensure_setup()) == []


def test_actor_types(tryton: TrytonConnector) -> None:
    assert ok(tryton.actor_types()) == ["customer", "supplier", "partner", "person", "project"]


def test_fields_are_canonical_with_access(tryton: TrytonConnector) -> None:
    for actor_type in ("customer", "supplier", "partner"):
        assert [f.key for f in ok(tryton.fields(actor_type))] == COMPANY_KEYS
    people = {f.key: f for f in ok(tryton.fields("person"))}
    projects = {f.key: f for f in ok(tryton.fields("project"))}
    companies = {f.key: f for f in ok(tryton.fields("customer"))}
    assert list(people) == PERSON_KEYS
    assert list(projects) == PROJECT_KEYS
    assert companies["name"].access == "mandatory"
    assert companies["number2"].access == "readonly"
    assert (companies["country"].type, companies["country"].list_name) == ("list", "country")
    assert people["lastname"].access == "mandatory"
    assert (projects["status"].type, projects["status"].list_name) == ("list", "status")
    assert projects["enddate"].type == "datetime"
    assert ok(tryton.list_values("status")) == {"Open": "Open", "Done": "Done"}
    assert ok(tryton.list_values("country"))["NO"] == "Norway"
    bad = tryton.fields("employee")
    assert (bad.state, bad.error_code, bad.retryable) == ("error", "bad_request", False)


def test_searchable_fields(tryton: TrytonConnector) -> None:
    assert ok(tryton.searchable_fields("customer")) == [
        "name", "number2", "vatno", "phone", "fax", "email", "url", "postalzip", "postalcity",
        "country", "category", "last_modified"]
    assert ok(tryton.searchable_fields("person")) == [
        "firstname", "middlename", "lastname", "number", "email", "phone_direct",
        "phone_mobile", "last_modified", "parent_erp_key", "parent_actor_type"]
    assert ok(tryton.searchable_fields("project")) == [
        "name", "number", "text", "status", "enddate", "last_modified", "parent_erp_key",
        "parent_actor_type"]


# --- create -----------------------------------------------------------------------------------

def test_create_batch_maps_every_field_and_a_retry_does_not_duplicate(
        tryton: TrytonConnector, token: str) -> None:
    before = utc_now() - timedelta(seconds=5)
    acme = ErpActor("customer", None, {
        "name": f"{token} Acme AS", "vatno": "NO 974 760 673 MVA", "phone": "22 33 44 55",
        "fax": "+47 22 00 00 01", "email": f"post@{token}.example",
        "url": f"https://{token}.example", "postalad1": "Postboks 12", "postalad2": "Sentrum",
        "postalzip": "0101", "postalcity": "Oslo", "country": "no", "streetad1": "Storgata 1",
        "streetzip": "0155", "streetcity": "Oslo"})
    actors = [acme, ErpActor("supplier", None, {"name": f"{token} Lev AB"}),
              ErpActor("partner", None, {"name": f"{token} Both GmbH"})]
    keys = [f"{token}-1", f"{token}-2", f"{token}-3"]
    made = ok(tryton.create(actors, keys))
    assert [a.actor_type for a in made] == ["customer", "supplier", "partner"]
    assert all(a.erp_key and a.erp_key.isdigit() for a in made)
    first = made[0]
    assert first.fields == {
        "actor_type": "customer", "name": f"{token} Acme AS", "number2": first.erp_key,
        "vatno": "NO 974 760 673 MVA", "category": None,
        "phone": "+47 22 33 44 55", "fax": "+47 22 00 00 01", "email": f"post@{token}.example",
        "url": f"https://{token}.example", "postalad1": "Postboks 12", "postalad2": "Sentrum",
        "postalad3": None, "postalzip": "0101", "postalcity": "Oslo", "country": "NO",
        "streetad1": "Storgata 1", "streetad2": None, "streetad3": None, "streetzip": "0155",
        "streetcity": "Oslo"}
    assert first.last_modified is not None and first.last_modified.tzinfo is None
    assert before <= first.last_modified <= utc_now() + timedelta(seconds=5)
    assert (first.parent_actor_type, first.parent_erp_key) == (None, None)

    again = ok(tryton.create(actors, keys))  # say the first answer was lost
    assert [a.erp_key for a in again] == [a.erp_key for a in made]
    assert sorted(a.erp_key for a in ok(tryton.search("customer", token)).items +
                  ok(tryton.search("supplier", token)).items +
                  ok(tryton.search("partner", token)).items) == sorted(a.erp_key for a in made)

    # persons and projects, mixed in one call, hang under the customer
    children = [
        ErpActor("person", None, {"firstname": "Kari", "middlename": "Anne",
                                  "lastname": "Nordmann", "email": f"kari@{token}.example",
                                  "phone_direct": "+47 22 11 11 11",
                                  "phone_mobile": "+4791234567"},
                 parent_actor_type="customer", parent_erp_key=first.erp_key),
        ErpActor("project", None, {"name": f"{token} Roll-out", "text": "Phase one",
                                   "enddate": "2027-01-31"},
                 parent_actor_type="customer", parent_erp_key=first.erp_key)]
    child_keys = [f"{token}-p1", f"{token}-j1"]
    kari, rollout = ok(tryton.create(children, child_keys))
    assert (kari.actor_type, kari.parent_actor_type, kari.parent_erp_key) == (
        "person", "customer", first.erp_key)
    assert kari.fields == {
        "firstname": "Kari", "middlename": "Anne", "lastname": "Nordmann",
        "number": kari.erp_key, "email": f"kari@{token}.example",
        "phone_direct": "+47 22 11 11 11", "phone_mobile": "+47 91 23 45 67"}
    assert (rollout.actor_type, rollout.parent_actor_type, rollout.parent_erp_key) == (
        "project", "customer", first.erp_key)
    assert rollout.fields["name"] == f"{token} Roll-out"
    assert rollout.fields["text"] == "Phase one"  # the CRM key line is not part of the text
    assert (rollout.fields["enddate"], rollout.fields["status"]) == ("2027-01-31", "Open")
    assert rollout.fields["number"]
    again = ok(tryton.create(children, child_keys))
    assert [a.erp_key for a in again] == [kari.erp_key, rollout.erp_key]
    assert [a.erp_key for a in ok(tryton.search_by_parent(
        "project", "", "customer", first.erp_key)).items] == [rollout.erp_key]


def test_create_names_the_records_tryton_refuses_and_a_retry_finds_the_others(
        tryton: TrytonConnector, token: str) -> None:
    [parent] = company(tryton, token)
    actors = [ErpActor("person", None, {"firstname": "Ola", "lastname": token},
                       parent_erp_key=parent.erp_key),
              ErpActor("person", None, {"firstname": "Bad", "lastname": token,
                                        "phone_direct": "not a phone"},
                       parent_erp_key=parent.erp_key),
              ErpActor("person", None, {"firstname": "Per", "lastname": token},
                       parent_erp_key=parent.erp_key)]
    keys = [f"{token}-ola", f"{token}-bad", f"{token}-per"]
    answer = tryton.create(actors, keys)
    assert (answer.state, answer.error_code, answer.retryable) == (
        "error", "user_error", False)
    assert answer.user_explanation.startswith(
        "Tryton refused 1 of 3 record(s); 2 were created and a retry of the same create "
        f"finds them. CRM key {token}-bad: Tryton: The phone number \"not a phone\"")
    fixed = [actors[0], ErpActor("person", None, {"firstname": "Bad", "lastname": token},
                                 parent_erp_key=parent.erp_key), actors[2]]
    made = ok(tryton.create(fixed, keys))
    listed = ok(tryton.search_by_parent("person", "", "customer", parent.erp_key)).items
    assert sorted(a.erp_key for a in listed) == sorted(a.erp_key for a in made)
    assert [a.fields["firstname"] for a in made] == ["Ola", "Bad", "Per"]


def test_create_refuses_bad_input_and_creates_nothing(tryton: TrytonConnector,
                                                          token: str) -> None:
    k = f"{token}-k"
    cases = [
        ([ErpActor("customer", None, {"name": token, "colour": "red"})], [k], "colour"),
        ([ErpActor("customer", None, {"name": token, "country": "XX"})], [k], "XX"),
        ([ErpActor("person", None, {"lastname": token})], [k], "parent_erp_key"),
        ([ErpActor("customer", None, {"name": token})], [], "one CRM key per actor"),
        ([ErpActor("customer", None, {"name": token}), ErpActor("project", None, {"text": "x"})],
         [k, k + "2"], "A project needs a name"),
        ([ErpActor("employee", None, {"name": token})], [k], "no actor type 'employee'"),
    ]
    for actors, keys, word in cases:
        answer = tryton.create(actors, keys)
        assert (answer.state, answer.error_code, answer.retryable) == (
            "error", "bad_request", False), answer
        assert word in answer.user_explanation
    assert ok(tryton.search("customer", token)).items == []


def test_create_leaves_out_canonical_fields_tryton_has_no_place_for(
        tryton: TrytonConnector, token: str) -> None:
    answer = tryton.create([ErpActor("customer", None, {"name": token, "department": "IT"})],
                           [f"{token}-1"])
    assert answer.state == "ok_with_info"
    assert answer.user_explanation == "not stored in Tryton: department of a new company"
    assert answer.value is not None and answer.value[0].fields["name"] == token


def test_a_street_address_alone_is_the_second_address(tryton: TrytonConnector,
                                                      tryton_raw: RawTryton, token: str) -> None:
    [acme] = company(tryton, token, streetad1="Storgata 1", streetad2="Bakgården",
                     streetcity="Oslo")
    assert {k: v for k, v in acme.fields.items() if k.startswith(("street", "postal"))} == {
        "streetad1": "Storgata 1", "streetad2": "Bakgården", "streetad3": None,
        "streetzip": None, "streetcity": "Oslo", "postalad1": None, "postalad2": None,
        "postalad3": None, "postalzip": None, "postalcity": None}
    addresses = tryton_raw.call("party.address", "search_read",
                                [["party", "=", int(acme.erp_key or 0)]], 0, None,
                                [["sequence", "ASC"], ["id", "ASC"]],
                                ["street_unstructured", "city"])
    assert [(a["street_unstructured"], a["city"]) for a in addresses] == [
        (None, None), ("Storgata 1\nBakgården", "Oslo")]


# --- get and search ---------------------------------------------------------------------------

def test_get_in_order_with_a_warning_naming_missing_keys(tryton: TrytonConnector,
                                                         token: str) -> None:
    one, two = company(tryton, token, 2)
    [both] = company(tryton, token + "b", actor_type="partner")
    answer = tryton.get("customer", [two.erp_key, "999999999", one.erp_key, "abc",
                                     both.erp_key])
    assert answer.state == "warning"
    assert answer.user_explanation == "Tryton has no company with the key 999999999, abc."
    assert [(a.erp_key, a.actor_type) for a in answer.value] == [
        (two.erp_key, "customer"), (one.erp_key, "customer"), (both.erp_key, "partner")]
    assert answer.value[0] == two
    kari = person(tryton, token, one, "Kari", "Nordmann")
    assert [a.erp_key for a in ok(tryton.get("person", [kari.erp_key]))] == [kari.erp_key]
    not_a_company = tryton.get("customer", [kari.erp_key])
    assert (not_a_company.state, not_a_company.value) == ("warning", [])


def test_search_pages_and_empty_text_lists_all(tryton: TrytonConnector, token: str) -> None:
    made = company(tryton, token, 5)
    company(tryton, token, 1, actor_type="supplier")
    pages = [ok(tryton.search("customer", token, offset=o, limit=2)) for o in (0, 2, 4)]
    assert [([a.fields["name"] for a in p.items], p.more) for p in pages] == [
        ([f"{token} Co 1", f"{token} Co 2"], True), ([f"{token} Co 3", f"{token} Co 4"], True),
        ([f"{token} Co 5"], False)]
    assert ok(tryton.search("customer", f"{token} co 3")).items == [made[2]]

    everyone: list[str] = []
    offset = 0
    while True:
        page = ok(tryton.search("customer", "", offset=offset, limit=7))
        everyone += [a.erp_key for a in page.items]  # type: ignore[misc]
        offset += 7
        if not page.more:
            break
    assert len(everyone) == len(set(everyone))
    assert set(everyone) == {a.erp_key for a in ok(tryton.changed_since("customer", None))}
    assert {a.erp_key for a in made} <= set(everyone)
    bad = tryton.search("customer", "", limit=0)
    assert (bad.state, bad.error_code) == ("error", "bad_request")


def test_search_by_parent_lists_a_customers_persons(tryton: TrytonConnector,
                                                    token: str) -> None:
    acme, other = company(tryton, token, 2)
    kari = person(tryton, token, acme, "Kari", "Nordmann")
    ola = person(tryton, token, acme, "Ola", "Hansen")
    person(tryton, token, other, "Per", "Olsen")
    found = ok(tryton.search_by_parent("person", "", "customer", acme.erp_key))
    assert (sorted(a.erp_key for a in found.items), found.more) == (
        sorted([kari.erp_key, ola.erp_key]), False)
    assert ok(tryton.search_by_parent("person", "hansen", "customer", acme.erp_key)
              ).items == [ola]
    paged = ok(tryton.search_by_parent("person", "", "customer", acme.erp_key, limit=1))
    assert (len(paged.items), paged.more) == (1, True)
    assert ok(tryton.search_by_parent("person", "", "customer", "999999999")).items == []
    wrong = tryton.search_by_parent("person", "", "person", acme.erp_key)
    assert (wrong.state, wrong.error_code) == ("error", "bad_request")


def test_search_advanced_operators(tryton: TrytonConnector, token: str) -> None:
    a, b, c = ok(tryton.create([
        ErpActor("customer", None, {"name": f"{token} Alpha AS", "email": "post@alpha.no",
                                    "postalcity": "Oslo", "country": "NO"}),
        ErpActor("customer", None, {"name": f"{token} Beta AB", "email": "info@beta.se",
                                    "postalcity": "Malmö", "country": "SE",
                                    "vatno": "SE556000000001"}),
        ErpActor("customer", None, {"name": f"{token} Gamma ApS", "country": "DK"}),
    ], [f"{token}-a", f"{token}-b", f"{token}-c"]))

    def keys(*restrictions: Restriction, actor_type: str = "customer") -> list[str]:
        mine = Restriction("name", "begins", (token,))
        page = ok(tryton.search_advanced(actor_type, [mine, *restrictions]))
        return [x.erp_key for x in page.items]  # type: ignore[misc]

    assert keys() == [a.erp_key, b.erp_key, c.erp_key]
    assert keys(Restriction("name", "contains", ("beta",))) == [b.erp_key]
    assert keys(Restriction("name", "ends", ("aps",))) == [c.erp_key]
    assert keys(Restriction("name", "notcontains", ("Alpha",))) == [b.erp_key, c.erp_key]
    assert keys(Restriction("name", "=", (f"{token} beta ab",))) == [b.erp_key]
    assert keys(Restriction("name", "isnot", (f"{token} Beta AB",))) == [a.erp_key, c.erp_key]
    assert keys(Restriction("name", "between", (f"{token} B", f"{token} Z"))) == [
        b.erp_key, c.erp_key]
    assert keys(Restriction("email", "ends", (".no",))) == [a.erp_key]
    assert keys(Restriction("email", "notbegins", ("info",))) == [a.erp_key, c.erp_key]
    assert keys(Restriction("vatno", "contains", ("556",))) == [b.erp_key]
    assert keys(Restriction("vatno", "contains", ("CRM",))) == []  # the CRM key is no VAT no
    assert keys(Restriction("country", "oneof", ("NO", "DK"))) == [a.erp_key, c.erp_key]
    assert keys(Restriction("country", "notoneof", ("NO", "DK"))) == [b.erp_key]
    assert keys(Restriction("postalcity", "=", ("malmö",))) == [b.erp_key]
    stamp = a.last_modified
    assert stamp is not None
    assert keys(Restriction("last_modified", "afterOrEqual",
                            (stamp.isoformat(timespec="microseconds"),))) == [
        a.erp_key, b.erp_key, c.erp_key]
    assert keys(Restriction("last_modified", "before",
                            (stamp.isoformat(timespec="microseconds"),))) == []
    assert keys(Restriction("last_modified", "=", (stamp.date().isoformat(),))) == [
        a.erp_key, b.erp_key, c.erp_key]

    kari = person(tryton, token, a, "Kari", "Nordmann")
    jan = person(tryton, token, b, "Jan", "Berg", middlename="van der")
    persons = [Restriction("parent_erp_key", "oneof", (a.erp_key, b.erp_key))]

    def people(*restrictions: Restriction) -> list[str]:
        page = ok(tryton.search_advanced("person", [*persons, *restrictions]))
        return sorted(x.erp_key for x in page.items)  # type: ignore[misc]

    assert people() == sorted([kari.erp_key, jan.erp_key])
    assert people(Restriction("firstname", "=", ("kari",))) == [kari.erp_key]
    assert people(Restriction("lastname", "begins", ("Be",))) == [jan.erp_key]
    assert people(Restriction("middlename", "contains", ("der",))) == [jan.erp_key]
    assert people(Restriction("lastname", "notends", ("mann",))) == [jan.erp_key]
    assert people(Restriction("parent_actor_type", "=", ("supplier",))) == []

    wrong = tryton.search_advanced("customer", [Restriction("name", "after", ("x",))])
    assert (wrong.state, wrong.error_code, wrong.retryable) == ("error", "bad_request", False)
    unknown = tryton.search_advanced("customer", [Restriction("colour", "=", ("red",))])
    assert (unknown.state, unknown.error_code) == ("error", "bad_request")


def test_search_advanced_projects(tryton: TrytonConnector, token: str) -> None:
    [acme] = company(tryton, token)
    early, late = ok(tryton.create([
        ErpActor("project", None, {"name": f"{token} Early", "enddate": "2026-03-31"},
                 parent_erp_key=acme.erp_key),
        ErpActor("project", None, {"name": f"{token} Late", "enddate": "2027-06-30"},
                 parent_erp_key=acme.erp_key)], [f"{token}-e", f"{token}-l"]))
    ok(tryton.save([ErpActor("project", late.erp_key, {"status": "Done"})]))
    mine = Restriction("parent_erp_key", "=", (acme.erp_key,))

    def keys(*restrictions: Restriction) -> list[str]:
        page = ok(tryton.search_advanced("project", [mine, *restrictions]))
        return [x.erp_key for x in page.items]  # type: ignore[misc]

    assert keys() == [early.erp_key, late.erp_key]
    assert keys(Restriction("status", "oneof", ("Done",))) == [late.erp_key]
    assert keys(Restriction("enddate", "between", ("2026-01-01", "2026-12-31"))) == [
        early.erp_key]
    assert keys(Restriction("enddate", "after", ("2026-03-31",))) == [late.erp_key]
    assert keys(Restriction("enddate", "=", ("2026-03-31",))) == [early.erp_key]
    assert keys(Restriction("name", "contains", ("late",))) == [late.erp_key]
    assert keys(Restriction("parent_actor_type", "oneof", ("customer",))) == [
        early.erp_key, late.erp_key]


# --- save and change tracking -----------------------------------------------------------------

def test_save_changes_values_and_moves_last_modified(tryton: TrytonConnector,
                                                     token: str) -> None:
    [acme] = company(tryton, token, phone="+47 22 33 44 55", postalcity="Oslo",
                     country="NO")
    kari = person(tryton, token, acme, "Kari", "Nordmann")
    saved = ok(tryton.save([
        ErpActor("customer", acme.erp_key, {
            "name": f"{token} Acme ASA", "phone": "23 00 00 00", "email": "new@acme.example",
            "postalad1": "Postboks 7", "postalcity": "Bergen", "vatno": "NO999",
            "streetad1": "Bryggen 1"}),
        ErpActor("person", kari.erp_key, {"firstname": "Kari Anne"})]))
    new_acme, new_kari = saved
    assert new_acme.last_modified > acme.last_modified  # type: ignore[operator]
    assert new_kari.last_modified > kari.last_modified  # type: ignore[operator]
    assert ok(tryton.get("customer", [acme.erp_key])) == [new_acme]
    changed = {k: v for k, v in new_acme.fields.items() if acme.fields[k] != v}
    assert changed == {
        "name": f"{token} Acme ASA", "phone": "+47 23 00 00 00", "email": "new@acme.example",
        "postalad1": "Postboks 7", "postalcity": "Bergen", "vatno": "NO999",
        "streetad1": "Bryggen 1"}
    # one name in Tryton: "Kari Anne Nordmann" splits into first, middle and last word
    assert (new_kari.fields["firstname"], new_kari.fields["middlename"],
            new_kari.fields["lastname"]) == ("Kari", "Anne", "Nordmann")

    cleared = ok(tryton.save([ErpActor("customer", acme.erp_key, {
        "phone": "", "vatno": None, "actor_type": "partner"})]))[0]
    assert (cleared.actor_type, cleared.fields["phone"], cleared.fields["vatno"]) == (
        "partner", None, None)

    readonly = tryton.save([ErpActor("partner", acme.erp_key, {"number2": "X-1"})])
    assert readonly.state == "ok_with_info"
    assert readonly.user_explanation == (
        f"number2 of {acme.erp_key} is read-only in Tryton and was not written")
    assert readonly.value[0].fields["number2"] == acme.fields["number2"]

    [other] = company(tryton, token + "o")
    moved = ok(tryton.save([ErpActor("person", kari.erp_key, {},
                                     parent_erp_key=other.erp_key)]))[0]
    assert (moved.parent_erp_key, moved.parent_actor_type) == (other.erp_key, "customer")
    assert ok(tryton.search_by_parent("person", "", "partner", acme.erp_key)).items == []

    missing = tryton.save([ErpActor("customer", "999999999", {"name": "x"})])
    assert (missing.state, missing.error_code) == ("error", "not_found")


def test_saving_unchanged_values_writes_nothing(tryton: TrytonConnector, token: str) -> None:
    [acme] = company(tryton, token, phone="+47 22 33 44 55", postalcity="Oslo",
                     country="NO", vatno="NO999")
    kari = person(tryton, token, acme, "Kari", "Nordmann", email="k@example.org")
    [proj] = ok(tryton.create([ErpActor("project", None, {
        "name": f"{token} P", "text": "Phase one", "enddate": "2027-01-31"},
        parent_erp_key=acme.erp_key)], [f"{token}-p"]))
    same = ok(tryton.save([
        ErpActor("customer", acme.erp_key, {k: v for k, v in acme.fields.items()
                                            if k not in ("number2", "category")}),
        ErpActor("person", kari.erp_key, dict(kari.fields), parent_erp_key=acme.erp_key),
        ErpActor("project", proj.erp_key, {k: v for k, v in proj.fields.items()
                                           if k != "number"}, parent_erp_key=acme.erp_key)]))
    assert same == [acme, kari, proj]


def test_changed_since_sees_a_change_made_only_to_a_contact_mechanism(
        tryton: TrytonConnector, tryton_raw: RawTryton, token: str) -> None:
    one, two = company(tryton, token, 2, email="a@example.org")
    ours = {one.erp_key, two.erp_key}
    assert one.last_modified is not None and two.last_modified is not None
    since = max(one.last_modified, two.last_modified) + timedelta(microseconds=1)
    assert [a for a in ok(tryton.changed_since("customer", since)) if a.erp_key in ours] == []

    # as a Tryton user would: write the e-mail record itself, not the party
    two_id = int(two.erp_key or 0)
    stamp_before = tryton_raw.call("party.party", "read", [two_id], ["write_date"])
    [mech] = tryton_raw.call("party.contact_mechanism", "search",
                             [["party", "=", two_id]], 0, None, None)
    tryton_raw.call("party.contact_mechanism", "write", [mech], {"value": "b@example.org"})
    assert tryton_raw.call("party.party", "read", [two_id], ["write_date"]) == stamp_before
    changed = [a for a in ok(tryton.changed_since("customer", since)) if a.erp_key in ours]
    assert [(a.erp_key, a.fields["email"]) for a in changed] == [(two.erp_key, "b@example.org")]
    assert changed[0].last_modified is not None and changed[0].last_modified >= since

    # an address added directly counts too
    one_id = int(one.erp_key or 0)
    assert tryton_raw.call("party.address", "search", [["party", "=", one_id]], 0, None,
                           None) == []
    tryton_raw.call("party.address", "create", [{"party": one_id, "city": "Oslo"}])
    changed = [a for a in ok(tryton.changed_since("customer", since)) if a.erp_key in ours]
    assert sorted((a.erp_key or "", a.fields["postalcity"] or "") for a in changed) == sorted(
        [(one.erp_key or "", "Oslo"), (two.erp_key or "", "")])
    assert ok(tryton.changed_since("supplier", since)) == []  # they are customers


def test_changed_since_persons_and_projects(tryton: TrytonConnector, token: str) -> None:
    [acme] = company(tryton, token)
    kari = person(tryton, token, acme, "Kari", "Nordmann")
    [proj] = ok(tryton.create([ErpActor("project", None, {"name": f"{token} P"},
                                        parent_erp_key=acme.erp_key)], [f"{token}-p"]))
    since = proj.last_modified + timedelta(microseconds=1)  # type: ignore[operator]
    assert ok(tryton.changed_since("project", since)) == []
    ok(tryton.save([ErpActor("project", proj.erp_key, {"text": "now described"})]))
    assert [a.erp_key for a in ok(tryton.changed_since("project", since))] == [proj.erp_key]
    ok(tryton.save([ErpActor("person", kari.erp_key, {"phone_mobile": "+47 912 34 567"})]))
    assert [a.erp_key for a in ok(tryton.changed_since("person", since))] == [kari.erp_key]
    assert kari.erp_key in {a.erp_key for a in ok(tryton.changed_since("person", None))}


# --- failures ---------------------------------------------------------------------------------

def test_wrong_password_is_an_error_answer(tryton_server: TrytonServer, token: str) -> None:
    secret = f"wrong-{token}"
    bad = TrytonConnector(tryton_server.url, tryton_server.database, "admin", secret)
    for answer in (bad.test_connection(), bad.search("customer"), bad.get("customer", ["1"])):
        assert (answer.state, answer.value, answer.error_code, answer.retryable) == (
            "error", None, "unauthorized", False)
        assert answer.user_explanation == (
            f"Tryton refused user 'admin' on database {tryton_server.database!r}: check the "
            "user name and password.")
        assert secret not in answer.user_explanation + answer.tech_explanation
    assert secret not in repr(bad)


def test_unknown_database_is_an_error_answer(tryton_server: TrytonServer) -> None:
    answer = TrytonConnector(tryton_server.url, "nope", "admin",
                             tryton_server.password).test_connection()
    assert (answer.state, answer.error_code, answer.retryable) == (
        "error", "no_database", False)
    assert answer.user_explanation.startswith(
        f"Tryton 8.2 at {tryton_server.url} has no database 'nope'")
    other = TrytonConnector(tryton_server.url, "nope", "admin", tryton_server.password)
    search = other.search("customer")
    assert (search.state, search.error_code, search.retryable) == ("error", "http_404", False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_down_is_a_retryable_error(tryton_server: TrytonServer) -> None:
    down = TrytonConnector(f"http://127.0.0.1:{_free_port()}", "erp", "admin", "pw",
                           timeout=5.0)
    for answer in (down.test_connection(), down.search("customer"),
                   down.changed_since("person", None)):
        assert (answer.state, answer.value, answer.error_code, answer.retryable) == (
            "error", None, "connection", True)
        assert answer.user_explanation.endswith("cannot be reached; is the server running?")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_timeout_is_a_retryable_error(silent_server: str) -> None:
    answer = TrytonConnector(silent_server, "erp", "admin", "pw", timeout=0.3).search("person")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "timeout", True)
    assert answer.user_explanation == (
        f"Tryton at {silent_server} did not answer within 0.3 s; try again later.")


def test_an_expired_session_logs_in_again_once(tryton_server: TrytonServer,
                                               token: str) -> None:
    connector = TrytonConnector(tryton_server.url, tryton_server.database, "admin",
                                tryton_server.password)
    company(connector, token)
    old = connector._tryton.auth  # the session, to end it behind the connector's back
    assert old is not None
    requests.post(f"{tryton_server.url}/{tryton_server.database}/rpc/",
                  json={"id": 1, "method": "common.db.logout", "params": []},
                  headers={"Authorization": old}, timeout=30).raise_for_status()
    assert [a.fields["name"] for a in ok(connector.search("customer", token)).items] == [
        f"{token} Co 1"]
    assert connector._tryton.auth != old
    uid = base64.b64decode(old.split()[1]).decode().split(":")[1]
    assert uid.isdigit()
    connector.close()


# --- a fresh database: what it lacks, the set-up, names of its own ------------------------------

HINT = ("run `erpdata connect setup erp` (or \"Set up Tryton for erpdata\" on the Settings "
        "page)")
NORWEGIAN = {"customer_category": "Kunde", "supplier_category": "Leverandør",
             "employee_relation": "Ansatt hos", "employer_relation": "Arbeidsgiver for"}


def fresh_connector(server: TrytonServer, **names: str) -> TrytonConnector:
    return TrytonConnector(server.url, server.database, server.user, server.password,
                           connection="erp", **names)


def test_a_fresh_database_says_what_it_lacks_and_the_setup_makes_it_once(
        tryton_fresh: TrytonServer) -> None:
    tryton = fresh_connector(tryton_fresh)
    before = tryton.test_connection()
    assert (before.state, before.error_code) == ("error", "setup_missing")
    assert before.user_explanation == (
        "Tryton 8.2, database fresh, user admin: " + FRESH_LACKS.format(name="erp"))
    # nothing of the mapping works, and every read says how to mend it
    companies = tryton.changed_since("customer", None)
    assert (companies.state, companies.error_code, companies.user_explanation) == (
        "error", "setup_missing", "Tryton has no party category 'Customer' (existing: none); "
        f"{HINT} to create it, or fix --option customer_category.")
    setup = tryton.ensure_setup()
    assert (setup.state, setup.value) == ("ok", FRESH_SETUP)
    again = tryton.ensure_setup()
    assert (again.state, again.value, again.user_explanation) == ("ok", [], "")
    assert ok(tryton.test_connection()) == "Tryton 8.2, database fresh, user admin"
    raw = RawTryton(tryton_fresh)
    assert sorted(r["name"] for r in raw.call("party.category", "search_read", [], 0, None,
                                              None, ["name"])) == ["Customer", "Supplier"]
    types = raw.call("party.relation.type", "search_read", [], 0, None, [["id", "ASC"]],
                     ["name", "reverse.name"])
    assert [(t["name"], t["reverse."]["name"]) for t in types] == [
        ("Employee of", "Employer of"), ("Employer of", "Employee of")]
    [user] = raw.call("res.user", "search_read", [["login", "=", "admin"]], 0, None, None,
                      ["company.rec_name"])
    assert user["company."]["rec_name"] == "erpdata ERP company"
    tryton.close()


def test_names_of_its_own_map_customers_suppliers_and_persons(
        tryton_fresh: TrytonServer) -> None:
    """A Norwegian Tryton: its categories and relation types are named by the connection's
    options; the set-up creates those names, and create and read go through them."""
    tryton = fresh_connector(tryton_fresh, **NORWEGIAN)
    assert ok(tryton.fields("customer"))[0].name == (
        "Actor type (categories Kunde/Leverandør)")
    assert ok(tryton.ensure_setup())[:4] == [
        "party category Kunde", "party category Leverandør", "relation type Ansatt hos",
        "relation type Arbeidsgiver for"]
    raw = RawTryton(tryton_fresh)
    # a category of the Tryton's own beside ours, made as a Tryton user would
    [vip] = raw.call("party.category", "create", [{"name": "VIP"}])
    made = ok(tryton.create([
        ErpActor("customer", None, {"name": "Fjord Fisk AS"}),
        ErpActor("partner", None, {"name": "Berg Bygg AS"})], ["1", "2"]))
    fisk, berg = made
    assert [(a.actor_type, a.fields["category"]) for a in made] == [
        ("customer", None), ("partner", None)]
    raw.call("party.party", "write", [int(fisk.erp_key or 0)],
             {"categories": [["add", [vip]]]})
    kari = ok(tryton.create([ErpActor("person", None, {"firstname": "Kari",
                                                       "lastname": "Nordmann"},
                                      parent_erp_key=fisk.erp_key)], ["11"]))[0]
    assert (kari.parent_actor_type, kari.parent_erp_key) == ("customer", fisk.erp_key)
    # in Tryton: the categories and relation types by their Norwegian names
    parties = {p["name"]: p for p in raw.call(
        "party.party", "search_read", [["id", "in", [int(fisk.erp_key or 0),
                                                     int(berg.erp_key or 0)]]],
        0, None, None, ["name", "categories.name"])}
    assert {n: sorted(c["name"] for c in p["categories."]) for n, p in parties.items()} == {
        "Fjord Fisk AS": ["Kunde", "VIP"], "Berg Bygg AS": ["Kunde", "Leverandør"]}
    relations = raw.call("party.relation.all", "search_read",
                         [["from_", "in", [int(kari.erp_key or 0), int(fisk.erp_key or 0)]]],
                         0, None, [["id", "ASC"]], ["from_.name", "type.name", "to.name"])
    assert sorted((r["from_."]["name"], r["type."]["name"], r["to."]["name"])
                  for r in relations) == [
        ("Fjord Fisk AS", "Arbeidsgiver for", "Kari Nordmann"),
        ("Kari Nordmann", "Ansatt hos", "Fjord Fisk AS")]
    # read back through the mapping
    [read] = ok(tryton.get("customer", [fisk.erp_key]))
    assert (read.actor_type, read.fields["name"], read.fields["category"]) == (
        "customer", "Fjord Fisk AS", "VIP")
    assert [a.erp_key for a in ok(tryton.search_by_parent(
        "person", "", "customer", fisk.erp_key)).items] == [kari.erp_key]
    assert {a.erp_key for a in ok(tryton.changed_since("partner", None))} == {berg.erp_key}
    # the English defaults do not exist here, and a connector using them says so
    english = fresh_connector(tryton_fresh)
    lacks = english.test_connection()
    assert (lacks.state, lacks.user_explanation) == (
        "error", "Tryton 8.2, database fresh, user admin: Tryton has no party category "
        "'Customer' or 'Supplier' (existing: Kunde, Leverandør, VIP); "
        f"{HINT} to create them, or fix --option customer_category / --option "
        "supplier_category. Persons cannot be synced until Tryton has the relation type "
        "'Employee of' (existing: Ansatt hos, Arbeidsgiver for); run the same set-up to "
        "create it, or fix --option employee_relation.")
    for connector in (tryton, english):
        connector.close()


def test_without_the_employee_relation_companies_work_and_persons_wait(
        tryton_fresh: TrytonServer) -> None:
    """Only the two categories exist (as in a Tryton used for customers and suppliers
    alone): companies are created and read; persons are read as none, with the reason, and
    a person cannot be written until the relation type exists."""
    raw = RawTryton(tryton_fresh)
    raw.call("party.category", "create", [{"name": "Customer"}, {"name": "Supplier"}])
    tryton = fresh_connector(tryton_fresh)
    answer = tryton.test_connection()
    persons_wait = (
        "Persons cannot be synced until Tryton has the relation type 'Employee of' "
        f"(existing: none); {HINT} to create it, or fix --option employee_relation.")
    assert (answer.state, answer.value, answer.error_code) == (
        "warning", "Tryton 8.2, database fresh, user admin", "setup_missing")
    assert answer.user_explanation == (
        f"{persons_wait} Projects cannot be created until the Tryton user 'admin' has a "
        "company; run the same set-up to create one.")
    [acme] = ok(tryton.create([ErpActor("customer", None, {"name": "Acme AS"})], ["1"]))
    assert [a.erp_key for a in ok(tryton.changed_since("customer", None))] == [acme.erp_key]
    assert ok(tryton.search("customer", "acme")).items == [acme]
    for read in (tryton.changed_since("person", None), tryton.search("person", ""),
                 tryton.search_by_parent("person", "", "customer", acme.erp_key or ""),
                 tryton.search_advanced("person", [Restriction("lastname", "=", ("X",))])):
        assert (read.state, read.user_explanation) == ("ok_with_info", persons_wait)
        assert read.value in ([], Page([], False))
    got = tryton.get("person", ["7"])
    assert (got.state, got.value, got.user_explanation) == (
        "warning", [], f"Tryton has no person with the key 7. {persons_wait}")
    refused = tryton.create([ErpActor("person", None, {"lastname": "Nordmann"},
                                      parent_erp_key=acme.erp_key)], ["11"])
    assert (refused.state, refused.error_code, refused.user_explanation) == (
        "error", "setup_missing", "Tryton has no relation type 'Employee of' (existing: "
        f"none); {HINT} to create it, or fix --option employee_relation.")
    project = tryton.create([ErpActor("project", None, {"name": "Roll-out"},
                                      parent_erp_key=acme.erp_key)], ["21"])
    assert (project.state, project.error_code, project.user_explanation) == (
        "error", "setup_missing", "The Tryton user 'admin' has no company, which projects "
        f"need; {HINT} to create one, or set one in Tryton.")
    # the set-up creates what was missing, and nothing that was there
    assert ok(tryton.ensure_setup()) == FRESH_SETUP[2:]
    kari = ok(tryton.create([ErpActor("person", None, {"lastname": "Nordmann"},
                                      parent_erp_key=acme.erp_key)], ["11"]))[0]
    assert [a.erp_key for a in ok(tryton.changed_since("person", None))] == [kari.erp_key]
    tryton.close()


def test_an_employee_type_with_a_reverse_of_its_own_is_left_as_it_is(
        tryton_fresh: TrytonServer) -> None:
    raw = RawTryton(tryton_fresh)
    ansatt, arbeidsgiver = raw.call("party.relation.type", "create",
                                    [{"name": "Ansatt hos"}, {"name": "Arbeidsgiver"}])
    raw.call("party.relation.type", "write", [ansatt], {"reverse": arbeidsgiver},
             [arbeidsgiver], {"reverse": ansatt})
    tryton = fresh_connector(tryton_fresh, employee_relation="Ansatt hos")
    note = ("the relation type 'Ansatt hos' already has the reverse 'Arbeidsgiver', not "
            "'Employer of', and was left as it is (--option employer_relation=\"Arbeidsgiver\" "
            "names it)")
    first = tryton.ensure_setup()
    assert (first.state, first.user_explanation) == ("ok_with_info", note)
    assert "relation type Employer of" not in (first.value or [])
    second = tryton.ensure_setup()
    assert (second.state, second.value, second.user_explanation) == ("ok_with_info", [], note)
    types = raw.call("party.relation.type", "search_read", [], 0, None, [["id", "ASC"]],
                     ["name", "reverse.name"])
    assert [(t["name"], t["reverse."]["name"]) for t in types] == [
        ("Ansatt hos", "Arbeidsgiver"), ("Arbeidsgiver", "Ansatt hos")]
    tryton.close()


def test_the_names_are_checked_when_the_connector_is_made() -> None:
    for names, said in (({"customer_category": " "}, "customer_category must name"),
                        ({"supplier_category": "Customer"}, "must differ"),
                        ({"employer_relation": "Employee of"}, "must differ")):
        with pytest.raises(ValueError, match=said):
            TrytonConnector("http://127.0.0.1:9", "erp", "admin", "pw", **names)
