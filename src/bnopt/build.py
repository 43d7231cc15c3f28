"""Build the book: execute every notebook with papermill at a profile, then compile the site.

    python -m bnopt.build --profile ci            # execute all notebooks, then build the HTML
    python -m bnopt.build --profile ci --only ols_theory   # re-execute one page, then build

Notebooks are the py:percent files in `book/`; executed copies (`book/<page>.ipynb`) are build
outputs. A failing cell stops the build and prints that cell's error. The site is compiled with
execution off and warnings as errors, so a missing page or a broken reference fails the build.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import paths, profiles

BOOK = "book"
TIMES_FILE = "notebook-times.json"
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


def hide_parameter_cells(path: Path) -> None:
    """Tag the parameters cell and papermill's injected one `remove-cell`: the page header shows the profile."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
    path.write_text(json.dumps(nb, indent=1))


def execute(page: str, book_dir: Path, profile: str) -> float:
    """Execute `book/<page>.py` with papermill into `book/<page>.ipynb`; return seconds taken."""
    import jupytext
    import papermill

    src = book_dir / f"{page}.py"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / f"{page}.ipynb"
        jupytext.write(jupytext.read(src), raw)
        start = time.perf_counter()
        papermill.execute_notebook(str(raw), str(book_dir / f"{page}.ipynb"),
                                   parameters={"profile": profile}, kernel_name="python3",
                                   cwd=str(book_dir), progress_bar=False)
        seconds = time.perf_counter() - start
    check_executed(book_dir / f"{page}.ipynb")
    hide_parameter_cells(book_dir / f"{page}.ipynb")
    return seconds


def compile_site(root: Path) -> None:
    """Compile the executed book into static HTML in `_build/html` (warnings are errors)."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root / BOOK),
           "--config", str(root / "_config.yml"), "--toc", str(root / BOOK / "_toc.yml"),
           "--path-output", str(root), "-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: execute notebooks at a profile and build the site."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "ci"))
    parser.add_argument("--only", nargs="*", help="execute only these pages (others must be executed already)")
    parser.add_argument("--no-site", action="store_true", help="execute notebooks but do not compile HTML")
    args = parser.parse_args(argv)
    try:
        profiles.check_profile(args.profile)
    except profiles.UnknownProfileError as err:
        parser.error(str(err))
    root = paths.project_root()
    book_dir, out = root / BOOK, root / "_build"
    out.mkdir(parents=True, exist_ok=True)
    times_path = out / TIMES_FILE
    times = json.loads(times_path.read_text()) if args.only and times_path.is_file() else {}
    pages = notebook_pages(book_dir)
    unknown = set(args.only or []) - set(pages)
    if unknown:
        parser.error(f"unknown pages {sorted(unknown)}; notebooks are {', '.join(pages)}")
    os.environ["BNOPT_BUILD_TIMES"] = str(times_path)
    os.environ["BNOPT_PROFILE"] = args.profile
    for page in pages:
        if args.only and page not in args.only:
            continue
        print(f"[book] executing {page} at profile {args.profile} ...", flush=True)
        try:
            seconds = execute(page, book_dir, args.profile)
        except Exception as err:  # papermill shows the failing cell in its message
            print(f"[book] {page} FAILED:\n{err}", file=sys.stderr, flush=True)
            return 1
        times[page] = {"seconds": round(seconds, 1), "profile": args.profile}
        times_path.write_text(json.dumps(times, indent=1))
        print(f"[book] {page}: {seconds:.1f} s", flush=True)
    print("[book] time per notebook:")
    for page, t in times.items():
        print(f"  {page:<24} {t['seconds']:>8.1f} s  ({t['profile']})")
    if not args.no_site:
        try:
            compile_site(root)
        except subprocess.CalledProcessError:
            print("[book] the site build failed (warnings are errors); see the messages above",
                  file=sys.stderr)
            return 1
        print(f"[book] site: {out / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
