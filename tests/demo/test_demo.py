"""The demo generator: deterministic files, consistent relations and truth, valid org numbers,
local formats, the drift it promises, headers that map, and build_demo into a workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from stdnum import vatin
from stdnum.de import vat as de_vat
from stdnum.dk import cvr as dk_cvr
from stdnum.fi import ytunnus as fi_ytunnus
from stdnum.gb import vat as gb_vat
from stdnum.nl import btw as nl_btw
from stdnum.no import mva as no_mva
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import vat as se_vat

from erpdata import demo
from erpdata.errors import ErpdataError
from erpdata.ingest.columns import map_columns
from erpdata.ingest.load import load_file
from erpdata.workspace import Workspace

SIZE, SEED = 2000, 42
Frames = dict[tuple[str, str], pd.DataFrame]

#: Record counts of generate(2000, 42): they depend only on the seeded role and child streams.
COUNTS = {
    ("crm", "company"): 2000, ("erp", "company"): 2000,
    ("crm", "person"): 2886, ("erp", "person"): 2081,
    ("crm", "project"): 649, ("erp", "project"): 475,
    ("truth", "all"): 3455,
}
CRM_COUNTRY = {"Norge": "NO", "Sverige": "SE", "Danmark": "DK", "Finland": "FI",
               "Nederland": "NL", "Tyskland": "DE", "Storbritannia": "UK"}
ERP_COUNTRY = {"NO": "NO", "SE": "SE", "DK": "DK", "FI": "FI", "NL": "NL", "DE": "DE", "GB": "UK"}
#: The register's own identifier per country, as python-stdnum validates it.
ORG_MODULE = {"NO": no_orgnr, "SE": se_orgnr, "DK": dk_cvr, "FI": fi_ytunnus, "NL": nl_btw,
              "DE": de_vat, "UK": gb_vat}
POSTCODE = {
    "NO": r"\d{4}", "SE": r"\d{3} \d{2}", "DK": r"\d{4}", "FI": r"\d{5}",
    "NL": r"[1-9]\d{3} [A-Z]{2}", "DE": r"\d{5}",
    "UK": r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}",
}
#: ERP postcodes may lose the space (SE "12345", NL "1234AB"); nothing else changes format.
ERP_POSTCODE = {**POSTCODE, "SE": r"\d{3} ?\d{2}", "NL": r"[1-9]\d{3} ?[A-Z]{2}"}
LEGAL_FORMS = {
    "NO": ("AS", "ASA", "ENK", "ANS"), "SE": ("AB", "HB", "KB"), "DK": ("A/S", "ApS", "I/S"),
    "FI": ("Oy", "Oyj", "Ky", "Tmi"), "NL": ("B.V.", "N.V.", "V.O.F."),
    "DE": ("GmbH", "AG", "GmbH & Co. KG", "KG"), "UK": ("Ltd", "PLC", "LLP"),
}
#: One phone shape per country from the issue, each of which must occur.
PHONE_EXAMPLES = {
    "NO 22 33 44 55": r"\d{2} \d{2} \d{2} \d{2}", "NO +47 22334455": r"\+47 \d{8}",
    "SE 08-123 456 78": r"08-\d{3} \d{3} \d{2}",
    "DK +45 33 12 34 56": r"\+45 \d{2} \d{2} \d{2} \d{2}",
    "FI 09 1234 5678": r"09 \d{4} \d{4}", "NL 020-1234567": r"020-\d{7}",
    "NL +31 (0)20 123 4567": r"\+31 \(0\)20 \d{3} \d{4}", "DE 030 12345678": r"030 \d{8}",
    "UK 020 7946 0000": r"020 \d{4} \d{4}",
}


@pytest.fixture(scope="module")
def frames() -> Frames:
    return demo.generate(SIZE, SEED)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoFiles:
    return demo.write_exports(tmp_path_factory.mktemp("demo_a"), SIZE, SEED)


def all_files(files: demo.DemoFiles) -> dict[tuple[str, str], Path]:
    return {**files.files, ("truth", "all"): files.truth}


def truth_of(frames: Frames, kind: str) -> pd.DataFrame:
    t = frames[("truth", "all")]
    return t[t["kind"] == kind]


def country_of_crm(frames: Frames) -> pd.Series:
    crm = frames[("crm", "company")]
    return crm["country"].map(CRM_COUNTRY).set_axis(crm["id"])


def company_pairs(frames: Frames) -> pd.DataFrame:
    """CRM and ERP company columns side by side, one row per truth pair."""
    crm = frames[("crm", "company")].add_prefix("crm_")
    erp = frames[("erp", "company")].add_prefix("erp_")
    pairs = truth_of(frames, "company").merge(crm, left_on="crm_id", right_on="crm_id")
    return pairs.merge(erp, left_on=["erp_actor_type", "erp_id"],
                       right_on=["erp_actor_type", "erp_id"])


# --- determinism -----------------------------------------------------------------------------


def test_same_size_and_seed_write_identical_bytes(exports: demo.DemoFiles,
                                                  tmp_path: Path) -> None:
    again = demo.write_exports(tmp_path / "again", SIZE, SEED)
    first, second = all_files(exports), all_files(again)
    assert set(first) == set(second) == set(demo.EXPORT_FILES)
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key


def test_another_seed_changes_every_file(exports: demo.DemoFiles, tmp_path: Path) -> None:
    other = all_files(demo.write_exports(tmp_path / "other", SIZE, SEED + 1))
    for key, path in all_files(exports).items():
        assert path.read_bytes() != other[key].read_bytes(), key


def test_files_hold_exactly_the_generated_frames(exports: demo.DemoFiles, frames: Frames) -> None:
    """Reading each file back (quoting included) gives generate()'s frame under its headers."""
    for key, path in all_files(exports).items():
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (key[0] == "crm"), key
        sep = ";" if key[0] == "crm" else ","
        back = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                           encoding="utf-8-sig")
        headers = demo.EXPORT_HEADERS[key]
        assert list(back.columns) == list(headers.values()), key
        expected = frames[key].rename(columns=headers).fillna("")
        pd.testing.assert_frame_equal(back, expected, check_dtype=False, obj=str(key))
        assert exports.rows[key] == len(frames[key]) == COUNTS[key], key


def test_rows_are_in_id_order(frames: Frames) -> None:
    for key, frame in frames.items():
        if key[0] != "truth":
            ids = frame["id"].astype(int)
            assert ids.is_monotonic_increasing and ids.is_unique, key


def test_tiny_sizes_work_and_zero_is_refused() -> None:
    tiny = demo.generate(7, 1)
    assert len(tiny[("crm", "company")]) == 7
    with pytest.raises(ErpdataError, match="at least 1"):
        demo.generate(0)


# --- relations and truth ---------------------------------------------------------------------


def test_persons_and_projects_per_company_are_within_bounds(frames: Frames) -> None:
    companies = len(frames[("crm", "company")])
    per_company = frames[("crm", "person")].groupby("company_id").size()
    assert 1.3 <= len(frames[("crm", "person")]) / companies <= 1.7
    assert per_company.max() <= 12
    assert 0.2 <= len(frames[("crm", "project")]) / companies <= 0.4
    assert frames[("crm", "project")].groupby("company_id").size().max() <= 6


def test_crm_children_point_at_existing_companies(frames: Frames) -> None:
    ids = set(frames[("crm", "company")]["id"])
    for kind in ("person", "project"):
        assert set(frames[("crm", kind)]["company_id"]) <= ids, kind


def test_erp_children_point_at_existing_parents_with_their_actor_type(frames: Frames) -> None:
    erp = frames[("erp", "company")]
    actors = set(zip(erp["actor_type"], erp["id"], strict=True))
    for kind in ("person", "project"):
        child = frames[("erp", kind)]
        parents = set(zip(child["parent_actor_type"], child["parent_key"], strict=True))
        assert parents <= actors, kind
    assert set(frames[("erp", "project")]["parent_actor_type"]) == {"customer", "partner"}


def test_every_truth_id_exists_on_both_sides(frames: Frames) -> None:
    for kind in ("company", "person", "project"):
        t = truth_of(frames, kind)
        crm, erp = frames[("crm", kind)], frames[("erp", kind)]
        assert t["crm_id"].is_unique, kind
        assert set(t["crm_id"]) <= set(crm["id"]), kind
        erp_types = erp["actor_type"] if kind == "company" else pd.Series(kind, index=erp.index)
        erp_keys = set(zip(erp_types, erp["id"], strict=True))
        assert set(zip(t["erp_actor_type"], t["erp_id"], strict=True)) <= erp_keys, kind
    counts = frames[("truth", "all")]["kind"].value_counts().to_dict()
    assert counts == {"company": 1700, "person": 1427, "project": 328}


def test_truth_persons_and_projects_hang_under_truth_companies(frames: Frames) -> None:
    """A matched child's CRM company and ERP parent are themselves a truth pair."""
    companies = set(zip(truth_of(frames, "company")["crm_id"],
                        truth_of(frames, "company")["erp_actor_type"],
                        truth_of(frames, "company")["erp_id"], strict=True))
    for kind in ("person", "project"):
        t = truth_of(frames, kind)
        crm = frames[("crm", kind)].set_index("id")
        erp = frames[("erp", kind)].set_index("id")
        parents = set(zip(crm.loc[t["crm_id"], "company_id"],
                          erp.loc[t["erp_id"], "parent_actor_type"],
                          erp.loc[t["erp_id"], "parent_key"], strict=True))
        assert parents <= companies, kind


def test_erp_only_and_crm_only_records_exist(frames: Frames) -> None:
    expected = {"company": (300, 360), "person": (1459, 654), "project": (321, 147)}
    for kind, (crm_only, erp_only) in expected.items():
        t = truth_of(frames, kind)
        assert (~frames[("crm", kind)]["id"].isin(t["crm_id"])).sum() == crm_only, kind
        assert (~frames[("erp", kind)]["id"].isin(t["erp_id"])).sum() == erp_only, kind


def test_crm_duplicates_point_at_one_erp_actor(frames: Frames) -> None:
    t = truth_of(frames, "company")
    per_actor = t.groupby(["erp_actor_type", "erp_id"]).size()
    assert per_actor.max() == 2
    assert (per_actor == 2).sum() == round(0.03 * SIZE)
    doubles = per_actor[per_actor == 2].index
    crm = frames[("crm", "company")].set_index("id")
    differing = 0
    for actor in doubles:
        ids = t[(t["erp_actor_type"] == actor[0]) & (t["erp_id"] == actor[1])]["crm_id"]
        a, b = crm.loc[ids.iloc[0]], crm.loc[ids.iloc[1]]
        assert a["country"] == b["country"]
        differing += not a.fillna("").equals(b.fillna(""))
    assert differing == len(doubles)  # never an exact copy: registered on another day at least


def test_suppliers_and_partners_exist_on_both_sides_of_the_truth(frames: Frames) -> None:
    erp_types = frames[("erp", "company")]["actor_type"].value_counts().to_dict()
    assert set(erp_types) == {"customer", "supplier", "partner"}
    assert erp_types["supplier"] >= 150 and erp_types["partner"] >= 50
    truth_types = set(truth_of(frames, "company")["erp_actor_type"])
    assert truth_types == {"customer", "supplier", "partner"}
    pairs = company_pairs(frames)
    suppliers = pairs[pairs["erp_actor_type"] == "supplier"]
    assert (suppliers["crm_category"] == "Leverandør").mean() > 0.8


# --- realistic values ------------------------------------------------------------------------


def test_all_seven_countries_with_their_legal_forms(frames: Frames) -> None:
    crm = frames[("crm", "company")]
    country = crm["country"].map(CRM_COUNTRY)
    assert country.notna().all()
    assert set(country) == set(LEGAL_FORMS)
    for code, forms in LEGAL_FORMS.items():
        names = crm.loc[country == code, "name"]
        assert len(names) >= 100, code
        for form in forms:
            assert names.str.endswith(" " + form).any(), (code, form)
    assert set(frames[("erp", "company")]["country"]) == set(ERP_COUNTRY)


def test_crm_org_numbers_are_valid_for_their_country(frames: Frames) -> None:
    crm = frames[("crm", "company")]
    country = crm["country"].map(CRM_COUNTRY)
    checked = 0
    for number, code in zip(crm["vatno"], country, strict=True):
        if pd.notna(number):
            assert ORG_MODULE[code].is_valid(number), (code, number)
            checked += 1
    assert checked >= 0.8 * len(crm)


def erp_number_is_valid(number: str, code: str) -> bool:
    """ERPs also write VAT numbers: NO "NO...MVA", SE "SE...01"; the rest as the register."""
    if code == "NO" and number.endswith("MVA"):
        return no_mva.is_valid(number)
    if code == "SE" and number.startswith("SE"):
        return se_vat.is_valid(number)
    return ORG_MODULE[code].is_valid(number) and (
        not number[:2].isalpha() or vatin.is_valid(number.replace("GB ", "GB")))


def test_erp_org_numbers_are_valid_and_distinct(frames: Frames) -> None:
    erp = frames[("erp", "company")]
    country = erp["country"].map(ERP_COUNTRY)
    compact = []
    for number, code in zip(erp["vatno"], country, strict=True):
        if pd.notna(number):
            assert erp_number_is_valid(number, code), (code, number)
            compact.append((code, ORG_MODULE[code].compact(number).removeprefix(code)
                            .removeprefix("GB").removesuffix("MVA")))
    assert len(compact) >= 0.85 * len(erp)
    styles = erp["vatno"].dropna()
    assert styles.str.endswith("MVA").any() and styles.str.match(r"SE\d{12}$").any()
    se = [c for c in compact if c[0] == "SE"]
    assert len({c[1][:10] for c in se}) == len(se)  # SE VAT = orgnr + "01"
    assert len(set(compact)) == len(compact)  # one real company, one number


def test_postcodes_match_each_countrys_format(frames: Frames) -> None:
    for side, names, patterns in (("crm", CRM_COUNTRY, POSTCODE),
                                  ("erp", ERP_COUNTRY, ERP_POSTCODE)):
        companies = frames[(side, "company")]
        country = companies["country"].map(names)
        for column in ("streetzip", "postalzip"):
            for code, pattern in patterns.items():
                values = companies.loc[country == code, column].dropna()
                assert len(values) > 20, (side, column, code)
                bad = values[~values.str.fullmatch(pattern)]
                assert bad.empty, (side, column, code, bad.head().tolist())


def test_phones_come_in_local_formats(frames: Frames) -> None:
    phones = pd.concat([frames[("crm", "company")]["phone"], frames[("erp", "company")]["phone"],
                        frames[("crm", "person")]["phone_direct"]]).dropna()
    for example, pattern in PHONE_EXAMPLES.items():
        assert phones.str.fullmatch(pattern).any(), example
    assert phones.str.fullmatch(r"\+?[0-9 ()/-]+").all()


def test_emails_and_websites_use_the_company_domain(frames: Frames) -> None:
    crm = frames[("crm", "company")]
    with_both = crm.dropna(subset=["email", "url"])
    domains = with_both["email"].str.split("@").str[1]
    assert (with_both["url"].str.replace(r"^(https?://)?(www\.)?", "", regex=True)
            == domains).all()
    persons = frames[("crm", "person")].dropna(subset=["email"])
    person_domain = persons["email"].str.split("@").str[1]
    company_domain = crm.set_index("id")["url"].str.replace(r"^(https?://)?(www\.)?", "",
                                                            regex=True)
    linked = company_domain.loc[persons["company_id"]].to_numpy()
    known = pd.notna(linked)
    assert (person_domain.to_numpy()[known] == linked[known]).all()
    assert crm["email"].dropna().str.fullmatch(r"[a-z]+@[a-z0-9]+\.[a-z.]+").all()


def test_names_with_delimiters_and_quotes_exist(frames: Frames, exports: demo.DemoFiles) -> None:
    names = frames[("crm", "company")]["name"]
    assert names.str.contains('"').sum() >= 3
    assert names.str.contains(";").sum() >= 3
    quoted = names[names.str.contains('"')].iloc[0]
    text = exports.files[("crm", "company")].read_text(encoding="utf-8-sig")
    assert '"' + quoted.replace('"', '""') + '"' in text


# --- drift -----------------------------------------------------------------------------------


def is_one_typo(a: str, b: str) -> bool:
    """``b`` is ``a`` with two neighbouring letters swapped, or one letter dropped or doubled."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] \
            and a[diff[1]] == b[diff[0]]
    short, long_ = sorted((a, b), key=len)
    return len(long_) == len(short) + 1 and any(
        long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def test_erp_copies_drift_the_way_real_ones_do(frames: Frames) -> None:
    pairs = company_pairs(frames)
    crm_name, erp_name = pairs["crm_name"], pairs["erp_name"]
    same = crm_name == erp_name
    assert 0.3 < same.mean() < 0.7
    long_to_short = crm_name.str.endswith((" Aksjeselskap", " Aktieselskap")) & \
        erp_name.str.endswith(" AS")
    assert long_to_short.any()
    assert (crm_name.str.contains(" og ") & erp_name.str.contains(" & ")).any()
    assert (erp_name == crm_name.str.upper()).any()
    assert (erp_name == crm_name.str.rsplit(" ", n=1).str[0]).any()  # legal form dropped
    assert sum(map(is_one_typo, crm_name, erp_name)) >= 20  # swapped/dropped/doubled letter
    both = pairs.dropna(subset=["crm_phone", "erp_phone"])
    assert (both["crm_phone"] != both["erp_phone"]).mean() > 0.3  # formatting
    crm_local = both["crm_phone"].str.replace(r"\D", "", regex=True).str[-6:]
    erp_local = both["erp_phone"].str.replace(r"\D", "", regex=True).str[-6:]
    assert (crm_local != erp_local).sum() >= 10  # changed numbers
    moved = pairs.dropna(subset=["crm_streetad1", "erp_streetad1"])
    assert (moved["crm_streetzip"] != moved["erp_streetzip"]).sum() >= 20
    for column in ("vatno", "phone", "email", "url", "streetad1", "postalad1"):
        assert pairs["erp_" + column].isna().sum() >= 10, column
    invoice = pairs["erp_email"].dropna().str.startswith(("faktura@", "accounts@", "rechnung@"))
    assert invoice.any()


def test_persons_and_projects_drift_too(frames: Frames) -> None:
    for kind, columns in (("person", ("lastname", "email", "phone_mobile")),
                          ("project", ("name", "text"))):
        t = truth_of(frames, kind)
        crm = frames[("crm", kind)].set_index("id").loc[t["crm_id"]]
        erp = frames[("erp", kind)].set_index("id").loc[t["erp_id"]]
        for column in columns:
            differ = crm[column].to_numpy() != erp[column].to_numpy()
            assert differ.any() and not differ.all(), (kind, column)
    t = truth_of(frames, "project")
    crm = frames[("crm", "project")].set_index("id").loc[t["crm_id"]]
    erp = frames[("erp", "project")].set_index("id").loc[t["erp_id"]]
    crm_end = pd.to_datetime(crm["enddate"], format="%d.%m.%Y").to_numpy()
    erp_end = pd.to_datetime(erp["enddate"], format="%Y-%m-%d").to_numpy()
    assert 0.02 < (crm_end != erp_end).mean() < 0.2  # some ERP projects were postponed
    status = {"Planlagt": "Planned", "Pågår": "Open", "Avsluttet": "Closed", "Stoppet": "On hold"}
    mismatch = crm["status"].map(status).to_numpy() != erp["status"].to_numpy()
    assert 0 < mismatch.mean() < 0.1
    erp_persons = frames[("erp", "person")]
    nl = erp_persons["lastname"].str.match(r"(van|de|den|te) ")
    assert nl.any()  # tussenvoegsel joined to the surname in the ERP
    assert "middlename" in frames[("crm", "person")] and "middlename" not in erp_persons


# --- headers and loading ---------------------------------------------------------------------


@pytest.mark.parametrize("key", demo.LOAD_ORDER)
def test_every_header_maps_to_its_field_or_is_kept_as_extra(exports: demo.DemoFiles,
                                                            key: tuple[str, str]) -> None:
    path = exports.files[key]
    sep = ";" if key[0] == "crm" else ","
    headers = path.read_text(encoding="utf-8-sig").split("\n", 1)[0].split(sep)
    mapping = map_columns(headers, key[0], key[1])  # type: ignore[arg-type]
    layout = demo.EXPORT_HEADERS[key]
    extras = {"our_contact", "registered", "project_type", "project_manager", "currency",
              "payment_terms", "budget"}
    assert mapping.as_dict() == {f: h for f, h in layout.items() if f not in extras}
    assert [headers[p] for p in mapping.extra] == [h for f, h in layout.items() if f in extras]


def test_build_demo_loads_every_file_into_an_empty_workspace(tmp_path: Path,
                                                             frames: Frames) -> None:
    seen: list[tuple[str, float]] = []
    summary = demo.build_demo(tmp_path / "demo.duckdb", size=SIZE, seed=SEED,
                              progress=lambda label, f: seen.append((label, f)))
    assert summary.exports.folder == tmp_path / "demo.demo"
    assert sorted(p.name for p in summary.exports.folder.iterdir()) == sorted(
        demo.EXPORT_FILES.values())
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = [f"loading {side} {kind}" for side, kind in demo.LOAD_ORDER]
    assert [label for label, _ in seen if label in stages] == stages
    assert ("loading erp person: applying", pytest.approx(0.85, abs=0.1)) in seen
    with Workspace.open(tmp_path / "demo.duckdb") as ws:
        counts = ws.counts()
        for side, kind in demo.LOAD_ORDER:
            assert counts[side][kind] == len(frames[(side, kind)]), (side, kind)
        assert ws.get_meta("demo_size") == str(SIZE) and ws.get_meta("demo_seed") == str(SEED)
        types = dict(ws.con.execute(
            "SELECT actor_type, count(*) FROM erp_company GROUP BY ALL").fetchall())
        assert types == frames[("erp", "company")]["actor_type"].value_counts().to_dict()
        extra = ws.con.execute("SELECT extra->>'Vår kontakt' FROM crm_company LIMIT 1").fetchone()
        assert extra is not None and extra[0]
    assert summary.counts == counts


def test_build_demo_refuses_a_workspace_with_records(tmp_path: Path,
                                                     write_csv: Callable[..., Path]) -> None:
    path = tmp_path / "real.duckdb"
    with Workspace.open(path) as ws:
        load_file(ws, write_csv("c.csv", [["id", "name"], ["1", "Real AS"]]), side="crm",
                  kind="company")
    with pytest.raises(ErpdataError, match=r"already holds 1 records.*empty workspace"):
        demo.build_demo(path, size=50)
    assert not (tmp_path / "real.demo").exists()
    with Workspace.open(path) as ws:
        assert ws.counts()["crm"]["company"] == 1 and ws.get_meta("demo_size") is None


def test_build_demo_into_an_open_workspace_leaves_it_open(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "open.duckdb") as ws:
        summary = demo.build_demo(ws, size=40, seed=3, export_dir=tmp_path / "files")
        assert summary.exports.folder == tmp_path / "files"
        assert ws.counts()["crm"]["company"] == 40  # still usable


def test_org_number_generators_pass_stdnum_in_bulk() -> None:
    """The vectorised check digits, on many numbers per country (not only those in a demo)."""
    import numpy as np

    rng = np.random.default_rng(7)
    for code, module in ORG_MODULE.items():
        numbers = demo._org_numbers(rng, code, 3000)
        width = demo._ORG_RULES[code][3]
        texts = [str(n).zfill(width) for n in numbers]
        if code == "NL":
            texts = [f"NL{t}B01" for t in texts]
        assert len(set(texts)) == 3000, code
        assert all(module.is_valid(t) for t in texts), code
