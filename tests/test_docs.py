"""Docs that cannot rot (as in Datasette): a test fails when something is undocumented."""

from __future__ import annotations

from pathlib import Path

from erpdata.cli import build_parser
from erpdata.schema import KINDS, SIDES, fields

ROOT = Path(__file__).resolve().parent.parent


def test_every_canonical_field_is_documented() -> None:
    text = (ROOT / "docs" / "FIELDS.md").read_text(encoding="utf-8")
    for side in SIDES:
        for kind in KINDS:
            section = text.split(f"## {side.upper()} {kind}\n", 1)[1].split("\n## ", 1)[0]
            for f in fields(side, kind):  # type: ignore[arg-type]
                assert f"| `{f.name}` | {f.label} | {f.type} |" in section, (side, kind, f.name)


def test_every_cli_command_and_option_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        assert f"erpdata {name}" in readme, name
        for action in command._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in ("--help", "--user"):
                    assert opt in readme, (name, opt)
