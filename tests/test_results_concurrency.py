"""Results store under real concurrent processes: no crash, every result loads, none computed twice."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROCESSES = 3
KEYS = 30

WORKER = r'''
"""One build racing the others: load_or_run every key, report the result folder each call returned."""
import json, os, sys, time, warnings
from pathlib import Path

import numpy as np

from bnopt import results

root, logs, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
processes, keys = int(sys.argv[4]), int(sys.argv[5])
results.code_version = lambda: "race-test"  # the same keys whatever the source tree holds meanwhile
results._git_revision = lambda: "race-test"
if mode == "unlocked":
    results.fcntl = None  # every writer renames at once: the race the lock otherwise prevents
    warnings.simplefilter("ignore")


def experiment(cfg):
    with open(logs / f"{cfg['i']}.log", "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(0.01)
    return {"x": np.arange(cfg["i"] + 1), "who": os.getpid()}


(logs / f"ready-{os.getpid()}").touch()
while len(list(logs.glob("ready-*"))) < processes:  # start together
    time.sleep(0.005)
seen = {}
for i in range(keys):
    res = results.load_or_run("race", experiment, {"i": i}, profile="ci", root=root)
    assert res["x"].tolist() == list(range(i + 1)), (i, res["x"])
    seen[i] = [res.path.stat().st_ino, (res.path / "arrays.npz").stat().st_ino]
for i in range(keys):
    assert results.load("race", {"i": i}, root=root) is not None, i
print(json.dumps(seen))
'''


def _race(tmp_path: Path, mode: str) -> tuple[list[dict[str, list[int]]], dict[int, int], Path]:
    """Run the racing builds; what each saw, how often each key was computed, and the store."""
    script, root, logs = tmp_path / "worker.py", tmp_path / "store", tmp_path / "logs"
    script.write_text(WORKER)
    logs.mkdir()
    args = [sys.executable, str(script), str(root), str(logs), mode, str(PROCESSES), str(KEYS)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
    counts = {i: len((logs / f"{i}.log").read_text().split()) for i in range(KEYS)}
    return [json.loads(out.strip().splitlines()[-1]) for out, _err in outs], counts, root


def _final_inodes(root: Path) -> dict[str, list[int]]:
    """Inodes of each stored result's folder and archive, keyed like the workers' reports."""
    meta = {json.loads((f / "meta.json").read_text())["config"]["i"]: f for f in (root / "race").iterdir()
            if f.is_dir() and not f.name.startswith(".")}
    return {str(i): [f.stat().st_ino, (f / "arrays.npz").stat().st_ino] for i, f in meta.items()}


@pytest.mark.skipif(importlib.util.find_spec("fcntl") is None, reason="the store locks with fcntl (POSIX)")
def test_concurrent_builds_compute_each_result_once(tmp_path: Path) -> None:
    seen, counts, root = _race(tmp_path, "locked")
    assert counts == {i: 1 for i in range(KEYS)}
    final = _final_inodes(root)
    assert len(final) == KEYS and all(report == final for report in seen)
    assert [p.name for p in (root / "race").iterdir() if p.name.startswith(".tmp-")] == []


def test_unlocked_racing_writers_never_crash_nor_remove_a_live_result(tmp_path: Path) -> None:
    seen, counts, root = _race(tmp_path, "unlocked")
    assert all(1 <= n <= PROCESSES for n in counts.values())
    final = _final_inodes(root)
    assert len(final) == KEYS and all(report == final for report in seen)  # the first result in stays
    assert [p.name for p in (root / "race").iterdir() if p.name.startswith(".tmp-")] == []
