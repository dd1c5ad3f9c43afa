"""Headers, throttling and SuperOffice's value shapes, against a FAKE SuperOffice.

No SuperOffice can run here, so every test talks real HTTP to
:class:`tests.fakes.superoffice.FakeSuperOffice` on 127.0.0.1 (tests that need no server say
so). Waits asked for by ``Retry-After`` go through an injected ``sleep`` that records them,
so that the tests stay fast; one test waits for real, one second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from erpdata.live.connectors.superoffice import _retry_after
from tests.fakes.superoffice import EMPTY_DATE, TOKEN, FakeSuperOffice
from tests.fakes.superoffice import connector as make


def test_every_request_asks_for_one_language_and_dates_with_offsets(so: FakeSuperOffice
                                                                     ) -> None:
    """Fake: reads and agent calls send ``Accept-Language: en`` (multi-language list texts in
    one language) and ``SO-TimeZone: UTC, includeTZOffset`` (dates with their offset); both
    are options, and an empty one is not sent."""
    make(so).test_connection()
    make(so, language="nb", timezone="").records("company")
    first, agent, other = so.requests
    for sent in (first, agent):
        assert sent.headers["Accept-Language"] == "en"
        assert sent.headers["SO-TimeZone"] == "UTC, includeTZOffset"
    assert other.headers["Accept-Language"] == "nb" and "SO-TimeZone" not in other.headers


def test_dates_with_offsets_and_empty_dates(so: FakeSuperOffice) -> None:
    """Fake: with includeTZOffset the updated date comes as ``...Z``; an empty date is
    ``0001-01-01T00:00:00`` (never null) and the primary key a string. The connector reads
    the empty dates as "no date" (the registered date then counts)."""
    import requests

    so.add_project(1, name="P", updated=datetime(2024, 5, 2, 8, 30, tzinfo=UTC))
    so.add_project(2, name="Q", created=datetime(2024, 1, 3, tzinfo=UTC))
    raw = requests.get(f"{so.url}/api/v1/Project", timeout=5, params={
        "$select": "projectId,updatedDate,registeredDate,endDate"}, headers={
        "Authorization": f"Bearer {TOKEN}", "SO-TimeZone": "UTC, includeTZOffset"}).json()
    row_p, row_q = raw["value"]
    assert row_p["updatedDate"] == "2024-05-02T08:30:00Z" and row_p["endDate"] == EMPTY_DATE
    assert row_q["updatedDate"] == EMPTY_DATE and row_q["PrimaryKey"] == "2"
    so.add_project(3, name="R", CreatedDate=EMPTY_DATE)
    p, q, r = make(so).records("project").unwrap()
    assert p.last_modified == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    assert q.last_modified == datetime(2024, 1, 3, tzinfo=UTC)
    assert r.last_modified is None
    assert p.fields["enddate"] is None and q.fields["enddate"] is None


def test_a_429_with_retry_after_is_waited_out(so: FakeSuperOffice) -> None:
    """Fake: two 429s with ``Retry-After: 1`` then the page: waits 1 s twice (recorded, not
    slept) and the read completes."""
    so.add_contact(1, name="A")
    so.throttle_next(2, "1")
    waits: list[float] = []
    answer = make(so, sleep=waits.append).records("company")
    assert answer.state == "ok" and len(answer.value) == 1
    assert waits == [1.0, 1.0] and len(so.calls("Contact")) == 3


def test_a_real_one_second_wait(so: FakeSuperOffice) -> None:
    """Fake: one 429 with ``Retry-After: 1``, the real sleep: about one second, then ok."""
    so.throttle_next(1, "1")
    started = time.monotonic()
    answer = make(so).records("company")
    assert answer.ok and 0.9 <= time.monotonic() - started < 3.0


def test_retries_are_bounded_and_the_error_says_when_to_try_again(so: FakeSuperOffice
                                                                  ) -> None:
    """Fake: five 503s with ``Retry-After: 0``: three waits (max_throttle_retries), then a
    retryable error that says when to try again."""
    so.throttle_next(5, "0", status=503)
    waits: list[float] = []
    answer = make(so, sleep=waits.append).records("company")
    assert (answer.state, answer.error_code, answer.retryable) == ("error", "HTTP_503", True)
    assert "try again after" in answer.user_explanation and "UTC" in answer.user_explanation
    assert waits == [0.0, 0.0, 0.0] and len(so.calls("Contact")) == 4


def test_a_wait_beyond_the_cap_is_not_slept(so: FakeSuperOffice) -> None:
    """Fake: ``Retry-After: 3600``: longer than the 60 s cap, so no wait at all; the error
    names both and is retryable."""
    so.throttle_next(1, "3600")
    waits: list[float] = []
    answer = make(so, sleep=waits.append).records("company")
    assert (answer.error_code, answer.retryable, waits) == ("HTTP_429", True, [])
    assert "3600 s, longer than the 60 s" in answer.user_explanation


def test_a_429_without_retry_after_is_a_retryable_error(so: FakeSuperOffice) -> None:
    """Fake: 429 with no ``Retry-After``: not retried blindly; retryable error."""
    so.throttle_next(1, None)
    answer = make(so, sleep=lambda s: pytest.fail("no wait was asked for")).records("company")
    assert (answer.error_code, answer.retryable) == ("HTTP_429", True)
    assert len(so.requests) == 1


def test_retry_after_as_an_http_date() -> None:
    """No server needed: ``Retry-After`` may be an HTTP date; seconds until then."""
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert _retry_after("Sat, 01 Jun 2024 12:00:30 GMT", now) == 30.0
    assert _retry_after("Sat, 01 Jun 2024 11:00:00 GMT", now) == 0.0
    assert _retry_after("soon", now) is None and _retry_after(" 2 ", now) == 2.0


def test_error_bodies_say_error_true_and_the_text_is_error_message(so: FakeSuperOffice
                                                                   ) -> None:
    """Fake: a 404 body is ``{"Error": true, ..., "ErrorMessage": "..."}`` as documented; the
    answer quotes ErrorMessage (never "True")."""
    import requests

    body = requests.get(f"{so.url}/api/v1/Contact/99999", timeout=5,
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert body["Error"] is True and body["ErrorMessage"] == "Contact id 99999 not found"
    from erpdata.live.connectors.base import CrmRecord

    answer = make(so).save([CrmRecord("company", "99999", {"name": "x"})])
    assert "Contact id 99999 not found" in answer.user_explanation
    assert "True" not in answer.user_explanation
