"""``novatrace tables``: files written, JSON summary, one-line errors."""

from __future__ import annotations

import json

import polars as pl
from test_tables import level_pin_cycle, mixed_trace

from cli.main import main


def test_tables_writes_three_files_and_summarises(tmp_path, capsys) -> None:
    t = mixed_trace()
    path = t.b.write(tmp_path / "t.parquet")
    out = tmp_path / "out"
    assert main(["tables", "--json", str(path), "-o", str(out)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["hypercalls.parquet", "interrupts.parquet", "ipc.parquet"]
    irqs = pl.read_parquet(out / "interrupts.parquet")
    # the level-pin cycle is handled; the three ups of irq 20 find no waiter (counter 1 each time)
    assert irqs["outcome"].to_list() == ["handled", "no_waiter", "no_waiter", "no_waiter"]
    assert s["rows"] == {"interrupts": 4, "hypercalls": len(pl.read_parquet(out / "hypercalls.parquet")), "ipc": 1}
    assert s["outcomes"]["interrupts"] == {"handled": 1, "no_waiter": 3}
    (lat,) = s["latency_arrival_to_running"]
    handled = irqs.row(0, named=True)
    assert (lat["irq_kind"], lat["count"]) == ("X86_PIN", 1)
    assert lat["ticks"]["p50"] == handled["running_ts"] - handled["arrival_ts"] == lat["ticks"]["max"]
    assert lat["us"]["max"] == lat["ticks"]["max"] * 1e6 / t.platform.stc_hz
    assert not list(out.glob("*.partial"))


def test_tables_human_output(tmp_path, capsys) -> None:
    t, _, _ = level_pin_cycle()
    path = t.b.write(tmp_path / "t.arrows")
    assert main(["tables", str(path), "-o", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "interrupts.parquet" in text and "handled 1" in text and "X86_PIN" in text


def test_tables_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["tables", str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.parquet" in err
    t, _, _ = level_pin_cycle()
    path = t.b.write(tmp_path / "t.parquet")
    (tmp_path / "file").write_text("x")
    assert main(["tables", str(path), "-o", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
