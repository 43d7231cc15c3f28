"""Environment variables: a bad value is an error naming the variable and the values it takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnopt import runtime, sitecheck


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_a_bad_thread_count_names_bnopt_threads(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(runtime.THREADS_ENV, value)
    with pytest.raises(ValueError, match=rf"BNOPT_THREADS='{value}'.*whole number >= 1"):
        runtime.recommended_threads("dln")


def test_thread_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.THREADS_ENV, " 2 ")
    assert runtime.recommended_threads("vgg") == 2
    monkeypatch.setenv(runtime.THREADS_ENV, "")  # empty: unset, the measured rule
    assert runtime.env_threads() is None
    assert runtime.recommended_threads("dln") == 1


@pytest.mark.parametrize("env", [sitecheck.CHROMIUM_ENV, sitecheck.CHROMEDRIVER_ENV])
def test_a_missing_browser_names_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str) -> None:
    monkeypatch.setenv(env, str(tmp_path / "nowhere"))
    with pytest.raises(sitecheck.BrowserNotFoundError, match=rf"{env}='.*nowhere' is not an executable.*set {env}"):
        sitecheck.browser_binary(env)
    exe = tmp_path / "browser"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv(env, str(exe))
    assert sitecheck.browser_binary(env) == str(exe)


def test_sitecheck_reports_a_missing_browser_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "index.html").write_text("<html></html>")
    monkeypatch.setenv(sitecheck.CHROMIUM_ENV, str(tmp_path / "nowhere"))
    assert sitecheck.main([str(tmp_path)]) == 1
    assert "CHROMIUM=" in capsys.readouterr().err
