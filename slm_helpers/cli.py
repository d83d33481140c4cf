"""``slm-course``: the course's command line.

``slm-course check NOTEBOOK``  runs a lesson's visible exercise checks and lists what passes.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slm-course", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run a notebook's visible exercise checks")
    check.add_argument("notebook")
    check.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)

    if args.command == "check":
        from .selfcheck import check_notebook, format_results

        try:
            results = check_notebook(args.notebook, timeout=args.timeout)
        except (ValueError, FileNotFoundError) as exc:
            print(f"slm-course check: {exc}", file=sys.stderr)
            return 2
        print(format_results(results))
        return 0 if all(r.passed for r in results) else 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
