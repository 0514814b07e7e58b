"""The ``novatrace`` command: one click group, subcommands loaded lazily from their own modules.

Exit codes (every subcommand): 0 clean, 1 findings (validation errors, replay divergences, ...),
2 usage or input errors (missing file, not a trace, wrong version) - printed as one line, no traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from tracefmt.errors import TraceError

# name -> "module:attribute"; add a line here to add a subcommand (its module imports nothing heavy at top).
COMMANDS: dict[str, str] = {
    "info": "cli.info:info",
    "validate": "cli.validate:validate",
    "convert": "cli.convert:convert",
    "import": "cli.importer:import_group",
    "synth": "cli.synth:synth",
    "replay": "cli.replay:replay",
    "state": "cli.state:state",
    "tables": "cli.tables:tables",
}

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class UserError(click.ClickException):
    """A mistake in the input: one line on stderr, exit 2."""

    exit_code = EXIT_USAGE


class LazyGroup(click.Group):
    """Loads a subcommand's module only when it runs (keeps ``--help`` and start-up fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TraceError as e:
            raise UserError(str(e)) from None
        except BrokenPipeError:  # the reader of our output went away (``novatrace ... | head``)
            sys.exit(EXIT_OK)
        except OSError as e:  # unwritable output, full disk, permissions: the user's environment, one line
            raise UserError(_os_error_line(e)) from None
        except KeyboardInterrupt:
            click.echo("novatrace: interrupted", err=True)
            sys.exit(130)


def _os_error_line(e: OSError) -> str:
    if e.filename:
        return f"{e.filename}: {e.strerror or e}"
    return " ".join(str(e).split())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from tracefmt.schema import FORMAT_VERSION

    try:
        v = version("novatrace")
    except PackageNotFoundError:
        v = "unknown"
    return f"novatrace {v} (trace format {FORMAT_VERSION})"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(message=_version(), version="", prog_name="novatrace")
def cli() -> None:
    """Record-and-replay trace analysis for the NOVA microhypervisor.

    A trace is a Parquet file (or an Arrow IPC stream from a live capture) holding NOVA hypercalls and
    interrupt events with the platform they came from. Start with:

    \b
      novatrace info sample_traces/x86-healthy.parquet
      novatrace replay --full sample_traces/x86-divergence.parquet   # every kernel rule
      novatrace state sample_traces/x86-divergence.parquet --at +0.0001s
      novatrace tables sample_traces/x86-lost-irq.parquet -o tables/
      novatrace synth -o big.parquet --events 1e7 --scenario lost-irq
      novatrace import rings dumps/ --platform platform.json -o capture.parquet

    Every command accepts --json for machine-readable output. Exit codes: 0 clean, 1 findings,
    2 usage or input error.
    """


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` and return the exit code (testable in-process)."""
    try:
        rv = cli.main(args=argv, prog_name="novatrace", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        path = e.ctx.command_path if e.ctx else "novatrace"
        click.echo(f"{path}: error: {e.format_message()} (see '{path} --help')", err=True)
        return EXIT_USAGE
    except click.ClickException as e:
        click.echo(f"novatrace: error: {e.format_message()}", err=True)
        return e.exit_code if e.exit_code > 1 else EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("novatrace: aborted", err=True)
        return EXIT_USAGE
    # without standalone mode click returns ctx.exit(code)'s code, or the command's (None) return value
    return rv if isinstance(rv, int) else EXIT_OK


def run() -> None:  # pragma: no cover - console script entry point
    sys.exit(main())
