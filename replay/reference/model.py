"""The reference model: one event at a time, plain Python (MODEL.md section 2).

``ReferenceModel.step`` classifies every event (input, output, semi-input, loss), keeps the per-CPU FIFOs
of expected outputs, and hands the work to the modules that implement the kernel rules: ``boot``,
``calls`` (hypercalls), ``semaphores``, ``ipc``, ``sched``, ``irq``, ``observe`` (outputs) and ``loss``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from replay.reference import boot, calls, ipc, irq, loss, observe, sched, semaphores, switches
from replay.reference.expect import Expect
from replay.reference.finding import Finding, severity_of
from replay.reference.state import Cont, Cpu, Ec, Obj, Pd, Registry, Space
from tracefmt.events import INPUT_KINDS, N_KINDS, Kind
from tracefmt.findings import Explanation, FindingCode
from tracefmt.nova import API_2024, ObjType, PdSubtype
from tracefmt.platform import Platform
from tracefmt.schema import EventBatch

# inputs: their ec column names the EC current on the recording CPU (MODEL.md 2.3); outputs carry the
# expected ec column in their expectation instead (the model has already finished the whole action)
_EC_IS_CURRENT = frozenset({Kind.HC_ENTRY, Kind.IRQ_ARRIVAL, Kind.TIMEOUT, Kind.IPI_RECV, Kind.MARKER})
_FLUSHING = frozenset({Kind.HC_ENTRY, Kind.IRQ_ARRIVAL, Kind.TIMEOUT, Kind.IPI_RECV})


class Ev(NamedTuple):
    """One event as Python ints (words signed int64, like the columns)."""

    i: int
    ts: int
    cpu: int
    seq: int
    kind: int
    hc: int
    ec: int
    a: tuple[int, int, int, int, int]


class ReferenceModel:
    def __init__(
        self, platform: Platform, model_api: str | None = None, recorded: frozenset[int] | None = None
    ) -> None:
        if model_api is not None and model_api != platform.api:
            platform = platform.with_api(model_api)
        self.platform = platform
        # event kinds the trace's source can contain (None: all; a console import is partial, MODEL.md 2.7)
        self.recorded = frozenset(int(k) for k in Kind) if recorded is None else frozenset(int(k) for k in recorded)
        self.partial = recorded is not None
        self.api = platform.api
        self.arch = platform.arch
        self.x86 = platform.arch == "x86_64"
        self.gen2024 = platform.api == API_2024
        self.reg = Registry()
        self.cpus = [Cpu(n) for n in range(platform.cpus)]
        self.findings: list[Finding] = []
        self.events = 0
        self.last_ts: int | None = None
        self.epoch = 0  # loss epoch: +1 per gap (MODEL.md 3.6)
        self.horizon = [0] * platform.cpus  # inputs per CPU still inside the loss horizon (MODEL.md 3.6)
        self.losses = 0
        self.cold = False
        self.in_boot = False
        self.boot_rows: list[Ev] = []
        self.first_seq = 0  # sequence number the recorders started at (the first boot announcement's)
        self.nova: Space | None = None  # the NOVA object space
        self.root_pd: Pd | None = None
        self.action = [-1] * platform.cpus  # event index of the input each CPU is executing
        self.irqs: dict[int, Any] = {}  # interrupt number/id -> state.Irq
        self.vectors: dict[tuple[int, int], Any] = {}  # nova-2026 x86 (cpu, vec) -> SM (or UNK)
        self.vectors_complete = True  # False: slots not listed are unknown
        self.its: dict[tuple[int, int], tuple[int, int]] = {}  # nova-2026 Arm (did, eid) -> (intid, cpu)
        self.its_complete = True
        self.irqs_complete = True  # False: interrupts not listed have unknown state (cold start)
        self.devices: dict[tuple[int, int], Any] = {}  # nova-2024 (smmu, dad) -> DMA space
        self.qos_configured = False
        self.virt: bool | None = None  # x86 VMX/SVM present (learned, MODEL.md 13)
        self.ev: Ev | None = None

    # --- feeding --------------------------------------------------------------------------------------------

    def feed(self, b: EventBatch, stop_after: int | None = None, stop_at_ts: int | None = None) -> bool:
        """Consume a batch; False once a stop condition was reached (nothing more should be fed)."""
        cols = [c.tolist() for c in (b.ts, b.cpu, b.seq, b.kind, b.hc, b.ec, b.a0, b.a1, b.a2, b.a3, b.a4)]
        for row in zip(*cols, strict=True):
            if stop_after is not None and self.events >= stop_after:
                return False
            if stop_at_ts is not None and row[0] > stop_at_ts:
                return False
            ts, cpu, seq, kind, hc, ec, a0, a1, a2, a3, a4 = row
            self.step(Ev(self.events, ts, cpu, seq, kind, hc, ec, (a0, a1, a2, a3, a4)))
        return True

    def finish(self) -> None:
        """End of trace: complete a trace that held nothing but boot announcements (MODEL.md 2.6)."""
        if self.in_boot:
            boot.finish_boot(self)
        for cpu in self.cpus:
            self.close_unrecorded(cpu)

    # --- one event ------------------------------------------------------------------------------------------

    def step(self, ev: Ev) -> None:
        self.ev = ev
        self.events = ev.i + 1
        self.last_ts = ev.ts
        if ev.i == 0:
            if ev.kind == Kind.OBJ_CREATED:
                self.in_boot = True
            else:
                loss.cold_start(self, ev)
        if not 0 <= ev.cpu < len(self.cpus):
            self.report(FindingCode.BAD_INPUT_CPU, ev, observed=ev.cpu, expl=Explanation.INPUT)
            return
        if ev.kind >= N_KINDS:
            self.report(FindingCode.BAD_RECORD, ev, observed=ev.kind, expl=Explanation.RECORDER)
            return
        cpu = self.cpus[ev.cpu]
        if self.in_boot:
            if ev.kind == Kind.OBJ_CREATED:
                if not self.boot_rows:
                    self.first_seq = ev.seq
                cpu.last_seq, cpu.last_ts = ev.seq, ev.ts
                self.boot_rows.append(ev)
                return
            boot.finish_boot(self)
        if cpu.last_seq is None and not self.cold:
            cpu.last_seq = self.first_seq - 1  # a booted trace: every CPU's recorder starts where the BSP's did
        lost = ev.seq - cpu.last_seq - 1 if cpu.last_seq is not None else 0
        if ev.kind == Kind.RECORDER_LOSS and lost <= 0:
            lost = ev.a[0]  # the recorder says so although the sequence numbers do not show it
        if lost > 0:
            loss.gap(self, ev, lost, cpu.last_ts)
        cpu.last_seq = ev.seq
        cpu.last_ts = ev.ts
        if ev.kind == Kind.RECORDER_LOSS:
            return
        if not self.sane_input(ev):
            return
        if ev.kind in _FLUSHING:
            self.flush(cpu)
            cpu.learning = False
            self.action[ev.cpu] = ev.i
            self.horizon[ev.cpu] = max(0, self.horizon[ev.cpu] - 1)
        if ev.kind in _EC_IS_CURRENT:
            self.check_current(cpu, ev, ev.ec)
        self.dispatch(cpu, ev)

    def sane_input(self, ev: Ev) -> bool:
        """Input words the model cannot take are findings, and the input is skipped (MODEL.md 3.6)."""
        k, a = ev.kind, ev.a
        if k == Kind.IPI_RECV and not -1 <= a[0] < len(self.cpus):
            self.report(FindingCode.BAD_INPUT_CPU, ev, observed=a[0], detail=0, expl=Explanation.INPUT)
            return False
        bad = (k == Kind.IPI_RECV and a[1] not in (0, 1)) or (k == Kind.TIMEOUT and a[0] not in (0, 1))
        if bad:
            self.report(
                FindingCode.BAD_RECORD, ev, observed=a[1] if k == Kind.IPI_RECV else a[0], expl=Explanation.RECORDER
            )
            return False
        return True

    def dispatch(self, cpu: Cpu, ev: Ev) -> None:
        k = ev.kind
        if k == Kind.HC_ENTRY:
            calls.hc_entry(self, cpu, ev)
        elif k == Kind.HC_EXIT:
            calls.hc_exit(self, cpu, ev)
        elif k == Kind.IRQ_ARRIVAL:
            irq.arrival(self, cpu, ev)
        elif k == Kind.TIMEOUT:
            semaphores.timeout(self, cpu, ev)
        elif k == Kind.IPI_RECV:
            sched.ipi_recv(self, cpu, ev)
        elif k == Kind.SCHED_SWITCH:
            switches.switch(self, cpu, ev)
        elif k == Kind.EVENT_DELIVERY:
            ipc.event_delivery(self, cpu, ev)
        elif k == Kind.OBJ_CREATED:
            observe.obj_created(self, cpu, ev)
        elif k in (Kind.MARKER, Kind.INTR_FAULT):
            return
        elif k not in INPUT_KINDS:
            observe.output(self, cpu, ev)

    # --- findings -------------------------------------------------------------------------------------------

    def report(
        self,
        code: FindingCode,
        ev: Ev | None,
        subject: int = -1,
        expected: int = -1,
        observed: int = -1,
        detail: int = -1,
        expl: Explanation | None = None,
        epoch: int | None = None,
    ) -> None:
        if expl is None:
            expl = Explanation.TRACE_LOSS if epoch is not None and epoch != self.epoch else Explanation.KERNEL
            if ev is not None and 0 <= ev.cpu < len(self.horizon) and self.horizon[ev.cpu] > 0:
                expl = Explanation.TRACE_LOSS  # close after a gap: the lost records may explain it
        f = Finding(
            int(code),
            severity_of(code, expl),
            int(expl),
            ev.i if ev else -1,
            ev.ts if ev else (self.last_ts or 0),
            ev.cpu if ev else -1,
            int(subject),
            int(expected),
            int(observed),
            int(detail),
        )
        self.findings.append(f)

    # --- expected events ------------------------------------------------------------------------------------

    def emit(
        self, c: int, kind: Kind, words: list[Any], ec: Any = None, optional: bool = False, ref: Any = None
    ) -> None:
        """Append an expected output to CPU c's FIFO (the action of the input c is executing)."""
        if int(kind) not in self.recorded:
            return  # the source cannot record it (a partial trace): nothing to expect
        act = self.action[c] if self.action[c] >= 0 else (self.ev.i if self.ev else -1)
        if ec is None and kind not in (Kind.SCHED_SWITCH, Kind.OBJ_CREATED):
            ec = self.cpus[c].ec  # the EC current when the kernel records it
        optional = optional or self.cpus[c].learning  # an unpredictable action: checked if present only
        self.cpus[c].pending.append(Expect(int(kind), words, ec, optional, act, self.epoch, ref))

    def flush(self, cpu: Cpu) -> None:
        """Before an input: required expectations left on this CPU are missing (MODEL.md 2.2)."""
        while cpu.pending:
            x = cpu.pending.popleft()
            observe.missing(self, cpu, x, self.ev)
        self.close_unrecorded(cpu)

    def close_unrecorded(self, cpu: Cpu) -> None:
        """A partial trace has no HC_EXIT: calls the model decided take effect before the CPU's next input."""
        calls_, cpu.unclosed = cpu.unclosed, []
        for call in calls_:
            if call.ec.call is call and call.status is not None:
                if call.ec.cont == Cont.EXIT:
                    call.ec.cont = Cont.USER
                call.close(self, call.status, False)

    def drop_action(self, cpu: Cpu, action: int) -> None:
        """Silently drop the remaining expectations of one action (a mismatch made them unreliable)."""
        for x in cpu.pending:
            if x.action == action and x.kind == Kind.SCHED_SWITCH:  # not seen: the CPU still runs what it ran
                cpu.awaiting = False
                sched.revert(self, cpu, x.ref)
        cpu.pending = type(cpu.pending)(x for x in cpu.pending if x.action != action)

    # --- objects --------------------------------------------------------------------------------------------

    def placeholder(self, t: ObjType, oid: int, subtype: int | None = None) -> Obj:
        """An object first seen in a word: every field unknown."""
        if t == ObjType.EC:
            return self.reg.make(t, subtype, oid, cont=None, links_known=False, timeout=None, recall=None)
        if t == ObjType.SC:
            return self.reg.make(t, subtype, oid, state=None, left=None)
        if t == ObjType.SM:
            return self.reg.make(t, subtype, oid, counter=None, waiters_complete=False, irq=None)
        if t == ObjType.PD and subtype == PdSubtype.PD:
            return self.reg.make(t, subtype, oid, attach_known=False)
        if t == ObjType.PD:
            return self.reg.make(t, subtype, oid, default_unknown=True)
        if t == ObjType.PT:
            return self.reg.make(t, subtype, oid, pid=None, mtd=None)
        return self.reg.make(t, subtype, oid, dma_known=False)

    def resolve(self, oid: int, t: ObjType, ev: Ev | None, cpu: int | None = None) -> Any:
        """The object a word names (None for 0 / -1 / a type clash); unknown ids become placeholders."""
        if oid in (0, -1):
            return None
        obj = self.reg.get(oid)
        if obj is not None:
            if obj.type != t:
                self.report(FindingCode.TYPE_MISMATCH, ev, oid, int(obj.type), int(t), expl=Explanation.INPUT)
                return None
            return obj
        if not self.cold:
            lossy = self.epoch > 0
            self.report(
                FindingCode.UNKNOWN_OBJECT,
                ev,
                oid,
                expl=Explanation.TRACE_LOSS if lossy else Explanation.INPUT,
            )
        obj = self.placeholder(t, oid)
        if isinstance(obj, Ec) and cpu is not None:
            obj.cpu = cpu
        return obj

    # --- current EC -----------------------------------------------------------------------------------------

    def check_current(self, cpu: Cpu, ev: Ev, ec_id: int) -> None:
        if ec_id in (0, -1):
            return
        cur = cpu.ec
        if cur is not None and cur.id == ec_id:
            return
        ec = self.resolve(ec_id, ObjType.EC, ev, ev.cpu)
        if ec is None:
            return
        if cur is not None and not cpu.learning and Kind.SCHED_SWITCH in self.recorded:
            self.report(FindingCode.CURRENT_EC_MISMATCH, ev, ec_id, cur.id, ec_id, detail=5)
        learn_current(cpu, ec)


def learn_current(cpu: Cpu, ec: Ec) -> None:
    """Adopt ``ec`` as running on ``cpu`` (the trace shows it); a blocked belief becomes unknown."""
    cpu.ec = ec
    if ec.cpu is None:
        ec.cpu = cpu.n
    if ec.cont in (Cont.BLOCKED, Cont.IDLE, Cont.CALLING):
        ec.cont = None
