"""Rebuild the bundled sample (chicago_food_assets/data/inspections_sample.jsonl.gz) from the development sample.

The development sample (54,465 real rows and a provenance file saying, row by row, which extract each came from
and whether that extract had a violations column) lives beside the project in ../shared/data. The bundled sample
is its rows dated in `SLICES`, in the same order and form, with one change: a row whose source had no violations
column carries `"violations": null` (which Socrata never sends), so that a missing `violations` key keeps the live
feed's meaning, nothing cited.

    python -m chicago_food_assets.local.sample [--source ../shared/data] [--out FILE]
    python -m chicago_food_assets.local.sample --mark examples/tiny_inspections.jsonl.gz   # an example's rows
"""

import argparse
import csv
import gzip
import io
import json
from pathlib import Path

from chicago_food_assets.data import SAMPLE_PATH

SOURCE = Path(__file__).resolve().parents[3] / "shared" / "data"
ROWS = "chicago_food_inspections_sample.jsonl.gz"
PROVENANCE = "chicago_food_inspections_sample.provenance.tsv.gz"
# the contiguous stretches kept: 2010-2014 (2010-2011 thinner) and 2019 to spring 2020
SLICES = (("2010-01-04", "2014-12-30"), ("2019-01-02", "2020-05-07"))


def without_violations_column(source: Path) -> set[str]:
    """The ids of the rows whose source extract had no violations column."""
    with gzip.open(source / PROVENANCE, "rt", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {row["inspection_id"] for row in rows if row["source_has_violations_column"] != "true"}


def marked(lines: list[str], unknown: set[str]) -> tuple[list[str], int]:
    """JSON lines with `"violations": null` added to the rows whose source had no violations column."""
    out, count = [], 0
    for line in lines:  # a one-off over tens of thousands of lines, not a data path
        row = json.loads(line)
        if row["inspection_id"] in unknown:
            if row.get("violations") is not None:
                raise ValueError(f"row {row['inspection_id']} has violations but its source had no such column")
            row["violations"] = None
            count += 1
        out.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    return out, count


def write(lines: list[str], out: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buffer, mode="wb", mtime=0) as zipped:
        zipped.write(("\n".join(lines) + "\n").encode())
    out.write_bytes(buffer.getvalue())


def rebuild(source: Path, out: Path) -> dict[str, int]:
    """The bundled sample: the development sample's rows dated in `SLICES`, the unknown violations marked."""
    with gzip.open(source / ROWS, "rt", encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if _kept(json.loads(line)["inspection_date"][:10])]
    kept, count = marked(lines, without_violations_column(source))
    write(kept, out)
    return {"rows": len(kept), "violations_not_recorded": count}


def _kept(day: str) -> bool:
    return any(first <= day <= last for first, last in SLICES)


def remark(source: Path, path: Path) -> dict[str, int]:
    """A file of the development sample's rows (an example) with the unknown violations marked, in place."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept, count = marked(lines, without_violations_column(source))
    write(kept, path)
    return {"rows": len(kept), "violations_not_recorded": count}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"the development sample's folder ({SOURCE})")
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH, help="the file to write (the bundled sample)")
    parser.add_argument(
        "--mark", type=Path, nargs="*", default=[], help="gzip JSON-lines files of its rows to mark in place instead"
    )
    args = parser.parse_args(argv)
    if args.mark:
        for path in args.mark:
            print(f"marked {path}: {json.dumps(remark(args.source, path))}")
        return
    print(f"wrote {args.out}: {json.dumps(rebuild(args.source, args.out))}")


if __name__ == "__main__":
    main()
