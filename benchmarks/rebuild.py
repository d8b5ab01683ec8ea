"""Benchmark: every week of the bundled sample through Dagster in single-run backfills, into PostgreSQL.

Times the raw ingestion (replay server in its own process) and then the rebuild of clean_inspections,
inspection_violations and inspection_features over the whole range, as one run each. PostgreSQL: the server at
CHICAGO_FOOD_POSTGRES_URL when set, else an embedded one in a temporary folder.
    python -m benchmarks.rebuild
"""

import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

from dagster import materialize

from benchmarks.replay import replay_process
from chicago_food_assets.assets.clean import cleaning_assets
from chicago_food_assets.assets.features import inspection_features
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.embedded import start_embedded_postgres, with_database
from chicago_food_assets.launcher import sample_weeks
from chicago_food_assets.resources.postgres import PostgresIOManager, PostgresResource
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.storage import LocalRawIOManager

warnings.filterwarnings("ignore")


def main() -> None:
    with replay_process() as domain:
        with tempfile.TemporaryDirectory() as folder:
            os.chmod(folder, 0o755)
            url = os.environ.get("CHICAGO_FOOD_POSTGRES_URL") or with_database(
                start_embedded_postgres(Path(folder) / "pg"), "chicago_food"
            )
            postgres = PostgresResource(url=url)
            with postgres.connect() as connection, connection.cursor() as cursor:
                cursor.execute("DROP SCHEMA IF EXISTS food CASCADE")
            resources = {
                "socrata": SocrataResource(domain=domain, scheme="http"),
                "raw_io_manager": LocalRawIOManager(base_dir=str(Path(folder) / "objects")),
                "postgres": postgres,
                "table_io_manager": PostgresIOManager(postgres=postgres),
            }
            first, last = sample_weeks()
            tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            assets = [raw_inspections, cleaning_assets, inspection_features]
            start = time.perf_counter()
            materialize(assets, selection=[raw_inspections], resources=resources, tags=tags)
            ingest = time.perf_counter() - start
            timings = []
            for _ in range(2):  # the second run replaces every week: the re-run cost
                start = time.perf_counter()
                result = materialize(assets, selection=assets[1:], resources=resources, tags=tags)
                timings.append(time.perf_counter() - start)
            events = {
                e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()
            }
            rows = events["clean_inspections"]["rows_in"].value
            weeks = len(result.get_asset_materialization_events()) // 4
            if not os.environ.get("CHICAGO_FOOD_POSTGRES_URL"):
                from chicago_food_assets.embedded import stop_embedded_postgres

                stop_embedded_postgres(Path(folder) / "pg")
        print(f"weeks {first}..{last}: {weeks} weeks, {rows:,} raw rows")
        print(f"raw ingestion (one run)                 {ingest:7.1f} s")
        print(f"clean + violations + features (one run) {timings[0]:7.1f} s  (target < 60 s)")
        print(f"  again, replacing every week           {timings[1]:7.1f} s")
        print(f"  rows/s                                {rows / timings[0]:7.0f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process                {peak:7.0f} MB")


if __name__ == "__main__":
    main()
