"""Command line: ``python -m coursekit {info,demo,make-exercises}``."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    from coursekit import self_check

    print(json.dumps(self_check(), indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from coursekit.demo import run_demo

    summary = run_demo(out=args.out, seconds=args.seconds, seed=args.seed, device=args.device)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_make_exercises(args: argparse.Namespace) -> int:
    from coursekit.exercises import SolutionMarkupError, make_all_exercises

    try:
        changed = make_all_exercises(args.solutions, args.exercises, check=args.check)
    except (FileNotFoundError, SolutionMarkupError) as exc:
        print(f"make-exercises: {exc}", file=sys.stderr)
        return 2
    for path in changed:
        print(("stale: " if args.check else "wrote: ") + str(path))
    if args.check and changed:
        print("exercises/ is out of date: run `python -m coursekit make-exercises`")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Deep learning for label-free microscopy: course helpers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print versions and the compute device (self-check)")
    p_info.set_defaults(func=_cmd_info)
    p_demo = sub.add_parser(
        "demo", help="headless end-to-end run on the virtual microscope; writes figures and numbers"
    )
    p_demo.add_argument("--out", default="demo-output", help="output folder (created)")
    p_demo.add_argument("--seconds", type=float, default=45.0, help="training budget in seconds")
    p_demo.add_argument("--seed", type=int, default=0)
    p_demo.add_argument("--device", default="auto", help='"auto", "cpu", "cuda" or "mps"')
    p_demo.set_defaults(func=_cmd_demo)
    p_ex = sub.add_parser(
        "make-exercises", help="generate exercises/ from solutions/ with nbgrader's preprocessors"
    )
    p_ex.add_argument("--solutions", default="solutions")
    p_ex.add_argument("--exercises", default="exercises")
    p_ex.add_argument("--check", action="store_true", help="only report stale exercises (exit 1)")
    p_ex.set_defaults(func=_cmd_make_exercises)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
