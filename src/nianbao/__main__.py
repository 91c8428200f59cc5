"""The `nianbao` command (`cli.script_main`), also as `python -m nianbao`. A Ctrl-C while the command is still
being imported ends it as one afterwards does: "interrupted" and status 130, no traceback."""

import sys


def main() -> None:
    """Import and run the command."""
    try:
        from .cli import script_main
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    script_main()


if __name__ == "__main__":
    main()
