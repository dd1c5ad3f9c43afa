"""Field mappings: SuperOffice's validation rules, defaults, storage, TOML round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpdata.schema import KINDS
from erpdata.steward.mappings import (
    DEFAULTS,
    FieldMapping,
    MappingError,
    export_toml,
    from_frame,
    import_toml,
    mappings,
    save_mappings,
    to_frame,
    to_toml,
    validate,
)
from erpdata.workspace import Workspace
from tests.helpers import snapshot, write_text


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace.open(tmp_path / "s.duckdb")
    yield w
    w.close()


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_defaults_are_valid(kind: str) -> None:
    validate(kind, list(DEFAULTS[kind]))  # type: ignore[index]


@pytest.mark.parametrize(("mapping", "message"), [
    (FieldMapping("name", "name", "none", mandatory=True),
     "company field 'name' is mandatory in the ERP but has no sync direction"),
    (FieldMapping("phone", "phone", "both", show_in_erp_tab=True),
     "company field 'phone' is both synchronised (both) and shown live in the ERP tab"),
    (FieldMapping("phone", None, "to_erp"),
     "company field 'phone': direction 'to_erp' needs a CRM field to sync with"),
    (FieldMapping("colour", "name", "both"), "company field 'colour': not an ERP company field"),
    (FieldMapping("name", "nmae", "both"),
     "company field 'name': CRM field 'nmae' is not a CRM company field"),
    (FieldMapping("name", "name", "sideways"),  # type: ignore[arg-type]
     "company field 'name': direction 'sideways' is not one of to_crm, to_erp, both, none"),
    (FieldMapping("name", "name", "both", winner="loudest"),  # type: ignore[arg-type]
     "company field 'name': winner 'loudest' is not one of crm, erp, newest"),
])
def test_invalid_mappings_are_refused_with_the_reason(mapping: FieldMapping, message: str) -> None:
    with pytest.raises(MappingError, match="^field mapping: .*" + message.replace("(", r"\(")
                       .replace(")", r"\)")):
        validate("company", [mapping])


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(MappingError) as err:
        validate("company", [FieldMapping("name", "name", "none", mandatory=True),
                             FieldMapping("phone", "phone", "to_crm"),
                             FieldMapping("fax", "phone", "both"),
                             FieldMapping("name", "name", "both")])
    text = str(err.value)
    assert "'name' is mandatory" in text
    assert "'fax' and company field 'phone' both write CRM field 'phone'" in text
    assert "company field 'name' is mapped twice" in text


def test_a_workspace_starts_with_the_defaults_and_keeps_what_is_saved(ws: Workspace) -> None:
    assert mappings(ws, "company") == list(DEFAULTS["company"])
    new = [FieldMapping("name", "name", "both", show_in_search=True, mandatory=True),
           FieldMapping("phone", "phone", "to_erp", winner="newest")]
    save_mappings(ws, "company", new, user="kari")
    assert mappings(ws, "company") == new
    assert mappings(ws, "person") == list(DEFAULTS["person"])
    (actor, action, kind) = ws.con.execute("SELECT actor, action, kind FROM audit").fetchone()
    assert (actor, action, kind) == ("kari", "mapping", "company")


def test_an_invalid_save_writes_nothing(ws: Workspace) -> None:
    before = snapshot(ws)
    with pytest.raises(MappingError):
        save_mappings(ws, "company", [FieldMapping("name", "name", "none", mandatory=True)])
    assert snapshot(ws) == before


def test_toml_round_trip(ws: Workspace, tmp_path: Path) -> None:
    save_mappings(ws, "project", [FieldMapping("name", "name", "both", mandatory=True),
                         FieldMapping("status", "status", "none", default_value="Åpen",
                                      ask_user=True, default_mandatory=True)])
    path = export_toml(ws, tmp_path / "m.toml")
    text = path.read_text(encoding="utf-8")
    assert '[[project]]\nerp_field = "status"\ncrm_field = "status"\ndefault_value = "Åpen"\n' \
           'ask_user = true\ndefault_mandatory = true\n' in text
    other = Workspace.open(tmp_path / "other.duckdb")
    try:
        assert import_toml(other, path, user="ola") == {"company": len(DEFAULTS["company"]),
                                                        "person": len(DEFAULTS["person"]),
                                                        "project": 2}
        assert to_toml(other) == text
    finally:
        other.close()


def test_toml_keeps_control_characters_and_quotes(ws: Workspace, tmp_path: Path) -> None:
    """A DEL, a tab, a quote and a backslash in a default value survive the file (a hand-made
    writer once wrote a DEL unescaped, and the file could not be read back)."""
    odd = 'a\x7fb\tc "d" \\e'
    save_mappings(ws, "project", [FieldMapping("name", "name", "both", mandatory=True),
                                  FieldMapping("status", "status", "none", default_value=odd)])
    path = export_toml(ws, tmp_path / "m.toml")
    other = Workspace.open(tmp_path / "other.duckdb")
    try:
        import_toml(other, path, user="ola")
        (status,) = [m for m in mappings(other, "project") if m.erp_field == "status"]
        assert status.default_value == odd
    finally:
        other.close()


@pytest.mark.parametrize(("content", "message"), [
    ("[[company]]\nerp_field = 'name'\ndirecton = 'both'\n",
     r"m\.toml, \[\[company\]\] entry 1 \('name'\): unknown key\(s\) 'directon'"),
    ("[[company]]\ncrm_field = 'name'\n", r"\[\[company\]\] entry 1: every entry needs erp_field"),
    ("[[company]]\nerp_field = 'name'\nmandatory = 'yes'\n",
     r"entry 1 \('name'\): mandatory must be true or false"),
    ("[[companies]]\nerp_field = 'name'\n", r"unknown section\(s\) 'companies'"),
    ("[[company]\n", "cannot read a TOML mapping file"),
])
def test_import_errors_name_file_entry_and_field(ws: Workspace, tmp_path: Path, content: str,
                                                 message: str) -> None:
    path = write_text(tmp_path / "m.toml", content)
    before = snapshot(ws)
    with pytest.raises(MappingError, match=message):
        import_toml(ws, path)
    assert snapshot(ws) == before


def test_import_is_all_or_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = write_text(tmp_path / "m.toml",
                      "[[company]]\nerp_field = 'name'\ncrm_field = 'name'\ndirection = 'both'\n"
                      "[[person]]\nerp_field = 'lastname'\nmandatory = true\n")
    before = snapshot(ws)
    with pytest.raises(MappingError, match="person field 'lastname' is mandatory"):
        import_toml(ws, path)
    assert snapshot(ws) == before


def test_a_table_round_trip_for_the_editor() -> None:
    items = list(DEFAULTS["company"])
    frame = to_frame(items)
    assert frame.columns[0] == "erp_field" and len(frame) == len(items)
    assert from_frame(frame) == items
    frame.loc[0, "direction"] = None  # a cleared cell
    frame.loc[1, "default_value"] = ""
    back = from_frame(frame)
    assert back[0].direction == "none" and back[1].default_value is None
