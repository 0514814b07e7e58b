"""``novatrace convert``: between Arrow IPC stream (capture) and Parquet (archive), batch by batch."""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import emit_json, json_option, progress, salvage_option, stdout, warn
from tracefmt.errors import TraceError
from tracefmt.io import TraceWriter, container_for_name, open_trace


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@json_option
@salvage_option
def convert(src: Path, dst: Path, force: bool, as_json: bool, salvage: bool) -> None:
    """Copy the trace SRC to DST, choosing the container from DST's suffix (.parquet or .arrows).

    Streams one batch at a time, so traces larger than memory convert in bounded memory. A truncated
    IPC stream converts everything that was complete, with a warning saying how much was lost.

    \b
    Example:
      novatrace convert capture.arrows capture.parquet
    """
    reader = open_trace(src, salvage=salvage)
    container = container_for_name(dst)
    if dst.exists() and not force:
        raise TraceError(f"{dst}: already exists (use --force to overwrite)")
    if dst.resolve() == src.resolve():
        raise TraceError(f"{dst}: is the input file")
    tmp = dst.with_name(dst.name + ".partial")
    try:
        with (
            TraceWriter(tmp, reader.meta, container=container) as w,
            progress(f"converting {src.name}", reader.num_rows) as advance,
        ):
            for batch in reader.batches():
                w.write(batch)
                advance(batch.n)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    for line in reader.warnings:
        warn(line)
    result = {
        "input": str(src),
        "output": str(dst),
        "container": container,
        "events": w.rows,
        "bytes": dst.stat().st_size,
        "warnings": reader.warnings,
    }
    if as_json:
        emit_json(result)
    else:
        stdout.print(f"wrote {dst}: {w.rows:,} events ({container}, {result['bytes']:,} bytes)")
