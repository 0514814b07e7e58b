"""Interrupts: the table per architecture and generation, arrival, and acknowledge by ctrl_sm down
(MODEL.md 10.1, 10.2; B24 src/x86_64/interrupt.cpp, src/aarch64/interrupt.cpp; domain.md 4, 8.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replay.reference import hw, sched, semaphores
from replay.reference.state import UNK, Cpu, Irq, Sm
from tracefmt.events import IrqCause, IrqKind, Kind, UpCause
from tracefmt.findings import FindingCode
from tracefmt.nova import ARM_BASE_LPI, ARM_BASE_RSV, ARM_BASE_SPI, X86_NUM_GSI, X86_VEC_GSI, FlagAssignInt2024

if TYPE_CHECKING:
    from replay.reference.model import Ev, ReferenceModel

M, T, G = int(FlagAssignInt2024.M), int(FlagAssignInt2024.T), int(FlagAssignInt2024.G)


def kind_of(m: ReferenceModel, n: int) -> IrqKind:
    """IrqKind of interrupt ``n`` in the model's numbering (F 4.3)."""
    if m.x86:
        gsi = n if m.gen2024 else n & 0xFFFF
        return IrqKind.X86_PIN if hw.x86_is_pin(m.platform, gsi) else IrqKind.X86_MSI
    if m.gen2024:
        return IrqKind.ARM_SPI
    return IrqKind.ARM_LPI if n >= ARM_BASE_LPI else IrqKind.ARM_SPI


def boot_table(m: ReferenceModel, sms: list[Sm]) -> None:
    """nova-2024: the kernel's interrupt SMs, configured CPU 0, masked (domain.md 4.1)."""
    for sm in sms:
        n = sm.irq
        k = kind_of(m, n)
        m.irqs[n] = Irq(n, k, sm, cpu=0, src=0, flags=M, masked=k != IrqKind.X86_MSI, active=False)


def valid_intid(m: ReferenceModel, n: int) -> bool:
    """nova-2026 create_sm with I: x86 segment << 16 | GSI with GSI < pins + MSIs; Arm SPI or LPI."""
    if m.x86:
        return (n >> 32) == 0 and (n & 0xFFFF) < hw.x86_gsis(m.platform)
    return hw.arm_spi_valid(m.platform, n) or hw.arm_lpi_valid(m.platform, n)


def new_int_sm(m: ReferenceModel, sm: Sm) -> None:
    """nova-2026: an interrupt SM made by create_sm (I); not attached anywhere yet."""
    k = kind_of(m, sm.irq)
    m.irqs[sm.irq] = Irq(sm.irq, k, sm, cpu=-1, src=None, flags=0, masked=k != IrqKind.X86_MSI, active=False)


def entry_of(m: ReferenceModel, sm: Sm | None) -> Irq | None:
    if sm is None or sm.irq is None or sm.irq < 0:
        return None
    return m.irqs.get(sm.irq)


def routed_here(m: ReferenceModel, sm: Sm, c: int) -> bool | None:
    """nova-2024 ctrl_sm down: the interrupt must be routed to the calling CPU (else BAD_CPU)."""
    e = entry_of(m, sm)
    if e is None or e.cpu is None:
        return None
    return e.cpu == c


def _level(e: Irq) -> bool | None:
    return None if e.flags is None else bool(e.flags & T)


def acknowledge(m: ReferenceModel, cpu: Cpu, sm: Sm) -> None:
    """ctrl_sm down on an interrupt SM: unmask / deactivate before the down (domain.md 11.2 rule 3)."""
    e = entry_of(m, sm)
    if e is None:
        cpu.learning = True
        return
    n, c = e.n, cpu.n
    if m.gen2024 and m.x86:
        if e.kind == IrqKind.X86_PIN and _level(e) is not False:
            m.emit(c, Kind.IRQ_UNMASK, [n, int(e.kind), int(IrqCause.DOWN), 0, 0], optional=_level(e) is None)
            e.masked = False if _level(e) else None
    elif m.gen2024:
        guest = None if e.flags is None else bool(e.flags & G)
        if guest is not True:
            m.emit(c, Kind.IRQ_DEACTIVATE, [n, int(e.kind), int(IrqCause.DOWN), 0, 0], optional=guest is None)
            e.active = False if guest is False else None
    elif e.kind == IrqKind.ARM_SPI or (e.kind == IrqKind.X86_PIN and _level(e) is not False):
        level = True if e.kind == IrqKind.ARM_SPI else _level(e)
        m.emit(c, Kind.IRQ_DEACTIVATE, [n, int(e.kind), int(IrqCause.DOWN), 0, 0], optional=level is None)
        e.active = False if level else None


def _resolve(m: ReferenceModel, c: int, vector: int, source: int, eid: int) -> tuple[int, Irq | None, bool]:
    """(interrupt number, entry, impossible-by-mapping) the kernel resolves an arrival to (F 4.3)."""
    if m.x86:
        if not X86_VEC_GSI <= vector < X86_VEC_GSI + (X86_NUM_GSI if m.gen2024 else m.platform.x86.vectors_per_cpu):
            return -1, None, False
        if m.gen2024:
            n = vector - X86_VEC_GSI
            return (n, m.irqs.get(n), False) if n in m.irqs else (-1, None, False)
        sm = m.vectors.get((c, vector - X86_VEC_GSI))
        e = entry_of(m, sm) if isinstance(sm, Sm) else None
        return (e.n, e, False) if e is not None else (-1, None, False)
    if m.gen2024:
        if not ARM_BASE_SPI <= vector < ARM_BASE_RSV:
            return -1, None, False
        n = vector - ARM_BASE_SPI
        return (n, m.irqs.get(n), False) if n in m.irqs else (-1, None, False)
    e = m.irqs.get(vector)
    bad = False
    if vector >= ARM_BASE_LPI and source >= 0 and eid >= 0:
        mapped = m.its.get((source, eid))
        bad = (mapped is not None and mapped[0] != vector) or (mapped is None and m.its_complete)
    if e is None or e.cpu == -1:
        return -1, e, bad
    return vector, e, bad


def _unknown_entry(m: ReferenceModel, c: int, vector: int, irq_w: int) -> Irq | None:
    """An arrival through routing the model does not know (cold start, loss): the interrupt it names gets a
    placeholder entry (SM, configuration and state unknown) that the arrival's outputs teach (MODEL.md 3.5)."""
    if m.x86:
        if not X86_VEC_GSI <= vector < X86_VEC_GSI + (X86_NUM_GSI if m.gen2024 else m.platform.x86.vectors_per_cpu):
            return None
        if m.gen2024:
            n = vector - X86_VEC_GSI
        else:
            slot = m.vectors.get((c, vector - X86_VEC_GSI))
            if not (slot is UNK or (slot is None and not m.vectors_complete)) or irq_w < 0:
                return None
            n = irq_w  # the vector slot is unknown: the recorded interrupt number is learned
    elif m.gen2024:
        if not ARM_BASE_SPI <= vector < ARM_BASE_RSV:
            return None
        n = vector - ARM_BASE_SPI
    else:
        if not ARM_BASE_SPI <= vector < ARM_BASE_RSV and vector < ARM_BASE_LPI:
            return None
        n = vector
    e = m.irqs.get(n)
    if e is None:
        if m.irqs_complete:
            return None
        e = m.irqs[n] = Irq(n, kind_of(m, n), None, cpu=None, src=None, flags=None, masked=None, active=None)
    elif e.sm is not None and e.cpu != -1:
        return None
    if m.x86 and not m.gen2024:
        e.vec, e.cpu = vector - X86_VEC_GSI, c
    return e


def arrival(m: ReferenceModel, cpu: Cpu, ev: Ev) -> None:
    vector, irq_w, source, kind_w, eid = ev.a
    c = cpu.n
    n, e, bad = _resolve(m, c, vector, source, eid)
    if m.x86 and not m.gen2024 and e is None:
        slot = m.vectors.get((c, vector - X86_VEC_GSI))
        if slot is UNK or (slot is None and not m.vectors_complete):
            cpu.learning = True
    if e is None or e.sm is None:
        u = _unknown_entry(m, c, vector, irq_w)
        if u is not None:
            n, e = u.n, u
            cpu.learning = True  # which SM the interrupt ups (and how) is learned from the recorded outputs
    if irq_w != n and not cpu.learning:
        m.report(FindingCode.WORD_MISMATCH, ev, n, n, irq_w, 1)
    if e is not None and kind_w != IrqKind.UNKNOWN and kind_w != e.kind:
        m.report(FindingCode.WORD_MISMATCH, ev, n, int(e.kind), kind_w, 3)
    if not m.x86 and not ARM_BASE_SPI <= vector < ARM_BASE_RSV and vector < ARM_BASE_LPI:
        sched.end_action(m, cpu)  # SGIs / PPIs are IPIs and timers: recorded as IPI_RECV / TIMEOUT
        return
    kind = int(e.kind) if e is not None else (kind_w or 0)
    if e is None:
        if not cpu.learning:
            _eoi(m, c, n, kind, e)
        sched.end_action(m, cpu)
        return
    if bad or _impossible(m, e, source):
        m.report(FindingCode.IMPOSSIBLE_ARRIVAL, ev, n, detail=vector)
    if m.gen2024 and m.x86:
        if e.kind == IrqKind.X86_PIN and _level(e) is not False:
            m.emit(c, Kind.IRQ_MASK, [n, kind, int(IrqCause.ARRIVAL), 0, 0], optional=_level(e) is None)
            e.masked = True if _level(e) else None
        _up(m, c, e)
        _eoi(m, c, n, kind, e)
    elif m.gen2024:
        _eoi(m, c, n, kind, e)
        e.active = True
        _up(m, c, e)
    else:
        _up(m, c, e)
        _eoi(m, c, n, kind, e)
        if e.kind == IrqKind.ARM_SPI or (e.kind == IrqKind.X86_PIN and _level(e)):
            e.active = True
        elif e.kind == IrqKind.X86_PIN and _level(e) is None:
            e.active = None
    sched.end_action(m, cpu)


def _impossible(m: ReferenceModel, e: Irq, source: int) -> bool:
    if e.kind in (IrqKind.X86_PIN, IrqKind.ARM_SPI) and e.masked is True:
        return True
    if e.kind == IrqKind.ARM_SPI and e.active is True:
        return True
    return not m.gen2024 and e.kind == IrqKind.X86_PIN and e.active is True


def _up(m: ReferenceModel, c: int, e: Irq) -> None:
    if e.sm is not None:
        semaphores.up(m, c, e.sm, UpCause.INTERRUPT, e.n)


def _eoi(m: ReferenceModel, c: int, n: int, kind: int, e: Irq | None) -> None:
    m.emit(c, Kind.IRQ_EOI, [n, kind, int(IrqCause.ARRIVAL), 0, 0])
    if e is None and not m.x86 and m.gen2024 and n == -1:
        m.emit(c, Kind.IRQ_DEACTIVATE, [-1, int(IrqKind.ARM_SPI), int(IrqCause.KERNEL), 0, 0], optional=True)


def observed(m: ReferenceModel, kind: int, n: int) -> None:
    """Learn an interrupt's state from a recorded IRQ_* event (MODEL.md 3.5)."""
    e = m.irqs.get(n)
    if e is None:
        return
    if kind == Kind.IRQ_MASK:
        e.masked = True
    elif kind == Kind.IRQ_UNMASK:
        e.masked = False
    elif kind == Kind.IRQ_DEACTIVATE:
        e.active = False


def learn_sm(m: ReferenceModel, n: int, sm: Sm) -> None:
    """SM_UP with cause INTERRUPT: the SM of an interrupt whose entry had none (MODEL.md 3.5)."""
    e = m.irqs.get(n) if n >= 0 else None
    if e is None or e.sm is not None:
        return
    e.sm = sm
    if sm.irq is None:
        sm.irq = n
    known = m.x86 and not m.gen2024 and e.vec is not None and e.cpu is not None and e.cpu >= 0
    slot = m.vectors.get((e.cpu, e.vec)) if known else None
    if known and (slot is UNK or (slot is None and not m.vectors_complete)):
        m.vectors[(e.cpu, e.vec)] = sm  # the vector slot the arrival came through holds this SM


def forget(m: ReferenceModel, n: int) -> None:
    e = m.irqs.get(n)
    if e is not None:
        e.masked = e.active = None
