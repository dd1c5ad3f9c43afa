"""Fixtures of the connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.superoffice import FakeSuperOffice


@pytest.fixture
def so() -> Iterator[FakeSuperOffice]:
    """A started fake SuperOffice tenant (no SuperOffice can run here)."""
    with FakeSuperOffice() as fake:
        yield fake
