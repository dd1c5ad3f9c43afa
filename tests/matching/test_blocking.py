"""Blocking finds the pairs that unseen exports hide from typed rules: a typo in a surname, first
and last name swapped, a changed name with the same birth date, and columns whose types are all
wrong. The tables are big enough, and ``cross_product_below=0``, so the rules really run (below
the limit every pair would be a candidate and nothing would be tested)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from erpdata.matching import blocking
from erpdata.matching.prepare import features
from erpdata.matching.spec import Comparison

N = 3000
FIRST = ["anna", "per", "ola", "kari", "lars", "eva", "nils", "ida", "jan", "liv",
         "tor", "siri", "erik", "mona", "odd", "rita", "knut", "vera", "arne", "tone"]
SYLLABLES = ["ber", "gan", "lin", "dor", "vik", "mar", "sol", "hei", "run", "tak",
             "fel", "kos", "bru", "nes", "rud", "tve", "lio", "sko", "grå", "hau",
             "mye", "pla", "sen", "tur", "ved"]

#: The perturbed records: (row, what) — ERP row ``i`` is CRM row ``i`` changed so.
SURNAME_TYPO, SWAPPED, NEW_SURNAME, NEW_SURNAME_DAY, ALL_TYPOS = range(5)


def _persons() -> tuple[pd.DataFrame, pd.DataFrame, dict[int, list[int]]]:
    """CRM and ERP persons, ERP row ``i`` the same person as CRM row ``i``; first names are
    common (150 holders each), surnames nearly unique, birth dates over 60 years. Rows 0-49
    stay equal; from row 50 on, groups of 20 get one change each (see the constants)."""
    rng = np.random.default_rng(7)
    combos = rng.choice(len(SYLLABLES) ** 3, size=N, replace=False)
    parts = np.stack([combos // 625, combos // 25 % 25, combos % 25], axis=1)
    surname = ["".join(SYLLABLES[p] for p in row) for row in parts]
    first = [FIRST[i] for i in rng.integers(0, len(FIRST), N)]
    dob = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 60 * 365, N), unit="D")
    crm = pd.DataFrame({"id": [f"c{i}" for i in range(N)], "first_name": first,
                        "surname": surname, "dob": dob.strftime("%Y-%m-%d")})
    erp = crm.assign(id=[f"e{i}" for i in range(N)])
    groups = {kind: list(range(50 + 20 * kind, 70 + 20 * kind)) for kind in range(5)}

    def typo(word: str, at: int) -> str:  # one substitution, early: no shared 6-letter prefix
        return word[:at] + ("x" if word[at] != "x" else "y") + word[at + 1:]

    for i in groups[SURNAME_TYPO]:
        erp.loc[i, "surname"] = typo(surname[i], 1)
    for i in groups[SWAPPED]:
        erp.loc[i, ["first_name", "surname"]] = [surname[i], first[i]]
    for i in groups[NEW_SURNAME] + groups[NEW_SURNAME_DAY]:
        erp.loc[i, "surname"] = surname[(i + 1000) % N]  # married: another family's name
    for i in groups[NEW_SURNAME_DAY]:
        day = dob[i] + pd.Timedelta(days=1 if dob[i].day < 28 else -1)
        erp.loc[i, "dob"] = day.strftime("%Y-%m-%d")
    for i in groups[ALL_TYPOS]:
        erp.loc[i, "first_name"] = typo(first[i], 0)
        erp.loc[i, "surname"] = typo(surname[i], 1)
        d = erp.loc[i, "dob"]
        erp.loc[i, "dob"] = d[:-1] + str((int(d[-1]) + 1) % 10)  # a digit of the day
    return crm, erp, groups


@pytest.fixture(scope="module")
def persons() -> tuple[pd.DataFrame, pd.DataFrame, dict[int, list[int]]]:
    return _persons()


PERSON = [Comparison("first_name", "first_name", "first_name", "person"),
          Comparison("surname", "surname", "surname", "person"),
          Comparison("dob", "dob", "dob", "date")]


def blocked(crm: pd.DataFrame, erp: pd.DataFrame, comps: Sequence[Comparison], *,
            ngram: bool = True, per_record: int = 10) -> set[tuple[str, str]]:
    """The candidate pairs (ids) of the rules run on the two tables, with or without the
    3-gram generator."""
    left, right = features(crm, comps, "crm"), features(erp, comps, "erp")
    with blocking.connect(left, right) as con:
        real = blocking._ngram_pairs
        if not ngram:
            blocking._ngram_pairs = (  # type: ignore[assignment]
                lambda *a, **k: (lambda p, w, g: (p.iloc[:0], w, g))(*real(*a, **k)))
        try:
            blocking.block(con, comps, per_record=per_record, cross_product_below=0)
        finally:
            blocking._ngram_pairs = real
        lrid, rrid = con.execute("SELECT lrid, rrid FROM pairs").fetchnumpy().values()
    return set(zip(left["id"].to_numpy()[lrid], right["id"].to_numpy()[rrid], strict=True))


def _found(pairs: set[tuple[str, str]], rows: Sequence[int]) -> float:
    return sum((f"c{i}", f"e{i}") in pairs for i in rows) / len(rows)


def test_the_fixture_is_blocked_not_compared_in_full(persons) -> None:
    crm, erp, _ = persons
    pairs = blocked(crm, erp, PERSON)
    assert len(pairs) <= 10 * N < N * N
    assert _found(pairs, range(50)) == 1.0


def test_a_typo_in_the_surname_does_not_lose_the_pair(persons) -> None:
    crm, erp, groups = persons
    # typed rules alone: the one-typo key on the rarest word finds them
    assert _found(blocked(crm, erp, PERSON, ngram=False), groups[SURNAME_TYPO]) == 1.0
    # ... also when the surname is the third name column, behind an empty one
    crm2 = crm.assign(middle="")[["id", "first_name", "middle", "surname"]]
    erp2 = erp.assign(middle="")[["id", "first_name", "middle", "surname"]]
    comps = [PERSON[0], Comparison("middle", "middle", "middle", "person"), PERSON[1]]
    assert _found(blocked(crm2, erp2, comps, ngram=False), groups[SURNAME_TYPO]) == 1.0


def test_first_and_last_name_swapped_still_meet(persons) -> None:
    crm, erp, groups = persons
    assert _found(blocked(crm, erp, PERSON[:2], ngram=False), groups[SWAPPED]) == 1.0


def test_the_birth_date_finds_a_person_whose_name_changed(persons) -> None:
    crm, erp, groups = persons
    pairs = blocked(crm, erp, PERSON, ngram=False)
    assert _found(pairs, groups[NEW_SURNAME]) == 1.0  # same date
    assert _found(pairs, groups[NEW_SURNAME_DAY]) == 1.0  # year + month + first initial
    # without the date, a common first name among 150 is all they share
    assert _found(blocked(crm, erp, PERSON[:2], ngram=False), groups[NEW_SURNAME]) < 0.5


def test_the_3gram_generator_finds_pairs_whatever_the_types(persons) -> None:
    crm, erp, groups = persons
    codes = [Comparison(c.name, c.crm_col, c.erp_col, "code") for c in PERSON]
    rows = groups[ALL_TYPOS]  # every column differs: no exact key agrees
    assert _found(blocked(crm, erp, codes, ngram=False), rows) == 0.0
    assert _found(blocked(crm, erp, codes), rows) == 1.0
    assert _found(blocked(crm, erp, codes), range(50)) == 1.0


def test_empty_and_tiny_tables_block() -> None:
    crm = pd.DataFrame({"id": ["1"], "name": ["ab"]})
    comps = [Comparison("name", "name", "name", "code")]
    assert blocked(crm, crm.iloc[:0], comps) == set()
    assert blocked(crm, crm, comps) == {("1", "1")}


def test_gram_chunks_change_nothing(persons, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 3-gram generator reads each side's text in chunks of whole values to keep its
    memory flat; chunks of a few values (and a value longer than a chunk) give exactly the
    pairs and cosines of one chunk for everything."""
    crm, erp, _ = persons
    erp = erp.copy()
    erp.loc[7, "surname"] = "x" * 300 + erp.loc[7, "surname"]  # longer than a chunk below
    left, right = features(crm, PERSON, "crm"), features(erp, PERSON, "erp")

    def pairs() -> pd.DataFrame:
        with blocking.connect(left, right) as con:
            return blocking._ngram_pairs(con, PERSON, 10, blocking.ROW_BUDGET)[0]

    whole = pairs()
    monkeypatch.setattr(blocking, "GRAM_CHUNK", 100)
    chunked = pairs()
    assert len(whole) > 1000
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)


def _block(left: pd.DataFrame, right: pd.DataFrame, comps: Sequence[Comparison],
           statistics: blocking.Statistics | None = None, erp_grams: object = None
           ) -> tuple[pd.DataFrame, blocking.Blocked]:
    """Every candidate pair with its score (sorted), and what blocking returned."""
    with blocking.connect(left, right) as con:
        done = blocking.block(con, comps, per_record=10, cross_product_below=0,
                              statistics=statistics, erp_grams=erp_grams)
        pairs = con.execute("SELECT * FROM pairs ORDER BY lrid, rrid").df()
    return pairs, done


def test_blocking_with_the_statistics_it_learnt_gives_the_same_pairs(persons) -> None:
    crm, erp, _ = persons
    left, right = features(crm, PERSON, "crm"), features(erp, PERSON, "erp")
    learnt_pairs, learnt = _block(left, right, PERSON)
    stats = learnt.statistics
    assert stats.words.num_rows and stats.typos.num_rows and stats.dates.num_rows
    assert stats.grams.any()
    again, same = _block(left, right, PERSON, stats)
    assert same.statistics is stats
    pd.testing.assert_frame_equal(learnt_pairs, again, check_exact=True)
    # ... and so does passing back the ERP side's 3-gram rows instead of reading its text
    assert learnt.erp_grams.shape[0] == len(right) and learnt.erp_grams.nnz
    kept, _ = _block(left, right, PERSON, stats, learnt.erp_grams)
    pd.testing.assert_frame_equal(learnt_pairs, kept, check_exact=True)


def test_some_crm_records_blocked_with_the_statistics_get_what_all_of_them_get(persons) -> None:
    """After a re-load that changed some CRM records, blocking only those, with the kept
    statistics, gives them exactly the candidates (and scores) that blocking every record
    with those statistics gives them: what an incremental re-match rests on."""
    crm, erp, groups = persons
    left, right = features(crm, PERSON, "crm"), features(erp, PERSON, "erp")
    _, learnt = _block(left, right, PERSON)
    stats = learnt.statistics
    changed = crm.copy()
    rows = [3, 17, *groups[SURNAME_TYPO][:5], *groups[NEW_SURNAME_DAY][:5], 2999]
    changed.loc[rows[:6], "surname"] = changed.loc[rows[:6], "surname"] + " nyord"  # unseen word
    changed.loc[rows[6:], "first_name"] = "zakarias"
    changed_left = features(changed, PERSON, "crm")
    every, _ = _block(changed_left, right, PERSON, stats)
    some, _ = _block(changed_left.iloc[rows], right, PERSON, stats, learnt.erp_grams)
    expected = every[every["lrid"].isin(rows)].reset_index(drop=True)
    assert len(expected) >= 5 * len(rows)
    pd.testing.assert_frame_equal(expected, some, check_exact=True)
    # the records not changed keep the candidates they had before the re-load
    before, _ = _block(left, right, PERSON, stats)
    kept = ~every["lrid"].isin(rows)
    pd.testing.assert_frame_equal(every[kept].reset_index(drop=True),
                                  before[~before["lrid"].isin(rows)].reset_index(drop=True),
                                  check_exact=True)


def test_the_erp_sides_tables_kept_block_as_the_erp_records_do(persons) -> None:
    """What blocking derives from the ERP records alone under given statistics (their words,
    rarest words, date keys and rule keys with their holders), kept from a run over every
    CRM record and handed to a connection that has no ERP record, gives some CRM records
    exactly the candidates and rule counts that blocking them against the ERP records gives:
    a run after a CRM re-load then need not read the ERP side."""
    crm, erp, groups = persons
    left, right = features(crm, PERSON, "crm"), features(erp, PERSON, "erp")
    _, learnt = _block(left, right, PERSON)
    stats, grams = learnt.statistics, learnt.erp_grams
    rows = [3, 17, *groups[SURNAME_TYPO][:5], *groups[NEW_SURNAME_DAY][:5], 2999]
    kept = {}

    def keep(con: object, name: str) -> None:  # handed each once blocking is done with it
        kept[name] = con.table(name).to_arrow_table()  # type: ignore[attr-defined]

    with blocking.connect(left, right) as con:
        blocking.block(con, PERSON, per_record=10, cross_product_below=0, statistics=stats,
                       erp_grams=grams, keep_erp=keep)
        assert sorted(kept) == sorted(blocking.erp_tables(PERSON))
        left_over = con.execute("SELECT table_name FROM information_schema.tables "
                                "WHERE table_name LIKE 'erp%'").fetchall()
        assert left_over == []  # dropped once kept
    # single words have no pair of rarest words; the full name (source 2) has
    assert {t for t, table in kept.items() if not table.num_rows} == {"erp_pair_0",
                                                                      "erp_pair_1"}
    with blocking.connect(left.iloc[rows], right) as con:
        expected = blocking.block(con, PERSON, per_record=10, cross_product_below=0,
                                  statistics=stats, erp_grams=grams)
        pairs = con.execute("SELECT * FROM pairs ORDER BY lrid, rrid").df()
    with blocking.connect(left.iloc[rows], right.iloc[:0]) as con:
        con.execute("DROP TABLE r")  # nothing of the ERP records but what was kept
        for name, table in kept.items():
            con.register("kept_rows", table)
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM kept_rows")
            con.unregister("kept_rows")
        got = blocking.block(con, PERSON, per_record=10, cross_product_below=0,
                             statistics=stats, erp_grams=grams, erp_kept=True)
        from_kept = con.execute("SELECT * FROM pairs ORDER BY lrid, rrid").df()
    assert len(pairs) >= 5 * len(rows)
    pd.testing.assert_frame_equal(pairs, from_kept, check_exact=True)
    assert got.counts == expected.counts
