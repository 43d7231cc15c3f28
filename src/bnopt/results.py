"""Results store: experiments are functions from a frozen config to arrays, cached on disk.

A result lives in `<results_dir>/<name>/<key>/` with `arrays.npz` and `meta.json`. The key hashes
the experiment's name, its config and the package's source code, so a changed config or changed
code never reads a stale result. A result is written into a temporary folder and renamed into place
in one step, so an interrupted write leaves nothing that can be read as a result.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from . import __version__, paths
from .profiles import check_profile

Outputs = Mapping[str, Any]
_ARRAYS = "arrays.npz"
_META = "meta.json"
_LOAD_ONLY = False


class ResultMissing(LookupError):
    """Raised under `load_only()` when a result has not been computed by this code yet."""


@dataclass(frozen=True)
class Result:
    """Arrays an experiment produced, with the metadata of the run that produced them."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def scalar(self, key: str) -> Any:
        """A 0-d array as a Python scalar."""
        return self.arrays[key].item()

    @property
    def dataset(self) -> str:
        """The dataset variant the result rests on ('' when none was recorded)."""
        return str(self.meta.get("data", ""))


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source file of the package: any code change gives a new version."""
    digest = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for file in sorted(pkg.rglob("*.py")):
        digest.update(file.relative_to(pkg).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-ready dict; anything else is rejected with the reason."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        raw = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        raw = dict(config)
    else:
        raise TypeError(f"config must be a dataclass instance or a mapping, not {type(config).__name__}")
    try:
        return json.loads(json.dumps(raw, sort_keys=True, allow_nan=True))
    except TypeError as err:
        raise TypeError(f"config {raw!r} is not JSON-serialisable ({err}); use numbers, strings, "
                        "tuples and nested dataclasses only") from err


def result_key(name: str, config: Any, version: str | None = None) -> str:
    """Key of a result: hash of name, config and code version."""
    payload = {"name": name, "config": config_dict(config), "code": version or code_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def result_path(name: str, config: Any, root: Path | None = None) -> Path:
    """Folder where the result of `name` at `config` is (or would be) stored."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"result name {name!r} must be a plain non-empty folder name")
    return (root or paths.results_dir()) / name / result_key(name, config)


def _file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(name: str, config: Any, root: Path | None = None) -> Result | None:
    """The stored result of `name` at `config` for this code version, or None if there is none."""
    folder = result_path(name, config, root)
    meta_file, arrays_file = folder / _META, folder / _ARRAYS
    if not (meta_file.is_file() and arrays_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("arrays_sha256") != _file_sha256(arrays_file):
            raise ValueError("arrays.npz does not match the checksum in meta.json")
        with np.load(arrays_file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, json.JSONDecodeError) as err:
        warnings.warn(f"ignoring damaged result in {folder}: {err}; it will be recomputed", stacklevel=2)
        return None
    return Result(arrays, meta, folder)


def _as_arrays(outputs: Outputs) -> dict[str, np.ndarray]:
    """Experiment outputs as plain (non-object) numpy arrays."""
    arrays = {}
    for key, value in outputs.items():
        if key == "provenance":
            continue
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"output {key!r} is not a numeric or string array (dtype object); "
                            "return numbers, strings or arrays of them")
        arrays[key] = arr
    return arrays


def _git_revision() -> str:
    """Current git revision of the project, with '-dirty' when the tree has changes."""
    root = paths.project_root()
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def library_versions() -> dict[str, str]:
    """Versions of Python, the platform and the numerical libraries in use."""
    versions = {"python": platform.python_version(), "platform": platform.platform(),
                "numpy": np.__version__, "bnopt": __version__}
    torch = sys.modules.get("torch")
    if torch is not None:
        versions["torch"] = torch.__version__
        versions["torch_threads"] = str(torch.get_num_threads())
    return versions


def save(name: str, config: Any, outputs: Outputs, *, profile: str, wall_time_s: float,
         root: Path | None = None) -> Result:
    """Store outputs atomically (write to a temporary folder, then rename it into place)."""
    final = result_path(name, config, root)
    arrays = _as_arrays(outputs)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        np.savez(tmp / _ARRAYS, **arrays)
        meta = {
            "name": name, "key": final.name, "config": config_dict(config), "profile": profile,
            "code_version": code_version(), "package_version": __version__,
            "git_revision": _git_revision(), "wall_time_s": wall_time_s,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "libraries": library_versions(), "data": str(outputs.get("dataset", "")),
            "provenance": outputs.get("provenance", {}),
            "arrays_sha256": _file_sha256(tmp / _ARRAYS),
        }
        (tmp / _META).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
        for file in tmp.iterdir():
            with file.open("rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Result(arrays, meta, final)


def loading_only() -> bool:
    """Whether this process is inside a `load_only()` block."""
    return _LOAD_ONLY


@contextmanager
def load_only() -> Iterator[None]:
    """Within this block `load_or_run` never runs an experiment: a missing result raises ResultMissing."""
    global _LOAD_ONLY
    previous, _LOAD_ONLY = _LOAD_ONLY, True
    try:
        yield
    finally:
        _LOAD_ONLY = previous


def load_or_run(name: str, fn: Callable[[Any], Outputs], config: Any, *, profile: str,
                root: Path | None = None, force: bool = False) -> Result:
    """The stored result of `fn(config)` if this code already made it, else run, store and return it."""
    check_profile(profile)
    if not force:
        cached = load(name, config, root)
        if cached is not None:
            return cached
    if _LOAD_ONLY:
        raise ResultMissing(f"no stored result '{name}' for this config and code version; "
                            "execute its section's notebook first")
    start = time.perf_counter()
    outputs = fn(config)
    return save(name, config, outputs, profile=profile, wall_time_s=time.perf_counter() - start, root=root)
