"""Type inference for ``match-files`` on exports never seen: values decide when headers say
nothing, fields split over columns become one comparison, bad columns are left out with a note,
and every choice comes with its evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from erpdata.cli import main
from erpdata.matching.prepare import features
from erpdata.matching.spec import Comparison, explain_comparisons, infer_comparisons, parse_compare

GIVEN = ["anna", "bjorn", "carla", "david", "emma", "frank", "greta", "hans", "ida", "jonas",
         "kari", "lars", "maja", "nils", "olga", "per", "rita", "sven", "tove", "ulf", "vera",
         "wim", "xena", "yusuf", "zoe", "w.j.", "A", "pieter", "marie", "liam"]
SURNAMES = ["smith", "jones", "berg", "hansen", "olsen", "de-vries", "o'brien", "muller",
            "rossi", "garcia", "nowak", "kowalski", "silva", "dubois", "lind", "holm", "dahl",
            "moen", "strand", "lie", "bakker", "visser", "janssen", "peeters", "novak",
            "horvat", "kovacs", "nagy", "toth", "szabo", "fischer", "weber", "wagner",
            "becker", "schulz", "hoffmann", "koch", "richter", "klein", "wolf"]
STREETS = ["high street", "church road", "mill lane", "station road", "park avenue",
           "king street", "queen street", "main road"]
SUBURBS = ["kingston", "st kilda", "port melbourne", "richmond", "fitzroy", "brunswick",
           "carlton", "box hill", "camberwell", "hawthorn", "north sydney", "mosman",
           "bondi", "manly", "glebe", "newtown", "paddington", "balmain", "coogee", "ryde",
           "epping", "hornsby", "penrith", "liverpool", "parramatta", "blacktown", "bankstown",
           "hurstville", "kogarah", "cronulla", "sutherland", "miranda", "caringbah",
           "port hacking", "mount druitt", "st marys", "north ryde", "west ryde"]


def _people(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Person records as an export with meaningless headers would hold them."""
    rng = np.random.default_rng(seed)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 25_000, n), unit="D")
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "c1": rng.choice(GIVEN, n),
        "c2": rng.choice(SURNAMES, n),
        "c3": [f"{h} {s}" for h, s in zip(rng.integers(1, 300, n), rng.choice(STREETS, n),
                                           strict=True)],
        "c4": rng.choice(SUBURBS, n),
        # postcodes from 2000 to 2100 would pass for years: nothing in the values tells them apart
        "c5": rng.choice([str(p) for p in range(3000, 3120)], n),
        "c6": born.strftime("%Y%m%d"),
        "c7": [f"0{a} {b:04d} {c:04d}" for a, b, c in zip(
            rng.integers(2, 9, n), rng.integers(0, 9999, n), rng.integers(0, 9999, n),
            strict=True)],
        "c8": [f"{x:07d}" for x in rng.permutation(9_000_000)[:n] + 1_000_000],
    })


def _types(crm: pd.DataFrame, erp: pd.DataFrame) -> dict[str, str]:
    return {c.name: c.type for c in infer_comparisons(crm, erp)}


def test_meaningless_headers_are_typed_by_their_values() -> None:
    crm, erp = _people(seed=1), _people(seed=2)
    assert _types(crm, erp) == {"c1": "person", "c2": "person", "c3": "address", "c4": "city",
                                "c5": "postcode", "c6": "date", "c7": "phone", "c8": "code"}
    _, why = explain_comparisons(crm, erp)
    evidence = {i.column: i.evidence for i in why}
    assert "parse as dates (format YYYYMMDD)" in evidence["c6"]
    assert "single alphabetic words or initials" in evidence["c1"]


def test_values_overrule_a_wrong_header_but_a_right_one_stays() -> None:
    crm = pd.DataFrame({"id": [str(i) for i in range(50)],
                        "phone": [f"user{i}@example{i % 7}.com" for i in range(50)],
                        "dob": [f"{1 + i % 28:02d}.{1 + i % 12:02d}.19{40 + i}" for i in
                                range(50)]})
    erp = crm.assign(id=[f"e{i}" for i in range(50)])
    comps, why = explain_comparisons(crm, erp)
    assert [(c.name, c.type) for c in comps] == [("phone", "email"), ("dob", "date")]
    assert "header 'phone' suggested phone" in why[0].evidence
    assert "format d.m.Y" in why[1].evidence and "header 'dob'" in why[1].evidence


def test_dates_in_any_common_layout() -> None:
    for values, expect in [(["31.12.2026", "01.02.1999", "15.06.1975"], "d.m.Y"),
                           (["12/31/2026", "02/01/1999", "06/15/1975"], "m/d/Y"),
                           (["2026-12-31", "1999-2-1", "1975-06-15"], "Y-m-d"),
                           # ISO timestamps, as ERPs export a "last modified" (read casefolded)
                           (["2023-01-23T21:19:32", "2019-05-07T04:13:52Z",
                             "2016-04-10 20:33:44"], "Y-m-d")]:
        crm = pd.DataFrame({"id": ["1", "2", "3"], "c1": values})
        comps, why = explain_comparisons(crm, crm)
        assert comps[0].type == "date" and f"format {expect}" in why[0].evidence, values
    # prepare reads them all the same
    crm = pd.DataFrame({"id": ["1", "2", "3"], "c1": ["12/31/2026", "02/01/1999", None]})
    dates = features(crm, [Comparison("c1", "c1", "c1", "date")], "crm")["c1"]
    assert [None if pd.isna(d) else d for d in dates] == ["2026-12-31", "1999-02-01", None]


def test_year_month_day_columns_are_one_date() -> None:
    rng = np.random.default_rng(3)
    n = 120
    crm = pd.DataFrame({"id": [str(i) for i in range(n)],
                        "surname": rng.choice(SURNAMES, n),
                        "by": rng.integers(1930, 2000, n).astype(str),
                        "bm": rng.integers(1, 13, n).astype(str),
                        "bd": rng.integers(1, 29, n).astype(str)})
    erp = crm.assign(id=[f"e{i}" for i in range(n)])
    comps, why = explain_comparisons(crm, erp)
    assert comps == [Comparison("surname", "surname", "surname", "person"),
                     Comparison("by+bm+bd", "by", "by", "date", crm_more=("bm", "bd"),
                                erp_more=("bm", "bd"))]
    assert comps[1].columns("crm") == ["by", "bm", "bd"]
    assert why[1].evidence.startswith("year+month+day columns by, bm, bd")
    iso = features(crm, comps, "crm")["by+bm+bd"]
    assert iso[0] == f"{crm['by'][0]}-{int(crm['bm'][0]):02d}-{int(crm['bd'][0]):02d}"
    # the same columns under meaningless headers: found by their values
    plain = crm.rename(columns={"by": "x1", "bm": "x2", "bd": "x3"})
    comps, why = explain_comparisons(plain, plain.assign(id=erp["id"]))
    assert [(c.name, c.type) for c in comps] == [("surname", "person"), ("x1+x2+x3", "date")]
    assert "by values" in why[1].evidence
    # and named on the command line
    assert parse_compare("by+bm+bd=by+bm+bd:date") == comps_named("by", "bm", "bd")


def comps_named(y: str, m: str, d: str) -> Comparison:
    return Comparison(f"{y}+{m}+{d}", y, y, "date", crm_more=(m, d), erp_more=(m, d))


def test_a_name_split_over_columns_is_one_person_comparison() -> None:
    rng = np.random.default_rng(4)
    n = 150
    crm = pd.DataFrame({"id": [str(i) for i in range(n)],
                        "fname_c1": rng.choice(GIVEN, n),
                        "fname_c2": np.where(rng.random(n) < 0.3, rng.choice(GIVEN, n), ""),
                        "lname_c1": rng.choice(SURNAMES, n)})
    erp = crm.assign(id=[f"e{i}" for i in range(n)])
    comps, why = explain_comparisons(crm, erp)
    assert comps == [Comparison("fname_c1+fname_c2", "fname_c1", "fname_c1", "person",
                                crm_more=("fname_c2",), erp_more=("fname_c2",)),
                     Comparison("lname_c1", "lname_c1", "lname_c1", "person")]
    assert "differ only by a trailing number" in why[0].evidence
    joined = features(crm, comps, "crm")["fname_c1+fname_c2"]
    assert joined[0] == " ".join(x for x in (crm["fname_c1"][0], crm["fname_c2"][0]) if x)
    # two phone columns are two phones, not pieces of one
    phones = pd.DataFrame({"id": ["1", "2"], "phone1": ["+47 22 33 44 55", "+47 99 88 77 66"],
                           "phone2": ["+47 41 00 00 00", "+47 90 00 00 01"]})
    assert [c.name for c in infer_comparisons(phones, phones)] == ["phone1", "phone2"]



def test_first_middle_last_pieces_are_joined_unless_a_person_s_surname() -> None:
    """An organisation name cut into first / middle / last words is compared whole (the cut
    moves with the number of words); a person keeps the surname as a field of its own and joins
    only the given and middle names."""
    orgs = ["akzo nobel", "canon europa nv", "koninklijke philips electronics nv", "dsm",
            "shell international research", "unilever nv", "asml netherlands bv"] * 20
    words = pd.Series(orgs).str.split()
    crm = pd.DataFrame({"id": [str(i) for i in range(len(orgs))],
                        "Name_first": words.str[0],
                        "Name_middle": words.map(lambda t: " ".join(t[1:-1]) or None),
                        "Name_last": words.map(lambda t: t[-1] if len(t) > 1 else None)})
    comps = infer_comparisons(crm, crm)
    assert [(c.name, c.crm_col, c.crm_more) for c in comps] == [
        ("Name_first+Name_middle+Name_last", "Name_first", ("Name_middle", "Name_last"))]
    assert features(crm, comps, "crm")[comps[0].name][2] == "koninklijke philips electronics nv"
    rng = np.random.default_rng(5)
    people = pd.DataFrame({"id": [str(i) for i in range(150)],
                           "first_name": rng.choice(GIVEN, 150),
                           "middle_name": np.where(rng.random(150) < 0.3,
                                                   rng.choice(GIVEN, 150), None),
                           "last_name": rng.choice(SURNAMES, 150)})
    assert [(c.name, c.type) for c in infer_comparisons(people, people)] == [
        ("first_name+middle_name", "person"), ("last_name", "person")]
    assert [c.name for c in infer_comparisons(people.drop(columns="middle_name"),
                                              people.drop(columns="middle_name"))] == [
        "first_name", "last_name"]

def test_bad_columns_are_left_out_with_a_note() -> None:
    crm = pd.DataFrame({"id": ["1", "2", "3", "4"],
                        "name": ["Anna Berg", "Bo Lind", "Carl Holm", "Dag Moen"],
                        "empty": ["", None, " ", ""],
                        "same": ["x", "x", "x", "x"],
                        "blob": ["\x00\x01\x02", "\x89PNG\x1a", "\ufffd\ufffd", "\x07\x08"]})
    erp = crm.assign(id=["a", "b", "c", "d"])
    comps, why = explain_comparisons(crm, erp)
    assert [c.name for c in comps] == ["name"]
    notes = {i.column: i.evidence for i in why if i.left_out}
    assert notes["empty"] == "all blank in the CRM file"
    assert notes["same"] == "one value ('x') in every row"
    assert "control characters or undecodable bytes" in notes["blob"]
    # nothing left to compare is an error that says why, not a crash
    with pytest.raises(ValueError, match="no column can be compared: empty: all blank"):
        infer_comparisons(crm[["id", "empty"]], erp[["id", "empty"]])


def test_no_shared_column_names_the_columns_of_each_file() -> None:
    # nothing pairs by values either: names against amounts, towns against e-mail addresses
    crm = pd.DataFrame({"id": ["1", "2", "3"], "navn": ["Anna", "Bo", "Carl"],
                        "by": ["Oslo", "Bergen", "Moss"]})
    erp = pd.DataFrame({"id": ["a", "b", "c"], "amount": ["10.50", "7.25", "99.00"],
                        "mail": ["a@x.no", "b@y.no", "c@z.no"]})
    with pytest.raises(ValueError) as err:
        infer_comparisons(crm, erp)
    assert "no column pairs up by its values" in str(err.value)
    assert ("the CRM file has 'navn', 'by'; the ERP file has 'amount', 'mail'"
            in str(err.value))
    # the same names and towns under other headers do pair up
    erp = pd.DataFrame({"id": ["a", "b", "c"], "name": ["Anna", "Bo", "Carl"],
                        "city": ["Oslo", "Bergen", "Moss"]})
    comps, why = explain_comparisons(crm, erp)
    assert [(c.crm_col, c.erp_col) for c in comps] == [("navn", "name"), ("by", "city")]
    assert why[0].evidence.startswith("navn (CRM) against name (ERP): no shared name; 100% of "
                                      "the words of each occur in the other")


def test_match_files_prints_what_it_inferred(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    crm, erp = _people(60, seed=5), _people(60, seed=5)
    erp["id"] = "e" + erp["id"]
    crm.assign(c9="").to_csv(tmp_path / "crm.csv", index=False)
    erp.assign(c9="").to_csv(tmp_path / "erp.csv", index=False)
    assert main(["match-files", str(tmp_path / "crm.csv"), str(tmp_path / "erp.csv"),
                 "--out", str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    assert "comparing (column, type, why):" in err
    lines = {line.split()[0]: line for line in err.splitlines()
             if line.startswith("  c")}
    assert lines["c6"].split()[1] == "date" and "YYYYMMDD" in lines["c6"]
    assert lines["c1"].split()[1] == "person"
    assert "left out: all blank in the CRM file" in lines["c9"]
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    linked = out[out["match"] == "1"]
    assert (("e" + linked["crm_id"]) == linked["erp_id"]).mean() > 0.9


# --- columns whose names differ: paired by their values ------------------------------------


def _persons(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 25_000, n), unit="D")
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "first_name": rng.choice(GIVEN[:25], n),
        "surname": rng.choice(SURNAMES, n),
        "dob": born.strftime("%Y-%m-%d"),
        "street": [f"{s} {h}" for s, h in zip(rng.choice(STREETS, n), rng.integers(1, 300, n),
                                              strict=True)],
        "postcode": rng.choice([str(p) for p in range(3000, 3120)], n),
        "city": rng.choice(SUBURBS, n),
    })


def _reshaped(crm: pd.DataFrame) -> pd.DataFrame:
    """The same records as another system exports them: one name, the date in three columns,
    the address in one."""
    born = pd.to_datetime(crm["dob"])
    return pd.DataFrame({
        "id": "e" + crm["id"],
        "name": crm["first_name"] + " " + crm["surname"],
        "dob_year": born.dt.year.astype(str), "dob_month": born.dt.month.astype(str),
        "dob_day": born.dt.day.astype(str),
        "address": crm["street"] + ", " + crm["postcode"] + " " + crm["city"],
    })


def test_columns_named_differently_pair_up_by_their_values() -> None:
    crm = _persons(300, seed=7)
    erp = _reshaped(crm)
    comps, why = explain_comparisons(crm, erp)
    assert comps == [
        Comparison("dob=dob_year+dob_month+dob_day", "dob", "dob_year", "date",
                   erp_more=("dob_month", "dob_day")),
        Comparison("street+postcode+city=address", "street", "address", "address",
                   crm_more=("postcode", "city")),
        Comparison("first_name+surname=name", "first_name", "name", "person",
                   crm_more=("surname",)),
    ]
    evidence = {i.column: i.evidence for i in why}
    assert evidence["first_name+surname=name"].startswith(
        "person columns first_name, surname (CRM) joined against name (ERP): no shared name")
    assert "one date on each side" in evidence["dob=dob_year+dob_month+dob_day"]
    assert "street, postcode, city (CRM) joined against address (ERP)" in evidence[
        "street+postcode+city=address"]
    # the date reads the same on both sides: ISO from one column and from three
    date = comps[0]
    assert features(crm, [date], "crm")[date.name].tolist() == features(
        erp, [date], "erp")[date.name].tolist()
    assert features(erp, [date], "erp")[date.name][0] == crm["dob"][0]
    # the address pieces joined in the file's order, so both sides hold the same words
    address = comps[1]
    crm_address = features(crm, [address], "crm")[address.name]
    assert set(crm_address[0].split()) <= set(features(erp, [address], "erp")[address.name][0]
                                              .replace(",", " ").split())


def test_a_name_split_in_three_against_one_name_column() -> None:
    crm = _persons(300, seed=8)[["id", "first_name", "surname"]]
    rng = np.random.default_rng(8)
    middle = pd.Series(np.where(np.arange(300) % 3 == 0, rng.choice(GIVEN[:10], 300), ""))
    erp = pd.DataFrame({"id": "e" + crm["id"], "name_first": crm["first_name"],
                        "name_middle": middle, "name_last": crm["surname"]})
    full = crm.assign(name=(crm["first_name"] + " " + middle + " " + crm["surname"])
                      .str.replace("  ", " "))[["id", "name"]]
    comps, why = explain_comparisons(full, erp)
    assert comps == [Comparison("name=name_first+name_middle+name_last", "name", "name_first",
                                "person", erp_more=("name_middle", "name_last"))]
    assert why[0].evidence.startswith("person columns name_first, name_middle, name_last (ERP) "
                                      "joined against name (CRM): no shared name")


def test_latitude_and_longitude_under_meaningless_headers_are_a_location() -> None:
    rng = np.random.default_rng(9)
    n = 200
    table = pd.DataFrame({"id": [str(i) for i in range(n)],
                          "c1": rng.choice(SURNAMES, n),
                          "c2": rng.uniform(-40, 40, n).round(5).astype(str),
                          "c3": rng.uniform(100, 170, n).round(5).astype(str),
                          "c4": rng.integers(1, 500, n).astype(str)})
    comps, why = explain_comparisons(table, table.assign(id="e" + table["id"]))
    assert Comparison("c2+c3", "c2", "c2", "location", "c3", "c3") in comps
    assert why[[i.column for i in why].index("c2+c3")].evidence.endswith(
        "c3 leaves [-90, 90], so it is the longitude")
    # both within [-90, 90]: the left one is the latitude (ISO 6709 order)
    swapped = table.assign(c3=rng.uniform(-80, 80, n).round(5).astype(str))
    comps, _ = explain_comparisons(swapped, swapped)
    assert Comparison("c2+c3", "c2", "c2", "location", "c3", "c3") in comps
    # prices with two decimals are no coordinates
    money = table.assign(c2=[f"{x:.2f}" for x in rng.uniform(1, 80, n)],
                         c3=[f"{x:.2f}" for x in rng.uniform(1, 80, n)])
    assert all(c.type != "location" for c in infer_comparisons(money, money))


def test_a_name_built_from_other_name_columns_is_left_out() -> None:
    """A full name beside the first name and surname it joins (here with middle names in some
    rows and a typo in others), and the same name again under another header, would count one
    agreement two or three times; the parts are compared, the built columns are left out."""
    rng = np.random.default_rng(5)
    n = 300
    given, surname = rng.choice(GIVEN[:25], n), rng.choice(SURNAMES, n)
    middle = np.where(rng.random(n) < 0.4, " ann", "")
    full = [f"{g}{m} {s}" for g, m, s in zip(given, middle, surname, strict=True)]
    full[::7] = [f"{x}x" for x in full[::7]]  # a typo in one row in seven
    crm = pd.DataFrame({"id": [str(i) for i in range(n)], "first_name": given,
                        "surname": surname, "full_name": full,
                        "first_and_surname": [f"{g} {s}" for g, s in
                                              zip(given, surname, strict=True)],
                        "employer": rng.choice(["Berg AS", "Holm AB", "Lind Oy"], n)})
    comps, why = explain_comparisons(crm, crm.assign(id=[f"e{i}" for i in range(n)]))
    assert [c.name for c in comps] == ["first_name", "surname", "employer"]
    out = {i.column: i.evidence for i in why if i.left_out}
    assert set(out) == {"full_name", "first_and_surname"}
    assert "holds the words of first_name and surname" in out["full_name"]
    # without the parts the full name is compared (nothing else holds its evidence)
    alone = crm[["id", "full_name", "employer"]]
    assert [c.name for c in infer_comparisons(alone, alone)] == ["full_name", "employer"]
