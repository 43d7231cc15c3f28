"""Scale profiles: one frozen settings record per book section for each of `ci`, `workstation`, `paper`.

`paper` is the papers' own setting (a GPU machine for the deep nets); `ci` runs the whole book on two
CPU cores in minutes; `workstation` sits in between (about an hour on one CPU machine). Every section
owns one block below: a frozen dataclass whose defaults are the paper's values, one instance per
profile, and a sentence saying what each profile shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

PROFILES: tuple[str, ...] = ("ci", "workstation", "paper")


class UnknownProfileError(ValueError):
    """Raised for a profile name that is not one of PROFILES."""


def check_profile(profile: str) -> str:
    """Return `profile` if it is known, else raise an error listing the valid ones."""
    if profile not in PROFILES:
        raise UnknownProfileError(
            f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)} "
            f"(e.g. `make book PROFILE=ci` or papermill -p profile ci)")
    return profile


_SETTINGS: dict[str, dict[str, Any]] = {}
_SHRINKS: dict[str, dict[str, str]] = {}


def _register(section: str, by_profile: dict[str, Any], shrinks: dict[str, str]) -> None:
    """Record a section's settings and shrinkage text for every profile."""
    missing = set(PROFILES) - set(by_profile) | set(PROFILES) - set(shrinks)
    if missing:
        raise RuntimeError(f"section {section!r} lacks profiles {sorted(missing)}")
    _SETTINGS[section] = by_profile
    _SHRINKS[section] = shrinks


def sections() -> tuple[str, ...]:
    """Names of the sections that have settings."""
    return tuple(_SETTINGS)


def settings(section: str, profile: str) -> Any:
    """The frozen settings of `section` at `profile`."""
    check_profile(profile)
    if section not in _SETTINGS:
        raise KeyError(f"unknown section {section!r}; choose one of {', '.join(_SETTINGS)}")
    return _SETTINGS[section][profile]


def shrinkage(section: str, profile: str) -> str:
    """What `profile` shrinks in `section` compared with the papers (a sentence)."""
    check_profile(profile)
    return _SHRINKS[section][profile]


def differences(section: str, profile: str) -> dict[str, tuple[Any, Any]]:
    """Settings where `profile` differs from `paper`: name -> (profile value, paper value)."""
    here, paper = settings(section, profile), settings(section, "paper")
    return {f.name: (getattr(here, f.name), getattr(paper, f.name))
            for f in fields(here) if getattr(here, f.name) != getattr(paper, f.name)}


# --- section: intro ---
@dataclass(frozen=True)
class IntroSettings:
    """The intro's live figure: GD against BNGD on a 2-D least-squares problem."""

    kappa: float = 20.0  # condition number of the 2x2 H
    steps: int = 60  # iterations shown
    seed: int = 0


_register("intro",
          {p: IntroSettings() for p in PROFILES},
          {p: "nothing: the intro's toy problem is the same at every profile." for p in PROFILES})
# --- end: intro ---
