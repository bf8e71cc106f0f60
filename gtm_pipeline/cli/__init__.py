"""The ``gtm`` command line: the operator's terminal surface.

One module per area (``run``, ``audit``, ``privacy``, ``operator``, ``outreach``) adds its commands
to the one typer app. Every command finds its workspace from the current folder (or
``--workspace``); outside one it says, first, that the demo defaults apply. Errors are one line
with what to do; ``--traceback`` shows the Python traceback instead.

Nothing here prints a name or an email unless the command is about a person by design:
ids, states and counts only.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from gtm_pipeline.cli.common import CommandError, forget_settings, settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="gtm-pipeline: an AI-native outbound pipeline.",
)
_QUIET = {"init", "config"}  # before there is a workspace, or they describe it themselves


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="The workspace folder (default: found from the current folder)."
        ),
    ] = None,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show the traceback of an error.")] = False,
) -> None:
    if workspace is not None:
        # Dagster code loaded in this process and the processes it starts read the same workspace.
        os.environ["GTM_WORKSPACE"] = str(workspace.expanduser().resolve())
    forget_settings()
    if ctx.invoked_subcommand in _QUIET:
        return
    current = settings()
    if current.demo:
        typer.echo(current.mode_line(), err=True)


def _register() -> None:
    from gtm_pipeline.cli import (  # noqa: F401
        alerts,
        audit,
        batches,
        evaluate,
        inputs,
        operator,
        outreach,
        privacy,
        report,
        run,
    )
    from gtm_pipeline.cli import prospect as prospect_commands  # noqa: F401


_register()


def _known_errors() -> tuple[type[BaseException], ...]:
    from gtm_pipeline.config import SettingsError
    from gtm_pipeline.pipeline.conflicts import AccountsFileError
    from gtm_pipeline.pipeline.hypotheses import HypothesisFileError
    from gtm_pipeline.skills.catalog import SkillFileError
    from gtm_pipeline.sources.corpus import CorpusError

    return (
        SettingsError,
        HypothesisFileError,
        SkillFileError,
        CorpusError,
        AccountsFileError,
        FileNotFoundError,
    )


def _one_line(exc: BaseException) -> str:
    """An error as one line (a YAML parser's message, say, spans several)."""
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> None:
    """The ``gtm`` entry point: runs the app and turns every error into one line."""
    args = sys.argv[1:] if argv is None else argv
    # Dagster marks backfill policies "beta" on every load: noise at an operator's terminal.
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    try:
        code = app(args=args, prog_name="gtm", standalone_mode=False)
    except typer.Abort:
        typer.echo("gtm: aborted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except CommandError as exc:
        typer.echo(f"gtm: {_one_line(exc)}", err=True)
        sys.exit(exc.code)
    except Exception as exc:
        if "--traceback" in args:
            raise
        if isinstance(exc, _known_errors()):
            typer.echo(f"gtm: {_one_line(exc)}", err=True)
            sys.exit(2)
        typer.echo(
            f"gtm: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(run again with --traceback to see where)",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
