"""python -m chicago_food_assets.local.generate [--rows N] [--seed S] [--first DAY] [--last DAY] --out FILE"""

import argparse
import json
import time
from datetime import date
from pathlib import Path

from chicago_food_assets.local.generate import FIRST, describe, generate, write


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chicago_food_assets.local.generate",
        description="Write a realistic Socrata-shaped inspections feed (JSON lines; gzip when FILE ends in .gz).",
    )
    parser.add_argument("--rows", type=int, default=300_000, help="about this many rows (default 300,000)")
    parser.add_argument("--seed", type=int, default=0, help="same seed and arguments, same bytes (default 0)")
    parser.add_argument("--first", type=date.fromisoformat, default=FIRST, help=f"first day (default {FIRST})")
    parser.add_argument("--last", type=date.fromisoformat, default=None, help="last day (default today)")
    parser.add_argument("--out", type=Path, required=True, help="the file to write")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    last = args.last or date.today()
    if last <= args.first:
        parser.error(f"--last ({last}) must come after --first ({args.first})")
    start = time.perf_counter()
    frame = generate(args.rows, args.seed, args.first, last)
    size = write(frame, args.out)
    summary = {**describe(frame), "bytes": size, "seconds": round(time.perf_counter() - start, 1)}
    print(f"wrote {args.out}: {json.dumps(summary)}")


if __name__ == "__main__":
    main()
