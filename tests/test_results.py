"""Results store: hit, miss, config change, code change, interrupted and damaged writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bnopt import results


@dataclass(frozen=True)
class Cfg:
    n: int = 3
    scale: float = 2.0


class Counter:
    """An experiment that counts how often it actually ran."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, cfg: Cfg) -> dict[str, object]:
        self.calls += 1
        return {"x": np.arange(cfg.n) * cfg.scale, "best": float(cfg.n), "dataset": "synthetic"}


def test_miss_then_hit(tmp_path: Path) -> None:
    fn = Counter()
    first = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    second = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 1
    assert np.array_equal(first["x"], second["x"]) and second.scalar("best") == 3.0
    assert second.meta["config"] == {"n": 3, "scale": 2.0} and second.dataset == "synthetic"
    for key in ("git_revision", "wall_time_s", "libraries", "code_version", "package_version", "profile"):
        assert key in second.meta


def test_config_change_reruns(tmp_path: Path) -> None:
    fn = Counter()
    results.load_or_run("exp", fn, Cfg(n=3), profile="ci", root=tmp_path)
    out = results.load_or_run("exp", fn, Cfg(n=4), profile="ci", root=tmp_path)
    assert fn.calls == 2 and out["x"].shape == (4,)


def test_code_change_reruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fn = Counter()
    results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    monkeypatch.setattr(results, "code_version", lambda: "another-version")
    assert results.load("exp", Cfg(), root=tmp_path) is None
    results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 2


def test_code_version_tracks_source() -> None:
    assert len(results.code_version()) == 16


def test_interrupted_write_leaves_no_result(tmp_path: Path) -> None:
    def crashing(cfg: Cfg) -> dict[str, object]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        results.load_or_run("exp", crashing, Cfg(), profile="ci", root=tmp_path)
    assert results.load("exp", Cfg(), root=tmp_path) is None


def test_interrupted_save_leaves_no_partial_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_savez(file: object, **arrays: object) -> None:
        Path(str(file)).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(results.np, "savez", broken_savez)
    with pytest.raises(OSError):
        results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)
    assert results.load("exp", Cfg(), root=tmp_path) is None
    assert list((tmp_path / "exp").iterdir()) == []


def test_damaged_result_is_recomputed(tmp_path: Path) -> None:
    fn = Counter()
    res = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    (res.path / "arrays.npz").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="damaged"):
        results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 2


def test_unknown_profile_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown profile 'laptop'.*ci, workstation, paper"):
        results.load_or_run("exp", Counter(), Cfg(), profile="laptop", root=tmp_path)


def test_object_outputs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="dtype object"):
        results.load_or_run("exp", lambda c: {"bad": [1, "a", None]}, Cfg(), profile="ci", root=tmp_path)


def test_meta_is_json(tmp_path: Path) -> None:
    res = results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)
    assert json.loads((res.path / "meta.json").read_text())["name"] == "exp"


def test_bad_names_and_configs(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        results.result_path("../x", Cfg(), tmp_path)
    with pytest.raises(TypeError, match="dataclass"):
        results.config_dict(3)


def test_load_only_never_runs(tmp_path: Path) -> None:
    fn = Counter()
    with results.load_only():
        with pytest.raises(results.ResultMissing, match="execute its section"):
            results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 0
    results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    with results.load_only():
        assert results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path).scalar("best") == 3.0
    assert fn.calls == 1
