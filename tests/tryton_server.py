"""A REAL Tryton server for the tests that talk to Tryton (no mocks of Tryton).

The fixtures are imported by ``tests/conftest.py``, so the connector tests and the reliability
tests share ONE server per session.

- ``tryton_server`` (session): the server named by ``ERPDATA_TRYTON_URL`` and
  ``ERPDATA_TRYTON_DB`` (password ``TRYTON_ADMIN_PASSWORD``) when set, as ``.ci/run`` does;
  otherwise one this fixture initialises and starts with ``scripts/tryton.sh`` in a temporary
  folder on a free port, and stops at the end. A missing trytond FAILS the tests (it is in
  requirements-dev.txt), it never skips them.
- ``tryton`` (session): a connector to it, after ``ensure_setup()``; ``tryton_first_setup``
  also holds what ``test_connection`` and that first ``ensure_setup`` answered.
- ``tryton_raw`` (session): a minimal JSON-RPC client of its own, to change Tryton behind the
  connector's back (a contact mechanism written directly, as a Tryton user would).
- ``token`` (function): a unique word for the test's data.
- ``tryton_fresh`` (function): a database exactly as ``trytond-admin`` leaves it (no party
  categories, relation types, company or countries), for the tests of what a fresh Tryton
  lacks and of ``erpdata connect setup``. It is served by a second trytond of the tests' own
  (``tryton_fresh_home``, session, initialised once with ``scripts/tryton.sh init``), reset
  for each such test by stopping it, copying the pristine database back and starting it again
  (~2 s). Why a server of its own: the shared one is set up once for the whole session (and
  under ``.ci/run`` it is not ours to reset), and trytond 8.2 serves only the databases named
  when it starts.

Why unique data instead of a database reset per test: the same tests run against a server
that ``.ci/run`` started and that this fixture cannot reset, and one server for the whole
session keeps the suite fast. Every assertion is therefore scoped to the test's own records
(names carrying ``token``, parents created by the test).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from erpdata.live.connectors.base import Answer
from erpdata.live.connectors.tryton import TrytonConnector

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "tryton.sh"
DEFAULT_PASSWORD = "erpdata-test-only"


@dataclass(frozen=True)
class TrytonServer:
    """Where the test server answers and how to log in."""

    url: str
    database: str
    password: str
    user: str = "admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n"
                    f"{done.stderr}", pytrace=False)
    return done.stdout.strip()


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    url, database = os.environ.get("ERPDATA_TRYTON_URL"), os.environ.get("ERPDATA_TRYTON_DB")
    password = os.environ.get("TRYTON_ADMIN_PASSWORD") or DEFAULT_PASSWORD
    if url and database:
        yield TrytonServer(url.rstrip("/"), database, password)
        return
    trytond = Path(sys.prefix) / "bin" / "trytond"
    if importlib.util.find_spec("trytond") is None or not trytond.exists():
        pytest.fail("trytond is not installed in this environment: "
                    "pip install -r requirements-tryton.txt (it is part of "
                    "requirements-dev.txt)", pytrace=False)
    folder = tmp_path_factory.mktemp("tryton")
    env = {**os.environ, "TRYTON_PORT": str(_free_port()), "TRYTON_DB": "erp",
           "TRYTON_ADMIN_PASSWORD": password, "PYTHON": sys.executable}
    _run(["bash", str(SCRIPT), "init", str(folder)], env)
    started = _run(["bash", str(SCRIPT), "start", str(folder)], env)
    try:
        yield TrytonServer(started.splitlines()[-1], "erp", password)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], env=env,
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


@dataclass(frozen=True)
class FirstSetup:
    """What the session saw before and while setting the database up."""

    before: Answer[str]  # test_connection before ensure_setup
    setup: Answer[list[str]]  # the first ensure_setup


@pytest.fixture(scope="session")
def tryton_first_setup(tryton_server: TrytonServer) -> Iterator[tuple[TrytonConnector,
                                                                      FirstSetup]]:
    connector = TrytonConnector(tryton_server.url, tryton_server.database, tryton_server.user,
                                tryton_server.password, timeout=30.0)
    before = connector.test_connection()
    setup = connector.ensure_setup()
    assert setup.ok, setup
    yield connector, FirstSetup(before, setup)
    connector.close()


@pytest.fixture(scope="session")
def tryton(tryton_first_setup: tuple[TrytonConnector, FirstSetup]) -> TrytonConnector:
    """A connector to the test server, with what a fresh database lacks created."""
    return tryton_first_setup[0]


class RawTryton:
    """Plain JSON-RPC to the test server, independent of the connector's code."""

    def __init__(self, server: TrytonServer) -> None:
        self.server = server
        self.http = requests.Session()
        uid, key, _ = self.post("common.db.login",
                                [server.user, {"password": server.password}, "en"])
        token = base64.b64encode(f"{server.user}:{uid}:{key}".encode()).decode()
        self.http.headers["Authorization"] = f"Session {token}"
        prefs = self.post("model.res.user.get_preferences", [True, {}])
        self.context = {"company": prefs.get("company"), "companies": prefs.get("companies"),
                        "language": "en"}

    def post(self, method: str, params: list[Any]) -> Any:
        resp = self.http.post(f"{self.server.url}/{self.server.database}/rpc/",
                              json={"id": 1, "method": method, "params": params}, timeout=30)
        resp.raise_for_status()
        body = resp.json()
        assert "error" not in body or body["error"] is None, body
        return body["result"]

    def call(self, model: str, method: str, *params: Any) -> Any:
        return self.post(f"model.{model}.{method}", [*params, self.context])


@pytest.fixture(scope="session")
def tryton_raw(tryton_server: TrytonServer, tryton: TrytonConnector) -> Iterator[RawTryton]:
    raw = RawTryton(tryton_server)
    yield raw
    raw.http.close()


@pytest.fixture
def token() -> str:
    """A word no other test's data contains."""
    return "t" + uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class FreshHome:
    """The folder and environment of the tests' own trytond for fresh databases."""

    folder: Path
    env: dict[str, str]


def _require_trytond() -> None:
    trytond = Path(sys.prefix) / "bin" / "trytond"
    if importlib.util.find_spec("trytond") is None or not trytond.exists():
        pytest.fail("trytond is not installed in this environment: "
                    "pip install -r requirements-tryton.txt (it is part of "
                    "requirements-dev.txt)", pytrace=False)


@pytest.fixture(scope="session")
def tryton_fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshHome]:
    """A trytond folder with a pristine database ``fresh``, initialised once per session."""
    _require_trytond()
    folder = tmp_path_factory.mktemp("tryton-fresh")
    env = {**os.environ, "TRYTON_PORT": str(_free_port()), "TRYTON_DB": "fresh",
           "TRYTON_ADMIN_PASSWORD": "fresh-" + secrets.token_hex(8), "PYTHON": sys.executable}
    _run(["bash", str(SCRIPT), "init", str(folder)], env)
    try:
        yield FreshHome(folder, env)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], env=env,
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def tryton_fresh(tryton_fresh_home: FreshHome) -> TrytonServer:
    """A Tryton database nobody has set up yet (see the module docstring)."""
    home = tryton_fresh_home
    _run(["bash", str(SCRIPT), "stop", str(home.folder)], home.env)
    for leftover in home.folder.glob("fresh.sqlite-*"):  # a journal of the last test's server
        leftover.unlink()
    shutil.copyfile(home.folder / "pristine.sqlite", home.folder / "fresh.sqlite")
    started = _run(["bash", str(SCRIPT), "start", str(home.folder)], home.env)
    return TrytonServer(started.splitlines()[-1], "fresh", home.env["TRYTON_ADMIN_PASSWORD"])
