"""Which lorebook entries reach the prompt for one turn, and where.

The steps, in SillyTavern's order:

1. **Candidates.** Enabled entries, minus those ``@@dont_activate`` forbids, those still
   cooling down or delayed, and those whose V3 conditions fail (``@@is_greeting``,
   ``@@activate_only_after``, ``@@activate_only_every``).
2. **Activation.** Sticky entries (still inside their sticky span), ``@@activate`` and
   constant entries always; the rest when a primary key occurs in the scanned text (the last
   ``scan_depth`` messages, the entry's own depth winning over the book's), then the
   secondary keys by the entry's logic (AND ANY, NOT ALL, NOT ANY, AND ALL), every
   ``@@additional_keys`` group, and no ``@@exclude_keys``.
3. **Recursion.** With ``recursive_scanning`` on, the content of what just activated is
   scanned too, step after step, up to ``max_recursion`` steps: entries that ``exclude
   recursion`` only match the chat, entries that ``prevent recursion`` add nothing to the
   scan, entries ``delayed until recursion`` (step n) only match from step n on.
4. **Probability** is rolled for each newly activated entry (the random source is given,
   so tests and replays are deterministic).
5. **Inclusion groups.** Of the entries activated in one group, one stays: an entry with
   ``group_override`` (highest order first), else by group scoring (most keys matched) when
   asked, else drawn by ``group_weight``. An entry whose group already has a member active
   does not join.
6. **Budget.** Entries are kept by priority (highest first; ``@@ignore_on_max_context``
   entries last) while their tokens fit the budget.
7. **Timers.** A newly activated entry with ``sticky`` stays active that many messages; a
   ``cooldown`` then keeps it off that many more; ``@@keep_activate_after_match`` and
   ``@@dont_activate_after_match`` make that forever. ``delay`` keeps an entry off until the
   chat has that many messages.

What comes out: texts before and after the character's description, and texts to insert
at a depth in the chat with a role, each list in ``insertion_order``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from afterdark.memory.lorebook.entry import Entry, Role, from_book
from afterdark.memory.lorebook.keys import any_match, count_matches

DEFAULT_SCAN_DEPTH = 2
FOREVER = 10**9


@dataclass
class ScanInput:
    """What the engine looks at: the chat's messages, oldest first, as plain text."""

    messages: list[str]
    # Which greeting the chat started from (0 = the first message), when known.
    greeting: int | None = None
    # How many replies the character has given so far (for @@activate_only_after/every).
    turn: int | None = None

    @property
    def count(self) -> int:
        return len(self.messages)


@dataclass
class Timers:
    """Sticky and cooldown spans, in chat message counts, by entry id."""

    sticky_until: dict[str, int] = field(default_factory=dict)
    cooldown_until: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"sticky_until": self.sticky_until, "cooldown_until": self.cooldown_until}

    @classmethod
    def from_json(cls, data: Any) -> Timers:
        if not isinstance(data, dict):
            return cls()

        def spans(value: Any) -> dict[str, int]:
            if not isinstance(value, dict):
                return {}
            return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}

        return cls(spans(data.get("sticky_until")), spans(data.get("cooldown_until")))


@dataclass
class DepthInsert:
    depth: int
    role: Role
    text: str


@dataclass
class LoreResult:
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    at_depth: list[DepthInsert] = field(default_factory=list)
    # Ids of the entries that went in, and of those the budget left out.
    used: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)
    timers: Timers = field(default_factory=Timers)


@dataclass
class _Hit:
    entry: Entry
    score: int  # keys matched, for group scoring
    step: int


def entries_of(book: dict[str, Any] | None) -> list[Entry]:
    if not book or not isinstance(book.get("entries"), list):
        return []
    parsed = (from_book(raw, i) for i, raw in enumerate(book["entries"]) if isinstance(raw, dict))
    return [e for e in parsed if e is not None]


def activate(
    book: dict[str, Any] | None,
    scan: ScanInput,
    *,
    timers: Timers | None = None,
    rng: random.Random | None = None,
    count_tokens: Callable[[str], int] = lambda text: len(text) // 4,
    budget: int | None = None,
    max_recursion: int = 3,
    case_sensitive: bool = False,
    whole_words: bool = True,
) -> LoreResult:
    """Run the lorebook for one turn (see the module's docstring for the steps)."""
    timers = timers or Timers()
    rng = rng or random.Random()
    book = book or {}
    entries = entries_of(book)
    now = scan.count
    book_depth = book.get("scan_depth")
    default_depth = book_depth if isinstance(book_depth, int) and book_depth >= 0 else None
    recursive = book.get("recursive_scanning") is True
    token_budget = book.get("token_budget")
    if budget is None and isinstance(token_budget, int) and token_budget > 0:
        budget = token_budget

    # Built once per scan depth (and per recursion step): every entry scans the same strings.
    chat_texts: dict[int, str] = {}

    def chat_text(entry: Entry) -> str:
        depth = entry.scan_depth if entry.scan_depth is not None else default_depth
        depth = DEFAULT_SCAN_DEPTH if depth is None else depth
        if depth not in chat_texts:
            chat_texts[depth] = "\n".join(scan.messages[-depth:]) if depth > 0 else ""
        return chat_texts[depth]

    def options(entry: Entry) -> dict[str, bool]:
        return {
            "case_sensitive": (
                entry.case_sensitive if entry.case_sensitive is not None else case_sensitive
            ),
            "whole_words": entry.whole_words if entry.whole_words is not None else whole_words,
            "use_regex": entry.use_regex,
        }

    def matches(entry: Entry, text: str) -> int:
        """Keys matched (0: no match) by the entry's full key rules."""
        opts = options(entry)
        primary = count_matches(entry.keys, text, **opts)
        if not primary:
            return 0
        if entry.selective and entry.secondary and not entry.use_regex:
            hits = count_matches(entry.secondary, text, **opts)
            total = len(entry.secondary)
            passed = {
                "and_any": hits > 0,
                "not_all": hits < total,
                "not_any": hits == 0,
                "and_all": hits == total,
            }[entry.logic]
            if not passed:
                return 0
            primary += hits
        for group in entry.decorators.additional_keys:
            if not any_match(group, text, **opts):
                return 0
        excluded = entry.decorators.values.get("exclude_keys", [])
        if excluded and any_match(excluded, text, **opts):
            return 0
        return primary

    def eligible(entry: Entry) -> bool:
        if entry.forced is False:
            return False
        if timers.sticky_until.get(entry.uid, -1) >= now:
            return True
        if timers.cooldown_until.get(entry.uid, -1) >= now or now < entry.delay:
            return False
        d = entry.decorators
        if d.has("is_greeting") and (
            scan.greeting is None or d.number("is_greeting") != scan.greeting
        ):
            return False
        turn = scan.turn if scan.turn is not None else now
        after = d.number("activate_only_after")
        if after is not None and turn < after:
            return False
        every = d.number("activate_only_every")
        return not (every is not None and every > 0 and turn % every != 0)

    candidates = [e for e in entries if eligible(e)]
    active: dict[str, _Hit] = {}
    group_taken: set[str] = set()
    recursion_text: list[str] = []

    def admit(new: list[_Hit]) -> list[_Hit]:
        """Probability, then inclusion groups, for the entries activated in one step."""
        rolled = [
            h
            for h in new
            if h.entry.probability >= 100
            or timers.sticky_until.get(h.entry.uid, -1) >= now
            or rng.random() * 100 < h.entry.probability
        ]
        kept = [h for h in rolled if not h.entry.groups]
        grouped: dict[str, list[_Hit]] = {}
        for hit in rolled:
            for group in hit.entry.groups:
                grouped.setdefault(group, []).append(hit)
        chosen: set[str] = set()
        for group, hits in grouped.items():
            if group in group_taken:
                continue
            winner = _pick(hits, rng)
            chosen.add(winner.entry.uid)
        for hit in rolled:
            if hit.entry.groups and hit.entry.uid in chosen:
                if any(g in group_taken for g in hit.entry.groups):
                    continue
                group_taken.update(hit.entry.groups)
                kept.append(hit)
        return kept

    # Step 0: the chat.
    first: list[_Hit] = []
    for entry in candidates:
        sticky = timers.sticky_until.get(entry.uid, -1) >= now
        if entry.delay_until_recursion:
            continue
        if sticky or entry.forced or entry.constant:
            first.append(_Hit(entry, 0, 0))
        elif score := matches(entry, chat_text(entry)):
            first.append(_Hit(entry, score, 0))
    for hit in admit(first):
        active[hit.entry.uid] = hit
        if not hit.entry.prevent_recursion:
            recursion_text.append(hit.entry.content)

    # Steps 1..n: what activated so far, scanned with the chat.
    step = 0
    while recursive and step < max_recursion and recursion_text:
        step += 1
        buffer = "\n".join(recursion_text)
        step_texts: dict[str, str] = {}
        found: list[_Hit] = []
        for entry in candidates:
            if entry.uid in active or entry.exclude_recursion or entry.forced is not None:
                continue
            if entry.delay_until_recursion > step or entry.constant:
                continue
            chat = chat_text(entry)
            if chat not in step_texts:
                step_texts[chat] = chat + "\n" + buffer
            if score := matches(entry, step_texts[chat]):
                found.append(_Hit(entry, score, step))
        admitted = admit(found)
        if not admitted:
            break
        for hit in admitted:
            active[hit.entry.uid] = hit
            if not hit.entry.prevent_recursion:
                recursion_text.append(hit.entry.content)

    result = LoreResult(timers=Timers(dict(timers.sticky_until), dict(timers.cooldown_until)))
    kept = _fit_budget(list(active.values()), budget, count_tokens, result)
    for hit in sorted(kept, key=lambda h: (h.entry.order, h.entry.index)):
        entry = hit.entry
        text = entry.content.strip()
        if not text:
            continue
        result.used.append(entry.uid)
        if entry.placement == "depth":
            result.at_depth.append(DepthInsert(entry.depth, entry.role, text))
        elif entry.placement == "after":
            result.after.append(text)
        else:
            result.before.append(text)
    _update_timers(result.timers, kept, now)
    return result


def _pick(hits: list[_Hit], rng: random.Random) -> _Hit:
    """The one entry of an inclusion group that stays."""
    overriding = [h for h in hits if h.entry.group_override]
    if overriding:
        return max(overriding, key=lambda h: (h.entry.order, -h.entry.index))
    if any(h.entry.group_scoring for h in hits):
        best = max(h.score for h in hits)
        hits = [h for h in hits if h.score == best]
    weights = [h.entry.group_weight for h in hits]
    if sum(weights) <= 0:
        return hits[0]
    return rng.choices(hits, weights=weights, k=1)[0]


def _fit_budget(
    hits: list[_Hit],
    budget: int | None,
    count_tokens: Callable[[str], int],
    result: LoreResult,
) -> list[_Hit]:
    if budget is None:
        return hits

    def keep_first(hit: _Hit) -> tuple[int, float, float]:
        droppable = 1 if hit.entry.decorators.has("ignore_on_max_context") else 0
        return (droppable, -hit.entry.priority, -hit.entry.order)

    kept, used = [], 0
    for hit in sorted(hits, key=keep_first):
        cost = count_tokens(hit.entry.content)
        if used + cost <= budget:
            kept.append(hit)
            used += cost
        else:
            result.over_budget.append(hit.entry.uid)
    return kept


def _update_timers(timers: Timers, kept: list[_Hit], now: int) -> None:
    for hit in kept:
        entry, uid = hit.entry, hit.entry.uid
        if timers.sticky_until.get(uid, -1) >= now:
            continue  # already inside its sticky span
        if entry.decorators.has("keep_activate_after_match"):
            timers.sticky_until[uid] = FOREVER
            continue
        if entry.decorators.has("dont_activate_after_match"):
            timers.cooldown_until[uid] = FOREVER
            continue
        end = now + entry.sticky if entry.sticky else now
        if entry.sticky:
            timers.sticky_until[uid] = end
        if entry.cooldown:
            timers.cooldown_until[uid] = end + entry.cooldown
