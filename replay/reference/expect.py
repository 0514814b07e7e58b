"""Expected output events and how recorded outputs are matched against them (MODEL.md 2.2).

A kernel action (the model's execution of one input) leaves a FIFO of expected events on the CPU that
performed it. Words may hold objects (``state.Obj``): they compare by id, and a provisional object binds to
an id the trace shows where nothing else has that id yet (MODEL.md 4.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from replay.reference.state import Obj, Registry
from tracefmt.events import Kind

# the word (or "ec" column) that identifies which expectation an observed event answers
KEY: dict[int, int | str] = {
    Kind.SM_UP: 0,
    Kind.EC_WAKE: 0,
    Kind.IRQ_MASK: 0,
    Kind.IRQ_UNMASK: 0,
    Kind.IRQ_EOI: 0,
    Kind.IRQ_DEACTIVATE: 0,
    Kind.IPI_SEND: 0,
    Kind.EC_KILL: 0,
    Kind.HC_EXIT: "ec",
    Kind.SM_BLOCK: "ec",
    Kind.EVENT_DELIVERY: "ec",
}

# word comparison order (first difference is reported), MODEL.md 2.4
ORDER: dict[int, tuple[int, ...]] = {
    Kind.SM_UP: (2, 1, 3, 4),
    Kind.SM_BLOCK: (0, 1, 2),
    Kind.EC_WAKE: (1, 2, 3),
    Kind.SCHED_SWITCH: (0, 2, 3, 1, 4),
    Kind.IPI_SEND: (1,),
    Kind.IRQ_MASK: (1, 2),
    Kind.IRQ_UNMASK: (1, 2),
    Kind.IRQ_EOI: (1, 2),
    Kind.IRQ_DEACTIVATE: (1, 2),
    Kind.EC_KILL: (1,),
    Kind.EVENT_DELIVERY: (0, 1, 2, 3),
    Kind.OBJ_CREATED: (1, 2, 3, 4),
}


@dataclass(eq=False)
class Expect:
    kind: int
    words: list[Any]  # five entries: int, Obj, or None (any value)
    ec: Any  # expected ec column: int, Obj or None (not checked)
    optional: bool
    action: int  # event index of the input whose action produced it
    epoch: int  # loss epoch when it was produced
    ref: Any = None  # Call for HC_EXIT, switch info for SCHED_SWITCH, ...

    def subject(self) -> int:
        k = KEY.get(self.kind)
        w = self.ec if k == "ec" or k is None else self.words[k]
        if self.kind == Kind.SCHED_SWITCH:
            w = self.words[3]
        return value(w)

    def row(self) -> list[int | None]:
        """[kind, a0..a4] with None for "any" (snapshot form)."""
        if self.kind == Kind.HC_EXIT:
            return [self.kind, *self.ref.exit_words()]
        return [self.kind, *(None if w is None else value(w) for w in self.words)]


def value(w: Any) -> int:
    return w.id if isinstance(w, Obj) else (-1 if w is None else int(w))


def key_match(w: Any, observed: int, reg: Registry) -> bool:
    """Does expected word ``w`` accept ``observed`` (no side effects)?"""
    if w is None:
        return True
    if isinstance(w, Obj):
        return w.id == observed or (not w.bound and observed not in (0, -1) and reg.get(observed) is None)
    return int(w) == observed


def word_match(w: Any, observed: int, reg: Registry) -> bool:
    """Like key_match, but binds a provisional object to the observed id. An object word the recorder
    wrote as -1 ("did not know", F 3) is accepted."""
    if isinstance(w, Obj) and observed == -1:
        return True
    if not key_match(w, observed, reg):
        return False
    if isinstance(w, Obj) and w.id != observed:
        reg.bind(w, observed)
    return True


def find(pending: Any, kind: int, ec: int, words: tuple[int, ...], reg: Registry) -> int:
    """Index of the expectation that answers an observed event, -1 if none (kind + key, else kind)."""
    first = -1
    key = KEY.get(kind)
    for j, x in enumerate(pending):
        if x.kind != kind:
            continue
        if first < 0:
            first = j
        if key is None:
            return j
        exp = x.ec if key == "ec" else x.words[key]
        obs = ec if key == "ec" else words[key]
        if key_match(exp, obs, reg):
            return j
    return first


def first_difference(x: Expect, words: tuple[int, ...], reg: Registry) -> int:
    """Index of the first word (in the kind's order) that differs, -1 if all match."""
    for i in ORDER.get(x.kind, (0, 1, 2, 3, 4)):
        if not word_match(x.words[i], words[i], reg):
            return i
    return -1
