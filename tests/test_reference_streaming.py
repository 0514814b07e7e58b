"""Batches in, state carried over: however a trace is cut into batches, replay gives the same findings and
the same snapshot; stopping at event N gives the state a model fed exactly N events has."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from test_reference_traces import TRACES

from replay.reference import ReferenceModel, replay_reference
from replay.reference.snapshot import snapshot

_FULL = {make.__name__: make().b.batch() for make in TRACES}
_PLATFORM = {make.__name__: make().platform for make in TRACES}


def _canon(r) -> str:
    return json.dumps(r.snapshot(), sort_keys=True)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(_FULL)), st.lists(st.floats(0, 1), max_size=6))
def test_batch_boundaries_do_not_matter(name: str, cuts: list[float]) -> None:
    b = _FULL[name]
    points = sorted({int(c * b.n) for c in cuts} | {0, b.n})
    batches = [b.slice(lo, hi) for lo, hi in itertools.pairwise(points) if hi > lo]
    whole = replay_reference(_PLATFORM[name], b)
    split = replay_reference(_PLATFORM[name], batches)
    assert split.findings == whole.findings
    assert _canon(split) == _canon(whole)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(_FULL)), st.floats(0, 0.999))
def test_state_at_an_event_is_the_state_after_that_many_events(name: str, where: float) -> None:
    b = _FULL[name]
    n = int(where * b.n)
    r = replay_reference(_PLATFORM[name], b, stop_after=n)
    m = ReferenceModel(_PLATFORM[name])
    m.feed(b.slice(0, n))
    assert r.events == n == m.events
    assert json.dumps(r.snapshot(), sort_keys=True) == json.dumps(snapshot(m), sort_keys=True)
