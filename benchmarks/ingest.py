"""Benchmark: raw ingestion of the bundled sample's whole range in one single-run backfill.

The replay server runs in its own process (as Socrata would); the pipeline runs here, in process, against a
temporary folder. Prints rows/s, time per week and peak memory (RSS) of this process.
    python -m benchmarks.ingest
"""

import resource
import tempfile
import time
import warnings

from dagster import materialize

from benchmarks.replay import replay_process
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.launcher import sample_weeks
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.storage import LocalRawIOManager

warnings.filterwarnings("ignore")


def main() -> None:
    with replay_process() as domain:
        first, last = sample_weeks()
        with tempfile.TemporaryDirectory() as folder:
            resources = {
                "socrata": SocrataResource(domain=domain, scheme="http"),
                "raw_io_manager": LocalRawIOManager(base_dir=folder),
            }
            tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            start = time.perf_counter()
            result = materialize([raw_inspections], resources=resources, tags=tags)
            seconds = time.perf_counter() - start
        metadata = result.get_asset_materialization_events()[0].materialization.metadata
        rows, weeks = metadata["range_rows"].value, metadata["weeks"].value
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"weeks {first}..{last}: {weeks} weeks, {rows} rows, {metadata['requests'].value} request(s)")
        print(f"wall time            {seconds:8.2f} s  (target < 60 s)")
        print(f"rows/s               {rows / seconds:8.0f}")
        print(f"time per week        {1000 * seconds / weeks:8.1f} ms")
        print(f"peak RSS (pipeline)  {peak:8.0f} MB  (target < 1536 MB)")


if __name__ == "__main__":
    main()
