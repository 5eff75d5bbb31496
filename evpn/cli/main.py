"""The ``evpn`` command: argument parsing and subcommand dispatch.

``main()`` is the console-script entry point (``evpn = "evpn.cli.main:main"``) and
what ``python -m evpn`` runs.  Each subcommand lives in its own module, which adds its
arguments with ``add_parser()`` and does its work in ``run()``.
"""

from __future__ import annotations

import argparse
import os
import sys

import evpn.cli.decode as decode_command
import evpn.cli.run as run_command
import evpn.cli.show as show_command
from evpn import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``evpn`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="evpn", description="BGP EVPN tools.")
    parser.add_argument("--version", action="version", version=f"evpn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    decode_command.add_parser(subparsers)
    run_command.add_parser(subparsers)
    show_command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``evpn`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    0 on success; 1 when the input held a protocol error (``decode``), a speaker could not
    start (``run``) or did not answer (``show``); 2 for usage errors, unreadable input and
    bad configurations (as argparse does).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `evpn decode ... | head`: stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141
    except KeyboardInterrupt:
        return 130
    return status
