"""What every benchmark reports: rows of one table (`./run bench` prints them together).

A benchmark process calls `record(...)` for each measured thing; with BENCH_RESULTS set (the runner sets it) the row
is appended to that file as JSON, and it is always printed. Peak memory is the process's own peak or that of the
processes it waited for (the pipeline's runs), whichever is larger; servers it started in the background are not.
"""

import json
import os
import resource
from dataclasses import asdict, dataclass


@dataclass
class Row:
    benchmark: str
    rows: int | None
    seconds: float
    peak_mb: float | None
    target: str
    met: bool | None
    note: str = ""

    @property
    def rate(self) -> str:
        return f"{self.rows / self.seconds:,.0f}" if self.rows and self.seconds else ""


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024)


def record(
    benchmark: str,
    seconds: float,
    target: str,
    met: bool | None,
    rows: int | None = None,
    note: str = "",
    peak: float | None = None,
) -> Row:
    row = Row(benchmark, rows, round(seconds, 2), peak if peak is not None else peak_mb(), target, met, note)
    print(f"{benchmark}: {seconds:.1f} s, {row.rate or '-'} rows/s, {row.peak_mb} MB; target {target} {note}")
    if path := os.environ.get("BENCH_RESULTS"):
        with open(path, "a") as handle:
            handle.write(json.dumps(asdict(row)) + "\n")
    return row


def read(path: str) -> list[Row]:
    with open(path) as handle:
        return [Row(**json.loads(line)) for line in handle if line.strip()]


def markdown(rows: list[Row]) -> str:
    lines = [
        "| benchmark | rows | wall | rows/s | peak memory | target | met | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        wall = f"{row.seconds:.1f} s" if row.seconds < 120 else f"{int(row.seconds // 60)} min {row.seconds % 60:.0f} s"
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        peak = f"{row.peak_mb:,.0f} MB" if row.peak_mb is not None else ""
        rows_text = f"{row.rows:,}" if row.rows else ""
        lines.append(
            f"| {row.benchmark} | {rows_text} | {wall} | {row.rate} | {peak} | {row.target} | {met} | {row.note} |"
        )
    return "\n".join(lines)
