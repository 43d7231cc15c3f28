"""Claims ledger: verdict records, the registry, and judging from stored results only."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from bnopt import book, claims, results


def test_verdict_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="not one of"):
        claims.Verdict("S1", "probably")


def test_every_evidence_figure_exists_on_its_page() -> None:
    """The ledger links each claim to named figures: each name must be a figure of its section's page."""
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book"
    pages = {"ols": "ols_theory", "scaling": "scaling_law", "sweeps": "lr_sweeps", "ics": "ics",
             "landscape": "landscape"}
    for c in claims.CLAIMS:
        source = (book / f"{pages[c.section]}.py").read_text()
        for name in c.figures:
            assert f'"name": "{name}"' in source, (c.claim_id, name)


def test_registry_covers_every_claim_of_the_spec_once() -> None:
    ids = [c.claim_id for c in claims.CLAIMS]
    assert ids == [f"S{i}" for i in range(1, 11)] + [f"C{i}" for i in range(1, 12)]
    assert {c.section for c in claims.CLAIMS} <= set(claims.SECTION_MODULES)
    with pytest.raises(KeyError, match="unknown claim"):
        claims.claim("S99")


@dataclass(frozen=True)
class FakeCfg:
    n: int = 1


def _fake_section(monkeypatch: pytest.MonkeyPatch, runs: list[int]) -> None:
    """Register a fake 'ols' section whose results are computed by a counted experiment."""
    module = types.ModuleType("fake_ols")

    def experiment(cfg: FakeCfg) -> dict[str, float]:
        runs.append(1)
        return {"gap": 0.5, "dataset": "synthetic"}

    def run_all(profile: str) -> dict[str, results.Result]:
        return {"e": results.load_or_run("fake-ols", experiment, FakeCfg(), profile=profile)}

    def verdicts(res: dict[str, results.Result], profile: str) -> list[claims.Verdict]:
        gap = res["e"].scalar("gap")
        word = claims.REPRODUCED if gap < 1 else claims.NOT_REPRODUCED
        return [claims.Verdict("C1", word, {"gap": gap}, dataset=res["e"].dataset, profile=profile)]

    module.run_all, module.verdicts = run_all, verdicts  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_ols", module)
    empty = types.ModuleType("fake_empty")

    def nothing_stored(profile: str) -> dict[str, results.Result]:
        raise results.ResultMissing("nothing stored")

    empty.run_all, empty.verdicts = nothing_stored, verdicts  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_empty", empty)
    for section in claims.SECTION_MODULES:
        monkeypatch.setitem(claims.SECTION_MODULES, section, "fake_empty")
    monkeypatch.setitem(claims.SECTION_MODULES, "ols", "fake_ols")


def test_ledger_never_runs_experiments(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    _fake_section(monkeypatch, runs)
    rows = {r.claim.claim_id: r for r in claims.ledger("ci")}
    assert runs == [] and rows["C1"].verdict is None and "has not produced results" in rows["C1"].missing


def test_ledger_judges_stored_results(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    _fake_section(monkeypatch, runs)
    sys.modules["fake_ols"].run_all("ci")  # the section page stores its results
    rows = claims.ledger("ci")
    c1 = next(r for r in rows if r.claim.claim_id == "C1")
    assert c1.verdict is not None and c1.verdict.verdict == claims.REPRODUCED
    assert c1.verdict.numbers == {"gap": 0.5} and c1.verdict.dataset == "synthetic"
    assert runs == [1]
    line = claims.summary(rows, "ci")
    assert line.startswith("1 of 21 claims reproduced at the `ci` profile")
    table = book.ledger_table(rows)
    assert table[10]["evidence"] == "{numref}`fig-ols-loss`"


def _seeds(*holds: bool | None) -> list[tuple[int, bool | None]]:
    return list(enumerate(holds))


def test_seed_rule_gives_each_verdict() -> None:
    rule = claims.seed_verdict
    assert rule("S4", _seeds(*[True] * 10)).verdict == claims.REPRODUCED
    assert rule("S4", _seeds(*[True] * 8, False, False)).verdict == claims.REPRODUCED  # exactly 80 %
    assert rule("S4", _seeds(*[True] * 7, False, False, False)).verdict == claims.MIXED
    assert rule("S4", _seeds(*[False] * 8, True, True)).verdict == claims.NOT_REPRODUCED
    assert rule("S4", _seeds(*[False] * 10)).verdict == claims.NOT_REPRODUCED
    assert rule("S4", _seeds(True, False)).verdict == claims.MIXED


def test_seed_rule_needs_the_effect_to_clear_for_reproduced() -> None:
    v = claims.seed_verdict("S5", _seeds(*[True] * 10), effect_clears=False)
    assert v.verdict == claims.MIXED
    assert claims.seed_verdict("S5", _seeds(*[False] * 10), effect_clears=False).verdict == claims.NOT_REPRODUCED


def test_seed_rule_counts_only_tested_seeds() -> None:
    v = claims.seed_verdict("S1", _seeds(True, True, None, True), min_seeds=3)
    assert v.verdict == claims.REPRODUCED and v.split == "holds in 3 of 3 seeds (seeds 0, 1, 3); 1 seed(s) not testable"
    few = claims.seed_verdict("S1", _seeds(True, None, None), min_seeds=3, detail="gate: standard net < 40 %")
    assert few.verdict == claims.NOT_TESTABLE and "1 tested seed(s), 3 needed; gate" in few.detail
    assert claims.seed_verdict("S1", []).verdict == claims.NOT_TESTABLE
    with pytest.raises(ValueError, match="min_seeds=0"):
        claims.seed_verdict("S1", _seeds(True), min_seeds=0)


def test_split_shows_in_the_row_and_the_summary_counts_mixed() -> None:
    v = claims.seed_verdict("S6", _seeds(True, False, True), detail="median ratio 3.1")
    assert v.verdict == claims.MIXED
    assert v.as_row()["detail"] == "holds in 2 of 3 seeds (seeds 0, 2); median ratio 3.1"
    row = claims.LedgerRow(claims.claim("S6"), v)
    assert "1 mixed (seeds split)" in claims.summary([row], "ci")


def test_readings_show_in_the_row() -> None:
    v = claims.Verdict("S4", claims.REPRODUCED, readings=(("½·sum (headline)", "reproduced"), ("sum", "mixed")))
    assert v.as_row()["detail"] == "under ½·sum (headline): reproduced; under sum: mixed"


def _v(word: str) -> claims.Verdict:
    return claims.Verdict("X", word, {"n": 1.0})


@pytest.mark.parametrize("parts, expected", [
    ([claims.REPRODUCED, claims.REPRODUCED], claims.REPRODUCED),
    ([claims.REPRODUCED, claims.NOT_TESTABLE], claims.REPRODUCED),  # the tested part decides alone
    ([claims.NOT_REPRODUCED, claims.NOT_REPRODUCED], claims.NOT_REPRODUCED),
    ([claims.NOT_REPRODUCED, claims.NOT_TESTABLE], claims.NOT_REPRODUCED),
    ([claims.REPRODUCED, claims.NOT_REPRODUCED], claims.MIXED),
    ([claims.REPRODUCED, claims.MIXED], claims.MIXED),
    ([claims.NOT_TESTABLE, claims.NOT_TESTABLE], claims.NOT_TESTABLE),
])
def test_combine_every_way(parts: list[str], expected: str) -> None:
    v = claims.combine("X", [(f"part{i}", _v(w)) for i, w in enumerate(parts)], profile="ci")
    assert v.verdict == expected
    assert all(f"part{i}: {w}" in v.detail for i, w in enumerate(parts))
    assert v.numbers == {f"part{i}: n": 1.0 for i in range(len(parts))}
