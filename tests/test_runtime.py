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


@pytest.mark.parametrize("busy, cores, expected", [
    (0.05, 2, 2), (1.0, 2, 1), (1.6, 2, 1), (2.0, 2, 1), (None, 2, 2), (1.2, 8, 7), (0.0, 1, 1)])
def test_convnet_threads_leave_the_busy_cores_alone(monkeypatch: pytest.MonkeyPatch, busy: float | None,
                                                    cores: int, expected: int) -> None:
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: busy)
    monkeypatch.setattr(runtime, "available_cores", lambda: cores)
    assert runtime.recommended_threads("vgg") == expected == runtime.free_cores()
    assert runtime.recommended_threads("dln") == 1  # the linear nets: one thread whatever the load


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("free, pools", [(1, []), (2, [(2, 1)]), (4, [(3, 1)])])
def test_local_work_takes_one_worker_per_free_core(monkeypatch: pytest.MonkeyPatch, free: int, pools: list) -> None:
    """Beside a busy process the runs share the free cores: no second worker time-slices with the first."""
    from concurrent.futures import ThreadPoolExecutor

    from bnopt import parallel

    made: list[tuple[int, int | None]] = []
    monkeypatch.setattr(runtime, "free_cores", lambda: free)
    monkeypatch.setattr(parallel, "local_pool", lambda w, t=None: made.append((w, t)) or ThreadPoolExecutor(w))
    assert parallel.map_local(_square, [(1,), (2,), (3,)]) == [1, 4, 9]
    assert made == pools


def test_busy_cores_reads_the_machine_or_says_it_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    real = conftest.REAL_BUSY_CORES  # the conftest makes every other test see an idle machine
    busy = real(0.05)
    assert busy is None or 0.0 <= busy <= (__import__("os").cpu_count() or 1)
    ticks = iter([(1000, 400), (1100, 450)])  # 100 jiffies, 50 of them idle: half the machine busy
    monkeypatch.setattr(runtime, "_cpu_times", lambda: next(ticks))
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    assert real(0.0) == pytest.approx(1.0)

    def unreadable() -> tuple[int, int]:
        raise OSError("no /proc")
    monkeypatch.setattr(runtime, "_cpu_times", unreadable)
    assert real(0.01) is None


def test_site_check_finds_raw_tex_and_requests_to_other_hosts() -> None:
    assert sitecheck.raw_tex(r"the norm \(\ell_p\) of x") == [r"the norm \(\ell_p\) of x"]
    assert sitecheck.raw_tex("typeset: ℓp costs $5 and [a, b]") == []
    base = "http://127.0.0.1:8123/"
    urls = [base + "_static/mathjax/tex-chtml.js", "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js",
            "data:image/png;base64,AAAA", "http://127.0.0.1:9999/other-port"]
    assert sitecheck.foreign_requests(urls, base) == urls[1:2] + urls[3:]
