"""Results store: hit, miss, config change, code change, interrupted and damaged writes, safe writing."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
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
    assert [p.name for p in (tmp_path / "exp").iterdir() if not p.name.endswith(".lock")] == []


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


# --- damaged metadata, unwritable stores, racing saves, leftovers, permissions, code hash ------


def _no_leftovers(folder: Path) -> list[str]:
    """Names of temporary folders left in an experiment's folder."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("meta_text", ["[]", "{}", "null", "3", '{"arrays_sha256": 3}', "{not json"])
def test_odd_metadata_is_recomputed(tmp_path: Path, meta_text: str) -> None:
    fn = Counter()
    res = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    (res.path / "meta.json").write_text(meta_text)
    with pytest.warns(UserWarning, match="damaged"):
        assert results.load("exp", Cfg(), root=tmp_path) is None
    with pytest.warns(UserWarning, match="damaged"):
        again = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 2 and again.scalar("best") == 3.0
    assert results.load("exp", Cfg(), root=tmp_path) is not None and _no_leftovers(tmp_path / "exp") == []


def test_unreadable_archive_is_recomputed(tmp_path: Path) -> None:
    fn = Counter()
    res = results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    (res.path / "arrays.npz").write_bytes(b"PK\x03\x04 not a zip")
    meta = json.loads((res.path / "meta.json").read_text())
    meta["arrays_sha256"] = results._file_sha256(res.path / "arrays.npz")  # checksum matches the garbage
    (res.path / "meta.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="damaged"):
        results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert fn.calls == 2


def test_permission_error_reading_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)

    def denied(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(results, "_file_sha256", denied)
    with pytest.warns(UserWarning, match="damaged.*PermissionError"):
        assert results.load("exp", Cfg(), root=tmp_path) is None


def test_unwritable_store_fails_before_computing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file, so nothing can be made under it, not even by root")
    store = blocker / "results"
    fn = Counter()
    monkeypatch.setenv("BNOPT_RESULTS_DIR", str(store))
    fix = "set BNOPT_RESULTS_DIR to a writable folder"
    with pytest.raises(results.StoreNotWritable, match=re.escape(str(store)) + ".*" + fix):
        results.load_or_run("exp", fn, Cfg(), profile="ci")
    with pytest.raises(results.StoreNotWritable, match="BNOPT_RESULTS_DIR"):
        results.load_or_run("exp", fn, Cfg(), profile="ci", root=store)
    assert fn.calls == 0
    with results.load_only(), pytest.raises(results.ResultMissing):
        results.load_or_run("exp", fn, Cfg(), profile="ci")


def test_racing_save_keeps_the_valid_result(tmp_path: Path) -> None:
    first = results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)
    inodes = (first.path.stat().st_ino, (first.path / "arrays.npz").stat().st_ino)
    late = results.save("exp", Cfg(), {"x": np.zeros(9)}, profile="ci", wall_time_s=0.0, root=tmp_path)
    assert np.array_equal(late["x"], first["x"]) and late.meta == first.meta
    assert (first.path.stat().st_ino, (first.path / "arrays.npz").stat().st_ino) == inodes
    assert _no_leftovers(tmp_path / "exp") == []


def test_damaged_result_is_replaced_then_deleted(tmp_path: Path) -> None:
    first = results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)
    (first.path / "meta.json").write_text("[]")
    new = results.save("exp", Cfg(), {"x": np.zeros(9)}, profile="ci", wall_time_s=0.0, root=tmp_path)
    assert new["x"].shape == (9,) and results.load("exp", Cfg(), root=tmp_path)["x"].shape == (9,)
    assert _no_leftovers(tmp_path / "exp") == []


def test_force_replaces_a_valid_result(tmp_path: Path) -> None:
    fn = Counter()
    results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path, force=True)
    assert fn.calls == 2 and _no_leftovers(tmp_path / "exp") == []
    assert results.load("exp", Cfg(), root=tmp_path) is not None


def _leftover(folder: Path, tag: str) -> Path:
    """A temporary folder like one a writer killed mid-save leaves beside the result `folder`."""
    tmp = folder.parent / f".tmp-{folder.name}-{tag}"
    tmp.mkdir(parents=True)
    (tmp / "arrays.npz").write_bytes(b"half")
    return tmp


def test_stale_temp_folders_are_swept_live_ones_kept(tmp_path: Path) -> None:
    mine = results.result_path("exp", Cfg(n=3), tmp_path)
    idle = results.result_path("exp", Cfg(n=4), tmp_path)
    busy = results.result_path("exp", Cfg(n=5), tmp_path)
    dead = [_leftover(mine, "111-killed"), _leftover(mine, "old-222"), _leftover(idle, "333-killed")]
    live = _leftover(busy, "444-writing")
    with results._key_lock(busy):  # a writer of that key is still at work
        results.load_or_run("exp", Counter(), Cfg(n=3), profile="ci", root=tmp_path)
    assert not any(p.exists() for p in dead) and live.exists()


def test_without_locks_only_day_old_temp_folders_are_swept(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "fcntl", None)
    results._warn_no_locks.cache_clear()
    folder = results.result_path("exp", Cfg(), tmp_path)
    young, old = _leftover(folder, "1-young"), _leftover(folder, "2-old")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    fn = Counter()
    with pytest.warns(UserWarning, match="without locks"):
        results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path)
    assert young.exists() and not old.exists()
    assert results.load_or_run("exp", fn, Cfg(), profile="ci", root=tmp_path) and fn.calls == 1


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o007, 0o770, 0o660)])
def test_permissions_follow_the_umask(tmp_path: Path, umask: int, folder_mode: int, file_mode: int) -> None:
    previous = os.umask(umask)
    try:
        res = results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path / "store")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(res.path.stat().st_mode) == folder_mode
    assert stat.S_IMODE(res.path.parent.stat().st_mode) == folder_mode
    for name in ("arrays.npz", "meta.json"):
        assert stat.S_IMODE((res.path / name).stat().st_mode) == file_mode


def test_editor_files_do_not_change_the_code_hash(tmp_path: Path) -> None:
    copy = tmp_path / "bnopt"
    shutil.copytree(Path(results.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = results.source_hash(copy)
    (copy / ".#ols.py").symlink_to("root@host.4242:1700000000")  # an editor's lock: a dangling link
    (copy / "#ols.py").write_text("autosave")
    (copy / "alias.py").symlink_to(copy / "ols.py")
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "ols.py").write_text("cached")
    (copy / ".hidden").mkdir()
    (copy / ".hidden" / "x.py").write_text("x = 1\n")
    assert results.source_hash(copy) == before
    (copy / "extra.py").write_text("x = 1\n")
    assert results.source_hash(copy) != before


def test_not_run_results_say_why_and_are_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNOPT_DATA_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()

    def needs_mnist(cfg: Cfg) -> dict[str, object]:
        from bnopt import data

        data.load_dataset("mnist", "train", download=False)
        return {"x": np.zeros(1)}

    res = results.load_or_not_run("exp", needs_mnist, Cfg(), profile="ci", dataset="mnist", root=tmp_path)
    assert not results.is_run(res) and "mnist" in results.not_run_reason([res])
    assert not (tmp_path / "exp").exists() or not any((tmp_path / "exp").glob("*/meta.json"))
    with results.load_only():
        res = results.load_or_not_run("exp", needs_mnist, Cfg(), profile="ci", dataset="mnist", root=tmp_path)
        assert not results.is_run(res) and "data not found: mnist needs mnist/" in results.not_run_reason([res])
    stored = results.load_or_run("exp", Counter(), Cfg(), profile="ci", root=tmp_path)
    with results.load_only():  # a result already stored is used even though its data is now absent
        again = results.load_or_not_run("exp", needs_mnist, Cfg(), profile="ci", dataset="mnist", root=tmp_path)
    assert results.is_run(again) and np.array_equal(again["x"], stored["x"])
    assert results.is_run(stored) and results.not_run_reason([stored]) == ""
