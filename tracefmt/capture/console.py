"""``novatrace import console``: NOVA's console trace lines -> a partial trace.

What the console gives: every hypercall except ipc_call/ipc_reply at entry (TRACE_SYSCALL, before any check,
so without a status), object creations (TRACE_CREATE), interrupt routing (TRACE_INTR), killed ECs, and boot
lines describing the machine. What it does not give: timestamps, statuses, interrupts, scheduling. So:

* ``ts`` is the 1-based line number in the input (the console lock serialises lines across CPUs, so line
  order is the order the kernel printed them); ``seq`` counts each CPU's events;
* ``ec`` is the kernel address printed as ``EC:%p``, bit-cast to int64 (-1 where a line names none);
* hypercalls become HC_ENTRY with the registers rebuilt from the printed fields (``console_lines``), never
  HC_EXIT; ``created`` lines become OBJ_CREATED, ``Killed EC`` lines EC_KILL, routing lines IRQ_MASK /
  IRQ_UNMASK with cause ASSIGN (IOAPIC pins and SPIs only: an x86 MSI has no mask state);
* lines that look like trace lines but do not parse are reported with their line number; everything else
  (boot chatter, banners) is skipped.

The capture notes in the trace's provenance say all of this, so ``novatrace info`` shows it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracefmt.builder import to_i64
from tracefmt.capture import console_lines as CL
from tracefmt.capture.console_platform import PlatformFacts, build_platform
from tracefmt.capture.mbuf import looks_like_mbuf, read_mbuf
from tracefmt.decode import fill_hc
from tracefmt.errors import NotATraceError, TraceError
from tracefmt.events import IrqCause, IrqKind, Kind
from tracefmt.nova import (
    API_2024,
    API_GENERATIONS,
    NOVA_SEL_IDLE_SC_BASE,
    NOVA_SEL_INT_BASE,
    NOVA_SEL_ROOT_PD,
    ROOT_SEL_ROOT_EC,
    ROOT_SEL_ROOT_SC,
    EcSubtype,
    FlagCreateEc,
    Hc,
    ObjType,
    PdSubtype,
    SmSubtype,
)
from tracefmt.platform import Platform
from tracefmt.schema import COLUMNS

MAX_WARNINGS = 50
_CREATES = {"PD": Hc.CREATE_PD, "EC": Hc.CREATE_EC, "SC": Hc.CREATE_SC, "PT": Hc.CREATE_PT, "SM": Hc.CREATE_SM}
_CREATES["DC"] = Hc.CREATE_DC
_EC_SUBTYPE = {"L": EcSubtype.LOCAL, "G": EcSubtype.GLOBAL, "R": EcSubtype.VCPU_REAL, "O": EcSubtype.VCPU_OFFS}
_EC_FLAGS = {
    EcSubtype.LOCAL: 0,
    EcSubtype.GLOBAL: int(FlagCreateEc.T),
    EcSubtype.VCPU_REAL: int(FlagCreateEc.G),
    EcSubtype.VCPU_OFFS: int(FlagCreateEc.G | FlagCreateEc.T),
}


@dataclass
class ConsoleImport:
    """The partial trace read from a console log, with what was skipped and why."""

    platform: Platform
    columns: dict[str, np.ndarray]
    source: str  # "serial" or "mbuf"
    lines: int = 0
    events: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # console lines that are not trace lines
    unparseable: int = 0
    warnings: list[str] = field(default_factory=list)  # unparseable lines, with line numbers (the first 50)
    notes: list[str] = field(default_factory=list)

    def provenance(self, path: Path) -> dict[str, Any]:
        return {
            "capture": {
                "source": "console",
                "input": str(path),
                "input_kind": self.source,
                "ts_unit": "line",  # FORMAT.md 2: ts counts console lines, not STC ticks
                "notes": self.notes,
            }
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "lines": self.lines,
            "events": sum(self.events.values()),
            "per_kind": dict(self.events),
            "skipped_lines": self.skipped,
            "unparseable_lines": self.unparseable,
            "warnings": self.warnings,
            "notes": self.notes,
            "platform": self.platform.to_dict(),
        }


@dataclass
class _Pending:
    """The last hypercall line of a CPU, waiting for its 'created' / routing line."""

    row: int
    hc: Hc
    ec: int
    fields: dict[str, int]


class _Parser:
    """Line by line: events (as rows), platform facts, and the bookkeeping that ties lines together."""

    def __init__(self, where: str, api: str, platform: Platform | None) -> None:
        self.where = where
        self.api = api
        self.platform = platform
        self.rows: list[list[int]] = []  # ts, cpu, kind, ec, a0..a4 (seq assigned at the end)
        self.facts = PlatformFacts()
        self.pending: dict[int, _Pending] = {}
        self.imp_events: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.unparseable = 0
        self.skipped = 0
        self.minus_one = 0
        self.root_pd = 0
        self.root_ec = 0
        self.idle_ecs: set[int] = set()
        self.boot_int_sms: list[int] = []  # rows of kernel-made interrupt semaphores, in creation order
        self.seen_syscall = False

    # --- reporting ---------------------------------------------------------------------------------------

    def bad(self, lineno: int, why: str, text: str) -> None:
        self.unparseable += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(f"{self.where}: line {lineno}: {why}: {text[:160]!r}")

    def emit(self, lineno: int, cpu: int, kind: Kind, ec: int, words: tuple[int, ...]) -> int:
        self.rows.append([lineno, cpu, int(kind), to_i64(ec), *(to_i64(w) for w in words)])
        self.imp_events[kind.name] += 1
        return len(self.rows) - 1

    # --- lines -------------------------------------------------------------------------------------------

    def line(self, lineno: int, text: str) -> None:
        m = CL.LINE.match(text)
        if m is None:
            self.facts.banner(text)
            if CL.LOOKS_LIKE_TRACE.search(text):
                self.bad(lineno, "trace line without its [cpu] prefix", text)
            else:
                self.skipped += 1
            return
        cpu, msg = int(m.group(1)), m.group(2)
        if self.facts.boot_line(msg):
            self.skipped += 1
            return
        if not CL.LOOKS_LIKE_TRACE.search(msg):
            self.skipped += 1
            return
        if cpu < -1 or (self.platform is not None and cpu >= self.platform.cpus):
            self.bad(lineno, f"CPU {cpu} outside the platform", text)
            return
        if cpu == -1:  # early boot, not on a per-CPU stack: counted as CPU 0
            self.minus_one += 1
            cpu = 0
        for handler in (self.syscall, self.created, self.killed, self.routing):
            outcome = handler(lineno, cpu, msg)
            if outcome is not None:
                if outcome:
                    self.bad(lineno, outcome, text)
                return
        self.bad(lineno, "not a trace line format novatrace knows", text)

    def syscall(self, lineno: int, cpu: int, msg: str) -> str | None:
        m = CL.SYSCALL.match(msg)
        if m is None:
            return None
        ec, name, args = int(m.group(1), 16), m.group(2), m.group(3) or ""
        call = CL.parse_hypercall(self.api, name, args)
        if call is None:
            other = CL.other_generation(self.api)
            if CL.parse_hypercall(other, name, args) is not None:
                return f"sys_{name} in {other} format, but the log is read as {self.api}"
            return f"sys_{name} arguments do not match its format"
        self.seen_syscall = True
        row = self.emit(lineno, cpu, Kind.HC_ENTRY, ec, call.regs)
        self.pending[cpu] = _Pending(row, call.hc, ec, call.fields)
        return ""

    def created(self, lineno: int, cpu: int, msg: str) -> str | None:
        m = CL.CREATED.match(msg)
        if m is None:
            return None
        what, obj, detail = m.group(1), int(m.group(2), 16), m.group(3) or ""
        kv = CL.kv(detail)
        p = self.pending.get(cpu)
        by_call = p is not None and p.hc == _CREATES[what]
        if by_call:
            del self.pending[cpu]
        creator = p.ec if by_call else 0  # kernel-made objects have no creating EC
        selector = p.fields["sel"] if by_call else -1
        owner = 0  # kernel-made objects live in the NOVA object space ...
        if by_call:  # ... the others in their creator's; known only for the root EC's
            owner = self.root_pd if self.root_ec and p.ec == self.root_ec else -1
        sub, det = 0, 0
        if what == "PD":
            sub = int(PdSubtype.PD)
            if not by_call and not self.root_pd:
                self.root_pd, selector = obj, NOVA_SEL_ROOT_PD
        elif what == "EC":
            letter = detail.rsplit(" ", 1)[-1] if detail else ""
            if letter not in _EC_SUBTYPE or "CPU" not in kv:
                return "EC 'created' line without CPU or L/G/R/O"
            sub, det = int(_EC_SUBTYPE[letter]), kv["CPU"]
            if by_call:  # G and T are not printed with the hypercall: take them from what was created
                self._set_flags(p.row, _EC_FLAGS[_EC_SUBTYPE[letter]])
            elif self.root_pd and not self.root_ec and letter == "G":
                self.root_ec, selector, owner = obj, ROOT_SEL_ROOT_EC, self.root_pd
        elif what == "SC":
            if "CPU" not in kv or "EC" not in kv:
                return "SC 'created' line without EC or CPU"
            det = kv["CPU"]
            if not by_call and self.root_ec and kv["EC"] == self.root_ec:
                selector, owner = ROOT_SEL_ROOT_SC, self.root_pd
            elif not by_call and kv.get("Prio") == 0:  # an idle SC, on its CPU's idle EC
                selector = NOVA_SEL_IDLE_SC_BASE + det
                if kv["EC"] not in self.idle_ecs:
                    self.idle_ecs.add(kv["EC"])
                    words = (kv["EC"], int(ObjType.EC) << 8 | int(EcSubtype.GLOBAL), -1, 0, det)
                    self.emit(lineno, cpu, Kind.OBJ_CREATED, 0, words)
        elif what == "SM":
            if not kv:
                return "SM 'created' line without its counter"
            det = next(iter(kv.values()))
            if not by_call and not self.seen_syscall and det == 0:
                sub = int(SmSubtype.INT)  # interrupt semaphores are numbered once the boot lines are read
                det = -1
        row = self.emit(
            lineno, cpu, Kind.OBJ_CREATED, creator, (obj, int(ObjType[what]) << 8 | sub, selector, owner, det)
        )
        if what == "SM" and sub == int(SmSubtype.INT):
            self.boot_int_sms.append(row)
        return ""

    def _set_flags(self, row: int, flags: int) -> None:
        r = self.rows[row]
        r[4] = to_i64((r[4] & ~0xF0) | flags << 4)

    def killed(self, lineno: int, cpu: int, msg: str) -> str | None:
        m = CL.KILLED.match(msg)
        if m is None:
            return None
        reason = CL.KILL_REASONS.get(m.group(2))
        if reason is None:
            return f"unknown kill reason {m.group(2)!r}"
        self.emit(lineno, cpu, Kind.EC_KILL, -1, (int(m.group(1), 16), reason, 0, 0, 0))
        return ""

    def routing(self, lineno: int, cpu: int, msg: str) -> str | None:
        m = CL.ROUTING.match(msg)
        if m is None:
            return None
        what, num, masked, rest = m.group(1), int(m.group(2), 16), m.group(3) == "M", m.group(6)
        p = self.pending.pop(cpu, None)
        ec = p.ec if p is not None and p.hc == Hc.ASSIGN_INT else -1
        if what == "SPI":
            if CL.ROUTE_2024.match(rest) is None:
                return "routing line does not match its format"
            irq, kind = num, IrqKind.ARM_SPI
        elif (r26 := CL.ROUTE_2026.match(rest)) is not None:
            irq = int(r26.group(1), 16) << 16 | num
            kind = IrqKind.X86_PIN if r26.group(7) == "PIN" else IrqKind.X86_MSI
        elif CL.ROUTE_2024.match(rest) is not None:
            irq = num
            self.facts.routed_gsis.add(num)
            kind = IrqKind.UNKNOWN  # pin or MSI: decided from the IOAPIC ranges at the end
        else:
            return "routing line does not match its format"
        mask_kind = Kind.IRQ_MASK if masked else Kind.IRQ_UNMASK
        self.emit(lineno, cpu, mask_kind, ec, (irq, int(kind), int(IrqCause.ASSIGN), 0, 0))
        return ""


def parse_console(
    text: str, where: str, *, api: str | None = None, platform: Platform | None = None, source: str = "serial"
) -> ConsoleImport:
    """Parse console text (a serial capture or the text of a memory-buffer dump) into a partial trace."""
    if api is not None and api not in API_GENERATIONS:
        raise TraceError(f"unknown kernel API generation {api!r} (known: {', '.join(API_GENERATIONS)})")
    lines = [ln.rstrip("\r\n").rstrip("\r") for ln in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    gen = api or (platform.api if platform else None) or _detect_api(lines)
    p = _Parser(where, gen, platform)
    for lineno, ln in enumerate(lines, 1):
        p.line(lineno, ln.lstrip("\0"))
    plat, notes = build_platform(p.facts, platform, gen, p.rows, where)
    notes += _fix_interrupts(p, plat)
    cols = _columns(p.rows, plat)
    imp = ConsoleImport(
        platform=plat,
        columns=cols,
        source=source,
        lines=len(lines),
        events=p.imp_events,
        skipped=p.skipped,
        unparseable=p.unparseable,
        warnings=p.warnings,
    )
    imp.notes = _notes(gen, where, p, notes)
    return imp


def _detect_api(lines: list[str]) -> str:
    """nova-2026 if any line is only valid in its formats, else nova-2024."""
    from tracefmt.nova import API_2026

    for ln in lines:
        m = CL.SYSCALL.match(CL.LINE.sub(r"\2", ln))
        args = m.group(3) or "" if m else ""
        if m and CL.parse_hypercall(API_2026, m.group(2), args) and not CL.parse_hypercall(API_2024, m.group(2), args):
            return API_2026
    return API_2024


def _fix_interrupts(p: _Parser, plat: Platform) -> list[str]:
    """Number the boot interrupt semaphores and tell x86 pins from MSIs, now that the platform is known."""
    notes = []
    n_int = p.facts.interrupts(plat)
    if p.boot_int_sms and plat.api == API_2024:
        if len(p.boot_int_sms) == n_int:
            for i, row in enumerate(p.boot_int_sms):
                p.rows[row][6] = NOVA_SEL_INT_BASE + i  # selector (a2)
                p.rows[row][8] = i  # detail (a4): the interrupt number
        else:
            notes.append(
                f"{len(p.boot_int_sms)} interrupt semaphores created at boot for {n_int} interrupts: which is which "
                "is not printed (SMMU-owned SPIs have none), so their selectors and numbers are -1"
            )
    if plat.x86 is not None:
        mask_kinds = (int(Kind.IRQ_MASK), int(Kind.IRQ_UNMASK))
        for r in p.rows:
            if r[2] in mask_kinds and r[5] == int(IrqKind.UNKNOWN):
                r[5] = int(IrqKind.X86_PIN if r[4] < plat.x86.pins else IrqKind.X86_MSI)
        msi = [r[2] in mask_kinds and r[5] == int(IrqKind.X86_MSI) for r in p.rows]
        if any(msi):
            notes.append(f"{sum(msi)} routing lines of MSIs: an MSI has no mask state, no IRQ_MASK/UNMASK emitted")
            p.rows[:] = [r for r, drop in zip(p.rows, msi, strict=True) if not drop]
            for k in ("IRQ_MASK", "IRQ_UNMASK"):
                p.imp_events[k] = sum(1 for r in p.rows if r[2] == int(Kind[k]))
    return notes


def _columns(rows: list[list[int]], plat: Platform) -> dict[str, np.ndarray]:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 9)
    cols = {name: np.zeros(len(arr), dtype=dt) for name, dt in COLUMNS.items()}
    if len(arr):
        cols["ts"][:] = arr[:, 0]
        cols["cpu"][:] = arr[:, 1]
        cols["kind"][:] = arr[:, 2]
        cols["ec"][:] = arr[:, 3]
        for i in range(5):
            cols[f"a{i}"][:] = arr[:, 4 + i]
        seq = np.zeros(len(arr), np.int64)  # each CPU's events counted from 0 in line order
        for c in np.unique(arr[:, 1]):
            m = arr[:, 1] == c
            seq[m] = np.arange(int(m.sum()))
        cols["seq"][:] = seq
    cols["hc"] = fill_hc(cols["kind"], cols["a0"], cols["a4"], plat.api)
    if len(arr) and int(cols["cpu"].max()) >= plat.cpus:
        raise TraceError(f"console lines name CPU {int(cols['cpu'].max())}, but the platform has {plat.cpus} CPUs")
    return cols


def _notes(api: str, where: str, p: _Parser, platform_notes: list[str]) -> list[str]:
    notes = [
        f"console trace ({api}): NOVA prints no timestamps; ts is the 1-based line number in {where}, "
        "seq counts each CPU's events in line order",
        "no statuses: hypercalls are HC_ENTRY only (no HC_EXIT); ipc_call, ipc_reply and event delivery print "
        "nothing; interrupts and scheduling are not printed",
        "registers NOVA does not print are 0: " + "; ".join(CL.NOT_PRINTED[api]),
        "ids are the kernel addresses NOVA prints (EC:%p); 'created' lines also appear for creations that then "
        "failed (selector occupied); EC_KILL has ec -1 (the current EC is not printed)",
        "IRQ_MASK/IRQ_UNMASK with cause ASSIGN come from 'INTR: Routing' lines (the state assign_int configured)",
    ]
    if p.minus_one:
        notes.append(f"{p.minus_one} trace lines from [ -1] (early boot, no per-CPU stack): counted as CPU 0")
    if p.unparseable:
        notes.append(f"{p.unparseable} trace lines could not be parsed and were skipped (see the import warnings)")
    return notes + platform_notes


def read_console(
    path: Path, *, api: str | None = None, platform: Platform | None = None, kind: str = "auto", whole: bool = False
) -> ConsoleImport:
    """Read a serial capture or a memory-buffer dump (``kind`` auto / serial / mbuf) into a partial trace."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotATraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotATraceError(f"{path}: is a directory, not a console log") from None
    if not data:
        raise NotATraceError(f"{path}: empty file")
    if kind == "mbuf" or (kind == "auto" and looks_like_mbuf(data)):
        mb = read_mbuf(data, str(path), whole=whole)
        lines = mb.text.split("\n")
        if mb.first_line_cut and lines:
            lines[0] = ""  # a fragment: never parse it
        if mb.last_line_cut and lines:
            lines[-1] = ""
        imp = parse_console("\n".join(lines), str(path), api=api, platform=platform, source="mbuf")
        imp.notes += [f"memory-buffer dump: RdIdx {mb.read_idx}, WrIdx {mb.write_idx}, {mb.size} characters"]
        imp.notes += mb.notes
        return imp
    if b"\0" in data[:4096] and not data[:4096].strip(b"\0").isascii():
        raise NotATraceError(f"{path}: byte 0: binary data, neither a console log nor a memory-buffer dump")
    return parse_console(data.decode("utf-8", errors="replace"), str(path), api=api, platform=platform)
