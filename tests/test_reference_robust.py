"""Replay never trusts the trace: random records after a boot (and without one) give findings, never a crash,
and the snapshot stays canonical JSON (DESIGN.md "Reliability")."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reference_support import ROOT_PD, booted, x86

from replay.reference import replay_reference
from replay.reference.api import CONSOLE_KINDS
from tracefmt.builder import TraceBuilder
from tracefmt.nova import SELNUM

_WORDS = st.sampled_from([0, -1, 1, 2, 5, 0x20, 0x30, 0x100, ROOT_PD, SELNUM - 2, 1 << 18, 1 << 63, -(1 << 63)])


def _events(draw_ids: list[int]):
    word = st.one_of(_WORDS, st.sampled_from(draw_ids), st.integers(-(1 << 63), (1 << 63) - 1))
    return st.lists(
        st.tuples(
            st.sampled_from([0, 0, 0, 1, 1, 3]),  # CPU (3 is outside the 2-CPU platform)
            st.integers(0, 21),  # kind (20, 21 are not kinds)
            st.sampled_from([*draw_ids, 0, -1]),  # ec column
            st.tuples(word, word, word, word, word),
        ),
        max_size=40,
    )


_IDS = [0x10000, 0x10080, 0x100A0, 0x10100, 0x10120, 0x10140, 0x20000, 0x20020, 0x20040, 0x20060, 0x30000]


def _replay(rows: list, boot: bool) -> None:
    p = x86()
    if boot:
        b, _ = booted(p)
    else:
        b = TraceBuilder(p)
    for cpu, kind, ec, words in rows:
        seq = None if cpu < p.cpus else 7
        b.raw(cpu, kind, ec, words, seq=seq)  # type: ignore[arg-type]
    batch = b.batch()
    r = replay_reference(p, batch)
    json.dumps(r.snapshot(), sort_keys=True)
    r2 = replay_reference(p, batch, model_api="nova-2026")
    json.dumps(r2.snapshot(), sort_keys=True)
    r3 = replay_reference(p, batch, recorded=CONSOLE_KINDS)  # read as a partial (console) trace
    json.dumps(r3.snapshot(), sort_keys=True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events(_IDS))
def test_random_records_after_boot_never_crash(rows: list) -> None:
    _replay(rows, boot=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events(_IDS))
def test_random_records_without_boot_never_crash(rows: list) -> None:
    _replay(rows, boot=False)


_SELS = st.sampled_from([0x100, 0x101, 0x200, ROOT_PD, SELNUM - 1, SELNUM - 2, SELNUM - 4, SELNUM - 5, 0x10005, 5])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(range(17))),  # Hc code (RESERVED included; CREATE_DC absent in nova-2024)
            _SELS,
            st.integers(0, 15),
            st.tuples(st.one_of(_SELS, _WORDS), st.one_of(_SELS, _WORDS), _WORDS, _WORDS),
            st.sampled_from([None, 0, 1, 2, 5, 6, 8]),  # recorded status (None: no HC_EXIT)
            st.booleans(),  # add a random output after it
        ),
        max_size=30,
    ),
    st.sampled_from(["nova-2024", "nova-2026"]),
)
def test_random_hypercalls_never_crash(calls: list, api: str) -> None:
    from tracefmt.events import Kind
    from tracefmt.nova import Hc, hc_number

    p = x86(api=api)
    b, ids = booted(p)
    for code, sel, flags, (p1, p2, p3, p4), status, extra in calls:
        hc = Hc(code)
        try:
            hc_number(api, hc)
        except ValueError:
            continue
        b.hc_entry(0, ids.root_ec, hc, sel=sel, flags=flags, p1=p1, p2=p2, p3=p3, p4=p4)
        if extra:
            b.event(0, Kind.SM_UP, ec=ids.root_ec, sm=0x10080, counter=1, woken=0, up_cause=0, irq=-1)
        if status is not None:
            b.hc_exit(0, ids.root_ec, hc, status, created=0x900000 + 0x40 * len(b.rows))
    r = replay_reference(p, b.batch())
    json.dumps(r.snapshot(), sort_keys=True)
