"""Claim verdicts: the shared record every section uses to judge a paper's claim from results."""

from __future__ import annotations

from dataclasses import dataclass, field

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE)


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict with the numbers that decided it."""

    claim_id: str
    verdict: str
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    dataset: str = ""
    profile: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} for claim {self.claim_id} is not one of {VERDICTS}")

    def as_row(self) -> dict[str, str]:
        """Flatten for a table: claim, verdict, numbers, data, profile."""
        nums = ", ".join(f"{k} = {v:.3g}" for k, v in self.numbers.items())
        return {"claim": self.claim_id, "verdict": self.verdict, "numbers": nums,
                "detail": self.detail, "data": self.dataset, "profile": self.profile}
