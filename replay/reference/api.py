"""Entry point of the reference model (MODEL.md 1): replay a trace, get findings and a state snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from replay.reference.finding import Finding
from replay.reference.model import ReferenceModel
from replay.reference.snapshot import snapshot
from tracefmt.decode import fill_hc
from tracefmt.events import Kind
from tracefmt.platform import Platform
from tracefmt.schema import EventBatch


@dataclass
class Result:
    model: ReferenceModel

    @property
    def findings(self) -> list[Finding]:
        return self.model.findings

    @property
    def api(self) -> str:
        return self.model.api

    @property
    def events(self) -> int:
        return self.model.events

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.model)


# what a console import (FORMAT.md 9) can contain: everything else was never printed by NOVA
CONSOLE_KINDS = frozenset({Kind.HC_ENTRY, Kind.OBJ_CREATED, Kind.IRQ_MASK, Kind.IRQ_UNMASK, Kind.EC_KILL})


def recorded_kinds(provenance: dict[str, Any] | None) -> frozenset[int] | None:
    """The event kinds a trace's source records (``replay_reference(recorded=...)``); None = all."""
    capture = (provenance or {}).get("capture", {})
    if isinstance(capture, dict) and capture.get("source") == "console":
        return frozenset(int(k) for k in CONSOLE_KINDS)
    return None


def rehc(b: EventBatch, api: str) -> EventBatch:
    """The batch with its ``hc`` column recomputed from the raw registers under generation ``api``."""
    hc = fill_hc(b.kind, b.a0, b.a4, api)
    if np.array_equal(hc, b.hc):
        return b
    return EventBatch(*(hc if name == "hc" else col for name, col in zip(EventBatch._fields, b, strict=True)))


def replay_reference(
    platform: Platform,
    events: EventBatch | Iterable[EventBatch],
    model_api: str | None = None,
    stop_after: int | None = None,
    stop_at_ts: int | None = None,
    recorded: frozenset[int] | None = None,
) -> Result:
    """Replay ``events`` under the platform's kernel API (or ``model_api``) with the reference model.

    ``stop_after`` / ``stop_at_ts`` stop early and return the state at that point (without ``finish``: inside
    the leading boot announcements the state is still empty - it is built when the boot block ends).
    """
    m = ReferenceModel(platform, model_api, recorded)
    batches = [events] if isinstance(events, EventBatch) else events
    stopped = False
    for b in batches:
        if not m.feed(rehc(b, m.api), stop_after, stop_at_ts):
            stopped = True
            break
    if not stopped:
        m.finish()  # the whole trace was consumed (a stop point at or beyond its end included)
    return Result(m)
