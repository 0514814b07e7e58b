"""``novatrace validate``: check a trace against the format's rules (FORMAT.md section 7)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.info import read_report
from cli.main import EXIT_FINDINGS
from cli.output import emit_json, json_option, salvage_option, stdout, warn


@click.command()
@click.argument("trace", type=click.Path(path_type=Path))
@json_option
@salvage_option
@click.pass_context
def validate(ctx: click.Context, trace: Path, as_json: bool, salvage: bool) -> None:
    """Check TRACE: sort order, kinds, CPUs, hypercall codes, enumerations, per-CPU sequence numbers.

    Gaps in a CPU's sequence numbers are reported as recorder loss (a warning), not as errors.
    Exit 0 if valid, 1 if any row breaks the format, 2 if the file is not a readable trace.

    \b
    Example:
      novatrace validate capture.arrows && echo ok
    """
    reader, report = read_report(trace, salvage)
    losses = [
        f"{trace}: cpu {loss.cpu}: {loss.count} records lost (seq {loss.first_seq}..{loss.first_seq + loss.count - 1}, "
        f"ts {loss.ts_from}..{loss.ts_to}{'' if loss.recorded else ', no RECORDER_LOSS record'})"
        for loss in report.losses
    ]
    if as_json:
        emit_json(
            {
                "file": str(trace),
                "valid": report.ok,
                "events": report.rows,
                "error_count": report.error_count,
                "errors": report.errors,
                "losses": [vars(loss) for loss in report.losses],
                "warnings": reader.warnings,
            }
        )
    else:
        for w in reader.warnings:
            warn(w)
        for line in losses[:20]:
            warn(line)
        if len(losses) > 20:
            warn(f"{trace}: ... {len(losses) - 20} more loss gaps")
        for e in report.errors:
            click.echo(e, err=True)
        if report.error_count > len(report.errors):
            click.echo(f"{trace}: ... {report.error_count - len(report.errors)} more errors", err=True)
        if report.ok:
            stdout.print(f"{trace}: valid ({report.rows:,} events, {report.lost_records:,} records lost)")
        else:
            stdout.print(f"{trace}: INVALID ({report.error_count} error(s) in {report.rows:,} events)")
    if not report.ok:
        ctx.exit(EXIT_FINDINGS)
