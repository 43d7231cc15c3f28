"""The verdict table every page shares: badges, the paper's side, the fold, the page summary, the ledger."""

from __future__ import annotations

import pytest

from bnopt import book, claims


def test_every_verdict_has_its_badge_and_an_unknown_one_is_an_error() -> None:
    classes = {book.badge(w).split('"')[1] for w in claims.VERDICTS}
    assert classes == {"bn-verdict bn-verdict-reproduced", "bn-verdict bn-verdict-not-reproduced",
                       "bn-verdict bn-verdict-mixed", "bn-verdict bn-verdict-not-testable"}
    assert book.badge(claims.MIXED).endswith(">mixed</span>")
    with pytest.raises(ValueError, match="'refuted' is not one of"):
        book.badge("refuted")


def test_the_row_shows_two_deciding_numbers_and_folds_the_rest() -> None:
    v = claims.Verdict("S5", claims.MIXED, {"a": 1.23456, "b": 2.0, "c": 3.0}, detail="x < 1", profile="ci",
                       dataset="cifar10", seeds=((0, True), (1, False)), readings=(("sum", "mixed"),))
    row = book.verdict_rows([v])[0]
    assert row["claim"].startswith("**S5** With BatchNorm the loss")
    assert row["paper reports"] == claims.PAPER_REPORTS["S5"] and row["scale"] == "`ci`, cifar10"
    shown, fold = row["this build measured"].split(" <details><summary>more</summary>")
    assert shown == "a = 1.23; b = 2; holds in 1 of 2 seeds (seeds 0)"
    assert fold == "c = 3; under sum: mixed; x &lt; 1</details>"  # the fold's text cannot open HTML tags
    assert book.measured(claims.Verdict("S1", claims.REPRODUCED, {"a": 1.0})) == "a = 1"  # nothing to fold


def test_every_claim_has_what_its_paper_reports_with_the_place() -> None:
    assert set(claims.PAPER_REPORTS) == {c.claim_id for c in claims.CLAIMS}
    for cid, text in claims.PAPER_REPORTS.items():
        assert text.startswith("[S]" if cid.startswith("S") else "[C]") and "|" not in text, cid


def test_the_page_summary_counts_its_verdicts_and_carries_the_scale_caveat() -> None:
    found = [claims.Verdict("S1", claims.REPRODUCED), claims.Verdict("S2", claims.NOT_REPRODUCED),
             claims.Verdict("S3", claims.NOT_REPRODUCED)]
    line = book.verdict_summary(found, "ci")
    assert "(1 reproduced, 2 not reproduced)" in line and "not refuted" in line
    assert "papers' own settings" in book.verdict_summary(found, "paper")


def test_the_ledger_table_shows_a_claim_without_result_and_one_with_evidence() -> None:
    rows = [claims.LedgerRow(claims.claim("C1"), claims.Verdict("C1", claims.REPRODUCED, profile="ci")),
            claims.LedgerRow(claims.claim("C2"), None, "the ols page has not produced results")]
    table = book.ledger_table(rows)
    assert table[0]["evidence"] == "{numref}`fig-ols-loss`" and "bn-verdict-reproduced" in table[0]["verdict"]
    assert table[1]["verdict"] == "no result yet" and table[1]["this build measured"].startswith("the ols page")


def test_the_rerun_box_names_a_real_page_the_summaries_and_both_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    from bnopt import build

    monkeypatch.delenv(book.REPOSITORY_ENV, raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    pages = build.toc_pages(book.paths.project_root() / build.BOOK)
    for section, page in (("ols", "ols_theory"), ("scaling", "scaling_law"), ("sweeps", "lr_sweeps"), ("ics", "ics")):
        assert book.page_of(section) == page and page in pages
    box = book.rerun_box("ols_theory", "ci")
    assert "--profile ci --only ols_theory`" in box and "--only claims intro reproducing`" in box
    assert "{download}`the page's source, ols_theory.py <ols_theory.py>`" in box and "ols_theory.ipynb>`" in box
    assert "no repository URL is set" in box  # _config.yml's repository.url is empty
    assert "--only claims intro" not in book.rerun_box("claims", "ci")  # a summary page needs no second step
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/bnopt")
    assert book.repository_url() == "https://github.com/someone/bnopt"
    monkeypatch.setenv(book.REPOSITORY_ENV, "https://example.org/bnopt/")
    assert book.repository_url() == "https://example.org/bnopt"
    assert "[the repository](https://example.org/bnopt)" in book.rerun_box("ics", "ci")


def test_the_commit_is_read_from_git_or_said_to_be_absent(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    line = book.commit()
    assert line == "not a git checkout" or line.startswith("`")
    monkeypatch.setattr(book.paths, "project_root", lambda: tmp_path)  # not a repository
    assert book.commit() == "not a git checkout"


def test_the_data_line_names_the_data_and_the_runs_that_were_not_made(tmp_path) -> None:
    from bnopt import results

    ran = results.Result({"x": 1}, {"data": "cifar10-jpeg"}, tmp_path)
    skipped = results.not_run("vgg", "not run at profile ci (budget).", "ci")
    both = book.data_line({"vgg-a": ran, "vgg-b": skipped, "dln": ran}, "vgg-", "VGG")
    assert both.startswith("VGG data: `cifar10-jpeg` — a lossy JPEG copy")
    assert "1 of its 2 runs were not made: not run at profile ci (budget)." in both
    assert book.data_line({"vgg-b": skipped}, "vgg-", "VGG").startswith("**VGG: not run.** not run at profile ci")
    assert book.data_line({"vgg-a": ran}, "vgg-", "VGG").endswith("not the official files.")
