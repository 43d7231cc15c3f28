"""Results store: experiments are functions from a frozen config to arrays, cached on disk.

A result lives in `<results_dir>/<name>/<key>/` with `arrays.npz` and `meta.json`. The key hashes
the experiment's name, its config and the package's source code, so a changed config or changed
code never reads a stale result.

The store is safe when interrupted and when several processes (two builds of one page, sweep
workers) share it:
- a result is written into a temporary folder `<name>/.tmp-<key>-…` and renamed into place in one
  step, so an interrupted write leaves nothing that can be read as a result;
- a valid result is never removed: a writer that finds one in place drops its own copy and returns
  that one; a damaged one is renamed aside, the new one renamed in, and only then the old deleted;
- `load_or_run` holds the key's lock (`<name>/.<key>.lock`, `fcntl.flock`) while it computes and
  stores, so a second process asking for the same result waits, then loads it instead of computing
  it again; the lock frees itself when its holder ends, even when killed. Without `fcntl`, or on a
  file system that refuses locks, it warns and runs unlocked: still safe, the work may be repeated;
- temporary folders left by a killed writer are deleted while their key's lock is held by the
  sweeping writer (without locks: once they are a day old), so a live writer's folder is kept;
- a damaged or unreadable result (metadata that is not an object or lacks its checksum, bad JSON,
  an unreadable archive, a permission error) is warned about and recomputed, never a crash;
- a store that cannot be written is an error before anything is computed, naming the folder and
  $BNOPT_RESULTS_DIR;
- folders and files get the permissions the umask gives, like any file the user makes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import __version__, paths
from .profiles import check_profile

try:
    import fcntl
except ImportError:  # not POSIX (Windows): results are stored without locks
    fcntl = None  # type: ignore[assignment]

Outputs = Mapping[str, Any]
_ARRAYS = "arrays.npz"
_META = "meta.json"
_TMP = ".tmp-"
_TMP_KEY = re.compile(r"\.tmp-([0-9a-f]{20})-")
_STALE_S = 24 * 3600.0
_OCCUPIED = {errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR}
_INSTALL_TRIES = 5
_LOAD_ONLY = False


class ResultMissing(LookupError):
    """Raised under `load_only()` when a result has not been computed by this code yet."""


class StoreNotWritable(OSError):
    """Raised before an experiment runs when its result could not be stored."""


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


# --- keys -----------------------------------------------------------------------------------------


def _is_source(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a real source file (editor locks, backups and links are not)."""
    return (entry.name.endswith(".py") and not entry.name.startswith((".", "#"))
            and entry.is_file(follow_symlinks=False))


def _source_files(folder: Path) -> list[Path]:
    """The real source files under `folder`, in path order, skipping hidden folders and caches."""
    found: list[Path] = []
    for here, dirs, _files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith((".", "#"))]
        with os.scandir(here) as entries:
            found += [Path(e.path) for e in entries if _is_source(e)]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def source_hash(folder: Path) -> str:
    """Hash of the paths and bytes of the real source files under `folder`."""
    digest = hashlib.sha256()
    for file in _source_files(folder):
        digest.update(file.relative_to(folder).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source file of the package: any code change gives a new version."""
    return source_hash(Path(__file__).resolve().parent)


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
    """Key of a result: hash of name, config and code version (and the step cap of a smoke run)."""
    from .smoke import steps as smoke_steps  # imports this module

    payload = {"name": name, "config": config_dict(config), "code": version or code_version()}
    cap = smoke_steps()
    if cap is not None:  # a smoke run's results can never be read as real ones
        payload["smoke"] = cap
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def result_path(name: str, config: Any, root: Path | None = None) -> Path:
    """Folder where the result of `name` at `config` is (or would be) stored."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"result name {name!r} must be a plain non-empty folder name")
    return (root or paths.results_dir()) / name / result_key(name, config)


# --- reading --------------------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_arrays(meta: Any, arrays_file: Path) -> dict[str, np.ndarray]:
    """The arrays of a result, once its metadata is an object whose checksum matches them."""
    if not isinstance(meta, dict):
        raise ValueError(f"meta.json holds a JSON {type(meta).__name__}, not an object")
    if not isinstance(meta.get("arrays_sha256"), str):
        raise ValueError("meta.json has no arrays_sha256 checksum")
    if meta["arrays_sha256"] != _file_sha256(arrays_file):
        raise ValueError("arrays.npz does not match the checksum in meta.json")
    loaded = np.load(arrays_file, allow_pickle=False)
    if not hasattr(loaded, "files"):
        raise ValueError("arrays.npz is not an .npz archive")
    with loaded as npz:
        return {k: npz[k] for k in npz.files}


def _read(folder: Path) -> tuple[Result | None, str]:
    """The result stored in `folder`, or None and why it cannot be used ('' when there is none)."""
    try:
        if not ((folder / _META).is_file() and (folder / _ARRAYS).is_file()):
            return None, ""
        meta = json.loads((folder / _META).read_text())
        return Result(_checked_arrays(meta, folder / _ARRAYS), meta, folder), ""
    except Exception as err:  # whatever makes a result unreadable, it is recomputed
        return None, f"{type(err).__name__}: {err}"


def _warn_damaged(folder: Path, problem: str) -> None:
    """Warn that the result in `folder` is ignored (and will be recomputed), if `problem` says why."""
    if problem:
        warnings.warn(f"ignoring damaged result in {folder}: {problem}; it will be recomputed",
                      stacklevel=3)


def load(name: str, config: Any, root: Path | None = None) -> Result | None:
    """The stored result of `name` at `config` for this code version, or None if there is none."""
    folder = result_path(name, config, root)
    result, problem = _read(folder)
    _warn_damaged(folder, problem)
    return result


# --- locks and the store's folder ------------------------------------------------------------------


def _not_writable(folder: Path, err: OSError) -> StoreNotWritable:
    """The error for a store folder that cannot be written, naming the folder and the fix."""
    env = os.environ.get(paths.RESULTS_ENV)
    now = f"now {env!r}" if env else "now unset, so results go to data/results of the project"
    return StoreNotWritable(f"cannot store results in {folder} ({type(err).__name__}: {err}); set "
                            f"{paths.RESULTS_ENV} to a writable folder ({now}) or make {folder} writable")


def _prepare_store(folder: Path) -> None:
    """Make the folder that will hold `folder` and check that it can be written."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f"{_TMP}probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise _not_writable(parent, err) from err


def _lock_path(folder: Path) -> Path:
    """The lock file of the result in `folder`."""
    return folder.parent / f".{folder.name}.lock"


def _open_lock(folder: Path) -> int:
    """A descriptor of the lock file of `folder` (made if missing), writable where allowed."""
    lock = _lock_path(folder)
    try:
        try:
            return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # another user's lock file in a shared store
            return os.open(lock, os.O_RDONLY)
    except OSError as err:
        raise _not_writable(folder.parent, err) from err


def _try_lock(fd: int) -> bool | None:
    """Take the lock on `fd` without waiting: True taken, False held by another, None no locks here."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


@lru_cache(maxsize=None)
def _warn_no_locks(store: Path) -> None:
    """Warn, once per store folder, that results there are stored without locks."""
    why = "fcntl is not available" if fcntl is None else "the file system refuses file locks"
    warnings.warn(f"results in {store} are stored without locks ({why}): processes computing the "
                  "same result at once each compute it (each still stores it safely)", stacklevel=5)


@contextmanager
def _key_lock(folder: Path) -> Iterator[bool]:
    """Hold the lock of the result in `folder`, waiting for any other holder; yields whether it is locked."""
    fd = _open_lock(folder)
    try:
        state = _try_lock(fd)
        if state is False:
            print(f"waiting for another process computing {folder} (lock {_lock_path(folder)})",
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = True
        if state is None:
            _warn_no_locks(folder.parent.parent)
        yield bool(state)
    finally:
        os.close(fd)  # closing the descriptor frees the lock


# --- writing --------------------------------------------------------------------------------------


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


def _remove(path: Path) -> None:
    """Delete a folder or file if it is there, leaving what cannot be deleted."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()


def _age_s(path: Path) -> float:
    """Seconds since `path` was last modified (0 when it is gone)."""
    try:
        return time.time() - path.lstat().st_mtime
    except OSError:
        return 0.0


def _remove_if_unlocked(tmp: Path, folder: Path) -> None:
    """Delete `tmp`, a temporary folder of the result in `folder`, if no writer holds that key's lock."""
    fd = _open_lock(folder)
    try:
        if _try_lock(fd):
            _remove(tmp)
    finally:
        os.close(fd)


def _sweep(folder: Path, locked: bool) -> None:
    """Delete temporary folders dead writers left beside `folder`; `locked`: this process holds its lock."""
    try:
        leftovers = [p for p in folder.parent.iterdir() if p.name.startswith(_TMP)]
    except OSError:
        return
    for tmp in leftovers:
        match = _TMP_KEY.match(tmp.name)
        with suppress(OSError):  # what cannot be swept now is swept by a later writer
            if locked and match and match[1] == folder.name:
                _remove(tmp)
            elif locked and match:
                _remove_if_unlocked(tmp, folder.parent / match[1])
            elif _age_s(tmp) > _STALE_S:
                _remove(tmp)


def _rename_into(src: Path, dst: Path) -> bool:
    """Rename `src` to `dst`; False (nothing moved) when `dst` is already taken."""
    try:
        os.rename(src, dst)
    except OSError as err:
        if err.errno in _OCCUPIED:
            return False
        raise
    return True


def _swap(tmp: Path, folder: Path) -> bool:
    """Move the result in `folder` aside, rename `tmp` in, then delete the old one; False if another won."""
    aside = folder.parent / f"{_TMP}{folder.name}-old-{secrets.token_hex(8)}"
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return False
    try:
        placed = _rename_into(tmp, folder)
    except OSError:
        with suppress(OSError):
            os.rename(aside, folder)
        raise
    _remove(aside)
    return placed


def _install(tmp: Path, folder: Path, replace: bool) -> Result | None:
    """Put `tmp` in place as `folder`: None once it is there, or the valid result found there (kept)."""
    for _ in range(_INSTALL_TRIES):
        if _rename_into(tmp, folder):
            return None
        existing, _problem = _read(folder)
        if existing is not None and not replace:
            return existing
        if _swap(tmp, folder):
            return None
    raise OSError(f"could not put a result into {folder}: other writers kept replacing it; run one "
                  f"build at a time or give each its own {paths.RESULTS_ENV}")


def _meta(name: str, folder: Path, config: Any, outputs: Outputs, profile: str,
          wall_time_s: float) -> dict[str, Any]:
    """The metadata of a new result (its checksum is added once the arrays are written)."""
    return {
        "name": name, "key": folder.name, "config": config_dict(config), "profile": profile,
        "code_version": code_version(), "package_version": __version__,
        "git_revision": _git_revision(), "wall_time_s": wall_time_s,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(), "data": str(outputs.get("dataset", "")),
        "provenance": outputs.get("provenance", {}),
    }


def _write(tmp: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write the arrays and metadata (with the arrays' checksum) into `tmp`, flushed to disk."""
    np.savez(tmp / _ARRAYS, **arrays)
    meta["arrays_sha256"] = _file_sha256(tmp / _ARRAYS)
    (tmp / _META).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    for file in tmp.iterdir():
        with file.open("rb") as fh:
            os.fsync(fh.fileno())


def _store(folder: Path, name: str, config: Any, outputs: Outputs, *, profile: str,
           wall_time_s: float, locked: bool, replace: bool) -> Result:
    """Write outputs beside `folder` and put them in place; `locked`: the caller holds the key's lock."""
    arrays = _as_arrays(outputs)
    meta = _meta(name, folder, config, outputs, profile, wall_time_s)
    _sweep(folder, locked)
    tmp = folder.parent / f"{_TMP}{folder.name}-{os.getpid()}-{secrets.token_hex(8)}"
    tmp.mkdir()  # mode 0o777 less the umask, like the user's other folders
    try:
        _write(tmp, arrays, meta)
        existing = _install(tmp, folder, replace)
    finally:
        _remove(tmp)
    return existing or Result(arrays, meta, folder)


def save(name: str, config: Any, outputs: Outputs, *, profile: str, wall_time_s: float,
         root: Path | None = None, replace: bool = False) -> Result:
    """Store outputs atomically under the key's lock; a valid stored result is kept unless `replace`."""
    folder = result_path(name, config, root)
    _prepare_store(folder)
    with _key_lock(folder) as locked:
        return _store(folder, name, config, outputs, profile=profile, wall_time_s=wall_time_s,
                      locked=locked, replace=replace)


# --- running --------------------------------------------------------------------------------------


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


PROGRESS_ENV = "BNOPT_PROGRESS"  # a file the build reads to show, in the terminal, what is running


_RUNNING: list[str] = []  # names of the experiments this process is computing, innermost last


def running() -> str:
    """The name of the experiment this process is computing ('' when none)."""
    return _RUNNING[-1] if _RUNNING else ""


@contextmanager
def computing(name: str) -> Iterator[None]:
    """Mark this process as computing experiment `name` ('' leaves the mark as it is) while the block runs."""
    _RUNNING.append(name or running())
    try:
        yield
    finally:
        _RUNNING.pop()


def report(event: str, name: str, **extra: Any) -> None:
    """Append one progress event ("start", "done", "loaded", "plan") to $BNOPT_PROGRESS, if set.

    `bnopt.build` sets it for each page and prints the events as they come, so a long page shows
    which experiment runs and how many are done, while the notebook's own output stays clean.
    """
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "name": name, "pid": os.getpid(), "time": time.time(), **extra})
    with suppress(OSError):  # progress is a courtesy: it never stops an experiment
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def load_or_run(name: str, fn: Callable[[Any], Outputs], config: Any, *, profile: str,
                root: Path | None = None, force: bool = False) -> Result:
    """The stored result of `fn(config)` if this code already made it, else run, store and return it.

    The store is checked for writability before `fn` runs. While `fn` runs this process holds the
    key's lock: another process asking for the same result waits, then loads it.
    """
    check_profile(profile)
    folder = result_path(name, config, root)
    cached, problem = (None, "") if force else _read(folder)
    _warn_damaged(folder, problem)
    if cached is not None:
        report("loaded", name)
        return cached
    if _LOAD_ONLY:
        raise ResultMissing(f"no stored result '{name}' for this config and code version; "
                            "execute its section's notebook first")
    _prepare_store(folder)
    with _key_lock(folder) as locked:
        cached, again = (None, "") if force else _read(folder)  # another process may have made it
        if cached is not None:
            report("loaded", name)
            return cached
        _warn_damaged(folder, again if again != problem else "")
        report("start", name)
        start = time.perf_counter()
        with computing(name):
            outputs = fn(config)
        stored = _store(folder, name, config, outputs, profile=profile,
                        wall_time_s=time.perf_counter() - start, locked=locked, replace=force)
        report("done", name, seconds=round(time.perf_counter() - start, 1))
        return stored


# --- runs that could not be made ------------------------------------------------------------------

NOT_RUN = "not run"


def not_run(name: str, reason: str, profile: str) -> Result:
    """An unstored Result saying that experiment `name` was not run, and why (e.g. its data is absent)."""
    arrays = {"status": np.asarray(NOT_RUN), "reason": np.asarray(reason)}
    return Result(arrays, {"name": name, "data": "", "profile": profile}, Path("<not stored>"))


def is_run(res: Result) -> bool:
    """Whether a result holds an experiment's output (False for `not_run` results)."""
    return "status" not in res.arrays or str(res.arrays["status"]) != NOT_RUN


def not_run_reason(results_: Sequence[Result]) -> str:
    """The distinct reasons of the given `not_run` results, joined ('' when there are none)."""
    reasons = dict.fromkeys(str(r.arrays["reason"]) for r in results_ if not is_run(r))
    return " ".join(reasons)


def load_or_not_run(name: str, fn: Callable[[Any], Outputs], config: Any, *, profile: str,
                    dataset: str | None, root: Path | None = None, force: bool = False) -> Result:
    """`load_or_run`, or a `not_run` result when the `dataset` that `fn` needs is absent.

    Absent files are first looked for and downloaded as `bnopt.data` does; under `load_only()` a
    missing result whose dataset is absent is "not run" too, not `ResultMissing`.
    """
    from . import data

    if dataset is not None and _LOAD_ONLY and not force and not data.available(dataset):
        stored = load(name, config, root)
        return stored if stored is not None else not_run(name, data.missing_reason(dataset), profile)
    try:
        return load_or_run(name, fn, config, profile=profile, root=root, force=force)
    except data.DataNotFoundError as err:
        return not_run(name, f"data not found: {err}", profile)
