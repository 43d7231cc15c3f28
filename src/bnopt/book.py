"""Helpers the book's pages share: the profile banner at the top of every page, tables, data lines."""

from __future__ import annotations

from typing import Any, Mapping

from . import profiles, results


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
    """Display the profile banner in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(header_markdown(section, profile)))


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
    if missing:
        return (f"**{what}: not run.** {results.not_run_reason(missing)} Its figures and verdicts on this "
                "page say so; put the files in place and rerun the page.")
    variants = sorted({r.dataset for r in mine if r.dataset})
    note = " — a lossy JPEG copy of CIFAR-10, not the official files." if "cifar10-jpeg" in variants else "."
    return f"{what} data: " + ", ".join(f"`{v}`" for v in variants) + note

