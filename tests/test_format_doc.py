"""FORMAT.md and the Python modules describe the same format (kinds, words, enums, hypercall fields)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracefmt.decode import FIELDS
from tracefmt.events import KIND_ARGS, WORD_ENUMS
from tracefmt.nova import API_2024, Hc, hc_number
from tracefmt.schema import COLUMNS

DOC = (Path(__file__).parents[1] / "tracefmt" / "FORMAT.md").read_text()


def _table_rows(header_start: str) -> list[list[str]]:
    lines = DOC[DOC.index(header_start) :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_kind_table_matches_events_module():
    rows = _table_rows("| # | kind | ec |")
    assert len(rows) == len(KIND_ARGS)
    for (num, name, ec, *words), (kind, spec) in zip(rows, KIND_ARGS.items(), strict=True):
        assert (int(num), name, ec) == (int(kind), kind.name, spec.ec)
        assert words == [w or "-" for w in spec.args]


def test_every_column_documented():
    rows = _table_rows("| column | type | meaning |")
    assert [r[0].strip("`") for r in rows[:6]] == list(COLUMNS)[:6]
    assert "`a0` .. `a4`" in DOC


def test_enum_table_matches():
    rows = {r[0]: r[1] for r in _table_rows("| word | values |")}
    for word, enum in WORD_ENUMS.items():
        assert rows[word] == ", ".join(f"{m.name}={int(m)}" for m in enum), word


@pytest.mark.parametrize("hc", [h for h in Hc if h not in (Hc.NONE, Hc.RESERVED)])
def test_nova_2024_field_table(hc):
    section = DOC[DOC.index("### nova-2024") : DOC.index("### nova-2026")]
    row = re.search(rf"^\| {hc.name.lower()} \| (0x[0-9a-f]) \| (.*) \|$", section, re.M)
    if hc is Hc.CREATE_DC:
        assert row is None
        return
    assert row is not None, hc
    assert int(row.group(1), 16) == hc_number(API_2024, hc)
    for f in FIELDS[API_2024].get(hc, ()):
        assert re.search(rf"\b{f.name} = p{f.reg}\b", row.group(2)), (hc, f.name)
