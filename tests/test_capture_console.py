"""Console import: NOVA's trace lines -> partial trace. Lines are written here from NOVA's format strings
(domain.md section 9, src/syscall.cpp) with Python's printf, which formats %#x like NOVA's (0x0 for zero);
expected values are the numbers written into them."""

# ruff: noqa: UP031 - printf-style formatting on purpose: the lines mirror NOVA's own format strings

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracefmt.capture import console_lines as CL
from tracefmt.capture.console import parse_console, read_console
from tracefmt.decode import decode_entry
from tracefmt.errors import NotATraceError, TraceError
from tracefmt.events import IrqCause, IrqKind, KillReason, Kind
from tracefmt.io import open_trace
from tracefmt.nova import API_2024, API_2026, NOVA_SEL_INT_BASE, ROOT_SEL_ROOT_EC, EcSubtype, Hc, ObjType, SmSubtype
from tracefmt.platform import example_arm, example_x86
from tracefmt.validate import check

REAL_LOG = Path("/work/shared/nova/real-logs/aarch64-qemu-virt-gicv3.log")
U64 = (1 << 64) - 1


def u(v: int) -> int:
    return int(v) & U64


def rows(imp, kind: Kind) -> list[dict[str, int]]:  # type: ignore[no-untyped-def]
    c = imp.columns
    idx = np.flatnonzero(c["kind"] == int(kind))
    return [{name: int(col[i]) for name, col in c.items()} for i in idx]


# --- registers rebuilt from every TRACE_SYSCALL format -----------------------------------------------------------

SEL = st.integers(0, (1 << 56) - 1)
W64 = st.integers(0, U64)
PAGE = st.integers(0, (1 << 52) - 1)

# name -> (strategy of printed values, line args format, expected decoded fields)
CASES_2024 = {
    "create_pd": (st.tuples(SEL, W64, st.integers(0, 15)), "SEL:%#x PD:%#x (OP:%d)", ("sel", "pd_sel", "op")),
    "create_ec": (
        st.tuples(SEL, W64, st.integers(0, 0xFFF), PAGE, W64, W64),
        "SEL:%#x PD:%#x CPU:%#x HVA:%#x SP:%#x EVT:%#x",
        ("sel", "pd_sel", "bind_cpu", "hva_page", "sp", "evt"),
    ),
    "create_sc": (
        st.tuples(SEL, W64, W64, st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
        "SEL:%#x PD:%#x EC:%#x P:%d B:%d C:%d",
        ("sel", "pd_sel", "ec_sel", "prio", "budget_ms", "cos"),
    ),
    "create_pt": (st.tuples(SEL, W64, W64, W64), "SEL:%#x PD:%#x EC:%#x IP:%#x", ("sel", "pd_sel", "ec_sel", "ip")),
    "create_sm": (st.tuples(SEL, W64, W64), "SEL:%#x PD:%#x CNT:%d", ("sel", "pd_sel", "counter")),
    "ctrl_pd": (
        st.tuples(SEL, W64, PAGE, PAGE, st.integers(0, 31), st.integers(0, 31)),
        "SRC:%#x DST:%#x SSB:%#x DSB:%#x ORD:%d PMM:%#x",
        ("src_sel", "dst_sel", "ssb", "dsb", "ord", "pmm"),
    ),
    "ctrl_sc": (st.tuples(SEL), "SC:%#x", ("sc_sel",)),
    "ctrl_pt": (st.tuples(SEL, W64, st.integers(0, U64 >> 32)), "PT:%#x ID:%#x MTD:%#x", ("pt_sel", "pid", "mtd")),
    "ctrl_sm": (st.tuples(SEL, st.integers(0, 1)), "SM:%#x OP:%d", ("sm_sel", "flags")),
    "ctrl_hw": (st.tuples(st.integers(0, 15), SEL), "OP:%d DESC:%#x", ("op", "desc")),
    "assign_int": (
        st.tuples(SEL, st.integers(0, 0xFFFF), st.integers(0, 15)),
        "SM:%#x CPU:%d FLG:%#x",
        ("sm_sel", "route_cpu", "flags"),
    ),
    "assign_dev": (st.tuples(SEL, PAGE, W64), "DMA:%#x SMMU:%#x DAD:%#x", ("dma_sel", "smmu_page", "dad")),
}
CASES_2026 = {
    **{k: v for k, v in CASES_2024.items() if k not in ("create_sm", "assign_int", "assign_dev")},
    "create_sm": (st.tuples(SEL, W64, W64), "SEL:%#x PD:%#x CNT:%#x", ("sel", "pd_sel", "counter")),
    "create_dc": (st.tuples(SEL, W64), "SEL:%#x PD:%#x", ("sel", "pd_sel")),
    "assign_dev": (st.tuples(SEL, W64, W64), "DC:%#x DMA:%#x->%#x", ("dc_sel", "dma_old_sel", "dma_new_sel")),
    "assign_int": (
        st.tuples(
            st.integers(0, 1), SEL, W64, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 255)
        ).flatmap(lambda t: st.just((*t, t[5] ^ 0x5A))),
        "OP:%d SM:%#x DC:%#x IDX:%#x CPU:%d VEC:%#x CFG:%#x",
        ("op", "sm_sel", "dc_sel", "idx", "route_cpu", "vec", "cfg"),
    ),
}
# printed value -> decoded field, where NOVA prints an address but the field is its page number
PRINTED_AS_ADDRESS = {"hva_page", "smmu_page"}


@settings(deadline=None)
@given(api=st.sampled_from([API_2024, API_2026]), data=st.data())
def test_registers_rebuilt_from_a_syscall_line_decode_to_the_printed_fields(api: str, data: st.DataObject) -> None:
    cases = CASES_2024 if api == API_2024 else CASES_2026
    name = data.draw(st.sampled_from(sorted(cases)))
    values, fmt, fields = cases[name]
    v = data.draw(values)
    printed = tuple(x << 12 if f in PRINTED_AS_ADDRESS else x for x, f in zip(v, fields, strict=True))
    call = CL.parse_hypercall(api, name, fmt % printed)
    assert call is not None, fmt % printed
    hc, decoded = decode_entry(api, call.regs)
    assert hc == Hc[name.upper()]
    assert {f: decoded[f] for f in fields} == dict(zip(fields, v, strict=True))


def test_create_sm_with_an_interrupt_id_sets_flag_i_in_nova_2026() -> None:
    call = CL.parse_hypercall(API_2026, "create_sm", "SEL:0x40 PD:0x3fffd GSI:0x10018")
    assert call is not None
    _, f = decode_entry(API_2026, call.regs)
    assert (f["sel"], f["flags"], f["counter"]) == (0x40, 1, 0x10018)
    assert CL.parse_hypercall(API_2024, "create_sm", "SEL:0x40 PD:0x3fffd GSI:0x10018") is None


def test_ctrl_ec_strong_flag_and_kill_reasons_match_tracefmt() -> None:
    s = CL.parse_hypercall(API_2024, "ctrl_ec", "EC:0x1300 (S)")
    w = CL.parse_hypercall(API_2024, "ctrl_ec", "EC:0x1300 (W)")
    assert decode_entry(API_2024, s.regs)[1]["flags"] == 1 and decode_entry(API_2024, w.regs)[1]["flags"] == 0
    names = ["PT_NOT_FOUND", "PT_WRONG_CPU", "IPC_ABORT", "BLOCKING", "ILLEGAL", "VM_ENTRY"]
    assert {r: KillReason[n] for r, n in zip(CL.KILL_REASONS, names, strict=True)} == CL.KILL_REASONS


# --- the real aarch64 log ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():  # type: ignore[no-untyped-def]
    return read_console(REAL_LOG)


def test_real_log_platform_from_boot_lines(real) -> None:  # type: ignore[no-untyped-def]
    p = real.platform
    assert (p.arch, p.cpus, p.stc_hz, p.api, p.kernel.version) == ("aarch64", 2, 62_500_000, API_2024, "0000000")
    assert (p.arm.gic_version, p.arm.spi_count) == (3, 224)  # GICD v3; INFO: INT#: 224 + 0


def test_real_log_events(real) -> None:  # type: ignore[no-untyped-def]
    assert real.unparseable == 0 and real.lines == 341
    assert real.events["HC_ENTRY"] == 68  # lines with sys_
    assert real.events["OBJ_CREATED"] == 238 + 2  # 'created' lines + the two idle ECs named by idle SC lines
    assert (real.events["IRQ_UNMASK"], real.events["IRQ_MASK"], real.events["EC_KILL"]) == (3, 1, 1)
    created = rows(real, Kind.OBJ_CREATED)
    first = created[0]  # line 11: the first interrupt semaphore, SPI 0
    assert (first["ts"], first["cpu"], first["ec"]) == (11, 0, 0)
    assert (u(first["a0"]), first["a1"], first["a2"], first["a3"], first["a4"]) == (
        0xFF8000FE5F80,
        int(ObjType.SM) << 8 | int(SmSubtype.INT),
        NOVA_SEL_INT_BASE,
        0,
        0,
    )
    last_int_sm = [r for r in created if r["a1"] == int(ObjType.SM) << 8 | int(SmSubtype.INT)][-1]
    assert (last_int_sm["a2"], last_int_sm["a4"]) == (NOVA_SEL_INT_BASE + 223, 223)
    root_ec = next(r for r in created if r["ts"] == 244)
    root_pd = 0xFF8000FD7EE0
    assert (u(root_ec["a0"]), root_ec["a1"], root_ec["a2"], u(root_ec["a3"])) == (
        0xFF8000FD1A00,
        int(ObjType.EC) << 8 | int(EcSubtype.GLOBAL),
        ROOT_SEL_ROOT_EC,
        root_pd,
    )
    cpu1 = [r for r in created if r["cpu"] == 1]  # line 55: [  1] idle SC of CPU 1 on idle EC 0xff8000fd1e00
    assert [(r["ts"], r["seq"], u(r["a0"]), r["a4"]) for r in cpu1] == [
        (55, 0, 0xFF8000FD1E00, 1),
        (55, 1, 0xFF8000FD2FA0, 1),
    ]
    vcpu = next(r for r in created if r["ts"] == 310)  # after sys_create_ec SEL:0x1313: created by the root EC
    assert (vcpu["a1"], vcpu["a2"], u(vcpu["a3"]), u(vcpu["ec"])) == (
        int(ObjType.EC) << 8 | int(EcSubtype.VCPU_REAL),
        0x1313,
        root_pd,
        0xFF8000FD1A00,
    )


def test_real_log_hypercalls_and_routing(real) -> None:  # type: ignore[no-untyped-def]
    entries = {r["ts"]: r for r in rows(real, Kind.HC_ENTRY)}

    def fields(line: int) -> tuple[Hc, dict[str, int]]:
        r = entries[line]
        return decode_entry(API_2024, tuple(r[f"a{i}"] for i in range(5)))  # type: ignore[arg-type]

    hc, f = fields(304)  # sys_create_ec SEL:0x1300 PD:0x3fffd CPU:0x0 HVA:0x40000000 SP:0x0 EVT:0x1400, then 'L'
    assert hc == Hc.CREATE_EC and entries[304]["hc"] == int(Hc.CREATE_EC)
    assert (f["sel"], f["pd_sel"], f["bind_cpu"], f["hva_page"], f["evt"], f["flags"]) == (
        0x1300,
        0x3FFFD,
        0,
        0x40000,
        0x1400,
        0,
    )
    assert fields(309)[1]["flags"] == 1  # the vCPU ('R') was created with G
    assert fields(306)[1]["bind_cpu"] == 7  # failed (BAD_CPU): no created line, flags unknown = 0
    assert fields(339) == (Hc.CTRL_EC, {"ec_sel": 0x1300, "flags": 1})  # sys_ctrl_ec EC:0x1300 (S)
    assert fields(287)[1]["counter"] == U64  # CNT:18446744073709551615
    unmask = rows(real, Kind.IRQ_UNMASK)
    assert [(r["ts"], r["a0"], r["a1"], r["a2"], u(r["ec"])) for r in unmask] == [
        (328, 2, int(IrqKind.ARM_SPI), int(IrqCause.ASSIGN), 0xFF8000FD1A00),
        (331, 2, int(IrqKind.ARM_SPI), int(IrqCause.ASSIGN), 0xFF8000FD1A00),
        (338, 5, int(IrqKind.ARM_SPI), int(IrqCause.ASSIGN), 0xFF8000FD1A00),
    ]
    [mask] = rows(real, Kind.IRQ_MASK)
    assert (mask["ts"], mask["a0"]) == (336, 2)
    [kill] = rows(real, Kind.EC_KILL)
    assert (kill["ts"], u(kill["a0"]), kill["a1"], kill["ec"]) == (
        340,
        0xFF8000FD1800,
        int(KillReason.PT_NOT_FOUND),
        -1,
    )
    rep = check([_batch(real)], real.platform, "real")
    assert rep.ok, rep.errors


def _batch(imp):  # type: ignore[no-untyped-def]
    from tracefmt.schema import EventBatch

    return EventBatch(*imp.columns.values())


# --- x86 text written from the format strings --------------------------------------------------------------------

ROOT_EC, DRV_EC, ROOT_PD = 0xFFFFFFFF81C3A000, 0xFFFFFFFF81C3B000, 0xFFFFFFFF81C40000


def x86_log() -> list[str]:
    """A 4-CPU q35 boot and root task, nova-2024, CRLF, lines interleaved from several CPUs."""
    L = ["", "NOVA Microhypervisor #8b6c28a (x86_64): Jan 30 2024 10:00:00 [gcc 12.2.0]", ""]
    L.append("[ -1] ACPI: RSDP:0xf52d0 REV:2")
    for c in range(4):
        L.append("[%3d] APIC: LOC:%#04x VER:%#x SUP:1 LVT:%#x (xAPIC DL Mode)" % (c, c, 0x50014, 5))
    L.append("[%3d] FREQ: %d Hz (%s) Ratio:%d" % (0, 2_000_000_000, "enumerated", 0))
    L.append("[  0] APIC: I/O:%#04x VER:%#x GSI:%#04x-%#04x (%04x:%02x:%02x.%x)" % (0, 0x20, 0, 23, 0, 0, 0x1F, 0))
    for g in range(217):  # interrupt semaphores, on CPU 0, while CPU 2 reports its idle SC
        L.append("[  0] SM:%#x created (CNT:%d)" % (0xFFFFFFFF81D00000 + 0x40 * g, 0))
        if g == 100:
            L.append(
                "[  2] SC:%#x created (EC:%#x CPU:%d Budget:%dms Prio:%d COS:%d)" % (0x9000, 0x8000, 2, 1000, 0, 0)
            )
    L.append("[  0] PD:%#x created" % ROOT_PD)
    L.append("[  0] EC:%#x created (OBJ:%#x HST:%#x PIO:%#x CPU:%d UTCB:%#x %c)" % (ROOT_EC, 1, 2, 3, 0, 4, "G"))
    L.append("[  0] SC:%#x created (EC:%#x CPU:%d Budget:%dms Prio:%d COS:%d)" % (0x7000, ROOT_EC, 0, 1000, 127, 0))
    for info in ("INFO: FREQ: 2000000000 Hz", "INFO: SEL#: 0x40000", "INFO: CPU#:   4", "INFO: INT#:  24 + 193"):
        L.append("[  0] " + info)
    sys = "[%3d] EC:%#x sys_%s "
    L.append(sys % (0, ROOT_EC, "create_sm") + "SEL:%#x PD:%#x CNT:%d" % (0x200, 0x3FFFD, 3))
    L.append("[  1] TIME: 10ms")  # another CPU's chatter between a hypercall and its 'created' line
    L.append("[  0] SM:%#x created (CNT:%d)" % (0xA000, 3))
    L.append(
        sys % (0, ROOT_EC, "create_ec")
        + "SEL:%#x PD:%#x CPU:%#x HVA:%#x SP:%#x EVT:%#x" % (0x300, 0x3FFFD, 2, 0x7000, 0, 0x400)
    )
    L.append(sys % (2, DRV_EC, "ctrl_sm") + "SM:%#x OP:%d" % (0x10010, 1))  # CPU 2 interleaved
    L.append("[  0] EC:%#x created (OBJ:%#x HST:%#x PIO:%#x CPU:%d UTCB:%#x %c)" % (DRV_EC, 1, 2, 3, 2, 5, "L"))
    L.append(sys % (0, ROOT_EC, "assign_int") + "SM:%#x CPU:%d FLG:%#x" % (0x10010, 2, 0x3))
    L.append("[  0] INTR: Routing GSI %#04x (%c%c%c) to CPU %d" % (0x10, "M", "L", "H", 2))
    L.append(sys % (0, ROOT_EC, "assign_int") + "SM:%#x CPU:%d FLG:%#x" % (0x10030, 1, 0))
    L.append("[  0] INTR: Routing GSI %#04x (%c%c%c) to CPU %d" % (0x30, "U", "E", "H", 1))  # an MSI
    L.append(sys % (0, ROOT_EC, "ctrl_hw") + "OP:%d DESC:%#x" % (4, 0))
    L.append(sys % (3, DRV_EC, "ctrl_pt") + "PT:%#x ID:%#x MTD:%#x" % (0x500, 0xBEEF, 0))
    L.append("[  3] Killed EC:%#x (%s)" % (DRV_EC, "IPC Abort"))
    return L


@pytest.fixture(scope="module")
def x86():  # type: ignore[no-untyped-def]
    return parse_console("\r\n".join(x86_log()) + "\r\n", "x86.log")


def test_x86_platform_from_boot_lines(x86) -> None:  # type: ignore[no-untyped-def]
    p = x86.platform
    assert (p.arch, p.cpus, p.stc_hz, p.api, p.kernel.version) == ("x86_64", 4, 2_000_000_000, API_2024, "8b6c28a")
    [ioapic] = p.x86.ioapics
    assert (ioapic.gsi_base, ioapic.pins, ioapic.source_id, p.x86.msi_count) == (0, 24, 0xF8, 193)


def test_x86_events_in_line_order_per_cpu(x86) -> None:  # type: ignore[no-untyped-def]
    lines = x86_log()
    lineno = {text: i + 1 for i, text in enumerate(lines)}
    assert x86.unparseable == 0
    c = x86.columns
    assert np.all(np.diff(c["ts"]) >= 0)
    for cpu in range(4):
        assert c["seq"][c["cpu"] == cpu].tolist() == list(range(int(np.sum(c["cpu"] == cpu))))
    entries = rows(x86, Kind.HC_ENTRY)
    assert [(r["cpu"], r["hc"]) for r in entries] == [
        (0, int(Hc.CREATE_SM)),
        (0, int(Hc.CREATE_EC)),
        (2, int(Hc.CTRL_SM)),
        (0, int(Hc.ASSIGN_INT)),
        (0, int(Hc.ASSIGN_INT)),
        (0, int(Hc.CTRL_HW)),
        (3, int(Hc.CTRL_PT)),
    ]
    create_ec = entries[1]
    _, f = decode_entry(API_2024, tuple(create_ec[f"a{i}"] for i in range(5)))  # type: ignore[arg-type]
    assert (f["sel"], f["bind_cpu"], f["hva_page"], f["evt"], f["flags"]) == (0x300, 2, 7, 0x400, 0)
    assert u(create_ec["ec"]) == ROOT_EC
    created = {r["ts"]: r for r in rows(x86, Kind.OBJ_CREATED)}
    drv = created[lineno[next(t for t in lines if t.startswith("[  0] EC:%#x" % DRV_EC))]]
    # the 'created' line came after CPU 2's interleaved hypercall: it still belongs to CPU 0's create_ec
    assert (drv["a2"], drv["a4"], u(drv["ec"])) == (0x300, 2, ROOT_EC)
    sm = created[lineno["[  0] SM:0xa000 created (CNT:3)"]]
    assert (sm["a1"], sm["a2"], u(sm["a3"]), sm["a4"]) == (int(ObjType.SM) << 8, 0x200, ROOT_PD, 3)
    ints = [r for r in created.values() if r["a1"] == int(ObjType.SM) << 8 | int(SmSubtype.INT)]
    assert len(ints) == 217 and ints[16]["a2"] == NOVA_SEL_INT_BASE + 16 and ints[16]["a4"] == 16
    idle = created[lineno[next(t for t in lines if t.startswith("[  2] SC:"))]]
    assert (idle["cpu"], idle["a2"], idle["a4"]) == (2, 2, 2)  # idle SC of CPU 2 at NOVA selector 2
    [mask] = rows(x86, Kind.IRQ_MASK)  # level pin 0x10, masked; the MSI (0x30) has no mask event
    assert (mask["a0"], mask["a1"], mask["a2"], u(mask["ec"])) == (
        0x10,
        int(IrqKind.X86_PIN),
        int(IrqCause.ASSIGN),
        ROOT_EC,
    )
    assert rows(x86, Kind.IRQ_UNMASK) == []
    [kill] = rows(x86, Kind.EC_KILL)
    assert (kill["cpu"], u(kill["a0"]), kill["a1"]) == (3, DRV_EC, int(KillReason.IPC_ABORT))
    assert check([_batch(x86)], x86.platform, "x86").ok


# --- memory-buffer dumps -----------------------------------------------------------------------------------------


def mbuf_dump(text: bytes, n: int = 4088, read_all: bool = False) -> bytes:
    """What Console_mbuf::outc leaves behind after writing ``text`` (src/console_mbuf.cpp)."""
    buf, r, w = bytearray(n), 0, 0
    for ch in text:
        wn = (w + 1) % n
        if wn == r:  # full: the oldest character is dropped
            r = (r + 1) % n
        buf[w] = ch
        w = wn
    if read_all:
        r = w
    return r.to_bytes(4, "little") + w.to_bytes(4, "little") + bytes(buf)


def test_wrapped_mbuf_dump_with_its_first_line_cut(tmp_path: Path) -> None:
    lines = x86_log()[:-8] + ["[  1] EC:%#x sys_ctrl_sm SM:%#x OP:%d" % (DRV_EC, 0x1000 + i, i % 2) for i in range(300)]
    text = ("\r\n".join(lines) + "\r\n").encode()
    dump = tmp_path / "mbuf.bin"
    dump.write_bytes(mbuf_dump(text))
    kept = text[-4087:]  # a full ring holds N-1 characters: the newest ones
    assert not kept.startswith(b"[")  # this dump's first line is cut
    complete = kept.split(b"\r\n")[1:-1]
    expected = [int(ln.split(b"SM:")[1].split()[0], 16) for ln in complete]
    imp = read_console(dump, platform=example_x86(4))  # the boot lines are long gone from the buffer
    assert imp.source == "mbuf" and imp.unparseable == 0
    sms = [decode_entry(API_2024, tuple(r[f"a{i}"] for i in range(5)))[1]["sm_sel"] for r in rows(imp, Kind.HC_ENTRY)]  # type: ignore[arg-type]
    assert sms == expected and len(expected) > 50
    assert any("first line cut" in n for n in imp.notes)
    assert imp.columns["ts"][0] == 2  # ts counts the lines of the buffer's text, the cut one included


def test_mbuf_dump_read_by_a_consumer_needs_mbuf_all(tmp_path: Path) -> None:
    text = b"[  0] EC:0x10 sys_ctrl_sc SC:0x5\r\n[  0] EC:0x10 sys_ctrl_sc SC:0x6\r\n"
    dump = tmp_path / "mbuf.bin"
    dump.write_bytes(mbuf_dump(text, read_all=True))
    empty = read_console(dump, platform=example_x86(1))
    assert sum(empty.events.values()) == 0 and any("RdIdx == WrIdx" in n for n in empty.notes)
    full = read_console(dump, platform=example_x86(1), whole=True)
    assert full.events["HC_ENTRY"] == 2 and not any("first line cut" in n for n in full.notes)


def test_mbuf_first_line_is_complete_when_the_reader_stopped_at_a_line_end(tmp_path: Path) -> None:
    text = b"[  0] EC:0x10 sys_ctrl_sc SC:0x5\r\n[  0] EC:0x10 sys_ctrl_sc SC:0x6\r\n"
    raw = bytearray(mbuf_dump(text))
    raw[0:4] = len(text.split(b"\n")[0] + b"\n").to_bytes(4, "little")  # the consumer read line 1
    dump = tmp_path / "mbuf.bin"
    dump.write_bytes(bytes(raw))
    imp = read_console(dump, platform=example_x86(1))
    assert imp.events["HC_ENTRY"] == 1 and not any("cut" in n for n in imp.notes)


# --- bad lines and bad input ---------------------------------------------------------------------------------------


def test_unparseable_trace_lines_are_reported_with_their_line_numbers() -> None:
    text = "\n".join(
        [
            "[  0] INFO: CPU#:   2",
            "[  0] EC:0x10 sys_ctrl_sm SM:zz OP:1",  # 2: bad value
            "[  0] EC:0x10 sys_assign_int OP:1 SM:0x5 DC:0x6 IDX:0x0 CPU:0 VEC:0x20 CFG:0x0",  # 3: nova-2026
            "[  0] Killed EC:0x10 (Because)",  # 4: unknown reason
            "EC:0x10 sys_ctrl_sc SC:0x5",  # 5: no [cpu] prefix
            "[  0] CORE: something else entirely",  # skipped, not an error
            "[  0] EC:0x10 sys_ctrl_sc SC:0x5",  # 7: fine
            "[  7] EC:0x10 sys_ctrl_sc SC:0x5",  # 8: no such CPU
        ]
    )
    imp = parse_console(text, "bad.log", platform=example_arm(2))
    assert imp.unparseable == 5 and imp.events["HC_ENTRY"] == 1 and imp.skipped == 2
    lines = [int(w.split(": line ")[1].split(":")[0]) for w in imp.warnings]
    assert lines == [2, 3, 4, 5, 8]
    assert "in nova-2026 format, but the log is read as nova-2024" in imp.warnings[1]


def test_nova_2026_log_is_detected() -> None:
    text = "\n".join(
        [
            "[  0] INFO: CPU#:   2",
            "[  0] APIC: I/O:0x00 VER:0x20 GSI:0x00-0x17 (0000:00:1f.0)",
            "[  0] EC:0x10 sys_create_sm SEL:0x40 PD:0x3fffd GSI:0x10",
            "[  0] EC:0x10 sys_assign_int OP:1 SM:0x40 DC:0x0 IDX:0x0 CPU:1 VEC:0x21 CFG:0x1",
            "[  0] INTR: Routing GSI 0x0010 (ULH) from 0000:00:1f.0 to 0x0001:0x21 (PIN)",
        ]
    )
    imp = parse_console(text, "n26.log")
    assert imp.platform.api == API_2026
    assert [r["hc"] for r in rows(imp, Kind.HC_ENTRY)] == [int(Hc.CREATE_SM), int(Hc.ASSIGN_INT)]
    [unmask] = rows(imp, Kind.IRQ_UNMASK)
    assert (unmask["a0"], unmask["a1"]) == (0x10, int(IrqKind.X86_PIN))


def test_a_log_without_architecture_clues_needs_a_platform() -> None:
    with pytest.raises(TraceError, match="cannot tell the architecture"):
        parse_console("[  0] EC:0x10 sys_ctrl_sc SC:0x5\n", "x.log")


@settings(deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("[] 0123456789abcdefx:EC sys_ctrlsmSMOP()\n\r-createdKilled")), max_size=400
    )
)
def test_random_text_never_crashes_the_console_parser(text: str) -> None:
    try:
        imp = parse_console(text, "r.log", platform=example_x86(4))
    except TraceError:
        return
    assert imp.unparseable + imp.skipped + sum(imp.events.values()) >= 0


def test_binary_and_missing_inputs_are_one_line_errors(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(NotATraceError, match=r"blob.bin: byte 0: binary data"):
        read_console(blob)
    with pytest.raises(NotATraceError, match="no such file"):
        read_console(tmp_path / "missing.log")
    with pytest.raises(NotATraceError, match=r"m.bin: byte 0: not a memory-buffer console dump"):
        (tmp_path / "m.bin").write_bytes(b"\xff" * 64)
        read_console(tmp_path / "m.bin", kind="mbuf")


# --- command line ------------------------------------------------------------------------------------------------


def test_cli_import_console_real_log(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    out = tmp_path / "real.parquet"
    res = CliRunner().invoke(cli, ["import", "console", str(REAL_LOG), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["events"] == 313 and report["unparseable_lines"] == 0
    cap = open_trace(out).meta.provenance["capture"]
    assert cap["source"] == "console" and any("ts is the 1-based line number" in n for n in cap["notes"])
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert "no statuses" in info.stdout
    bad = tmp_path / "bad.log"
    bad.write_text(
        "[  0] INFO: CPU#:   1\n[  0] GICD: 0x08000000 v3 r0p0 Impl:0x43b Prod:0x0 ESPI:0 LPIS:1 INT:64 S:0 G:1\n"
        "[  0] EC:0x10 sys_ctrl_sm SM:zz OP:1\n"
    )
    res = CliRunner().invoke(cli, ["import", "console", str(bad), "-o", str(tmp_path / "b.parquet")])
    assert res.exit_code == 1 and "line 3" in res.stderr
