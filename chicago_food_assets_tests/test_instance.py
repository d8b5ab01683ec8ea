"""The project's dagster.yaml keeps runs and materialization metadata in PostgreSQL; the demo command works."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import requests
from dagster import AssetKey, materialize

from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.resources.storage import LocalObjectIOManager
from chicago_food_assets_tests.helpers import free_port, new_database, project_instance, start_process

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dagster_url(server_url: str):
    """A database of its own for Dagster's storage."""
    with new_database(server_url) as url:
        yield url


def test_materializations_and_check_results_persist_in_postgres(monkeypatch, dagster_url, tmp_path, socrata):
    instance = project_instance(monkeypatch, dagster_url, tmp_path)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    objects = LocalObjectIOManager(base_dir=str(tmp_path / "objects"))
    result = materialize(
        [raw_inspections],
        instance=instance,
        partition_key="2013-01-14",
        resources={"socrata": socrata, "object_io_manager": objects},
    )
    assert result.success
    instance.dispose()

    reopened = project_instance(monkeypatch, dagster_url, tmp_path)  # as after a restart
    event = reopened.get_latest_materialization_event(AssetKey("raw_inspections"))
    assert event.asset_materialization.partition == "2013-01-14"
    assert event.asset_materialization.metadata["rows"].value > 100
    assert reopened.get_run_by_id(result.run_id).is_success
    assert reopened.get_materialized_partitions(AssetKey("raw_inspections")) == {"2013-01-14"}


def test_the_readme_demo_command_builds_the_weekly_tables_offline(dagster_url, postgres_url, tmp_path):
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS food CASCADE")
    env = {
        **os.environ,
        "DAGSTER_POSTGRES_URL": dagster_url,
        "CHICAGO_FOOD_POSTGRES_URL": postgres_url,
        "CHICAGO_FOOD_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(PROJECT),
        "DAGSTER_ARTIFACTS_DIR": str(tmp_path / "state" / "dagster"),
    }
    env.pop("SOCRATA_DOMAIN", None)
    done = subprocess.run(
        [sys.executable, "-m", "chicago_food_assets.launcher", "demo", "--first", "2013-01-07", "--last", "2013-05-06"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "done: 18 weekly raw objects" in done.stdout
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(week), max(week) FROM food.inspection_features")
        rows, first, last = cursor.fetchone()
    assert rows > 3000 and (str(first), str(last)) == ("2013-01-07", "2013-05-06")
    assert f"food.inspection_features: {rows:,} rows" in done.stdout
    assert "selected model " in done.stdout and "ROC AUC" in done.stdout
    assert (tmp_path / "state" / "objects" / "selected_model.pkl").exists()
    assert "./run api" in done.stdout and "./run dashboard" in done.stdout and "./run ui" in done.stdout

    # the Dagster UI's GraphQL endpoint, on the same instance, knows the asset graph and what the demo built
    port = free_port()
    web = start_process(
        [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        env,
        port,
        "/server_info",
        timeout=120,
        cwd=PROJECT,
    )
    try:
        graph = graphql(port, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
        edges = {node["assetKey"]["path"][-1]: {d["path"][-1] for d in node["dependencyKeys"]} for node in graph}
        assert edges["clean_inspections"] == {"raw_inspections"} and "selected_model" in edges["inspection_scores"]
        assert len(edges) == 12
        for asset in ("raw_inspections", "inspection_features", "inspection_scores", "score_monitoring"):
            query = f'{{ assetNodeOrError(assetKey: {{path: ["{asset}"]}}) {{ ... on AssetNode {{ partitionStats '
            stats = graphql(port, query + "{ numMaterialized numFailed numPartitions } } } }")
            assert stats["assetNodeOrError"]["partitionStats"]["numMaterialized"] == 18
            assert stats["assetNodeOrError"]["partitionStats"]["numFailed"] == 0
    finally:
        web.terminate()
        web.wait(20)
    stored = sorted(p.name for p in (tmp_path / "state" / "objects" / "raw_inspections").iterdir())
    assert stored[0] == "2013-01-07.jsonl.gz" and stored[-1] == "2013-05-06.jsonl.gz" and len(stored) == 18


def graphql(port: int, query: str) -> dict:
    answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=60).json()
    assert "errors" not in answer, answer
    return answer["data"]


def test_both_deployments_load(monkeypatch, tmp_path):
    from chicago_food_assets import deployment

    monkeypatch.setenv("CHICAGO_FOOD_STATE_DIR", str(tmp_path))
    local = deployment.resources("local")
    assert type(local["object_io_manager"]).__name__ == "LocalObjectIOManager"
    assert local["postgres"].embedded_dir == str(tmp_path / "postgres")
    monkeypatch.setenv("CHICAGO_FOOD_S3_BUCKET", "bucket")
    monkeypatch.setenv("CHICAGO_FOOD_POSTGRES_URL", "postgresql://reader:secret@db.example/food")
    prod = deployment.resources("prod")
    assert type(prod["object_io_manager"]).__name__ == "S3ObjectIOManager"
    assert "secret" not in repr(prod["postgres"])  # the URL stays an EnvVar until the run resolves it
    with pytest.raises(ValueError, match="must be one of"):
        deployment.resources("staging")
