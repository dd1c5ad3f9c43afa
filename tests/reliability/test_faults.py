"""Fault injection: a sync of N actions against a REAL Tryton server through a proxy
(:mod:`tests.reliability.faultproxy`) that drops connections before and after forwarding,
delays answers (some beyond the connector's timeout), answers 500/502/503 itself before and
after forwarding, and cuts answers in half, at a configured rate.

The steward runs the sync, and runs it again while actions failed (a bounded number of
rounds). The test then proves, looking at Tryton directly (``tryton_raw``, not through the
proxy): every action ended done, each effect exists exactly once (one party per CRM key, the
updated fields hold the wanted values, one contact and address each), every failure on the
way was reported with its reason (each failed call is matched to the fault that caused it:
no failure without a fault, no failing fault without a reported failure), the workspace
passes ``erpdata check``, and the proxy really injected faults of every kind at the rate.

Environment: ``ERPDATA_FAULT_ACTIONS`` (actions in the batch: 300 by default, under a
minute; 5000 for the full run in docs/RELIABILITY.md, which takes minutes),
``ERPDATA_FAULT_RATE`` (0.3), ``ERPDATA_FAULT_SEED`` (7), ``ERPDATA_FAULT_CHUNK``
(actions per connector call, 5) and ``ERPDATA_FAULT_PULLS`` (full pulls through the faults, 8;
50 for the full run)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from erpdata.check import check
from erpdata.ingest.load import load_file
from erpdata.live.connectors.base import Answer, ConnectorError, ErpActor
from erpdata.live.connectors.folders import FilesCrmConnector
from erpdata.live.connectors.tryton import TrytonConnector
from erpdata.live.sync import pull, sync
from erpdata.steward.commit import commit
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace
from tests.helpers import snapshot
from tests.reliability.faultproxy import FAILING_KINDS, FAULT_KINDS, FaultProxy, fault_proxy
from tests.tryton_server import RawTryton, TrytonServer

ACTIONS = int(os.environ.get("ERPDATA_FAULT_ACTIONS", "300"))
RATE = float(os.environ.get("ERPDATA_FAULT_RATE", "0.3"))
SEED = int(os.environ.get("ERPDATA_FAULT_SEED", "7"))
#: The connector's timeout; a stall lasts one second longer, a slow answer at most 1 s.
TIMEOUT = 3.0
#: Actions per connector call: small, so that even the CI-sized run makes hundreds of calls
#: and meets every fault kind several times (a steward's sync sends 100).
CHUNK = int(os.environ.get("ERPDATA_FAULT_CHUNK", "5"))
#: How often the steward presses "Sync now" at most before the test gives up.
MAX_ROUNDS = 12
CITIES = ("Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø", "Molde", "Hamar")

#: What the connector must say for each failure, by error code: the fault, in words.
REASONS: dict[str, re.Pattern[str]] = {
    "connection": re.compile(r"dropped the connection before answering .* \(connection reset "
                             r"or closed\)"),
    "timeout": re.compile(r"did not answer within 3 s"),
    "http_500": re.compile(r"answered HTTP 500 Internal Server Error"),
    "http_502": re.compile(r"answered HTTP 502 Bad Gateway"),
    "http_503": re.compile(r"answered HTTP 503 Service Unavailable"),
    "incomplete": re.compile(r"broke off its answer .* \(incomplete response\)|sent an "
                             r"incomplete or invalid answer .* \(cut-off JSON\)"),
}


class TallyingTryton(TrytonConnector):
    """The real connector, counting every failed answer the sync receives by error code, so
    that failures can be matched one to one with the faults the proxy injected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failed: Counter[str] = Counter()
        self.calls = 0

    def _tally(self, answer: Answer[Any]) -> Answer[Any]:
        self.calls += 1
        if not answer.ok:
            self.failed[answer.error_code] += 1
        return answer

    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        return self._tally(super().get(actor_type, erp_keys))

    def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
               ) -> Answer[list[ErpActor]]:
        return self._tally(super().create(actors, crm_keys))

    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        return self._tally(super().save(actors))


@dataclass(frozen=True)
class Mix:
    """How the N actions are made: ``linked`` CRM companies accepted to existing Tryton
    parties (a link, an ERP update of city and e-mail and a CRM update of the VAT number
    each), ``companies`` new customers and ``persons`` new persons under linked companies."""

    linked: int
    companies: int
    persons: int

    @staticmethod
    def of(n: int) -> Mix:
        linked = max(n * 15 // 100, 1)
        persons = n * 20 // 100
        return Mix(linked, n - 3 * linked - persons, persons)


def _seed_tryton(tryton: TrytonConnector, token: str, n: int) -> list[ErpActor]:
    """The existing ERP customers, made directly (not through the proxy) as an ERP user
    would."""
    made: list[ErpActor] = []
    for start in range(0, n, 200):
        idx = range(start, min(start + 200, n))
        made += tryton.create(
            [ErpActor("customer", None, {"name": f"{token} Seed {i:05d} AS",
                                         "postalcity": "Oslo", "vatno": f"ERP{i:06d}",
                                         "email": f"old{i}@{token}.example"}) for i in idx],
            [f"seed-{token}-{i}" for i in idx]).unwrap()
    return made


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _build(ws: Workspace, tmp: Path, token: str, mix: Mix, seeded: list[ErpActor]) -> None:
    """Load the ERP parties and the CRM export, decide and commit one batch of N actions."""
    fields = ("name", "vatno", "postalcity", "email")
    load_file(ws, _write(tmp / "erp_company.csv", [
        ["id", "actor_type", *fields],
        *([a.erp_key or "", "customer", *(a.fields.get(f) or "" for f in fields)]
          for a in seeded)]), side="erp", kind="company")
    crm = [["id", *fields]]
    crm += [[f"{token}-s{i}", a.fields["name"] or "", f"CRM{i:06d}", CITIES[i % len(CITIES)],
             f"new{i}@{token}.example"] for i, a in enumerate(seeded)]
    crm += [[f"{token}-n{i}", f"{token} New {i:05d} AS", "", CITIES[i % len(CITIES)],
             f"post{i}@{token}.example"] for i in range(mix.companies)]
    load_file(ws, _write(tmp / "crm_company.csv", crm), side="crm", kind="company")
    load_file(ws, _write(tmp / "crm_person.csv", [
        ["id", "firstname", "lastname", "email", "company_id"],
        *([f"{token}-p{i}", "Ada", f"{token}P{i:05d}", f"p{i}@{token}.example",
           f"{token}-s{i % mix.linked}"] for i in range(mix.persons))]),
        side="crm", kind="person")
    for i, actor in enumerate(seeded):
        decide(ws, "company", "accept", f"{token}-s{i}", f"customer:{actor.erp_key}")
    for i in range(mix.companies):
        decide(ws, "company", "create", f"{token}-n{i}", actor_type="customer",
               create_values={"category": "Faults"})
    for i in range(mix.persons):
        decide(ws, "person", "create", f"{token}-p{i}", actor_type="person")
    assert commit(ws).batch_id is not None


def _failures(ws: Workspace) -> list[dict[str, Any]]:
    """Every failure the workspace reports: the failed tries kept with each action and the
    last answer of each action that ended a round failed."""
    found = []
    for (raw,) in ws.con.execute("SELECT result FROM actions").fetchall():
        result = json.loads(raw)
        found += result.get("failed_tries", [])
        if result["state"] == "error":
            found.append({k: result.get(k) for k in ("at", "code", "user", "tech")})
    return found


def _tryton_state(raw: RawTryton, token: str) -> dict[str, Any]:
    """What Tryton holds for this test, read directly: CRM-key identifiers and parties."""
    idents = raw.call("party.identifier", "search_read", [["code", "like", f"CRM-%{token}-%"]],
                      0, None, [["id", "ASC"]], ["code", "party"])
    parties = raw.call("party.party", "search_read", [["name", "ilike", f"%{token}%"]], 0, None,
                       [["id", "ASC"]],
                       ["name", "addresses.city", "contact_mechanisms.type",
                        "contact_mechanisms.value", "relations.to", "relations.type.name",
                        "categories.name"])
    return {"idents": idents, "parties": {p["id"]: p for p in parties}}


def _report(proxy: FaultProxy, erp: TallyingTryton, rounds: list[dict[str, Any]],
            failures: list[dict[str, Any]], seconds: float) -> str:
    """One paragraph of figures for docs/RELIABILITY.md."""
    faults, statuses = dict(sorted(proxy.faults.items())), dict(sorted(
        proxy.error_statuses.items()))
    calls = Counter(code for _, code in {(f["at"], f["code"]) for f in failures})
    return (f"\nfault injection: {ACTIONS} actions, {proxy.requests} requests, "
            f"{proxy.fault_count} faults ({proxy.fault_count / proxy.requests:.1%}; "
            f"configured {RATE:.0%}) by kind {faults}, 5xx {statuses}; {len(rounds)} round(s) "
            f"of Sync now {rounds}; failed connector calls {dict(sorted(erp.failed.items()))} "
            f"of {erp.calls}; failed calls reported with the actions {dict(sorted(calls.items()))}"
            f" ({len(failures)} action failure records); {seconds:.1f} s")


def test_a_sync_through_faults_does_every_action_exactly_once(
        tryton_server: TrytonServer, tryton: TrytonConnector, tryton_raw: RawTryton,
        token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERPDATA_SECRET_FAULTS", tryton_server.password)  # check() seeks it
    mix = Mix.of(ACTIONS)
    seeded = _seed_tryton(tryton, token, mix.linked)
    ws = Workspace.open(tmp_path / "faults.duckdb")
    _build(ws, tmp_path, token, mix, seeded)
    assert dict(ws.con.execute("SELECT action, count(*) FROM actions GROUP BY ALL"
                               ).fetchall()) == {
        "link": mix.linked, "update_erp": mix.linked, "update_crm": mix.linked,
        "create_erp": mix.companies + mix.persons}
    assert ws.con.execute("SELECT count(*) FROM actions").fetchone() == (ACTIONS,)

    crm_folder = tmp_path / "crm"
    crm_folder.mkdir()
    crm = FilesCrmConnector(crm_folder)
    started = time.perf_counter()
    with fault_proxy(tryton_server.url, rate=RATE, seed=SEED, slow_delay=(0.05, 1.0),
                     stall_delay=TIMEOUT + 1.0) as proxy:
        erp = TallyingTryton(proxy.url, tryton_server.database, tryton_server.user,
                             tryton_server.password, timeout=TIMEOUT)
        rounds: list[dict[str, Any]] = []
        for _ in range(MAX_ROUNDS):  # the steward presses "Sync now" while actions failed
            done = sync(ws, erp=erp, crm=crm, chunk=CHUNK, backoff=0.05)
            rounds.append({**done.statuses, "retried": sum(done.retried.values())})
            if not done.statuses.get("error"):
                break
        injected = proxy.snapshot()  # before the logout, which may meet a fault of its own
        erp.close()
    seconds = time.perf_counter() - started
    crm.close()
    failures = _failures(ws)
    print(_report(proxy, erp, rounds, failures, seconds))

    # Every action ended done: in the last round nothing failed, and none is left.
    assert ws.con.execute("SELECT status, count(*) FROM actions GROUP BY ALL").fetchall() == [
        ("ok", ACTIONS)]
    assert len(rounds) < MAX_ROUNDS or not rounds[-1].get("error")

    # The proxy injected faults at the rate (within 3 standard deviations) and of every kind.
    requests, faults = int(injected["requests"]), proxy.fault_count  # type: ignore[call-overload]
    spread = 3 * math.sqrt(requests * RATE * (1 - RATE))
    assert requests * RATE - spread <= faults <= requests * RATE + spread, (requests, faults)
    assert set(proxy.faults) == set(FAULT_KINDS), proxy.faults
    assert set(proxy.error_statuses) == {500, 502, 503}, proxy.error_statuses

    # Every failing fault is one failed call with the matching reason, and nothing else failed.
    assert erp.failed == Counter({
        "connection": proxy.faults["refuse"] + proxy.faults["drop_after"],
        "timeout": proxy.faults["stall"],
        "incomplete": proxy.faults["cut"] + proxy.faults["cut_unframed"],
        **{f"http_{s}": n for s, n in proxy.error_statuses.items()}}), (erp.failed,
                                                                        proxy.faults)
    assert sum(erp.failed.values()) == sum(proxy.faults[k] for k in FAILING_KINDS)
    # ... and every failure the workspace reports names its fault, never the password.
    assert {f["code"] for f in failures} == set(erp.failed)
    for failure in failures:
        assert REASONS[failure["code"]].search(failure["user"]), failure
        assert failure["tech"], failure
        assert tryton_server.password not in json.dumps(failure)
    # One failed call fails every action of its chunk: told apart by when it ended, the
    # failures the actions keep are exactly the failed calls.
    calls = {(f["at"], f["code"]) for f in failures}
    assert Counter(code for _, code in calls) == erp.failed

    # Exactly once in Tryton, read directly: one party per CRM key, nothing else of ours.
    state = _tryton_state(tryton_raw, token)
    codes = Counter(i["code"] for i in state["idents"] if "-seed-" not in i["code"])
    wanted = {f"CRM-company-company:{token}-n{i}" for i in range(mix.companies)} | {
        f"CRM-person-person:{token}-p{i}" for i in range(mix.persons)}
    assert set(codes) == wanted and set(codes.values()) == {1}
    assert len(state["parties"]) == mix.linked + mix.companies + mix.persons
    party_of = {i["code"]: i["party"] for i in state["idents"]}
    links = dict(ws.con.execute("SELECT crm_id, erp_id FROM links").fetchall())
    assert len(links) == mix.linked + mix.companies + mix.persons
    parties = state["parties"]
    for i in range(mix.companies):
        party = parties[party_of[f"CRM-company-company:{token}-n{i}"]]
        assert links[f"{token}-n{i}"] == str(party["id"])
        assert party["name"] == f"{token} New {i:05d} AS"
        assert [a["city"] for a in party["addresses."]] == [CITIES[i % len(CITIES)]]
        assert [(m["type"], m["value"]) for m in party["contact_mechanisms."]] == [
            ("email", f"post{i}@{token}.example")]
        assert [c["name"] for c in party["categories."]] == ["Customer"]
    for i, actor in enumerate(seeded):  # the updates: the wanted values, written once
        party = parties[int(actor.erp_key or 0)]
        assert links[f"{token}-s{i}"] == actor.erp_key
        assert [a["city"] for a in party["addresses."]] == [CITIES[i % len(CITIES)]]
        assert [(m["type"], m["value"]) for m in party["contact_mechanisms."]] == [
            ("email", f"new{i}@{token}.example")]
    for i in range(mix.persons):
        party = parties[party_of[f"CRM-person-person:{token}-p{i}"]]
        assert links[f"{token}-p{i}"] == str(party["id"])
        assert party["name"] == f"Ada {token}P{i:05d}"
        employer = int(seeded[i % mix.linked].erp_key or 0)
        assert [(r["to"], r["type."]["name"]) for r in party["relations."]] == [
            (employer, "Employee of")]

    # Exactly once on the CRM side too (the export folder's change sets).
    with (crm_folder / "outbox" / "links.csv").open(encoding="utf-8") as f:
        linked = [tuple(r[1:]) for r in list(csv.reader(f))[1:]]
    assert Counter(linked) == Counter(("company", crm_id, "customer", erp_id)
                                      for crm_id, erp_id in links.items()
                                      if not crm_id.startswith(f"{token}-p")) + Counter(
        ("person", f"{token}-p{i}", "person", links[f"{token}-p{i}"])
        for i in range(mix.persons))
    with (crm_folder / "outbox" / "crm_updates.csv").open(encoding="utf-8") as f:
        updates = [tuple(r[1:]) for r in list(csv.reader(f))[1:]]
    assert sorted(updates) == sorted(("company", f"{token}-s{i}", "vatno", f"ERP{i:06d}")
                                     for i in range(mix.linked))

    assert check(ws) == []
    ws.close()


#: Full pulls of every ERP company through the faulty proxy (each a few Tryton calls).
PULLS = int(os.environ.get("ERPDATA_FAULT_PULLS", "8"))
#: What a pull loads, without when and by which load (those differ from pull to pull).
PULLED = ("SELECT * EXCLUDE (source_file, source_row, first_load_id, load_id, missing_since) "
          "FROM erp_company ORDER BY actor_type, id")


def test_a_pull_through_faults_loads_all_or_nothing(
        tryton_server: TrytonServer, tryton: TrytonConnector, token: str,
        tmp_path: Path) -> None:
    """"Sync now" pulls before it pushes: a full pull of the ERP companies through the same
    faults either loads exactly what Tryton holds (the same rows as a pull without the proxy)
    or fails with its reason and leaves every table of the workspace as it was; the
    next pull after a failure succeeds or fails the same clean way."""
    _seed_tryton(tryton, f"{token}pull", 25)  # something of this test's own to pull
    with Workspace.open(tmp_path / "direct.duckdb") as ws:
        assert pull(ws, "tryton", tryton, "company", full=True) is not None
        want = ws.con.execute(PULLED).fetchall()
    assert any(f"{token}pull Seed 00024 AS" == r[2] for r in want)
    outcomes: Counter[str] = Counter()
    with fault_proxy(tryton_server.url, rate=RATE, seed=SEED + 1, slow_delay=(0.05, 1.0),
                     stall_delay=TIMEOUT + 1.0) as proxy, \
            Workspace.open(tmp_path / "faulty.duckdb") as ws:
        erp = TrytonConnector(proxy.url, tryton_server.database, tryton_server.user,
                              tryton_server.password, timeout=TIMEOUT)
        for _ in range(PULLS):
            before = snapshot(ws)
            try:
                pull(ws, "tryton", erp, "company", full=True)
            except ConnectorError as exc:
                code = exc.answer.error_code
                assert REASONS[code].search(exc.answer.user_explanation), exc
                assert tryton_server.password not in str(exc)
                assert snapshot(ws) == before
                outcomes[f"failed ({code})"] += 1
            else:
                assert ws.con.execute(PULLED).fetchall() == want
                outcomes["loaded"] += 1
        erp.close()
        assert check(ws) == []
    print(f"\npulls through faults: {PULLS} full pulls of {len(want)} ERP companies, "
          f"{proxy.requests} requests, {proxy.fault_count} faults by kind "
          f"{dict(sorted(proxy.faults.items()))}; outcomes {dict(sorted(outcomes.items()))}")
    assert outcomes["loaded"] >= 1 and proxy.fault_count > 0
