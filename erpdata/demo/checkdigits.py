"""Organisation and VAT numbers with valid check digits, vectorised per country.

Why: the matching engine and the normalisers treat an organisation number as strong evidence
only when its check digit holds, so the demo's numbers must be valid the way each register's
are (NO orgnr, SE organisationsnummer, DK CVR, FI Y-tunnus, NL RSIN inside a BTW number, DE
USt-IdNr, GB VAT); ``tests/demo`` checks them with python-stdnum. These are rules, not
vocabulary: they stay code. How a number is *written* (``NO 123 456 789 MVA``) is the SQL macro
``org_fmt`` in :mod:`erpdata.demo.render`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _digits(payload: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` decimal digits of each payload, most significant first: shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (payload[:, None] // powers) % 10


def _mod11_check(payload: np.ndarray, weights: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Check digit c with ``sum(w*d) + c == 0 (mod 11)``; c == 10 cannot be written: invalid."""
    c = (-(_digits(payload, len(weights)) @ np.asarray(weights))) % 11
    return c, c != 10


def _no_orgnr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (3, 2, 7, 6, 5, 4, 3, 2))
    return payload * 10 + c, ok


def _dk_cvr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (2, 7, 6, 5, 4, 3, 2))
    return payload * 10 + c, ok


def _fi_ytunnus(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, ok = _mod11_check(payload, (7, 9, 10, 5, 8, 4, 2))
    return payload * 10 + c, ok


def _nl_rsin(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RSIN (the number inside a BTW number): 11-proof, last digit weight -1."""
    c = (_digits(payload, 8) @ np.arange(9, 1, -1)) % 11
    return payload * 10 + c, c != 10


def _se_orgnr(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Luhn over 10 digits: double every second digit from the right of the payload."""
    products = _digits(payload, 9) * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    total = (products - 9 * (products > 9)).sum(axis=1)
    return payload * 10 + (10 - total % 10) % 10, np.ones(len(payload), dtype=bool)


def _de_ustid(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ISO 7064 MOD 11,10 over 8 digits (loop over digit positions, not rows)."""
    check = np.full(len(payload), 5, dtype=np.int64)
    for d in _digits(payload, 8).T:
        check = ((np.where(check == 0, 10, check) * 2) % 11 + d) % 10
    c = (1 - (np.where(check == 0, 10, check) * 2) % 11) % 10
    return payload * 10 + c, np.ones(len(payload), dtype=bool)


def _gb_vat(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GB VAT: 7 digits + 2 check digits, weighted sum mod 97 == 0 (old) or 42 (since 2010)."""
    total = _digits(payload, 7) @ np.array([8, 7, 6, 5, 4, 3, 2])
    new_series = payload % 3 == 0
    check = np.where(new_series, 42 - total, -total) % 97
    return payload * 100 + check, np.ones(len(payload), dtype=bool)


#: Country -> (payload low, payload high, check function, digits of the full number).
_CheckDigits = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
ORG_RULES: dict[str, tuple[int, int, _CheckDigits, int]] = {
    "NO": (80_000_000, 100_000_000, _no_orgnr, 9),
    "SE": (556_000_000, 560_000_000, _se_orgnr, 10),
    "DK": (1_000_000, 10_000_000, _dk_cvr, 8),
    "FI": (100_000, 3_200_000, _fi_ytunnus, 8),
    "NL": (80_000_000, 90_000_000, _nl_rsin, 9),
    "DE": (10_000_000, 100_000_000, _de_ustid, 9),
    "UK": (1_000_000, 10_000_000, _gb_vat, 9),
}


def org_numbers(rng: np.random.Generator, code: str, n: int) -> np.ndarray:
    """``n`` distinct valid numbers of one country (as int64; digits per ``ORG_RULES``)."""
    lo, hi, rule, _ = ORG_RULES[code]
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = rng.integers(lo, hi, size=int((n - len(out)) * 1.2) + 16, dtype=np.int64)
        numbers, ok = rule(draw)
        pool = np.concatenate([out, numbers[ok]])
        _, first = np.unique(pool, return_index=True)
        out = pool[np.sort(first)]
    return out[:n]
