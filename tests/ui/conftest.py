"""Shared by the UI tests: the app's entry file, and fresh Streamlit caches around each test
(each test starts without cached workspaces and closes the ones it opened)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

APP = str(Path(__file__).resolve().parents[2] / "workbench.py")


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ERPDATA_USER", "tester")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
