"""The `nianbao` command (`cli.script_main`), also as `python -m nianbao`. A Ctrl-C or a SIGTERM while the command
is still being imported ends it as one afterwards does: "interrupted" and status 130, no traceback."""

import signal
import sys


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Import and run the command."""
    signal.signal(signal.SIGTERM, _interrupt)  # until the command's own handler (`cli.script_main`) takes over
    try:
        from .cli import script_main
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    # The command's own handler holds while it runs; after it, SIGTERM ends the process as by default, not with a
    # KeyboardInterrupt in the middle of Python's exit (its threads joined, its exit handlers run).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    script_main()


if __name__ == "__main__":
    main()
