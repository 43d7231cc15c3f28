"""Helpers the book's pages share: the profile banner at the top of every page, tables, data lines."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from . import claims, paths, profiles, results


def header_markdown(section: str, profile: str) -> str:
    """Markdown saying which profile produced the page and what it shrinks against the papers."""
    profiles.check_profile(profile)
    lines = [f"**Profile `{profile}`.** {profiles.shrinkage(section, profile)}"]
    diffs = profiles.differences(section, profile)
    if diffs:
        lines.append("")
        lines.append("| setting | this page | paper |")
        lines.append("|---|---|---|")
        lines += [f"| `{k}` | {_fmt(v)} | {_fmt(p)} |" for k, (v, p) in diffs.items()]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    """Compact text for a setting's value."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def page_header(section: str, profile: str) -> None:
    """Display the profile banner and the page's rerun box in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(header_markdown(section, profile) + "\n\n" + rerun_box(page_of(section), profile)))


REPOSITORY_ENV = "BNOPT_REPOSITORY_URL"  # overrides `repository.url` of _config.yml (e.g. on a fork's CI)


def page_of(section: str) -> str:
    """The book page (file stem, the name `--only` takes) of a settings section or page name."""
    from .reproducing import PAGES

    return PAGES.get(section, section) if section != "dln_seeds" else "ics"


def repository_url() -> str | None:
    """The project's repository: $BNOPT_REPOSITORY_URL, the forge's own (GitHub Actions), or `repository.url`."""
    import os

    import yaml

    if os.environ.get(REPOSITORY_ENV):
        return os.environ[REPOSITORY_ENV].rstrip("/")
    if os.environ.get("GITHUB_REPOSITORY"):
        return f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ['GITHUB_REPOSITORY']}"
    config = paths.project_root() / "_config.yml"
    url = (yaml.safe_load(config.read_text()).get("repository") or {}).get("url") if config.exists() else None
    return str(url).rstrip("/") if url else None


def commit() -> str:
    """The checkout's commit (short hash, '+ local changes' when tracked files differ), or why there is none."""
    import subprocess

    root = str(paths.project_root())
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD", "--"], timeout=10).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"`{head}`" + (" + local changes" if dirty else "")


def rerun_box(page: str, profile: str) -> str:
    """A folded box: where the page came from (commit, date, repository) and the exact commands to rerun it."""
    import datetime

    from .build import EXECUTED_LAST  # the pages that summarise the others, executed after them

    url = repository_url()
    where = f"[the repository]({url})" if url else "a checkout of this project (no repository URL is set)"
    after = "" if page in EXECUTED_LAST else (
        f" Then `python -m bnopt.build --profile {profile} --only {' '.join(EXECUTED_LAST)}` brings the ledger, "
        "the intro and the reproducing page up to date with it.")
    lines = [
        ":::{admonition} Rerun this page",
        ":class: dropdown",
        f"Executed at profile `{profile}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from "
        f"commit {commit()} of {where}.",
        "",
        f"- `python -m bnopt.build --profile {profile} --only {page}` re-executes this page (from stored results "
        f"where they exist) and rebuilds the site.{after}",
        "- `make lab` opens JupyterLab with jupytext, where every `book/*.py` opens as a notebook.",
        f"- Downloads: {{download}}`the page's source, {page}.py <{page}.py>`; "
        f"{{download}}`the executed notebook, {page}.ipynb <{page}.ipynb>`.",
        ":::",
    ]
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table from a list of dicts (columns default to the first row's keys)."""
    if not rows:
        return "*(no rows)*"
    columns = columns or list(rows[0])
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        out.append("| " + " | ".join(_fmt(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(out)


def show_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Display a list of dicts as a Markdown table in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_table(rows, columns)))


def data_line(runs: Mapping[str, "results.Result"], prefix: str, what: str) -> str:
    """Markdown naming the dataset the runs keyed `prefix…` rest on, or saying they were not run and why."""
    mine = [r for k, r in runs.items() if k.startswith(prefix)]
    missing = [r for r in mine if not results.is_run(r)]
    if missing and len(missing) == len(mine):
        return (f"**{what}: not run.** {results.not_run_reason(missing)} Its figures and verdicts on this "
                "page say so; put the files in place and rerun the page.")
    variants = sorted({r.dataset for r in mine if r.dataset and results.is_run(r)})
    note = " — a lossy JPEG copy of CIFAR-10, not the official files." if "cifar10-jpeg" in variants else "."
    line = f"{what} data: " + ", ".join(f"`{v}`" for v in variants) + note
    if missing:
        line += (f" {len(missing)} of its {len(mine)} runs were not made: {results.not_run_reason(missing)} "
                 "The figures and verdicts that need them say so.")
    return line



# --- the verdict table every section page and the ledger share ------------------------------------

SHOWN_NUMBERS = 2  # the deciding numbers shown in the table; the rest go behind a fold


BADGE_CLASS = {claims.REPRODUCED: "reproduced", claims.NOT_REPRODUCED: "not-reproduced", claims.MIXED: "mixed",
               claims.NOT_TESTABLE: "not-testable"}  # CSS classes bn-verdict-<class>, book/_static/verdicts.css


def badge(verdict: str) -> str:
    """A verdict as a coloured badge (inline HTML; the colours are in book/_static/verdicts.css)."""
    if verdict not in BADGE_CLASS:
        raise ValueError(f"verdict {verdict!r} is not one of {claims.VERDICTS}")
    return f'<span class="bn-verdict bn-verdict-{BADGE_CLASS[verdict]}">{verdict}</span>'


def measured(v: claims.Verdict) -> str:
    """The one or two deciding numbers and the seeds' split, then everything else behind a fold."""
    items = [f"{k} = {_fmt_number(x)}" for k, x in v.numbers.items()]
    shown = "; ".join([*items[:SHOWN_NUMBERS], *([v.split] if v.split else [])])
    rest = [*items[SHOWN_NUMBERS:], *(f"under {r}: {w}" for r, w in v.readings), *([v.detail] if v.detail else [])]
    if not rest:
        return shown
    fold = "; ".join(rest).replace("<", "&lt;").replace(">", "&gt;")
    return f"{shown} <details><summary>more</summary>{fold}</details>"


def _fmt_number(x: float) -> str:
    """A number to three significant figures."""
    return f"{x:.3g}"


def verdict_rows(verdicts: Sequence[claims.Verdict], evidence: bool = False) -> list[dict[str, str]]:
    """One row per verdict: claim, verdict badge, what the paper reports, what this build measured, scale."""
    rows = []
    for v in verdicts:
        c = claims.claim(v.claim_id)
        row = {"claim": f"**{c.claim_id}** {c.statement}", "verdict": badge(v.verdict),
               "paper reports": claims.PAPER_REPORTS[c.claim_id], "this build measured": measured(v),
               "scale": f"`{v.profile}`" + (f", {v.dataset}" if v.dataset else "")}
        if evidence:
            row["evidence"] = ", ".join(f"{{numref}}`{f}`" for f in c.figures)
        rows.append(row)
    return rows


def ledger_table(rows: Sequence[claims.LedgerRow]) -> list[dict[str, str]]:
    """The ledger page's rows: every claim's verdict row with its evidence figures, or why it has none yet."""
    table = []
    for r in rows:
        if r.verdict is not None:
            table += verdict_rows([r.verdict], evidence=True)
        else:
            table.append({"claim": f"**{r.claim.claim_id}** {r.claim.statement}", "verdict": "no result yet",
                          "paper reports": claims.PAPER_REPORTS[r.claim.claim_id], "this build measured": r.missing,
                          "scale": "", "evidence": ""})
    return table


def verdict_summary(verdicts: Sequence[claims.Verdict], profile: str) -> str:
    """The two-line opening of a section page: its claims' verdicts at this profile."""
    parts = [f"**{v.claim_id}** {badge(v.verdict)}" for v in verdicts]
    counts = {w: sum(v.verdict == w for v in verdicts) for w in claims.VERDICTS}
    said = ", ".join(f"{n} {w}" for w, n in counts.items() if n)
    return (f"**Verdicts on this page at `{profile}`:** " + " · ".join(parts) + f" ({said}). "
            + claims.scale_caveat(profile) + " The table under *Verdicts* shows the numbers beside the paper's.")


def show_verdicts(verdicts: Sequence[claims.Verdict]) -> None:
    """Display the verdict table in a notebook."""
    show_table(verdict_rows(verdicts))


def show_summary(verdicts: Sequence[claims.Verdict], profile: str) -> None:
    """Display the page's verdict summary in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(verdict_summary(verdicts, profile)))
