"""Profiles: every section has every profile; unknown names fail with the valid ones listed."""

from __future__ import annotations

import dataclasses

import pytest

from bnopt import book, profiles


def test_every_section_has_frozen_settings_for_every_profile() -> None:
    for section in profiles.sections():
        for profile in profiles.PROFILES:
            cfg = profiles.settings(section, profile)
            assert dataclasses.is_dataclass(cfg)
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(cfg, dataclasses.fields(cfg)[0].name, None)
            assert profiles.shrinkage(section, profile)


def test_unknown_profile_lists_valid_ones() -> None:
    with pytest.raises(profiles.UnknownProfileError, match="'gpu'.*ci, workstation, paper"):
        profiles.settings("intro", "gpu")


def test_unknown_section() -> None:
    with pytest.raises(KeyError, match="unknown section"):
        profiles.settings("nope", "ci")


def test_header_names_profile_and_differences() -> None:
    text = book.header_markdown("intro", "ci")
    assert "`ci`" in text
    for section in profiles.sections():
        if profiles.differences(section, "ci"):
            assert "| setting | this page | paper |" in book.header_markdown(section, "ci")


def test_markdown_table() -> None:
    assert book.markdown_table([{"a": 1, "b": "x|y"}]).splitlines()[2] == "| 1 | x\\|y |"
