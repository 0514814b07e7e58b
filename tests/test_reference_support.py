"""Helpers for the reference-model tests: a booted trace and one-line hypercalls (no tests here).

Every expected outcome in the tests is written by hand from domain.md / MODEL.md; these helpers only
write the events a recorder would write for the boot (replay.reference.emit_boot) and hypercall pairs.
"""

from __future__ import annotations

from typing import Any

from replay.reference import BootIds, emit_boot, replay_reference
from replay.reference.api import Result
from tracefmt.builder import TraceBuilder
from tracefmt.findings import FindingCode
from tracefmt.nova import SELNUM, Hc, Status
from tracefmt.platform import Platform, example_arm, example_x86

# the root task's object space (domain.md 3.4)
NOVA_OBJ = SELNUM - 1
ROOT_OBJ = SELNUM - 2
ROOT_PD = SELNUM - 3
ROOT_EC = SELNUM - 4
ROOT_SC = SELNUM - 5


def x86(api: str = "nova-2024", cpus: int = 2, remapping: bool = True) -> Platform:
    return example_x86(cpus=cpus, api=api, remapping=remapping)


def arm(api: str = "nova-2024", cpus: int = 2) -> Platform:
    return example_arm(cpus=cpus, api=api)


def booted(platform: Platform) -> tuple[TraceBuilder, BootIds]:
    b = TraceBuilder(platform)
    return b, emit_boot(b)


def hc(
    b: TraceBuilder,
    ec: int,
    call: Hc,
    status: int | None = Status.SUCCESS,
    sel: int = 0,
    flags: int = 0,
    p1: int = 0,
    p2: int = 0,
    p3: int = 0,
    p4: int = 0,
    out1: int = 0,
    out2: int = 0,
    created: int = 0,
    cpu: int = 0,
) -> int:
    """HC_ENTRY and (unless status is None) its HC_EXIT; returns the HC_EXIT row index (or entry's)."""
    i = b.hc_entry(cpu, ec, call, sel=sel, flags=flags, p1=p1, p2=p2, p3=p3, p4=p4)
    if status is None:
        return i
    return b.hc_exit(cpu, ec, call, int(status), out_p1=out1, out_p2=out2, created=created)


def run(b: TraceBuilder, model_api: str | None = None, **kw: Any) -> Result:
    return replay_reference(b.platform, b.batch(), model_api=model_api, **kw)


def codes(r: Result) -> list[tuple[str, int]]:
    """(finding name, event index) of every finding, INFO ones included."""
    return [(FindingCode(f.code).name, f.event) for f in r.findings]


def clean(r: Result) -> bool:
    return not r.findings


CREATES = (Hc.CREATE_PD, Hc.CREATE_EC, Hc.CREATE_SC, Hc.CREATE_PT, Hc.CREATE_SM, Hc.CREATE_DC)


class Trace:
    """A booted trace plus the root task as the calling EC; objects get ids 0x800040, 0x800080, ..."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.b, self.ids = booted(platform)
        self._next = 0x800000
        self.ec = self.ids.root_ec
        self.cpu = 0

    def oid(self) -> int:
        self._next += 0x40
        return self._next

    def call(self, call: Hc, status: int | None = Status.SUCCESS, **kw: Any) -> int:
        kw.setdefault("cpu", self.cpu)
        return hc(self.b, kw.pop("ec", self.ec), call, status, **kw)

    def create(self, call: Hc, sel: int, status: int = Status.SUCCESS, **kw: Any) -> int:
        """A create_* hypercall; returns the created id (0 if the status is not SUCCESS)."""
        oid = self.oid() if status == Status.SUCCESS else 0
        self.call(call, status, sel=sel, created=oid, **kw)
        return oid

    def event(self, kind: Any, cpu: int | None = None, ec: int | None = None, **words: int) -> int:
        return self.b.event(self.cpu if cpu is None else cpu, kind, ec=self.ec if ec is None else ec, **words)

    def run(self, **kw: Any) -> Result:
        return run(self.b, **kw)


def wrong(status: int) -> int:
    """A status no check of the tested call can produce (BAD_DEV, or BAD_FTR when BAD_DEV is expected)."""
    return Status.BAD_FTR if status == Status.BAD_DEV else Status.BAD_DEV


def status_findings(r: Result) -> list[tuple[int, int, int, int]]:
    """(code, event, expected, observed) of every finding."""
    return [(f.code, f.event, f.expected, f.observed) for f in r.findings]


def check_status(make: Any, expected: int, **run_kw: Any) -> None:
    """``make(recorded)`` builds a trace whose last call records ``recorded`` and returns (Trace, exit index).

    With the expected status the replay is clean; with a wrong one it is exactly one STATUS_MISMATCH there.
    """
    t, i = make(expected)
    r = t.run(**run_kw)
    assert r.findings == [], [tuple(f) for f in r.findings]
    bad = wrong(expected)
    t, i = make(bad)
    r = t.run(**run_kw)
    assert status_findings(r) == [(int(FindingCode.STATUS_MISMATCH), i, int(expected), int(bad))]


def pd_with_spaces(t: Trace, sel: int, spaces: tuple[int, ...] | None = None) -> int:
    """A new PD at sel (authorised by the root PD) with spaces at sel+1.. (OBJ, HST, and PIO on x86)."""
    from tracefmt.nova import CreatePdOp

    if spaces is None:
        spaces = (CreatePdOp.OBJ, CreatePdOp.HST) + ((CreatePdOp.PIO,) if t.platform.arch == "x86_64" else ())
    pd = t.create(Hc.CREATE_PD, sel, flags=CreatePdOp.PD, p1=ROOT_PD)
    for k, op in enumerate(spaces, 1):
        t.create(Hc.CREATE_PD, sel + k, flags=op, p1=sel)
    return pd


def enter_local(t: Trace, sel: int = 0x200, mtd: int = 0, flags: int = 0) -> tuple[int, int]:
    """A local EC in a new PD with a portal in the root space; the root calls it (rendezvous on the root SC).

    Returns (local EC, portal selector); afterwards the local EC is the caller of ``t.call``.
    """
    from tracefmt.events import Kind, SwitchReason

    pd_with_spaces(t, sel)
    ec = t.create(Hc.CREATE_EC, sel + 0x10, p1=sel, p2=0x3000 | t.cpu)
    t.create(Hc.CREATE_PT, sel + 0x11, p1=ROOT_PD, p2=sel + 0x10, p3=0x5000)
    t.call(Hc.IPC_CALL, None, sel=sel + 0x11, p1=mtd, flags=flags)
    t.event(
        Kind.SCHED_SWITCH,
        ec=ec,
        from_ec=t.ids.root_ec,
        to_ec=ec,
        from_sc=t.ids.root_sc,
        to_sc=t.ids.root_sc,
        switch_reason=SwitchReason.IPC_CALL,
    )
    t.ec = ec
    return ec, sel + 0x11


EVT = 0x400  # event selector base of the global ECs the tests start


def start_global(
    t: Trace,
    cpu: int,
    sel: int,
    prio: int = 50,
    handler: int | None = None,
    queued: bool = False,
    run: bool = True,
) -> tuple[int, int, int]:
    """A global EC on ``cpu`` (root PD, evt 0x400) with a STARTUP handler and an SC; it runs and returns to user.

    Written as a recorder sees it: the creations on CPU 0; the RRQ IPI (unless ``queued``: CPU ``cpu``'s
    release queue was not empty), then on that CPU IPI_RECV, the switch to the new EC, its STARTUP event to
    the handler (a local EC at sel+1, or the given one whose portal exists), and the handler's reply.
    Returns (global EC, its SC, handler EC).
    """
    from tracefmt.events import Kind
    from tracefmt.nova import Ipi

    ids = t.ids
    portal = EVT + 32  # x86 STARTUP = SELHST/ARCH + 0
    if handler is None:
        handler = t.create(Hc.CREATE_EC, sel + 1, p1=ROOT_PD, p2=0x6000 | cpu)  # local, same CPU
        t.create(Hc.CREATE_PT, portal, p1=ROOT_PD, p2=sel + 1, p3=0x7000)
    g = t.create(Hc.CREATE_EC, sel, flags=2, p1=ROOT_PD, p2=0x8000 | cpu, p4=EVT)
    sc = t.oid()
    t.call(Hc.CREATE_SC, None, sel=sel + 2, p1=ROOT_PD, p2=sel, p3=5 | prio << 16)
    assert cpu != t.cpu, "start_global runs the EC on another CPU"
    if not queued:
        t.event(Kind.IPI_SEND, target_cpu=cpu, ipi=Ipi.RRQ)
    t.b.hc_exit(t.cpu, t.ec, Hc.CREATE_SC, 0, created=sc)
    if queued or not run:
        return g, sc, handler
    run_started(t, cpu, g, sc, handler, from_ec=ids.idle_ec[cpu], from_sc=ids.idle_sc[cpu])
    return g, sc, handler


def run_started(
    t: Trace,
    cpu: int,
    g: int,
    sc: int,
    handler: int,
    from_ec: int,
    from_sc: int,
    reason: int | None = None,
    ipi: bool = True,
) -> None:
    """On ``cpu``: (RRQ IPI received,) switch to new global EC g, STARTUP to the handler, its reply."""
    from tracefmt.events import EventClass, Kind, SwitchReason
    from tracefmt.nova import Ipi

    portal = EVT + 32
    if ipi:
        t.b.event(cpu, Kind.IPI_RECV, ec=from_ec, source_cpu=t.cpu, ipi=Ipi.RRQ)
    why = SwitchReason.WAKE if reason is None else reason
    t.b.event(cpu, Kind.SCHED_SWITCH, ec=g, from_ec=from_ec, to_ec=g, from_sc=from_sc, to_sc=sc, switch_reason=why)
    t.b.event(cpu, Kind.EVENT_DELIVERY, ec=g, event=32, handler=handler, event_class=EventClass.STARTUP, portal=portal)
    t.b.event(
        cpu,
        Kind.SCHED_SWITCH,
        ec=handler,
        from_ec=g,
        to_ec=handler,
        from_sc=sc,
        to_sc=sc,
        switch_reason=SwitchReason.IPC_CALL,
    )
    t.b.hc_entry(cpu, handler, Hc.IPC_REPLY, p1=0)
    t.b.event(
        cpu,
        Kind.SCHED_SWITCH,
        ec=g,
        from_ec=handler,
        to_ec=g,
        from_sc=sc,
        to_sc=sc,
        switch_reason=SwitchReason.IPC_REPLY,
    )
