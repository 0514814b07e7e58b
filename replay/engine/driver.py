"""Feeding batches to the numba kernel: column normalisation, state growth, findings in the shared shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from replay.engine import kernel
from replay.engine.state import (
    F_CODE,
    F_CPU,
    F_DETAIL,
    F_EVENT,
    F_EXPECTED,
    F_EXPL,
    F_KIND,
    F_OBSERVED,
    F_SUBJECT,
    F_TS,
    G_CALLS,
    G_COLD,
    G_EVENTS,
    G_EXITS_LEARNED,
    G_EXITS_SEEN,
    G_LOSSES,
    G_NF,
    G_NOBJ,
    G_TIMEOUTS,
    G_WOKEN,
    State,
    grown_findings,
    grown_objects,
    new_state,
)
from replay.reference.finding import Finding, describe, severity_of
from tracefmt.decode import FIELDS, SELECTOR_FIELDS, fill_hc
from tracefmt.events import KIND_NAMES, Kind
from tracefmt.findings import FINDING_SCHEMA, Explanation, FindingCode, Severity
from tracefmt.nova import X86_VEC_GSI, Hc
from tracefmt.platform import Platform
from tracefmt.schema import EventBatch

# hypercalls that return to their caller at once, without rescheduling: their HC_EXIT must come before the
# CPU's next input (ipc_call, ipc_reply, ctrl_sm and create_sc may block, switch or preempt)
NONSWITCH = (
    Hc.CREATE_PD,
    Hc.CREATE_EC,
    Hc.CREATE_PT,
    Hc.CREATE_SM,
    Hc.CREATE_DC,
    Hc.CTRL_PD,
    Hc.CTRL_EC,
    Hc.CTRL_SC,
    Hc.CTRL_PT,
    Hc.CTRL_HW,
    Hc.ASSIGN_INT,
    Hc.ASSIGN_DEV,
    Hc.RESERVED,
)

# what the engine checks (MODEL.md "The numba engine"); every other rule is learned, never reported
CLAIMED_CODES = frozenset(
    int(c)
    for c in (
        FindingCode.MISSING_EXIT,
        FindingCode.EARLY_TIMEOUT,
        FindingCode.UNEXPECTED_EXIT,
        FindingCode.BAD_INPUT_CPU,
        FindingCode.SELECTOR_ALIASED,
        FindingCode.BAD_RECORD,
        FindingCode.COLD_START,
        FindingCode.TRACE_GAP,
        FindingCode.WORD_MISMATCH,  # only SM_UP `woken` of an interrupt up on a known wait queue (MODEL.md 14.2)
    )
)

# claimed codes whose scope is narrower than the reference's rule, as the summary names them
_RULE_SCOPE = {int(FindingCode.WORD_MISMATCH): "WORD_MISMATCH (only SM_UP woken of x86 nova-2024 interrupt ups)"}

_N_HC = int(Hc.RESERVED) + 1


def selector_table(api: str) -> np.ndarray:
    """(register, shift, mask) of each selector field per Hc code; register -1 ends a row."""
    tab = np.full((_N_HC, 4, 3), -1, np.int64)
    for hc, fields in FIELDS[api].items():
        by_name = {f.name: f for f in fields}
        row = [by_name[n] for n in SELECTOR_FIELDS if n in by_name]
        for j, f in enumerate(row):
            tab[int(hc), j] = (f.reg, f.shift, f.mask)
    return tab


def nonswitch_table() -> np.ndarray:
    t = np.zeros(_N_HC, np.int8)
    t[[int(h) for h in NONSWITCH]] = 1
    return t


_DTYPES = {"cpu": np.int16, "kind": np.uint8, "hc": np.uint8}


def _readonly(batch: EventBatch) -> list[np.ndarray]:
    """The columns as contiguous read-only arrays of the schema's dtypes (one kernel signature for every
    source: Arrow views are read-only, builder arrays are not)."""
    cols = []
    for name, col in zip(EventBatch._fields, batch, strict=True):
        a = np.ascontiguousarray(col, dtype=_DTYPES.get(name, np.int64)).view()
        a.flags.writeable = False
        cols.append(a)
    return cols


class Engine:
    """Incremental replay: ``feed`` batches in file order (state carried over), then ``finish``."""

    def __init__(self, platform: Platform, model_api: str | None = None, exits_recorded: bool = True) -> None:
        if model_api is not None and model_api != platform.api:
            platform = platform.with_api(model_api)
        self.platform = platform
        self.api = platform.api
        self.rehc = model_api is not None
        irq_base = X86_VEC_GSI if platform.arch == "x86_64" and self.api == "nova-2024" else -1
        self.st: State = new_state(platform.cpus, selector_table(self.api), nonswitch_table(), exits_recorded, irq_base)
        self.finished = False

    @property
    def events(self) -> int:
        return int(self.st.g[G_EVENTS])

    def feed(self, batch: EventBatch) -> None:
        if self.rehc:
            batch = batch._replace(hc=fill_hc(batch.kind, batch.a0, batch.a4, self.api))
        cols = _readonly(batch)
        i = 0
        while True:
            status, i = kernel.run(self.st, *cols, i)
            if status == kernel.OK:
                return
            if status == kernel.GROW:
                self.st = grown_objects(self.st)
                kernel.rehash(self.st)
            else:
                self.st = grown_findings(self.st)

    def finish(self) -> None:
        """End of trace: nothing is flushed (the last actions of a cut-off trace are incomplete by nature)."""
        self.finished = True

    # --- results ---------------------------------------------------------------------------------------------

    def finding_rows(self) -> np.ndarray:
        return self.st.findings[: self.st.g[G_NF]]

    def findings(self) -> list[Finding]:
        """Findings as ``replay.reference.Finding`` tuples (the shape both models share)."""
        out = []
        for r in self.finding_rows().tolist():
            code, expl = r[F_CODE], r[F_EXPL]
            out.append(
                Finding(
                    code,
                    severity_of(code, expl),
                    expl,
                    r[F_EVENT],
                    r[F_TS],
                    r[F_CPU],
                    r[F_SUBJECT],
                    r[F_EXPECTED],
                    r[F_OBSERVED],
                    r[F_DETAIL],
                )
            )
        return out

    def findings_frame(self) -> Any:
        """A polars DataFrame in ``tracefmt.findings.FINDING_SCHEMA``."""
        import polars as pl

        rows = self.finding_rows()
        fs = self.findings()
        data = {
            "code": [f.code for f in fs],
            "name": [FindingCode(f.code).name for f in fs],
            "severity": [Severity(f.severity).name for f in fs],
            "explanation": [Explanation(f.explanation).name for f in fs],
            "event": [f.event for f in fs],
            "ts": [f.ts for f in fs],
            "cpu": [f.cpu for f in fs],
            "subject": [f.subject for f in fs],
            "expected": [f.expected for f in fs],
            "observed": [f.observed for f in fs],
            "message": [describe(f, int(k)) for f, k in zip(fs, rows[:, F_KIND].tolist(), strict=True)],
        }
        return pl.DataFrame(data, schema=FINDING_SCHEMA)

    def summary(self) -> dict[str, Any]:
        """What was replayed and checked, and what the engine only learned."""
        g = self.st.g
        kinds = self.st.kinds
        per_kind = {KIND_NAMES.get(k, str(k)): int(kinds[k]) for k in np.flatnonzero(kinds)}
        return {
            "api": self.api,
            "arch": self.platform.arch,
            "cpus": self.platform.cpus,
            "events": int(g[G_EVENTS]),
            "events_per_kind": per_kind,
            "cold_start": bool(g[G_COLD]),
            "loss_gaps": int(g[G_LOSSES]),
            "objects": int(g[G_NOBJ]),
            "checked": {
                "hypercall_entries": int(g[G_CALLS]),
                "exits_paired": int(g[G_EXITS_SEEN]),
                "exits_learned": int(g[G_EXITS_LEARNED]),
                "timeouts_checked": int(g[G_TIMEOUTS]),
                "interrupt_wakes_checked": int(g[G_WOKEN]),
                "rules": sorted(_RULE_SCOPE.get(c, FindingCode(c).name) for c in CLAIMED_CODES),
            },
            "unchecked": {
                "hypercall statuses and out values": int(kinds[int(Kind.HC_EXIT)]),
                "kernel outputs (wakes, switches, interrupts, IPIs, ...)": int(
                    sum(int(kinds[int(k)]) for k in _OUTPUTS)
                ),
            },
        }


_OUTPUTS = (
    Kind.IRQ_MASK,
    Kind.IRQ_UNMASK,
    Kind.IRQ_EOI,
    Kind.IRQ_DEACTIVATE,
    Kind.SM_UP,
    Kind.SM_BLOCK,
    Kind.EC_WAKE,
    Kind.SCHED_SWITCH,
    Kind.IPI_SEND,
    Kind.EC_KILL,
    Kind.EVENT_DELIVERY,
)


def replay_engine(
    platform: Platform,
    events: EventBatch | Iterable[EventBatch],
    model_api: str | None = None,
    recorded: frozenset[int] | None = None,
    advance: Callable[[int], None] | None = None,
) -> Engine:
    """Replay ``events`` (one batch or an iterable of them, in file order) with the numba engine.

    ``recorded``: the event kinds the trace's source can contain (``replay.reference.api.recorded_kinds``);
    a source without HC_EXIT (a console import) gets no exit checks.
    """
    exits = recorded is None or int(Kind.HC_EXIT) in recorded
    eng = Engine(platform, model_api, exits_recorded=exits)
    batches = [events] if isinstance(events, EventBatch) else events
    for b in batches:
        eng.feed(b)
        if advance is not None:
            advance(b.n)
    eng.finish()
    return eng
