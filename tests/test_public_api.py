"""The public API is exactly what ``erpdata.__all__`` lists (as httpx does): no accidental drift."""

from __future__ import annotations

import erpdata


def test_exported_names_are_exactly_the_public_api() -> None:
    public = {name for name in vars(erpdata) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(erpdata, name)).__name__ == "module"}
    assert len(set(erpdata.__all__)) == len(erpdata.__all__)
    assert set(erpdata.__all__) == public - modules


def test_engine_imports_no_streamlit() -> None:
    import pathlib

    for path in pathlib.Path(erpdata.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import streamlit" not in text and "from streamlit" not in text, path
