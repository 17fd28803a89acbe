"""The command line of the open-model ecosystem simulation: ``python run.py COMMAND``.

The top layer: argument parsing and printing only. Each command turns its options into a call
of the Python API below (``simulation``, ``simulation.batch``, ``analysis``); nothing but
``run.py`` and the tests imports this package. Commands import their heavy modules when they run,
so ``run.py list`` and a bad option answer at once.

Exit codes: 0 success; 1 runs failed, validation failed or a write failed (a rerun resumes); 2
bad input (one line on stderr, nothing written); 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM).
"""

from __future__ import annotations

import signal
import sys

from cli import batch, discover, experiment, explore, fitting, results, single
from cli.options import Parser
from simulation.errors import FailedRuns, Terminated, UsageError

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


def build_parser() -> Parser:
    """run.py's parser: one subcommand per command, each with its ``func``."""
    parser = Parser(
        prog="run.py",
        description="Simulate the open-model AI ecosystem under public-AI governance modes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (single, batch, results, experiment, fitting, discover, explore):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code.

    Every failure the user can act on is one line on stderr: bad input (exit 2), failed runs
    or a failed write such as a full disk (exit 1), Ctrl-C (130) or SIGTERM (143).
    """
    previous = _on_sigterm()
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except FailedRuns as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return 0
    except OSError as e:  # a write that failed after the checks: a full disk, a lost mount
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: cannot write: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated) or getattr(e, "terminated", False)
        print(str(e) or ("terminated" if terminated else "interrupted"), file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm():
    """Turn SIGTERM into an interruption (finished runs kept, one line); the old handler."""

    def handler(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (a notebook's worker thread): leave it alone
        return None
