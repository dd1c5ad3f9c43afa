"""The whole flow against a REAL Tryton server: load the ERP companies from Tryton, match a CRM
export against them, commit, Sync now (creates, updates; links to a CRM export folder), a
second sync that finds nothing, undo and its compensating sync, and a create that is sent again
after a crash without making a second party."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import erpdata.live.sync as sync_mod
from erpdata.check import check
from erpdata.demo.checkdigits import org_numbers
from erpdata.ingest.load import load_file
from erpdata.live.connections import Connection, add_connection, get_connection, open_connector
from erpdata.live.connectors.base import ErpActor, Restriction
from erpdata.live.connectors.tryton import TrytonConnector
from erpdata.live.sync import sync_now
from erpdata.matching import match_workspace
from erpdata.steward.commit import commit, undo
from erpdata.steward.decisions import Filter, decide, decide_bulk
from erpdata.workspace import Workspace
from tests.helpers import write_text
from tests.tryton_server import TrytonServer

CITIES = ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø"]


def _org_numbers(token: str, n: int = 6) -> list[str]:
    """``n`` valid Norwegian organisation numbers (mod-11 check digit) drawn for this run's
    token: the same test run again against the same server must not meet the parties of its
    last run under the same numbers (the matcher would rightly find those too)."""
    rng = np.random.default_rng(int.from_bytes(token.encode(), "big"))
    return [str(number) for number in org_numbers(rng, "NO", n)]


def _named(tryton: TrytonConnector, token: str) -> dict[str, ErpActor]:
    """The test's parties in Tryton, by name."""
    found = tryton.search_advanced("customer", [Restriction("name", "contains", (token,))],
                                   limit=500).unwrap().items
    return {a.fields["name"] or "": a for a in found}


def test_load_match_commit_sync_resync_undo(tryton_server: TrytonServer,
                                            tryton: TrytonConnector, token: str,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    orgno = _org_numbers(token)
    # The ERP: six customers of this test, made as an ERP user would (no CRM key of ours).
    names = [f"{token} {word} AS" for word in ("Alfa", "Bravo", "Charlie", "Delta", "Echo",
                                               "Foxtrot")]
    seeded = tryton.create([ErpActor("customer", None, {"name": n, "postalcity": c, "vatno": v})
                            for n, c, v in zip(names, CITIES, orgno, strict=True)],
                           [f"seed-{token}-{i}" for i in range(len(names))])
    assert seeded.ok, seeded
    ws = Workspace.open(tmp_path / "live.duckdb")
    monkeypatch.setenv("ERPDATA_SECRET_TRYTON", tryton_server.password)
    add_connection(ws, Connection("tryton", "tryton", "erp", tryton_server.url,
                                  tryton_server.database, tryton_server.user))
    (tmp_path / "crm").mkdir()
    add_connection(ws, Connection("crm-files", "files", "crm", str(tmp_path / "crm")))
    # Load the ERP companies from Tryton (every party there; this test's six among them).
    system = open_connector(get_connection(ws, "tryton"))
    loaded = sync_mod.pull(ws, "tryton", system, "company")
    system.close()
    assert loaded is not None and loaded.inserted >= 6
    # The CRM: the same six companies, two of them moved; and two that the ERP lacks.
    rows = [f"{i};{n};{CITIES[i] if i >= 2 else 'Narvik'};{orgno[i]}"
            for i, n in enumerate(names)]
    # the new ones' CRM ids are the run's own: a party made from CRM record 7 carries the key
    # CRM-company-7, and a create sent again finds it (as it must), so a run again against the
    # same server must not reuse the last run's ids
    golf, hotel = f"{token}-7", f"{token}-8"
    rows += [f"{golf};{token} Golf AS;Molde;", f"{hotel};{token} Hotel AS;Hamar;"]
    load_file(ws, write_text(tmp_path / "crm.csv", "id;name;postalcity;vatno\n" + "\n".join(rows)
                             + "\n"), side="crm", kind="company")
    match_workspace(ws, "company")
    decide_bulk(ws, "accept", Filter(kind="company", band="auto"))
    decide_bulk(ws, "accept", Filter(kind="company", band="review"))
    accepted = dict(ws.con.execute(
        "SELECT crm_id, erp_id FROM decisions WHERE decision = 'accept'").fetchall())
    by_name = _named(tryton, token)
    assert accepted == {str(i): by_name[n].erp_key for i, n in enumerate(names)}
    for crm_id in (golf, hotel):
        decide(ws, "company", "create", crm_id, actor_type="customer",
               create_values={"category": "Fisk"})
    # CRM wins by default: the two moved companies get their CRM city in the ERP.
    batch = commit(ws).batch_id
    assert batch is not None

    # A crash after Tryton made the two new parties, before the sync wrote it down ...
    real = sync_mod._finish

    def crash(*args: object) -> None:
        raise ConnectionResetError("lost the workspace mid-sync")

    monkeypatch.setattr(sync_mod, "_finish", crash)
    with pytest.raises(ConnectionResetError):
        sync_now(ws, pull_kinds=())
    monkeypatch.setattr(sync_mod, "_finish", real)
    # ... and the sync again: the creates are sent a second time and find their parties.
    (queued,) = ws.con.execute("SELECT count(*) FROM actions").fetchone() or (0,)
    first = sync_now(ws)
    assert (first.pushed.statuses, first.pushed.conflicts) == ({"ok": queued}, 0)
    assert ws.con.execute("SELECT attempts FROM actions WHERE action = 'create_erp'"
                          ).fetchall() == [(2,), (2,)]  # sent twice, made once:
    after = _named(tryton, token)
    assert sorted(after) == sorted([*names, f"{token} Golf AS", f"{token} Hotel AS"])
    assert after[names[0]].fields["postalcity"] == "Narvik"
    assert after[names[1]].fields["postalcity"] == "Narvik"
    assert after[names[2]].fields["postalcity"] == CITIES[2]
    links = dict(ws.con.execute("SELECT crm_id, erp_id FROM links").fetchall())
    assert links[golf] == after[f"{token} Golf AS"].erp_key
    assert links[hotel] == after[f"{token} Hotel AS"].erp_key
    assert ws.con.execute("SELECT count(*) FROM actions WHERE status <> 'ok'").fetchone() == (0,)
    # A second sync: nothing queued, nothing changed since the first one's pull.
    assert sync_now(ws).summary() == ("nothing to sync: no queued actions and no changes in "
                                      "the live systems")
    # Undo: the batch's links go, and the compensating actions put the old cities back.
    undo(ws, batch)
    again = sync_now(ws)
    assert again.pushed.statuses.get("error") is None
    back = _named(tryton, token)
    assert back[names[0]].fields["postalcity"] == CITIES[0]
    assert back[names[1]].fields["postalcity"] == CITIES[1]
    assert f"{token} Golf AS" in back  # nothing is ever deleted in the ERP
    assert check(ws) == []
    ws.close()


def test_changes_flow_to_the_other_side_and_both_sides_changed_is_a_conflict(
        tryton_server: TrytonServer, tryton: TrytonConnector, token: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"{token} {word} AS" for word in ("Kilo", "Lima", "Mike")]
    orgno = _org_numbers(token)
    tryton.create([ErpActor("customer", None, {"name": n, "postalcity": "Oslo", "vatno": v})
                   for n, v in zip(names, orgno, strict=False)],
                  [f"seed-{token}-{i}" for i in range(3)]).unwrap()
    ws = Workspace.open(tmp_path / "live.duckdb")
    monkeypatch.setenv("ERPDATA_SECRET_TRYTON", tryton_server.password)
    add_connection(ws, Connection("tryton", "tryton", "erp", tryton_server.url,
                                  tryton_server.database, tryton_server.user))
    crm_folder = tmp_path / "crm"
    crm_folder.mkdir()
    add_connection(ws, Connection("crm", "files", "crm", str(crm_folder)))
    system = open_connector(get_connection(ws, "tryton"))
    sync_mod.pull(ws, "tryton", system, "company")
    system.close()

    def crm_export(cities: list[str]) -> Path:
        return write_text(crm_folder / "crm_company.csv", "id;name;postalcity;vatno\n" + "".join(
            f"{i};{n};{c};{v}\n" for i, (n, c, v) in enumerate(zip(names, cities, orgno,
                                                                    strict=False))))

    load_file(ws, crm_export(["Oslo"] * 3), side="crm", kind="company")
    match_workspace(ws, "company")
    decide_bulk(ws, "accept", Filter(kind="company", band="auto"))
    commit(ws)
    assert sync_now(ws).pushed.statuses.get("error") is None
    keys = {n: a.erp_key for n, a in _named(tryton, token).items()}
    # Kilo moves in the ERP; Lima in the CRM; Mike in both, to different cities.
    tryton.save([ErpActor("customer", keys[names[0]], {"postalcity": "Alta"}),
                 ErpActor("customer", keys[names[2]], {"postalcity": "Gjøvik"})]).unwrap()
    crm_export(["Oslo", "Lillehammer", "Hamar"])
    report = sync_now(ws)
    assert report.pushed.conflicts == 1
    now = _named(tryton, token)
    assert now[names[1]].fields["postalcity"] == "Lillehammer"  # CRM -> ERP
    assert ws.con.execute("SELECT postalcity FROM crm_company WHERE id = '0'").fetchone() == (
        "Alta",)  # ERP -> CRM (the CRM export folder gets it as a change set)
    outbox = (crm_folder / "outbox" / "crm_updates.csv").read_text(encoding="utf-8")
    assert "company,0,postalcity,Alta" in outbox
    (conflict,) = sync_mod.conflicts(ws).to_dict("records")
    assert (conflict["side"], conflict["crm_id"], conflict["field"], conflict["ours"],
            conflict["theirs"]) == ("both", "2", "postalcity", "Hamar", "Gjøvik")
    assert now[names[2]].fields["postalcity"] == "Gjøvik"  # nothing decided silently
    # The steward keeps the ERP's city: it goes to the CRM.
    sync_mod.resolve_conflict(ws, int(conflict["conflict_id"]), "theirs")
    sync_now(ws)
    assert "company,2,postalcity,Gjøvik" in (crm_folder / "outbox" / "crm_updates.csv"
                                              ).read_text(encoding="utf-8")
    assert check(ws) == []
    ws.close()
