"""Book build: table of contents, executed-notebook checks, the build command on a tiny book, site checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# --- the build command on a tiny book ------------------------------------------------------------

_HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""
_PAGE = _HEADER + '\n# %% tags=["parameters"]\nprofile = "ci"\n\n# %%\nx = 1\n'
# b's third cell (index 3, after papermill's injected parameters) does what $FAKE_MODE says
_STOPPING_PAGE = _HEADER + '''
# %% tags=["parameters"]
profile = "ci"

# %%
import os, signal, time
mode = os.environ.get("FAKE_MODE", "ok")

# %%
if mode == "fail":
    raise ValueError("bad value")
if mode == "die":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "sleep":
    time.sleep(60)
'''


@pytest.fixture
def book_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a two-page book (a, b); the build's environment variables restored afterwards."""
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    (root / "book" / "_toc.yml").write_text("format: jb-book\nroot: a\nchapters:\n  - file: b\n")
    (root / "book" / "a.py").write_text(_PAGE)
    (root / "book" / "b.py").write_text(_STOPPING_PAGE)
    for name in ("BNOPT_BUILD_TIMES", "BNOPT_PROFILE", "PROFILE", "BNOPT_DATA_DIR"):
        monkeypatch.setenv(name, "")  # recorded, so whatever the build sets is undone after the test
    for name in ("PROFILE", "BNOPT_DATA_DIR"):
        monkeypatch.delenv(name)
    monkeypatch.chdir(root)
    return root


def _write_executed(path: Path, profile: str = "ci", executed: bool = True) -> None:
    """A notebook as papermill leaves it after executing at `profile` (one code cell)."""
    cell = {"cell_type": "code", "source": "x = 1", "execution_count": 1 if executed else None,
            "metadata": {}, "outputs": []}
    path.write_text(json.dumps({**_nb([cell]), "metadata": {"papermill": {"parameters": {"profile": profile}}}}))


@pytest.fixture
def fake_execute(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Replace notebook execution (writes an executed notebook) and the site compile; records (page, profile)."""
    calls: list[tuple[str, str]] = []

    def execute(page: str, book_dir: Path, profile: str, out: Path | None = None) -> float:
        calls.append((page, profile))
        _write_executed(book_dir / f"{page}.ipynb", profile)
        return 0.5

    monkeypatch.setattr(build, "execute", execute)
    monkeypatch.setattr(build, "compile_site", lambda root: calls.append(("<site>", "")))
    return calls


def test_only_needs_a_page_name(book_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build.main(["--only"], root=book_root)
    assert exit_.value.code == 2
    assert "--only needs at least one page; notebooks are a, b" in capsys.readouterr().err


def test_unknown_profile_in_the_environment_names_profile(book_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          fake_execute: list[tuple[str, str]]) -> None:
    monkeypatch.setenv("PROFILE", "huge")
    with pytest.raises(SystemExit):
        build.main(["--no-site"], root=book_root)
    err = capsys.readouterr().err
    assert "PROFILE='huge'" in err and "ci, workstation, paper" in err
    assert build.main(["--no-site", "--profile", "ci"], root=book_root) == 0  # --profile overrides it
    monkeypatch.setenv("PROFILE", "workstation")
    assert build.main(["--no-site", "--only", "a"], root=book_root) == 0
    assert fake_execute[-1] == ("a", "workstation")


def test_a_damaged_times_file_is_ignored_with_a_warning(book_root: Path, capsys: pytest.CaptureFixture[str],
                                                        fake_execute: list[tuple[str, str]]) -> None:
    times = book_root / "_build" / build.TIMES_FILE
    times.parent.mkdir()
    for damaged in ("{not json", '["a", "b"]', '{"a": 3}', '{"a": {"seconds": "x", "profile": "ci"}}'):
        times.write_text(damaged)
        assert build.main(["--no-site", "--only", "a"], root=book_root) == 0
        err = capsys.readouterr().err
        assert f"warning: ignoring {times}" in err
        assert json.loads(times.read_text()) == {"a": {"seconds": 0.5, "profile": "ci"}}
    assert build.load_times(times) == {"a": {"seconds": 0.5, "profile": "ci"}}


def test_the_site_needs_every_page_executed_at_the_profile(book_root: Path, capsys: pytest.CaptureFixture[str],
                                                          fake_execute: list[tuple[str, str]]) -> None:
    book = book_root / "book"
    assert build.main(["--only", "b"], root=book_root) == 1  # a fresh checkout: a was never executed
    err = capsys.readouterr().err
    assert "a (no executed notebook)" in err and "bnopt.build --profile ci --only a b" in err
    assert "make book PROFILE=ci" in err
    assert fake_execute == []  # said before executing anything
    _write_executed(book / "a.ipynb", executed=False)  # left half-executed
    assert build.main(["--only", "b"], root=book_root) == 1
    assert "a (code cell 0 was not executed)" in capsys.readouterr().err
    _write_executed(book / "a.ipynb", profile="paper")
    assert build.main(["--only", "b"], root=book_root) == 1
    assert "a (executed at profile paper)" in capsys.readouterr().err
    _write_executed(book / "a.ipynb")
    assert build.main(["--only", "b"], root=book_root) == 0
    assert fake_execute == [("b", "ci"), ("<site>", "")]
    assert build.unexecuted_pages(book, "ci") == {}
    assert build.unexecuted_pages(book, "paper") == dict.fromkeys(["a", "b"], "executed at profile ci")


def test_relative_data_dirs_resolve_against_the_start_directory(book_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                                fake_execute: list[tuple[str, str]]) -> None:
    from bnopt import paths

    seen: dict[str, str | None] = {}
    monkeypatch.setattr(build, "execute", lambda page, *a: seen.update(
        {n: os.environ.get(n) for n in build.DIR_ENVS}) or 0.1)
    monkeypatch.setenv(paths.DATA_ENV, "mydata/mnist")
    monkeypatch.setenv(paths.RESULTS_ENV, "")
    monkeypatch.setenv(paths.CACHE_ENV, "/abs/cache")
    assert build.main(["--no-site"], root=book_root) == 0
    assert seen == {paths.DATA_ENV: str(book_root / "mydata" / "mnist"), paths.RESULTS_ENV: None,
                    paths.CACHE_ENV: "/abs/cache"}


def test_ctrl_c_ends_with_one_line_and_status_130(book_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  fake_execute: list[tuple[str, str]]) -> None:
    def interrupted(page: str, book_dir: Path, profile: str, out: Path | None = None) -> float:
        if page == "a":
            return 0.1
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "execute", interrupted)
    assert build.main(["--no-site"], root=book_root) == build.INTERRUPTED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "Finished in this build: a; b was interrupted" in last
    assert "A rerun resumes from the stored results" in last and "--only b --no-site" in last


def _stopped_build(root: Path, mode: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the build on the tiny book in a subprocess with page b doing `mode`."""
    code = (f"import sys; from pathlib import Path; from bnopt import build; "
            f"sys.exit(build.main({argv!r}, Path({str(root)!r})))")
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, "FAKE_MODE": mode}, cwd=root,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mode", ["fail", "die"])
def test_a_stopped_page_is_kept_aside_and_named_with_its_cell(book_root: Path, mode: str) -> None:
    book = book_root / "book"
    run = _stopped_build(book_root, mode, ["--no-site"])
    assert run.returncode == 1, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    what = "ValueError: bad value" if mode == "fail" else "the kernel died"
    assert "Finished in this build: a; b failed at cell 3" in last and what in last, last
    assert "what ran is kept in _build/failed/b.ipynb" in last and "rerun resumes" in last
    assert (book / "a.ipynb").is_file() and not (book / "b.ipynb").exists()  # never half-executed in book/
    assert (book_root / "_build" / "failed" / "b.ipynb").is_file()
    assert build.unexecuted_pages(book, "ci") == {"b": "no executed notebook"}


def test_ctrl_c_during_a_notebook_stops_cleanly(book_root: Path) -> None:
    import signal
    import time

    code = ("import sys; from pathlib import Path; from bnopt import build; "
            "sys.exit(build.main(['--no-site', '--only', 'b'], Path('.')))")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "FAKE_MODE": "sleep"}, cwd=book_root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = book_root / "_build" / build.EXECUTING / "b.ipynb"
    deadline = time.monotonic() + 120
    while build.stopped_cell(running) != 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == build.INTERRUPTED, err
    last = err.strip().splitlines()[-1]
    assert "b was interrupted at cell 3 (`if mode == \"fail\":`)" in last and "rerun resumes" in last
    assert not (book_root / "book" / "b.ipynb").exists()
    assert (book_root / "_build" / "failed" / "b.ipynb").is_file()


def test_load_average_is_three_numbers_or_unknown() -> None:
    text = build.load_average()
    assert text == "?" or (len(text.split()) == 3 and all(float(v) >= 0 for v in text.split()))


def test_progress_prints_runs_with_bars_and_counts_loaded_results(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Events written by `results.report` (as experiments would) come out as terminal lines, in order."""
    from bnopt import results

    with build.Progress("ics", tmp_path / "progress.jsonl", poll_s=0.05):
        results.report("plan", "vgg", total=3, todo=2)
        results.report("start", "vgg")
        results.report("done", "vgg", seconds=12.0)
        results.report("loaded", "ics-dln")
        results.report("start", "dln_seeds-divergence")
        results.report("done", "dln_seeds-divergence", seconds=3.0)
        results.report("done", "vgg", seconds=11.0)
    out = capsys.readouterr().out.splitlines()
    assert out == ["  [ics] vgg: 2 to compute, 1 stored",
                   f"  [ics] vgg {build.bar(1, 2)} (last: 12 s)",
                   "  [ics] running dln_seeds-divergence ...",
                   "  [ics] dln_seeds-divergence done in 3 s",
                   f"  [ics] vgg {build.bar(2, 2)} (last: 11 s)",
                   "  [ics] 3 experiment(s) computed, 1 stored result(s) loaded"]
    assert results.PROGRESS_ENV not in __import__("os").environ  # unset after the page
    results.report("done", "x")  # without the variable: nothing, no error


def test_bar_and_eta_note() -> None:
    assert build.bar(0, 4, width=4) == "[....] 0/4" and build.bar(4, 4, width=4) == "[####] 4/4"
    times = {"ics": {"seconds": 611.6, "profile": "ci"}}
    assert build.eta_note("ics", times, "ci") == " (last build at this profile: 612 s)"
    assert build.eta_note("ics", times, "paper") == "" and build.eta_note("landscape", times, "ci") == ""
