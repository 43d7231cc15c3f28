"""Sphinx extension: the bibliography in author-year style, with arXiv/DOI links.

sphinxcontrib-bibtex cites author-year in the text (`bibtex_reference_style: author_year`), but its
default pybtex style labels the list alpha-style ("[ALL19]"). This registers the pybtex style
"authoryear": pybtex's "plain" (sorted by author, year, title; `eprint`, `doi` and `url` fields
become links) with labels "Santurkar et al. 2018", "Ioffe & Szegedy 2015".
"""

from __future__ import annotations

from typing import Any, Iterable

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def author_year(entry: Any) -> str:
    """'Last 2018', 'Last & Other 2018' or 'Last et al. 2018' for a pybtex entry."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    who = names[0] if len(names) == 1 else f"{names[0]} & {names[1]}" if len(names) == 2 else f"{names[0]} et al."
    return f"{who or entry.key} {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels 'Author et al. year', with a, b, ... where two entries would share one."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterable[str]:
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        for i, label in enumerate(labels):
            twins = [j for j, other in enumerate(labels) if other == label]
            yield label if len(twins) == 1 else label + "abcdefghijklmnopqrstuvwxyz"[twins.index(i)]


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style with author-year labels."""

    default_label_style = AuthorYearLabels


def setup(app: Any) -> dict[str, Any]:
    """Register the 'authoryear' pybtex style (select it with `bibtex_default_style: authoryear`)."""
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
