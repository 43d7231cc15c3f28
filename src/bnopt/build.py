"""Build the book: execute every notebook with papermill at a profile, then compile the site.

    python -m bnopt.build --profile ci            # execute all notebooks, then build the HTML
    python -m bnopt.build --profile ci --only ols_theory   # re-execute one page, then build
    python -m bnopt.build --profile paper --smoke        # every loop 5 steps: find bugs, estimate times

Notebooks are the py:percent files in `book/`; executed copies (`book/<page>.ipynb`) are build
outputs. A notebook runs into `_build/executing/` and is moved to `book/` only once every cell ran,
so a half-executed page is never published; a page that stops (a failing cell, a dead kernel,
Ctrl-C) is kept as `_build/failed/<page>.ipynb`, and the build ends with one line naming the
pages finished, the page and cell that stopped, and the command that resumes (experiments already
finished are loaded from the results folder). Before the site compiles, every notebook page must be
executed completely at the build's profile; otherwise the build names the pages and the command
that executes them. The site is compiled with execution off and warnings as errors, so a missing
page or a broken reference fails the build.

The profile is --profile, else $PROFILE, else `ci`. Relative $BNOPT_DATA_DIR, $BNOPT_RESULTS_DIR
and $BNOPT_CACHE_DIR are taken relative to the directory the command runs in (the notebooks
themselves run in `book/`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import paths, profiles
from .results import PROGRESS_ENV

BOOK = "book"
TIMES_FILE = "notebook-times.json"
EXECUTING = "executing"  # under _build/: notebooks while they run
FAILED = "failed"  # under _build/: notebooks that stopped part-way
PROFILE_ENV = "PROFILE"
DIR_ENVS = (paths.DATA_ENV, paths.RESULTS_ENV, paths.CACHE_ENV)
INTERRUPTED = 130  # exit status after Ctrl-C, as a shell reports it
SMOKE_STEPS = 5  # steps per training loop of `--smoke`
# Pages that summarise the others run after them: the ledger reads the sections' stored results,
# the intro quotes the ledger, and the reproducing page shows every page's time.
EXECUTED_LAST = ("claims", "intro", "reproducing")


def toc_pages(book_dir: Path) -> list[str]:
    """Page names (file stems) in the order of `_toc.yml`."""
    import yaml

    toc = yaml.safe_load((book_dir / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


def notebook_pages(book_dir: Path) -> list[str]:
    """Notebook pages (py:percent) of the table of contents, in the order they are executed."""
    pages = [p for p in toc_pages(book_dir) if (book_dir / f"{p}.py").is_file()]
    last = [p for p in EXECUTED_LAST if p in pages]
    return [p for p in pages if p not in last] + last


def check_executed(path: Path) -> None:
    """Raise if a notebook has an unexecuted code cell or an error output."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not cell["source"]:
            continue
        if cell.get("execution_count") is None:
            raise RuntimeError(f"{path.name}: code cell {i} was not executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise RuntimeError(f"{path.name}: cell {i} has an error output: {out.get('ename')}")


def executed_profile(path: Path) -> str | None:
    """The profile papermill executed a notebook at (its recorded parameters), None if not recorded."""
    nb = json.loads(path.read_text())
    profile = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}).get("profile")
    return profile if isinstance(profile, str) else None


def page_problem(path: Path, profile: str) -> str | None:
    """Why executed notebook `path` cannot be published at `profile` (None: it can)."""
    if not path.is_file():
        return "no executed notebook"
    try:
        check_executed(path)
        done_at = executed_profile(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:  # not a readable notebook
        return f"not a readable notebook ({err})"
    except RuntimeError as err:
        return str(err).removeprefix(f"{path.name}: ")
    if done_at != profile:
        return f"executed at profile {done_at}" if done_at else "no profile recorded"
    return None


def unexecuted_pages(book_dir: Path, profile: str, pages: Iterable[str] | None = None) -> dict[str, str]:
    """Notebook pages (default: all of the toc) not executed completely at `profile`: page -> why."""
    pages = notebook_pages(book_dir) if pages is None else pages
    problems = {p: page_problem(book_dir / f"{p}.ipynb", profile) for p in pages}
    return {p: why for p, why in problems.items() if why is not None}


def shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (as a reader types it)."""
    here, there = os.path.abspath(os.getcwd()), os.path.abspath(path)
    return os.path.relpath(there, here) if there.startswith(here + os.sep) else there


def build_command(profile: str, pages: Sequence[str] = (), no_site: bool = False) -> str:
    """The shell command that executes `pages` (none: every page) at `profile`, as a reader types it."""
    exe = shown(Path(sys.executable))
    cmd = [exe, "-m", "bnopt.build", "--profile", profile]
    cmd += ["--only", *pages] if pages else []
    cmd += ["--no-site"] if no_site else []
    return shlex.join(cmd)


def unexecuted_message(missing: dict[str, str], profile: str, order: Sequence[str],
                       also: Sequence[str] = ()) -> str:
    """The error for pages the site lacks, with the command that executes them (and the pages `also`)."""
    pages = [p for p in order if p in missing or p in also]
    by_reason: dict[str, list[str]] = {}
    for page, why in missing.items():
        by_reason.setdefault(why, []).append(page)
    listed = "; ".join(f"{', '.join(ps)} ({why})" for why, ps in by_reason.items())
    other = "or add --no-site to execute only the chosen pages, " if also else ""
    return (f"[book] cannot compile the site: these pages are not executed completely at profile {profile}: "
            f"{listed}. Execute them with: {build_command(profile, pages)}  "
            f"({other}or `make book PROFILE={profile}` to execute every page)")


def hide_parameter_cells(path: Path) -> None:
    """Tag the parameters cell and papermill's injected one `remove-cell`: the page header shows the profile."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
    path.write_text(json.dumps(nb, indent=1))


def failed_path(page: str, out: Path) -> Path:
    """Where a page's partly executed notebook is kept: `_build/failed/<page>.ipynb`."""
    return out / FAILED / f"{page}.ipynb"


def execute(page: str, book_dir: Path, profile: str, out: Path | None = None, dest: Path | None = None) -> float:
    """Execute `book/<page>.py` with papermill into `book/<page>.ipynb` (or `dest/`); return seconds taken.

    The notebook is written to `<out>/executing/` (out: `_build/` beside the book) while it runs
    and moved into `book/` once every cell ran; if execution stops, the partial notebook is moved
    to `failed_path(page, out)` and the error is raised again.
    """
    import jupytext
    import papermill

    out = book_dir.parent / "_build" if out is None else out
    running, failed = out / EXECUTING / f"{page}.ipynb", failed_path(page, out)
    running.parent.mkdir(parents=True, exist_ok=True)
    for stale in (running, failed):
        stale.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / f"{page}.ipynb"
        jupytext.write(jupytext.read(book_dir / f"{page}.py"), raw)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(raw), str(running), parameters={"profile": profile},
                                       kernel_name="python3", cwd=str(book_dir), progress_bar=False)
            seconds = time.perf_counter() - start
            check_executed(running)
        except BaseException:  # a failing cell, a dead kernel, Ctrl-C: keep what ran for the reader
            if running.is_file():
                failed.parent.mkdir(parents=True, exist_ok=True)
                os.replace(running, failed)
            raise
    hide_parameter_cells(running)
    (dest or book_dir).mkdir(parents=True, exist_ok=True)
    os.replace(running, (dest or book_dir) / f"{page}.ipynb")
    return seconds


def stopped_cell(path: Path) -> int | None:
    """Index of the last cell papermill started in a partial notebook (the one that stopped), if any."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    started = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def cell_source(path: Path, index: int | None) -> str:
    """The source of cell `index` of notebook `path` ('' if unknown)."""
    try:
        source = json.loads(path.read_text())["cells"][index]["source"]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return ""
    return "".join(source) if isinstance(source, list) else str(source)


def cell_label(index: int | None, source: str = "", exec_count: int | None = None) -> str:
    """'cell 7 (In [4]: `res = run_all(profile)`)': a cell and its first line; '' if unknown."""
    if index is None:
        return ""
    lines = source.strip().splitlines()
    parts = ([f"In [{exec_count}]"] if exec_count is not None else []) + ([f"`{lines[0][:60]}`"] if lines else [])
    return f"cell {index}" + (f" ({': '.join(parts)})" if parts else "")


def describe_stop(page: str, err: BaseException, out: Path) -> str:
    """What stopped a page and where, e.g. 'ics failed at cell 7 (In [4]: `fit()`): ValueError: x; ...'."""
    from papermill.exceptions import PapermillExecutionError

    partial = failed_path(page, out)
    if isinstance(err, PapermillExecutionError):
        where = cell_label(err.cell_index, err.source, err.exec_count)  # papermill's own cell numbering
        what = f"{err.ename}: {err.evalue}"
    else:
        index = stopped_cell(partial)
        where = cell_label(index, cell_source(partial, index))
        what = ("the kernel died (killed, or out of memory)" if type(err).__name__ == "DeadKernelError"
                else f"{type(err).__name__}: {err}")
    what, at = (what.strip().splitlines() or [""])[0], f" at {where}" if where else ""
    text = f"{page} was interrupted{at}" if isinstance(err, KeyboardInterrupt) else f"{page} failed{at}: {what}"
    return text + (f"; what ran is kept in {shown(partial)}" if partial.is_file() else "")


def stop_line(finished: Sequence[str], stopped: str, rerun: str) -> str:
    """The one line a stopped build ends with: pages finished, the page that stopped, how to resume."""
    return (f"[book] stopped. Finished in this build: {', '.join(finished) or 'none'}; {stopped.rstrip('.')}. "
            f"A rerun resumes from the stored results in {paths.results_dir()} (finished experiments "
            f"are loaded, not recomputed): {rerun}")


def load_times(path: Path) -> dict[str, dict[str, Any]]:
    """Stored seconds per page ({page: {seconds, profile}}); a damaged file is ignored with a warning."""
    if not path.is_file():
        return {}
    try:
        times = json.loads(path.read_text())
    except ValueError as err:
        times, why = None, f"not valid JSON ({err})"
    else:
        why = "not a {page: {seconds, profile}} table"
    ok = isinstance(times, dict) and all(
        isinstance(t, dict) and isinstance(t.get("seconds"), (int, float)) and isinstance(t.get("profile"), str)
        for t in times.values())
    if not ok:
        print(f"[book] warning: ignoring {path}: {why}; page times start afresh", file=sys.stderr)
        return {}
    return times


def absolute_dir_envs(start: Path) -> None:
    """Make $BNOPT_DATA_DIR/_RESULTS_DIR/_CACHE_DIR absolute against `start` (notebooks run in `book/`).

    An empty value means unset and is removed. The kernels inherit the environment.
    """
    for name in DIR_ENVS:
        value = os.environ.get(name)
        if value is None:
            continue
        if not value.strip():
            del os.environ[name]
            continue
        os.environ[name] = os.path.abspath(start / Path(value).expanduser())


def default_profile() -> str:
    """$PROFILE (the default of --profile), else 'ci'; an unknown value raises naming PROFILE."""
    value = os.environ.get(PROFILE_ENV, "").strip()
    if value and value not in profiles.PROFILES:
        raise profiles.UnknownProfileError(
            f"{PROFILE_ENV}={value!r} (the default of --profile) is not a profile; set {PROFILE_ENV} to one of "
            f"{', '.join(profiles.PROFILES)}, unset it, or pass --profile")
    return value or "ci"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, to tell a slow page from a busy machine ('?' where unknown)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def bar(done: int, total: int, width: int = 20) -> str:
    """A text progress bar, e.g. '[#####...............] 3/12'."""
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


class Progress:
    """Prints a page's experiment events (`results.report`, read from a file) while the page runs.

    One line per experiment that starts on its own, one line with a bar for each finished run of a
    planned batch (a seed study, a sweep's jobs); stored results that are only loaded are counted and
    summed up in the last line. The notebook's own output is untouched.
    """

    def __init__(self, page: str, path: Path, poll_s: float = 1.0) -> None:
        self.page, self.path, self.poll_s = page, path, poll_s
        self.plans: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.loaded = self.computed = 0
        self.smoke: list[dict[str, Any]] = []  # the "smoke" events of a smoke run (`bnopt.smoke`)
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"progress-{page}", daemon=True)

    def __enter__(self) -> "Progress":
        self.path.write_text("")
        os.environ[PROGRESS_ENV] = str(self.path)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.read()
        os.environ.pop(PROGRESS_ENV, None)
        if self.loaded or self.computed:
            print(f"  [{self.page}] {self.computed} experiment(s) computed, {self.loaded} stored result(s) loaded",
                  flush=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.read()

    def read(self) -> None:
        """Print the lines for the events written since the last read."""
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        complete = chunk[:chunk.rfind("\n") + 1]  # a line still being written waits for the next read
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            try:
                text = self.line(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            if text:
                print(f"  [{self.page}] {text}", flush=True)

    def line(self, event: dict[str, Any]) -> str:
        """The terminal line for one event ('' for none)."""
        kind, name = event["event"], event["name"]
        if kind == "loaded":
            self.loaded += 1
            return ""
        if kind == "smoke":
            self.smoke.append(event)
            return ""
        if kind == "steps":
            done, total, seconds = int(event["done"]), int(event["total"]), float(event["seconds"])
            left = (total - done) * seconds / max(done, 1)
            return f"{name} {bar(done, total)} steps, about {duration(left)} left (process {event['pid']})"
        if kind == "plan":
            self.plans[name], self.done[name] = int(event["todo"]), 0
            stored = int(event["total"]) - int(event["todo"])
            return f"{name}: {event['todo']} to compute, {stored} stored" if event["todo"] else ""
        if kind == "start":
            return "" if self.plans.get(name) else f"running {name} ..."
        if kind == "done":
            self.computed += 1
            if self.plans.get(name):
                self.done[name] += 1
                return f"{name} {bar(self.done[name], self.plans[name])} (last: {event.get('seconds', 0):.0f} s)"
            return f"{name} done in {event.get('seconds', 0):.0f} s"
        return ""


def eta_note(page: str, previous: dict[str, dict[str, Any]], profile: str) -> str:
    """' (last build: 612 s)' from the previous build's time of `page` at `profile`, else ''."""
    t = previous.get(page)
    return f" (last build at this profile: {t['seconds']:.0f} s)" if t and t.get("profile") == profile else ""


def smoke_summary(page: str, seconds: float, events: Sequence[dict[str, Any]], workers: int) -> dict[str, Any]:
    """A page's smoke record: its wall time, its loops per kind, and the estimated time of its full run.

    The full run is estimated as the smoke's wall time plus, for every loop, its estimated full time
    less the time it took here, divided among the processes the loops ran in (at most `workers`).
    """
    kinds: dict[str, dict[str, float]] = {}
    for e in events:
        k = kinds.setdefault(e["name"], {"loops": 0, "steps": 0, "full_steps": 0, "seconds": 0.0, "estimate_s": 0.0})
        for field in ("steps", "full_steps", "seconds", "estimate_s"):
            k[field] += e[field]
        k["loops"] += 1
    processes = max(1, min(workers, len({e["pid"] for e in events})))
    extra = sum(e["estimate_s"] - e["seconds"] for e in events)
    return {"page": page, "seconds": round(seconds, 1), "kinds": kinds, "processes": processes,
            "estimate_s": round(seconds + max(extra, 0.0) / processes, 1)}


def duration(seconds: float) -> str:
    """'42 s', '17 min', '3.2 h' or '2.5 days'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172_800 else f"{seconds / 86_400:.1f} days"


def smoke_table(records: Sequence[dict[str, Any]], profile: str, steps: int) -> str:
    """The smoke run's report: per page, its smoke time, its loops' cost per step, and the estimate."""
    gpu = cuda_name()
    lines = [f"[smoke] profile {profile}, at most {steps} steps per training loop, on this machine "
             f"({os.cpu_count()} CPUs{', ' + gpu if gpu else ''}):",
             f"  {'page':<14} {'smoke run':>10} {'full run (estimated)':>22}"]
    for r in records:
        lines.append(f"  {r['page']:<14} {r['seconds']:>9.0f}s {duration(r['estimate_s']):>22}"
                     + ("" if r["kinds"] else "   (no training loop: ran in full)"))
        lines += [f"      {int(k['loops'])} × {name}: {k['seconds'] / max(k['steps'], 1):.3g} s per smoke step, "
                  f"{int(k['full_steps'] / k['loops']):,} steps each in the full run, "
                  f"{duration(k['estimate_s'])} of loops in all" for name, k in r["kinds"].items()]
    total = sum(r["estimate_s"] for r in records)
    lines.append(f"  {'all pages':<14} {sum(r['seconds'] for r in records):>9.0f}s {duration(total):>22}   (estimates: "
                 "the loops' measured step, hook and evaluation costs × the full run's counts, shared among the "
                 "processes they ran in)")
    return "\n".join(lines)


def cuda_name() -> str:
    """The GPU the runs would use ('' when none)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""


def run_smoke(args: argparse.Namespace, pages: list[str], book_dir: Path, out: Path) -> int:
    """Execute the chosen pages as a smoke run into `_build/smoke/<profile>/`; print the estimate table."""
    import shutil

    from . import smoke

    scratch = out / "smoke" / args.profile
    shutil.rmtree(scratch, ignore_errors=True)  # a smoke times computation: nothing may be loaded
    scratch.mkdir(parents=True)
    os.environ.update({smoke.SMOKE_ENV: str(args.smoke), paths.RESULTS_ENV: str(scratch / "results"),
                       "BNOPT_BUILD_TIMES": str(scratch / TIMES_FILE), "BNOPT_PROFILE": args.profile})
    selected = [p for p in pages if not args.only or p in args.only]
    records, failed, times = [], [], {}
    for page in selected:
        print(f"[smoke] executing {page} at profile {args.profile}, {args.smoke} steps per loop ...", flush=True)
        try:
            with Progress(page, scratch / f"progress-{page}.jsonl") as progress:
                seconds = execute(page, book_dir, args.profile, scratch, dest=scratch / BOOK)
        except (Exception, KeyboardInterrupt) as err:
            print(f"[smoke] {describe_stop(page, err, scratch)}", file=sys.stderr, flush=True)
            if isinstance(err, KeyboardInterrupt):
                return INTERRUPTED
            failed.append(page)
            continue
        times[page] = {"seconds": round(seconds, 1), "profile": args.profile}
        (scratch / TIMES_FILE).write_text(json.dumps(times, indent=1))
        records.append(smoke_summary(page, seconds, progress.smoke, os.cpu_count() or 1))
        print(f"[smoke] {page}: {seconds:.1f} s (load average {load_average()})", flush=True)
    (scratch / "smoke.json").write_text(json.dumps({"profile": args.profile, "steps": args.smoke,
                                                    "cpus": os.cpu_count(), "gpu": cuda_name(),
                                                    "pages": records, "failed": failed}, indent=1))
    print(smoke_table(records, args.profile, args.smoke), flush=True)
    if failed:
        print(f"[smoke] pages that failed: {', '.join(failed)} (partial notebooks in {shown(scratch / FAILED)})",
              file=sys.stderr, flush=True)
        return 1
    return 0


def compile_site(root: Path) -> None:
    """Compile the executed book into static HTML in `_build/html` (warnings are errors)."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root / BOOK),
           "--config", str(root / "_config.yml"), "--toc", str(root / BOOK / "_toc.yml"),
           "--path-output", str(root), "-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)


def parse_args(argv: list[str] | None, pages: Sequence[str]) -> argparse.Namespace:
    """The command line, checked: a known profile, and --only with at least one known page."""
    parser = argparse.ArgumentParser(prog="python -m bnopt.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", help=f"one of {', '.join(profiles.PROFILES)} (default: $PROFILE, else ci)")
    parser.add_argument("--only", nargs="*", metavar="PAGE",
                        help=f"execute only these pages (others must be executed already): {', '.join(pages)}")
    parser.add_argument("--no-site", action="store_true", help="execute notebooks but do not compile HTML")
    parser.add_argument("--smoke", nargs="?", type=int, const=SMOKE_STEPS, metavar="STEPS",
                        help=f"smoke run: every training loop stops after STEPS steps (default {SMOKE_STEPS}) at "
                             "the profile's shapes and sizes; pages run into _build/smoke/<profile>/ on "
                             "results kept there, and a table gives each page's estimated full time")
    args = parser.parse_args(argv)
    try:
        args.profile = profiles.check_profile(args.profile) if args.profile else default_profile()
    except profiles.UnknownProfileError as err:
        parser.error(str(err))
    if args.smoke is not None and args.smoke < 1:
        parser.error(f"--smoke {args.smoke}: give a positive number of steps per training loop (e.g. --smoke 5)")
    if args.only == []:
        parser.error(f"--only needs at least one page; notebooks are {', '.join(pages)}")
    unknown = set(args.only or []) - set(pages)
    if unknown:
        parser.error(f"unknown pages {sorted(unknown)}; notebooks are {', '.join(pages)}")
    return args


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    """Command-line entry: execute notebooks at a profile and build the site (root: the project)."""
    absolute_dir_envs(Path(os.getcwd()))
    root = paths.project_root() if root is None else root
    book_dir, out = root / BOOK, root / "_build"
    pages = notebook_pages(book_dir)
    args = parse_args(argv, pages)
    try:
        return run_build(args, pages, book_dir, out, root)
    except KeyboardInterrupt:  # outside a notebook (a page's Ctrl-C is reported by run_build)
        print(f"[book] interrupted; rerun to resume: {build_command(args.profile, args.only or [], args.no_site)}",
              file=sys.stderr, flush=True)
        return INTERRUPTED


def run_build(args: argparse.Namespace, pages: list[str], book_dir: Path, out: Path, root: Path) -> int:
    """Execute the chosen pages, then check every page and compile the site; the exit status."""
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke is not None:
        return run_smoke(args, pages, book_dir, out)
    times_path = out / TIMES_FILE
    previous = load_times(times_path)
    times = dict(previous) if args.only else {}
    selected = [p for p in pages if not args.only or p in args.only]
    if not args.no_site:  # say now, not after executing, that the site would lack pages
        missing = unexecuted_pages(book_dir, args.profile, [p for p in pages if p not in selected])
        if missing:
            print(unexecuted_message(missing, args.profile, pages, also=selected), file=sys.stderr)
            return 1
    os.environ["BNOPT_BUILD_TIMES"] = str(times_path)
    os.environ["BNOPT_SMOKE_DIR"] = str(out / "smoke")  # the reproducing page shows the smoke runs' estimates
    os.environ["BNOPT_PROFILE"] = args.profile
    finished: list[str] = []
    for k, page in enumerate(selected):
        print(f"[book] executing {page} at profile {args.profile}{eta_note(page, previous, args.profile)} ...",
              flush=True)
        try:
            with Progress(page, out / f"progress-{page}.jsonl"):
                seconds = execute(page, book_dir, args.profile, out)
        except (Exception, KeyboardInterrupt) as err:
            if not isinstance(err, KeyboardInterrupt):  # papermill's message shows the failing cell
                print(f"[book] {page} FAILED:\n{err}", file=sys.stderr, flush=True)
            rerun = build_command(args.profile, selected[k:], args.no_site)
            print(stop_line(finished, describe_stop(page, err, out), rerun), file=sys.stderr, flush=True)
            return INTERRUPTED if isinstance(err, KeyboardInterrupt) else 1
        finished.append(page)
        times[page] = {"seconds": round(seconds, 1), "profile": args.profile}
        times_path.write_text(json.dumps(times, indent=1))
        print(f"[book] {page}: {seconds:.1f} s (load average {load_average()})", flush=True)
    print("[book] time per notebook:")
    for page, t in times.items():
        print(f"  {page:<24} {t['seconds']:>8.1f} s  ({t['profile']})")
    if args.no_site:
        return 0
    missing = unexecuted_pages(book_dir, args.profile, pages)
    if missing:
        print(unexecuted_message(missing, args.profile, pages), file=sys.stderr)
        return 1
    try:
        compile_site(root)
    except subprocess.CalledProcessError:
        print("[book] the site build failed (warnings are errors); see the messages above", file=sys.stderr)
        return 1
    print(f"[book] site: {out / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
