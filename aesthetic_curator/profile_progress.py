"""How well the app knows the user, after each personalization: stored with the profile, shown in the app.

Two numbers answer "have I rated enough?":

- the profile's **agreement**: the cross-validated share of the user's own judgements (star pairs and
  answered comparisons) it predicts, with its ± (``engine.agreement``);
- how much the album's **top 50 moved** since the profile before it: the share of the previous top 50
  that is no longer in the new one.

When the ± is small and the top 50 barely moves, more answers will change little, and the app says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from aesthetic_curator.library.store import Library

#: The size of "the album's top" whose movement is reported.
TOP = 50
#: Settled: the agreement is known to within this ...
SETTLED_ERROR = 0.05
#: ... and at most this share of the top moved since the previous profile.
SETTLED_MOVEMENT = 0.10


@dataclass(frozen=True)
class ProfileProgress:
    agreement: float | None  # share of held-out judgements predicted right
    error: float | None  # its standard error
    top_moved: float | None  # share of the previous top 50 no longer in the top 50
    previous: str | None  # the profile it is compared with
    answers: int | None = None  # star ratings + comparisons it learned from (profiles before 2026-12-06: None)
    digest: str | None = None  # their fingerprint (curation.judgements_digest)

    @classmethod
    def from_metadata(cls, metadata: dict) -> ProfileProgress:
        agreement = metadata.get("agreement") if isinstance(metadata.get("agreement"), dict) else {}
        value, error = _number(agreement.get("value")), _number(agreement.get("error"))
        previous = metadata.get("previous_profile")
        answers = metadata.get("answers") if isinstance(metadata.get("answers"), dict) else {}
        count, digest = _number(answers.get("count")), answers.get("digest")
        return cls(
            value,
            error,
            _number(metadata.get("top_moved")),
            previous if isinstance(previous, str) else None,
            int(count) if count is not None else None,
            digest if isinstance(digest, str) else None,
        )

    @property
    def settled(self) -> bool:
        return (
            self.error is not None
            and self.error <= SETTLED_ERROR
            and self.top_moved is not None
            and self.top_moved <= SETTLED_MOVEMENT
        )

    def describe(self) -> str:
        """One line for the status bar: "predicts 78 % of your choices (± 5 %); top 50 moved 12 % since …"."""
        parts = []
        if self.agreement is not None:
            spread = f" (± {100 * self.error:.0f} %)" if self.error is not None else ""
            parts.append(f"predicts {100 * self.agreement:.0f} % of your choices{spread}")
        if self.top_moved is not None and self.previous:
            parts.append(f"top {TOP} moved {100 * self.top_moved:.0f} % since “{self.previous}”")
        if self.settled:
            parts.append("more answers will change little")
        return "; ".join(parts)

    def since(self, answers: int, digest: str) -> str:
        """The user's answers now against the ones the profile learned from, in words ('' when not known):
        whether pressing Personalize again would learn anything new."""
        if self.digest is None or self.answers is None:
            return ""
        if digest == self.digest:
            return "learned from all your answers"
        more = answers - self.answers
        if more > 0:
            return f"{_counted(more, 'new answer')} since: Personalize again to use them"
        return "your answers changed since: Personalize again to use them"


def learned_from(photos: int, comparisons: int, answers: int | None, elsewhere: object = None) -> str:
    """What a profile learned from, in the user's units: "12 ratings and 5 comparisons (20 photos)" (answers,
    then the photos they span); a profile from before answers were counted says "20 photos, 5 comparisons".
    ``elsewhere``: the answers of other albums it learned from too (its stored ``elsewhere``: ratings,
    comparisons, photos, albums), which ``photos`` and ``comparisons`` include and ``answers`` does not."""
    other = elsewhere if isinstance(elsewhere, dict) else {}
    counts = {key: int(_number(other.get(key)) or 0) for key in ("ratings", "comparisons", "photos", "albums")}
    photos, comparisons = photos - counts["photos"], comparisons - counts["comparisons"]
    if answers is None:
        here = f"{photos} photos" + (f", {comparisons} comparisons" if comparisons else "")
    else:
        here = answers_in_words(answers - comparisons, comparisons) + (f" ({photos} photos)" if comparisons else "")
    if not counts["albums"]:
        return here
    there = answers_in_words(counts["ratings"], counts["comparisons"])
    return f"{here}, and {there} in {_counted(counts['albums'], 'other album')}"


def learned_from_metadata(metadata: dict) -> str:
    """:func:`learned_from` of a stored profile's metadata ("" when it does not say how many photos): one
    reading for the profile's details and the list of other albums' profiles."""
    k, extra = metadata.get("k"), metadata.get("extra") if isinstance(metadata.get("extra"), dict) else {}
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        return ""
    answers = ProfileProgress.from_metadata(metadata).answers
    return learned_from(k, int(extra.get("comparisons") or 0), answers, metadata.get("elsewhere"))


def answers_in_words(ratings: int, comparisons: int, rating_noun: str = "rating") -> str:
    """What the user told, "12 ratings and 1 comparison", with each noun in the number it needs ("" for
    nothing). One wording for the status bar, the prompts, profile details and the command line."""
    told = [_counted(ratings, rating_noun)] if ratings > 0 else []
    told += [_counted(comparisons, "comparison")] if comparisons > 0 else []
    return " and ".join(told)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def previous_top(library: Library) -> dict:
    """Metadata a new profile keeps of the latest one before it: its name and its top photos."""
    profiles = sorted(library.profiles(), key=lambda p: p.created_at)
    if not profiles:
        return {}
    latest = profiles[-1]
    top = library.top_photos(latest.id, TOP)
    return {"previous_profile": latest.name, "previous_top": top} if top else {}


def record_top_movement(library: Library, profile_id: int) -> ProfileProgress:
    """After ranking: how much the top moved against the previous profile's top, stored with the profile."""
    stored = next((p for p in library.profiles() if p.id == profile_id), None)
    metadata = stored.metadata if stored is not None else {}
    before = metadata.get("previous_top")
    if isinstance(before, list) and before and "top_moved" not in metadata:
        now = set(library.top_photos(profile_id, TOP))
        moved = sum(1 for photo in before if photo not in now) / len(before)
        library.update_profile_metadata(profile_id, {"top_moved": round(moved, 4)})
        metadata = {**metadata, "top_moved": moved}
    return ProfileProgress.from_metadata(metadata)
