"""The project's dagster.yaml keeps runs and materialization metadata in PostgreSQL; the demo command works."""

from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.resources.storage import LocalObjectIOManager
from chicago_food_assets_tests.helpers import new_database, project_instance

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


def test_both_deployments_load(monkeypatch, tmp_path):
    from chicago_food_assets import deployment

    monkeypatch.setenv("CHICAGO_FOOD_STATE_DIR", str(tmp_path))
    local = deployment.resources("local")
    assert type(local["object_io_manager"]).__name__ == "LocalObjectIOManager"
    assert local["object_io_manager"].base_dir == str(tmp_path / "objects")
    assert "CHICAGO_FOOD_POSTGRES_URL" in repr(local["postgres"])  # a URL from the environment, whatever the profile
    monkeypatch.setenv("CHICAGO_FOOD_S3_BUCKET", "bucket")
    monkeypatch.setenv("CHICAGO_FOOD_POSTGRES_URL", "postgresql://reader:secret@db.example/food")
    prod = deployment.resources("prod")
    assert type(prod["object_io_manager"]).__name__ == "S3ObjectIOManager"
    assert "secret" not in repr(prod["postgres"])  # the URL stays an EnvVar until the run resolves it
    with pytest.raises(ValueError, match="must be one of"):
        deployment.resources("staging")
