"""Sign-in fails closed (pages.shared.ui.auth_problem): a secrets file that exists but cannot be
read or parsed, or an ``[auth]`` section st.login cannot sign in with, stops the workbench with
an error naming the file and line, and no page renders; no file, or one without ``[auth]``,
is the one-person workbench as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config
from streamlit.testing.v1 import AppTest

from pages.shared.ui import _STOPPED
from tests.helpers import write_text
from tests.ui.conftest import APP

VALID = ('# sign-in\n\n[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
         'cookie_secret = "a-long-random-cookie-secret"\nclient_id = "workbench"\n'
         'client_secret = "s3cret"\n'
         'server_metadata_url = "https://id.example.com/.well-known/openid-configuration"\n')


@pytest.fixture
def secrets_file(tmp_path: Path) -> Iterator[Path]:
    """The path Streamlit (and the workbench) read the app's secrets from in this test."""
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    st.secrets._reset()
    yield path
    config.set_option("secrets.files", saved)
    st.secrets._reset()


@pytest.fixture
def start(small_workspace: Path, workspace_env: Callable[[Path], None]
          ) -> Callable[[], AppTest]:
    def run() -> AppTest:
        workspace_env(small_workspace)
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


def stopped(at: AppTest) -> list[str]:
    """The errors shown, after checking that neither a page, the sign-in nor the sidebar
    rendered."""
    assert not at.title and not at.button and not at.sidebar.markdown and not at.metric
    return [e.value for e in at.error]


def test_a_secrets_file_that_does_not_parse_stops_the_workbench(secrets_file: Path,
                                                                 start) -> None:
    write_text(secrets_file, VALID.replace('"workbench"', '"workbench'))
    assert stopped(start()) == [
        f"{secrets_file}, line 6, column 23: not valid TOML: Illegal character '\\n'. "
        f"{_STOPPED}"]


def test_an_auth_section_without_its_keys_stops_the_workbench(secrets_file: Path,
                                                              start) -> None:
    write_text(secrets_file, "\n".join(row for row in VALID.splitlines()
                                       if not row.startswith(("cookie_secret", "client_secret"))))
    assert stopped(start()) == [
        f"{secrets_file}, line 3: the [auth] section lacks cookie_secret, client_secret, which "
        "st.login needs to sign users in (the provider's keys directly under [auth] or under "
        f"[auth.default]). {_STOPPED}"]
    write_text(secrets_file, VALID.replace("/oauth2callback", "/callback"))
    assert stopped(start()) == [
        f"{secrets_file}, line 3: redirect_uri must end with /oauth2callback (such as "
        "http://localhost:8501/oauth2callback), or signing in cannot return to the "
        f"workbench. {_STOPPED}"]


def test_a_secrets_file_that_cannot_be_read_stops_the_workbench(secrets_file: Path,
                                                                start) -> None:
    secrets_file.mkdir()  # exists, but reading it fails (as a file without read rights does)
    assert stopped(start()) == [
        f"{secrets_file}: the secrets file exists but cannot be read (Is a directory). "
        f"{_STOPPED}"]


def test_a_valid_auth_section_asks_to_sign_in(secrets_file: Path, start) -> None:
    write_text(secrets_file, VALID)
    at = start()
    assert not at.error
    assert at.button(key="sign_in").label == "Sign in"
    assert not at.sidebar.markdown


@pytest.mark.parametrize("text", [None, '[erpdata.secrets]\ntryton = "pw"\n'],
                         ids=["no file", "no auth section"])
def test_without_auth_the_workbench_is_one_local_user(secrets_file: Path, start,
                                                      text: str | None) -> None:
    if text is not None:
        write_text(secrets_file, text)
    at = start()
    assert not at.error
    assert at.title[0].value == "Overview"
    assert any("tester" in m.value and "local" in m.value for m in at.sidebar.markdown)
