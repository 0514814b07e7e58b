"""Differential tests: the numba engine and the reference model agree finding for finding on every rule the
engine claims (replay/MODEL.md "The numba engine").

The healthy hand-built traces of the reference tests are mutated the way a faulty kernel or recorder would
change them - a word changed, a record missing (with and without a sequence gap), a record written twice,
the head cut off (a flight recorder) - and both models must report the same (code, event, subject,
explanation) for the claimed codes. The reference's MISSING_EXIT of calls that may reschedule (ctrl_sm,
ipc_call, create_sc) is outside the claim: the engine cannot tell whether such a call returns at once.
WORD_MISMATCH is claimed only for the `woken` word of interrupt ups on a wait queue the engine knows: there
the engine's findings are a subset of the reference's (never one the reference lacks), checked separately.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_reference_divergence import _MUTATIONS, _other
from test_reference_traces import TRACES, _after_boot

from replay.engine import CLAIMED_CODES, replay_engine
from replay.engine.driver import NONSWITCH
from replay.reference import replay_reference
from tracefmt import open_trace
from tracefmt.events import INPUT_KINDS, Kind
from tracefmt.findings import Explanation, FindingCode
from tracefmt.schema import EventBatch, concat

_NONSWITCH = {int(h) for h in NONSWITCH}
_BASES = [(make.__name__, make()) for make in TRACES]


def _claimed(findings: list) -> list[tuple[int, int, int, int]]:
    out = []
    for f in findings:
        if f.code not in CLAIMED_CODES or f.code == FindingCode.WORD_MISMATCH:
            continue
        if f.code == FindingCode.MISSING_EXIT and f.detail not in _NONSWITCH:
            continue
        out.append((f.code, f.event, f.subject, f.explanation))
    return sorted(out)


def _woken(findings: list, expl: bool = True) -> set[tuple[int, ...]]:
    """WORD_MISMATCH findings of a `woken` word (SM_UP word 2), with their expected and observed EC."""
    return {
        (f.event, f.subject, f.expected, f.observed) + ((f.explanation,) if expl else ())
        for f in findings
        if f.code == FindingCode.WORD_MISMATCH and f.detail == 2
    }


def _sound(ref_findings: list, eng_findings: list, what: str, expl: bool = True) -> None:
    """The engine's woken mismatches are the reference's; and it reports no other word mismatch."""
    eng_words = [f for f in eng_findings if f.code == FindingCode.WORD_MISMATCH]
    assert len(_woken(eng_words)) == len(eng_words), what
    assert _woken(eng_words, expl) <= _woken(ref_findings, expl), (what, eng_words)


def _agree(platform, b: EventBatch, what: str, exact: bool = True) -> None:
    """Same claimed findings; ``exact=False``: the engine's are a subset (it never reports what the reference
    does not, but may stay silent where only the reference's deeper state decides)."""
    ref_f = replay_reference(platform, b).findings
    eng_f = replay_engine(platform, b).findings()
    _sound(ref_f, eng_f, what, exact)
    ref = _claimed(ref_f)
    eng = _claimed(eng_f)
    if exact:
        assert eng == ref, what
    else:  # (code, event, subject): a finding only the reference makes may widen its loss horizon (explanation)
        assert {f[:3] for f in eng} <= {f[:3] for f in ref}, (what, eng, ref)


def _changed(b: EventBatch, j: int, w: int) -> EventBatch:
    cols = [np.array(c) for c in b]
    cols[6 + w][j] = _other(int(b.kind[j]), w, int(cols[6 + w][j]), b)
    return EventBatch(*cols)


def _dropped(b: EventBatch, j: int, gap: bool) -> EventBatch:
    keep = np.array([k for k in range(b.n) if k != j])
    cols = [np.array(c) for c in b]
    if not gap:  # renumbered: the kernel never produced it
        later = (np.arange(b.n) > j) & (cols[1] == cols[1][j])
        cols[2] = np.where(later, cols[2] - 1, cols[2])
    return EventBatch(*(c[keep] for c in cols))


def _doubled(b: EventBatch, j: int) -> EventBatch:
    idx = np.insert(np.arange(b.n), j, j)
    cols = [np.array(c)[idx] for c in b]
    later = (np.arange(b.n + 1) > j) & (cols[1] == cols[1][j])
    cols[2] = np.where(later, cols[2] + 1, cols[2])
    return EventBatch(*cols)


def _raw(b: EventBatch, j: int, data: st.DataObject) -> EventBatch:
    """A corrupt or unusual record that leaves the kernel's semantics alone: an aliased selector, another
    status word, a CPU or kind outside the platform, an HC_EXIT naming another EC."""
    cols = [np.array(c) for c in b]
    kind = int(b.kind[j])
    what = data.draw(st.sampled_from(("alias", "status", "cpu", "kind", "exit_ec")))
    if what == "alias" and kind == Kind.HC_ENTRY:
        cols[6][j] += data.draw(st.sampled_from([1 << 26, 3 << 26, 1 << 62]))  # sel = p0[63:8]: + k * 2^18
    elif what == "status" and kind == Kind.HC_EXIT:
        cols[6][j] = data.draw(st.sampled_from([0, 1, 5, 8, 12, 0x77, -1]))
    elif what == "cpu":
        cols[1][j] = data.draw(st.sampled_from([-1, 64]))
    elif what == "kind":
        cols[3][j] = data.draw(st.sampled_from([20, 200]))
    elif what == "exit_ec" and kind == Kind.HC_EXIT:
        cols[5][j] = int(b.ec[data.draw(st.integers(0, b.n - 1))])
    return EventBatch(*cols)


def test_healthy_traces_have_no_findings_in_either_model() -> None:
    for name, t in _BASES:
        b = t.b.batch()
        assert replay_engine(t.platform, b).findings() == [], name
        assert replay_reference(t.platform, b).findings == [], name


def test_every_single_mutation_agrees() -> None:
    for name, t in _BASES:
        b = t.b.batch()
        for j in range(_after_boot(t), b.n):
            kind = int(b.kind[j])
            for w in _MUTATIONS.get(kind, ()):
                _agree(t.platform, _changed(b, j, w), f"{name}: word {w} of {Kind(kind).name} at {j}")
            exact = kind not in INPUT_KINDS  # a missing input: the reference may know more (see _agree)
            _agree(t.platform, _dropped(b, j, gap=False), f"{name}: {Kind(kind).name} at {j} not recorded", exact)
            _agree(t.platform, _dropped(b, j, gap=True), f"{name}: {Kind(kind).name} at {j} lost")
            # a record written twice: the engine's exit claim covers only plain non-switching calls
            _agree(t.platform, _doubled(b, j), f"{name}: {Kind(kind).name} at {j} recorded twice", exact=False)
            _agree(t.platform, b.slice(j, b.n), f"{name}: cut at {j}")


def test_mutations_that_the_engine_reports_are_found() -> None:
    """The claim is not empty: exit pairing divergences are found by both, at the same event."""
    _name, t = _BASES[4]  # budget_trace: ctrl_sc at the end
    b = t.b.batch()
    j = int(np.flatnonzero(b.kind == Kind.HC_EXIT)[-1])
    eng = replay_engine(t.platform, _doubled(b, j)).findings()
    assert [(f.code, f.event) for f in eng] == [(int(FindingCode.UNEXPECTED_EXIT), j + 1)]
    eng = replay_engine(t.platform, _dropped(b, j, gap=False)).findings()
    assert eng == []  # ctrl_sc is the last call: nothing comes after it, nothing is missing yet


@given(st.data())
def test_random_multiple_mutations_never_give_a_finding_the_reference_lacks(data: st.DataObject) -> None:
    name, t = data.draw(st.sampled_from(_BASES))
    b = t.b.batch()
    for _ in range(data.draw(st.integers(1, 4))):
        j = data.draw(st.integers(_after_boot(t), b.n - 1))
        op = data.draw(st.sampled_from(("word", "drop", "lose", "double", "raw")))
        kind = int(b.kind[j])
        if op == "word" and kind in _MUTATIONS:
            b = _changed(b, j, data.draw(st.sampled_from(_MUTATIONS[kind])))
        elif op == "drop":
            b = _dropped(b, j, gap=False)
        elif op == "lose":
            b = _dropped(b, j, gap=True)
        elif op == "double":
            b = _doubled(b, j)
        elif op == "raw":
            b = _raw(b, j, data)
    _agree(t.platform, b, name, exact=False)


def test_sample_trace_agrees_under_both_generations() -> None:
    r = open_trace("sample_traces/x86-tiny.parquet")
    b = concat(list(r.batches()))
    for api in ("nova-2024", "nova-2026"):
        ref_f = replay_reference(r.platform, b, model_api=api).findings
        eng_f = replay_engine(r.platform, b, model_api=api).findings()
        _sound(ref_f, eng_f, api)
        ref, eng = _claimed(ref_f), _claimed(eng_f)
        assert eng == ref, api
        assert int(FindingCode.TRACE_GAP) in [f[0] for f in eng]


def test_every_sample_trace_agrees() -> None:
    from pathlib import Path

    from replay.reference.api import recorded_kinds

    paths = [p for p in sorted(Path("sample_traces").glob("*.parquet")) if not p.name.endswith(".labels.parquet")]
    assert paths
    for p in paths:
        r = open_trace(p)
        b = concat(list(r.batches()))
        rec = recorded_kinds(r.meta.provenance)
        ref_f = replay_reference(r.platform, b, recorded=rec).findings
        eng_f = replay_engine(r.platform, b, recorded=rec).findings()
        _sound(ref_f, eng_f, p.name)
        assert _claimed(eng_f) == _claimed(ref_f), p.name


def test_the_divergence_samples_wrong_wake_is_found() -> None:
    """The synthesized divergence sample wakes the wrong EC on an interrupt up (its label says which and who
    waited): the engine reports exactly that woken-word mismatch, as the reference does."""
    import json

    import pyarrow.parquet as pq

    r = open_trace("sample_traces/x86-divergence.parquet")
    b = concat(list(r.batches()))
    labels = pq.read_table("sample_traces/x86-divergence.labels.parquet").to_pylist()
    wakes = [lab for lab in labels if lab["fault"] == "divergence/wrong_wake"]
    assert wakes
    want = set()
    for lab in wakes:
        j, p = lab["event"], json.loads(lab["params"])
        assert int(b.kind[j]) == Kind.SM_UP
        want.add((j, int(b.a0[j]), p["true_waiter"], p["woken_ec"], int(Explanation.KERNEL)))
    eng = replay_engine(r.platform, b)
    assert _woken(eng.findings()) == want
    assert want <= _woken(replay_reference(r.platform, b).findings)
    assert eng.summary()["checked"]["interrupt_wakes_checked"] > len(want)
