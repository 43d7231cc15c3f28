"""Book build helpers: table of contents, executed-notebook check, site link checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnopt import build, sitecheck

ROOT = Path(__file__).resolve().parents[1]


def test_every_toc_page_has_a_source() -> None:
    book = ROOT / "book"
    for page in build.toc_pages(book):
        assert (book / f"{page}.py").is_file() or (book / f"{page}.md").is_file(), page


def test_notebooks_have_a_profile_parameter() -> None:
    for page in build.notebook_pages(ROOT / "book"):
        text = (ROOT / "book" / f"{page}.py").read_text()
        assert '# %% tags=["parameters"]\nprofile = "ci"' in text, page


def _nb(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_check_executed_catches_unexecuted_and_errors(tmp_path: Path) -> None:
    good = {"cell_type": "code", "source": "1", "execution_count": 1, "outputs": []}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(_nb([good])))
    build.check_executed(path)
    path.write_text(json.dumps(_nb([{**good, "execution_count": None}])))
    with pytest.raises(RuntimeError, match="not executed"):
        build.check_executed(path)
    path.write_text(json.dumps(_nb([{**good, "outputs": [{"output_type": "error", "ename": "E"}]}])))
    with pytest.raises(RuntimeError, match="error output"):
        build.check_executed(path)


def test_unknown_profile_stops_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build.main(["--profile", "huge"])
    assert "unknown profile 'huge'" in capsys.readouterr().err


def test_local_link_targets(tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    assert sitecheck.local_link_target(page, "https://example.org/x", tmp_path) is None
    assert sitecheck.local_link_target(page, "#sec", tmp_path) is None
    assert sitecheck.local_link_target(page, "b.html#x", tmp_path) == (tmp_path / "b.html").resolve()
