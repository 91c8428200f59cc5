"""The `nianbao` command (`cli.script_main`), also as `python -m nianbao`. A Ctrl-C or a SIGTERM while the command
is still being imported ends it as one afterwards does: "interrupted" and status 130, no traceback."""

import signal
import sys


def main() -> None:
    """Import and run the command."""
    # SIGTERM raises KeyboardInterrupt as Ctrl-C does, until the command's own handler (`cli.script_main`) takes over
    signal.signal(signal.SIGTERM, signal.default_int_handler)
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
