"""Hypercall decoding per API generation, against values worked out by hand from domain.md."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tracefmt.builder import TraceBuilder, hypercall_word
from tracefmt.decode import INVALID_STATUS, decode_entry, exit_status, fill_hc, hypercall_entries, status_expr
from tracefmt.events import Kind
from tracefmt.nova import Hc, Status, hc_number
from tracefmt.platform import example_x86


def test_generation_numbering():
    # domain.md 10.1
    assert hc_number("nova-2024", Hc.CTRL_PD) == 0x7 and hc_number("nova-2026", Hc.CTRL_PD) == 0x8
    assert hc_number("nova-2024", Hc.ASSIGN_INT) == 0xD and hc_number("nova-2026", Hc.ASSIGN_INT) == 0xF
    assert hc_number("nova-2024", Hc.ASSIGN_DEV) == 0xE and hc_number("nova-2026", Hc.ASSIGN_DEV) == 0xE
    assert hc_number("nova-2026", Hc.CREATE_DC) == 0x7
    with pytest.raises(ValueError):
        hc_number("nova-2024", Hc.CREATE_DC)


def test_same_raw_word_decodes_differently_per_generation():
    p0 = 0x12345_6_7  # sel 0x12345, flags 6, number 7
    assert decode_entry("nova-2024", (p0, 0, 0, 0, 0))[0] == Hc.CTRL_PD
    assert decode_entry("nova-2026", (p0, 0, 0, 0, 0))[0] == Hc.CREATE_DC
    kinds = np.array([int(Kind.HC_ENTRY)], np.uint8)
    a0 = np.array([p0], np.int64)
    assert fill_hc(kinds, a0, np.zeros(1, np.int64), "nova-2024")[0] == Hc.CTRL_PD


def test_create_ec_fields():
    # create_ec: p2 = hva[63:12] | cpu[11:0]; flags G=1, T=2, F=4
    hc, f = decode_entry("nova-2024", (0x40 << 8 | 0x6 << 4 | 0x3, 0x3FFFD, 0x7FFF_F000 | 3, 0x1000, 0x20))
    assert hc == Hc.CREATE_EC
    assert f == {"sel": 0x40, "flags": 0x6, "pd_sel": 0x3FFFD, "bind_cpu": 3, "hva_page": 0x7FFFF, "sp": 0x1000,
                 "evt": 0x20}  # fmt: skip


def test_create_sc_and_ctrl_pd_fields():
    scd = 10 | 42 << 16 | 3 << 23  # budget 10 ms, prio 42, cos 3
    assert decode_entry("nova-2024", (0x4, 1, 2, scd, 0))[1] == {
        "sel": 0, "pd_sel": 1, "ec_sel": 2, "budget_ms": 10, "prio": 42, "cos": 3,
    }  # fmt: skip
    p2 = 0x10000 << 12 | 4  # ssb 0x10000, order 4
    p3 = 0x200 << 12 | 0x12  # dsb 0x200, pmm 0x12
    _, f = decode_entry("nova-2024", (0x3FFFF << 8 | 0x7, 0x3FFFE, p2, p3, 0))
    assert (f["src_sel"], f["dst_sel"], f["ssb"], f["ord"], f["dsb"], f["pmm"]) == (
        0x3FFFF,
        0x3FFFE,
        0x10000,
        4,
        0x200,
        0x12,
    )
    # nova-2026 widens pmm to 6 bits
    _, f = decode_entry("nova-2026", (0x8, 0, 0, 0x3F, 0))
    assert f["pmm"] == 0x3F


def test_assign_int_fields_per_generation():
    _, f = decode_entry("nova-2024", (0x10005 << 8 | 0b0011 << 4 | 0xD, 2, 0x00FA, 0, 0))
    assert (f["sm_sel"], f["flags"], f["route_cpu"], f["dev"]) == (0x10005, 0b0011, 2, 0xFA)
    p2 = 0x5 | 0x41 << 8 | 7 << 16 | 3 << 32  # cfg 5, vector 0x41, cpu 7, idx 3
    _, f = decode_entry("nova-2026", (0x300 << 8 | 1 << 4 | 0xF, 0x301, p2, 0, 0))
    assert (f["sm_sel"], f["op"], f["dc_sel"], f["cfg"], f["vec"], f["route_cpu"], f["idx"]) == (
        0x300, 1, 0x301, 5, 0x41, 7, 3,
    )  # fmt: skip


def test_selector_uses_logical_shift():
    p0 = -1  # all ones: sel = 2^56 - 1, not -1
    _, f = decode_entry("nova-2024", (p0 & ~0xF | 0xB, 0, 0, 0, 0))
    assert f["sm_sel"] == (1 << 56) - 1


def test_exit_status_quirk():
    # domain.md 12: ipc_call success leaves p0 untouched (0x130300, or 0x130310 with T=1)
    assert exit_status(Hc.IPC_CALL, 0x130300) == Status.SUCCESS
    assert exit_status(Hc.IPC_CALL, 0x130310) == Status.SUCCESS
    assert exit_status(Hc.IPC_CALL, int(Status.ABORTED)) == Status.ABORTED
    assert exit_status(Hc.CTRL_SM, 0x130300) == INVALID_STATUS
    assert exit_status(Hc.CTRL_SM, int(Status.TIMEOUT)) == Status.TIMEOUT


def test_polars_decoding_matches_python():
    b = TraceBuilder(example_x86())
    b.hc_entry(0, 1, Hc.CREATE_SC, sel=0x80, p1=0x3FFFD, p2=0x81, p3=5 | 9 << 16)
    b.hc_entry(0, 1, Hc.CTRL_SM, sel=0x10010, flags=3, p1=123456)
    b.hc_exit(0, 1, Hc.IPC_CALL, hypercall_word("nova-2024", Hc.IPC_CALL, sel=0x1303))
    b.hc_exit(0, 1, Hc.CTRL_SM, int(Status.BAD_CPU))
    df = pl.DataFrame(b.columns())
    ent = hypercall_entries(df, "nova-2024").collect()
    assert ent["hypercall"].to_list() == ["create_sc", "ctrl_sm"]
    assert ent["prio"].to_list() == [9, None] and ent["budget_ms"].to_list() == [5, None]
    assert ent["sm_sel"].to_list() == [None, 0x10010] and ent["deadline"].to_list() == [None, 123456]
    st = df.with_columns(status_expr())["status"].to_list()
    assert st == [None, None, int(Status.SUCCESS), int(Status.BAD_CPU)]
