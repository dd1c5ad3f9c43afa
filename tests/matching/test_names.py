"""Person name levels: nicknames, initials and sound (erpdata.matching.names via compare.levels),
and that the explanation a steward sees names them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from erpdata.matching import Comparison, compare, match_frames, names
from erpdata.normalize import person_name


def person_levels(pairs: list[tuple[str, str]]) -> list[str]:
    """The level label of each (raw name, raw name) pair, normalised as the engine does."""
    left = person_name(pd.Series([a for a, _ in pairs], dtype="str")).array
    right = person_name(pd.Series([b for _, b in pairs], dtype="str")).array
    rows = np.arange(len(pairs))
    labels = ("missing", *compare.LEVELS["person"].labels)
    return [labels[g + 1] for g in compare.levels("person", left, right, rows, rows)]


def test_person_levels_are_ordered_and_end_in_exact() -> None:
    assert compare.LEVELS["person"].labels == (
        "different", "initials agree", "similar", "sounds alike", "nickname", "same words",
        "typo", "exact")
    # company and text names keep their levels
    assert compare.LEVELS["company"].labels == ("different", "similar", "same words", "typo",
                                                "exact")
    assert compare.LEVELS["text"] == compare.LEVELS["company"]


def test_nicknames_initials_and_sound() -> None:
    assert person_levels([
        ("Tom", "Thomas"),
        ("Bill", "William"),
        ("W.J.", "William James"),
        ("W", "William"),
        ("Smyth", "Smith"),
        ("Katherine", "Catherine"),
        ("Tom Smith", "Thomas Smith"),          # multi-word: nickname next to an equal word
        ("Bill J. Smith", "William James Smith"),  # nickname, initial and equal word
        ("Smith, Tom", "Thomas Smith"),         # "Last, First" and word order do not matter
        ("J. Smith", "John Smith"),             # an initial beside equal words
        ("Tom Smyth", "Thomas Smith"),          # the weakest word decides: sound
        ("W.J.", "W."),                         # only initials, though one is in the other
        ("Tom", "Peter"),
        ("W.K.", "W.J."),
        ("Li", "Lee"),                          # a one-consonant sound key says nothing
        ("Jon Smith", "John Smith"),
        ("Thomas Smith", "Thomas Smith"),
    ]) == [
        "nickname", "nickname", "initials agree", "initials agree", "sounds alike",
        "sounds alike", "nickname", "nickname", "nickname", "same words", "sounds alike",
        "initials agree", "different", "different", "different", "typo", "exact",
    ]
    # an empty side carries no evidence, whatever the other holds
    rows = np.arange(2)
    assert compare.levels("person", np.array(["tom", None], dtype=object),
                          np.array([None, "w"], dtype=object), rows, rows).tolist() == [
        compare.MISSING, compare.MISSING]


def test_alignment_on_words() -> None:
    a = np.array(["tom", "w j", "smyth", "a b c d e f g", "anna"], dtype=object)
    b = np.array(["thomas", "william james", "smith", "a b c d e f g h", "maria"], dtype=object)
    assert names.alignment(a, b).tolist() == [
        names.NICKNAME, names.INITIAL, names.SOUNDS,
        names.NONE,  # more than MAX_WORDS words: left to the character scorers
        names.NONE]
    assert names.alignment(np.array([], dtype=object), np.array([], dtype=object)).size == 0


def test_explanation_says_nickname() -> None:
    people = [("Thomas", "Smith", "1980-04-02"), ("Anna", "de Vries", "1975-11-30"),
              ("William", "Jansen", "1990-01-15"), ("Maria", "Bakker", "1968-07-21")]
    crm = pd.DataFrame({"id": ["1", "2", "3", "4"],
                        "first": [p[0] for p in people], "last": [p[1] for p in people],
                        "dob": [p[2] for p in people]})
    erp = crm.assign(id=["a", "b", "c", "d"], first=["Tom", "Anna", "Bill", "Maria"])
    comps = [Comparison("first", "first", "first", "person"),
             Comparison("last", "last", "last", "person"),
             Comparison("dob", "dob", "dob", "date")]
    c = match_frames(crm, erp, comps).candidates.set_index(["crm_id", "erp_id"])
    tom = json.loads(c.loc[("1", "a"), "explanation"])
    assert tom["first"]["level"] == "nickname"
    assert tom["last"]["level"] == "exact"
    assert json.loads(c.loc[("3", "c"), "explanation"])["first"]["level"] == "nickname"
    assert json.loads(c.loc[("2", "b"), "explanation"])["first"]["level"] == "exact"
