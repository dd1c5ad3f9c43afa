"""Planted secrets appear nowhere: not in the workspace file, the reports, the CLI's output, the
log records of every library (DEBUG), the workbench's pages, nor any exception text.

The flow is a steward's day against the REAL Tryton test server: connections with a right, a
wrong and an unreachable secret are added and tested, a batch of creates is committed and
synced first through the wrong connection (every action fails, with its reason) and then the
right one, reports are exported and the workspace is checked. Every secret is then grepped
for, byte for byte, in everything the flow left behind.
"""

from __future__ import annotations

import logging
import socket
import uuid
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from erpdata.cli import main
from erpdata.ingest.load import load_file
from erpdata.live.connections import ConnectionSetupError, get_connection, open_connector
from erpdata.steward.decisions import decide
from erpdata.workspace import Workspace
from tests.helpers import write_text
from tests.tryton_server import RawTryton, TrytonServer

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def test_planted_secrets_appear_nowhere(tryton_server: TrytonServer, tryton_raw: RawTryton,
                                        token: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    wrong, down = f"planted-{uuid.uuid4().hex}", f"planted-{uuid.uuid4().hex}"
    secrets = {"ERPDATA_SECRET_ERP": tryton_server.password, "ERPDATA_SECRET_WRONG": wrong,
               "ERPDATA_SECRET_DOWN": down}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # every library's log records, urllib3's included
    path = tmp_path / "ws.duckdb"
    crm = write_text(tmp_path / "crm.csv", "id;name;postalcity\n" + "".join(
        f"{i};{token} Secret Test {i} AS;Oslo\n" for i in range(1, 6)))
    with Workspace.open(path) as ws:
        load_file(ws, crm, side="crm", kind="company")
        for i in range(1, 6):
            decide(ws, "company", "create", str(i), actor_type="customer", user="kari",
                   create_values={"category": "Customer"})
    w = ["--workspace", str(path)]
    server = ["--type", "tryton", "--database", tryton_server.database,
              "--user", tryton_server.user]
    for name, url in (("erp", tryton_server.url), ("wrong", tryton_server.url),
                      ("down", f"http://127.0.0.1:{_closed_port()}")):
        assert main(["connect", "add", name, "--url", url, *server, *w]) == 0
    assert main(["connect", "test", "erp", *w]) == 0
    assert main(["connect", "test", "wrong", *w]) == 1
    assert main(["connect", "test", "down", *w]) == 1
    assert main(["commit", "--user", "kari", *w]) == 0
    failures = []
    for name in ("wrong", "down"):  # every create fails, with its reason
        assert main(["sync", "--erp", name, "--user", "kari", *w]) == 1
        with Workspace.open(path) as ws:
            failures += ws.con.execute("SELECT status, result->>'user' FROM actions "
                                       "WHERE action = 'create_erp'").fetchall()
    assert [s for s, _ in failures] == ["error"] * 10 and all(r for _, r in failures), failures
    assert main(["sync", "--erp", "erp", "--retry-failed", "--user", "kari", *w]) == 0
    for fmt in ("csv", "xlsx", "parquet"):
        out = tmp_path / "reports" / ("links.xlsx" if fmt == "xlsx" else fmt)
        assert main(["report", "--format", fmt, "--out", str(out),
                     *w]) == 0
    assert main(["check", *w]) == 0
    texts = [capsys.readouterr(), caplog.text]

    # what the failed syncs recorded names the reason, and the work was done once in the end
    texts.append(failures)
    with Workspace.open(path) as ws:
        done = ws.con.execute("SELECT action, status, count(*) FROM actions GROUP BY ALL "
                              "ORDER BY ALL").fetchall()
        # exception texts: a connection without its secret, and a wrong one used directly
        monkeypatch.delenv("ERPDATA_SECRET_WRONG")
        with pytest.raises(ConnectionSetupError) as missing:
            open_connector(get_connection(ws, "wrong"))
        texts.append(str(missing.value))
        answer = open_connector(get_connection(ws, "erp"), wrong).test_connection()
        assert not answer.ok
        texts.append((answer.user_explanation, answer.tech_explanation))
    assert done == [("create_erp", "ok", 5)]  # sent again once the right secret was used
    assert tryton_raw.call("party.party", "search_count", [("name", "ilike", f"{token}%")]) == 5

    # the workbench: the Settings page tests the wrong connection with its secret from
    # secrets.toml; nothing on the page shows it
    monkeypatch.setenv("ERPDATA_WORKSPACE", str(path))
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "workbench.py"), default_timeout=60)
        at.secrets["erpdata"] = {"secrets": {"wrong": wrong}}
        at.run()
        at.switch_page("pages/settings.py").run()
        at.selectbox(key="conn_probe").set_value("wrong").run()
        at.button(key="conn_test").click().run()
        assert not at.exception
        shown = [e.value for e in (*at.error, *at.success, *at.warning, *at.markdown)]
        assert any("wrong" in s for s in shown), shown
        texts.append(shown)
        texts.append([repr(d.value) for d in at.dataframe])
    finally:
        st.cache_resource.clear()

    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != crm]
    assert {p.name for p in files} >= {"ws.duckdb"} and len(files) > 3, files
    for value in secrets.values():
        for p in files:
            assert value.encode() not in p.read_bytes(), (value, p)
        for text in texts:
            assert value not in repr(text), (value, text)
