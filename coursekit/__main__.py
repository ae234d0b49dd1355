"""Command line: ``python -m coursekit {info,demo,make-exercises,copy-course}``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

#: What ``copy-course`` copies: folders of the course, then single pages (when present).
COURSE_FOLDERS = ("lectures", "exercises")
COURSE_PAGES = ("PROJECTS.md",)


def _cmd_info(args: argparse.Namespace) -> int:
    from coursekit import self_check

    print(json.dumps(self_check(), indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from coursekit.demo import run_demo

    summary = run_demo(
        out=args.out, steps=args.steps, seconds=args.seconds, seed=args.seed, device=args.device
    )
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


def course_root() -> Path:
    """Where the course files lie: ``coursekit/_course`` in an installed wheel, else the
    source checkout (an editable install or ``PYTHONPATH``).

    Raises
    ------
    FileNotFoundError
        When neither holds ``lectures/``.
    """
    package = Path(__file__).resolve().parent
    for root in (package / "_course", package.parent):
        if (root / "lectures").is_dir():
            return root
    raise FileNotFoundError(
        f"copy-course: no course files found (looked in {package / '_course'} and "
        f"{package.parent}); reinstall coursekit from its wheel or run from a checkout"
    )


def copy_course(dest, *, source: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Copy the lectures, the exercises and the projects page into ``dest``.

    Files already in ``dest`` are kept, never overwritten (a student's work is not lost):
    delete one to get the original back.

    Returns
    -------
    (written, kept) : tuple of list of pathlib.Path
    """
    src = course_root() if source is None else Path(source)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"copy-course: {dest} exists and is not a folder")
    files = [p for d in COURSE_FOLDERS if (src / d).is_dir() for p in sorted((src / d).iterdir())]
    files += [src / name for name in COURSE_PAGES if (src / name).is_file()]
    written, kept = [], []
    for path in files:
        if not path.is_file() or path.suffix in (".py", ".pyc"):
            continue
        target = dest / path.relative_to(src)
        if target.exists():
            kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written, kept


def _cmd_copy_course(args: argparse.Namespace) -> int:
    written, kept = copy_course(args.dest)
    for path in written:
        print(f"wrote: {path}")
    for path in kept:
        print(f"kept (already there, not overwritten): {path}")
    print(f"{len(written)} files written, {len(kept)} kept, in {Path(args.dest).resolve()}")
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
    p_demo.add_argument(
        "--steps", type=int, default=300, help="training budget in steps (same result everywhere)"
    )
    p_demo.add_argument(
        "--seconds", type=float, default=None, help="optional wall-clock limit for the training"
    )
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
    p_copy = sub.add_parser(
        "copy-course",
        help="copy lectures/, exercises/ and the projects page into a folder (keeps existing files)",
    )
    p_copy.add_argument("dest", help="destination folder (created)")
    p_copy.set_defaults(func=_cmd_copy_course)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
