"""``slm-course``: the course's command line.

slm-course check NOTEBOOK                 run a lesson's visible exercise checks (learners)
slm-course release [--lessons 00 01]      student versions of the lessons (nbgrader)
slm-course grade SUBMISSIONS [--out CSV]  autograde, feedback HTML and a grades CSV (nbgrader)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_COURSE = Path("build/course")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="slm-course", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run a notebook's visible exercise checks")
    check.add_argument("notebook")
    check.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    release = commands.add_parser("release", help="build student versions with nbgrader")
    release.add_argument("--lessons", nargs="*", help="lesson numbers, e.g. 00 01 (default: all)")
    release.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="nbgrader course folder")
    release.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    grade = commands.add_parser("grade", help="autograde SUBMISSIONS/<student>/lesson-NN/*.ipynb")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="nbgrader course folder")
    grade.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    grade.add_argument("--out", type=Path, default=None, help="grades CSV (default COURSE/grades.csv)")
    grade.add_argument("--timeout", type=int, default=None, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)

    try:
        if args.command == "check":
            from .selfcheck import check_notebook, format_results

            results = check_notebook(args.notebook, timeout=args.timeout)
            print(format_results(results))
            return 0 if all(r.passed for r in results) else 1
        from . import grading

        if args.command == "release":
            ids = grading.prepare_course(args.course, args.notebooks, lessons=args.lessons)
            for path in grading.release(args.course, ids):
                print(path)
            return 0
        if args.command == "grade":
            kwargs = {"cell_timeout": args.timeout} if args.timeout else {}
            grading.prepare_course(args.course, args.notebooks, **kwargs)
            rows = grading.grade(args.course, args.submissions, args.out or args.course / "grades.csv")
            for row in rows:
                print(
                    f"{row.student:16} {row.assignment:10} {row.score:>5g}/{row.max_score:<5g} "
                    f"{row.seconds:6.1f} s  {row.status}"
                )
            print(f"grades: {args.out or args.course / 'grades.csv'}; feedback: {args.course / 'feedback'}")
            return 0
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"slm-course {args.command}: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
