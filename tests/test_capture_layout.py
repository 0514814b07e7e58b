"""recorder.h and the decoder's numpy dtypes describe the same bytes; its constants match tracefmt's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tracefmt.capture import layout as L
from tracefmt.events import KIND_ARGS, N_KINDS, WORD_ENUMS, Kind

HEADER_H = Path(__file__).resolve().parent.parent / "tracefmt" / "recorder.h"
GCC = shutil.which("gcc")

# C field name -> dtype field name (identical except the reserved words)
STRUCTS = {"nt_ring_header": L.HEADER_DTYPE, "nt_record": L.RECORD_DTYPE}
C_TYPES = {"<u2": "uint16_t", "<u4": "uint32_t", "<u8": "uint64_t", "<i8": "int64_t"}


def _asserts() -> str:
    """Static assertions, one per fact the decoder relies on, generated from the Python side."""
    lines = ['#include "recorder.h"']

    def check(expr: str) -> None:
        lines.append(f'_Static_assert({expr}, "{expr}");')

    for struct, dt in STRUCTS.items():
        check(f"sizeof(struct {struct}) == {dt.itemsize}")
        for name in dt.names:
            offset = dt.fields[name][1]
            size = dt.fields[name][0].itemsize
            check(f"offsetof(struct {struct}, {name}) == {offset}")
            check(f"sizeof(((struct {struct} *)0)->{name}) == {size}")
            ctype = C_TYPES[dt.fields[name][0].str]
            check(f"_Generic(((struct {struct} *)0)->{name}, {ctype}: 1, default: 0)")
    check(f"NT_RING_MAGIC == {L.RING_MAGIC:#x}u")
    check(f"NT_RING_VERSION == {L.RING_VERSION}")
    check(f"NT_HEADER_SIZE == {L.HEADER_SIZE}")
    check(f"NT_RECORD_SIZE == {L.RECORD_SIZE}")
    check(f"NT_SEQ_BITS == {L.SEQ_BITS}")
    check(f"NT_MODE_OVERWRITE == {L.MODE_OVERWRITE}")
    check(f"NT_MODE_DROP == {L.MODE_DROP}")
    check(f"NT_FLAG_FROZEN == {L.FLAG_FROZEN}")
    for k in Kind:
        check(f"NT_KIND_{k.name} == {int(k)}")
    check(f"NT_KIND_COUNT == {N_KINDS}")
    for word, enum in WORD_ENUMS.items():
        for member in enum:
            check(f"NT_{word.upper()}_{member.name} == {int(member)}")
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(GCC is None, reason="gcc not installed")
def test_recorder_h_compiles_freestanding_and_matches_dtypes(tmp_path: Path) -> None:
    src = tmp_path / "check.c"
    src.write_text(_asserts())
    cmd = [GCC, "-std=c11", "-ffreestanding", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"]
    res = subprocess.run([*cmd, f"-I{HEADER_H.parent}", str(src)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # a wrong expectation must fail: the check is real
    src.write_text('#include "recorder.h"\n_Static_assert(sizeof(struct nt_record) == 64, "x");\n')
    res = subprocess.run([*cmd, f"-I{HEADER_H.parent}", str(src)], capture_output=True, text=True)
    assert res.returncode != 0


def test_every_dtype_field_is_in_the_c_structs() -> None:
    text = HEADER_H.read_text()
    for struct, dt in STRUCTS.items():
        body = re.search(rf"struct {struct} \{{(.*?)\n\}};", text, re.S)
        assert body is not None, struct
        c_fields = re.findall(r"^\s+u?int\d+_t\s+(\w+);", body.group(1), re.M)
        assert c_fields == list(dt.names), struct


def test_kind_table_comment_names_every_word() -> None:
    """The comment table in recorder.h is what a kernel engineer reads: it must match KIND_ARGS."""
    text = HEADER_H.read_text()
    for k, spec in KIND_ARGS.items():
        row = re.search(rf"^ \*\s+{int(k)}\s+{k.name}\s+(\S+)\s+(.*)$", text, re.M)
        assert row is not None, k.name
        assert row.group(1) == spec.ec
        assert row.group(2).split() == [a or "-" for a in spec.args]


def test_commit_word_rejects_zeroed_and_torn_slots() -> None:
    seq = np.array([0, 5, (1 << 56) - 1], np.uint64)
    kind = np.array([0, 15, 19], np.uint64)
    commit = L.commit_word(seq, kind)
    inv = ~commit
    assert np.array_equal(inv >> np.uint64(8), seq) and np.array_equal(inv & np.uint64(0xFF), kind)
    assert commit[0] != 0  # an all-zero slot can never look whole, not even for seq 0 / kind 0
    torn_stamp = seq[1] + np.uint64(4096)  # new stamp, old commit: the check fails
    assert (~commit[1] >> np.uint64(8)) != torn_stamp


def test_parse_header_errors_name_file_and_byte() -> None:
    h = np.zeros(1, L.HEADER_DTYPE)
    h["magic"], h["version"], h["header_size"], h["record_size"] = L.RING_MAGIC, 1, 128, 72
    h["capacity"], h["stc_hz"] = 4, 1000
    good = h.tobytes()
    assert L.parse_header(good, 0, "f").capacity == 4
    bad_version = h.copy()
    bad_version["version"] = 2
    with pytest.raises(Exception, match=r"f: byte 0: ring format version 2"):
        L.parse_header(bad_version.tobytes(), 0, "f")
    with pytest.raises(Exception, match=r"f: byte 0: big-endian"):
        L.parse_header(good[:4][::-1] + good[4:], 0, "f")
    with pytest.raises(Exception, match=r"f: byte 0: ring header cut off"):
        L.parse_header(good[:40], 0, "f")
    zero_cap = h.copy()
    zero_cap["capacity"] = 0
    with pytest.raises(Exception, match=r"capacity 0"):
        L.parse_header(zero_cap.tobytes(), 0, "f")
