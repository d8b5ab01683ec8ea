"""trained_models -> selected_model -> fairness_audit through Dagster, artifacts in S3 (moto over HTTP)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from dagster import AssetExecutionContext, AssetKey, InMemoryIOManager, RunConfig, asset, materialize
from dagster_aws.s3 import S3Resource

from chicago_food_assets.assets.clean import cleaning_assets
from chicago_food_assets.assets.fairness import area_audit, fairness_audit
from chicago_food_assets.assets.features import inspection_features
from chicago_food_assets.assets.models import SelectionConfig, TrainingConfig, selected_model, trained_models
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.core.models import fairness
from chicago_food_assets.core.models.training import Selected
from chicago_food_assets.resources.s3 import NamedS3PickleIOManager, S3RawIOManager
from chicago_food_assets.resources.tables import PostgresIOManager

WEEKLY = [raw_inspections, cleaning_assets, inspection_features]
MODELS = [trained_models, selected_model, fairness_audit, area_audit]
QUICK = TrainingConfig(holdout_weeks=4, min_week_rows=20, xgboost_trees=60, knn_sample=2000, knn_neighbors=25)


@asset(io_manager_key="memory")
def rescored(
    context: AssetExecutionContext, selected_model: Selected, inspection_features: pd.DataFrame
) -> pd.DataFrame:
    """Scores the holdout again with the artifact loaded back from S3."""
    holdout = inspection_features[inspection_features["inspection_id"].isin(selected_model.holdout["inspection_id"])]
    return holdout.assign(score=selected_model.score(holdout))[["inspection_id", "score"]]


@pytest.fixture(scope="module")
def built(postgres_url, replay_server, s3_endpoint, tmp_path_factory):
    """A short range of weeks built once for the module, and models trained on them in S3: a test that selects only
    the later assets reads these, whatever ran before it."""
    from boto3 import client

    from chicago_food_assets.resources.postgres import PostgresResource
    from chicago_food_assets.resources.socrata import SocrataResource

    bucket = "cfa-models"
    client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    postgres = PostgresResource(url=postgres_url)
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS food CASCADE")
    s3 = S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1")
    resources = {
        "socrata": SocrataResource(domain=replay_server.domain, scheme="http", app_token="test-token"),
        "raw_io_manager": S3RawIOManager(s3=s3, bucket=bucket, prefix="models-test"),
        "model_io_manager": NamedS3PickleIOManager(s3_resource=s3, s3_bucket=bucket, s3_prefix="models-test"),
        "postgres": postgres,
        "table_io_manager": PostgresIOManager(postgres=postgres),
        "memory": InMemoryIOManager(),
    }
    tags = {"dagster/asset_partition_range_start": "2013-01-07", "dagster/asset_partition_range_end": "2013-06-24"}
    assert materialize(WEEKLY, resources=resources, tags=tags).success
    train(resources, selection=[trained_models])
    return resources, bucket


def train(resources, selection=None, training=QUICK, selection_config: SelectionConfig | None = None):
    selection = selection or [*MODELS, rescored]
    ops = {"trained_models": training, "selected_model": selection_config or SelectionConfig()}
    config = RunConfig({name: value for name, value in ops.items() if any(a.key.path[-1] == name for a in selection)})
    result = materialize(
        [*WEEKLY, *MODELS, rescored], selection=selection, resources=resources, run_config=config, raise_on_error=False
    )
    assert result.success, [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    return result


def test_artifacts_round_trip_through_s3_and_score_the_same(built):
    resources, bucket = built
    result = train(resources)
    s3 = resources["model_io_manager"].s3_resource.get_client()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="models-test/")["Contents"]}
    assert {"models-test/trained_models", "models-test/selected_model"} <= keys
    stored: Selected = pickle.loads(s3.get_object(Bucket=bucket, Key="models-test/selected_model")["Body"].read())
    again = result.output_for_node("rescored").set_index("inspection_id")["score"]
    np.testing.assert_allclose(
        again.loc[stored.holdout["inspection_id"]].to_numpy(), stored.holdout["score"].to_numpy(), rtol=1e-6
    )
    assert stored.name in ("xgboost", "knn", "logistic") and stored.version.startswith(stored.name)


def test_selection_metadata_card_and_checks(built):
    resources, _ = built
    result = train(resources)
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["selected_model"])
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["selected_by"] == "roc_auc" and "refit" not in metadata["window"]  # kept as trained
    assert set(metadata["metrics"]) == {"xgboost", "knn", "logistic", "baseline_previous_result", "baseline_fail_rate"}
    best = max(("xgboost", "knn", "logistic"), key=lambda n: metadata["metrics"][n]["roc_auc"])
    assert metadata["model"] == best
    assert "# Model card" in metadata["model_card"] and "days_earlier" in metadata["model_card"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["predictions_in_range"].passed and checks["possible_leakage"].passed
    assert checks["auc_floor"].metadata["floor"].value == 0.6
    assert "fair_band" in checks


def test_accuracy_selection_and_refit_are_configurable(built):
    resources, _ = built
    result = train(
        resources, selection=[selected_model], selection_config=SelectionConfig(metric="accuracy", refit=True)
    )
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["selected_model"])
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["selected_by"] == "accuracy" and metadata["version"].endswith("-refit")
    assert metadata["model"] == max(("xgboost", "knn", "logistic"), key=lambda n: metadata["metrics"][n]["accuracy"])
    assert "refit on training + holdout" in metadata["model_card"]


def test_an_impossible_auc_floor_warns_without_failing_the_run(built):
    resources, _ = built
    result = train(resources, selection=[selected_model], selection_config=SelectionConfig(auc_floor=0.99))
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "auc_floor")
    assert not check.passed and check.severity.value == "WARN"


def test_the_fairness_table_is_written_for_the_selected_version(built):
    resources, _ = built
    train(resources)
    with resources["postgres"].connect() as connection:
        table = pd.read_sql("SELECT * FROM food.fairness_audit", connection)
    assert "Restaurant" in set(table["facility_type"]) and table["reference"].sum() == 1
    assert table["model_version"].nunique() == 1
    restaurant = table[table["facility_type"] == "Restaurant"].iloc[0]
    assert restaurant["fpr_disparity"] == pytest.approx(1.0)


def test_the_area_audit_sets_each_zip_codes_flags_beside_its_findings_for_the_selected_version(built):
    resources, _ = built
    # the test's holdout is a few weeks: areas of 10 inspections are audited alone (the default: 50)
    result = train(resources, selection_config=SelectionConfig(min_group_size=10))
    with resources["postgres"].connect() as connection:
        table = pd.read_sql("SELECT * FROM food.area_audit", connection)
    assert table["model_version"].nunique() == 1 and table["reference"].sum() == 1
    assert table["flagged_share"].sum() == pytest.approx(1.0) and table["positive_share"].sum() == pytest.approx(1.0)
    named = table[~table["area"].isin([fairness.SMALL_AREAS, fairness.NO_AREA])]
    assert len(named) >= 5 and named["area"].str.fullmatch(r"\d{5}").all()
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "areas_in_band")
    assert check.severity.value == "WARN"  # told, never blocking
    card = (
        next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["selected_model"])
        .materialization.metadata["model_card"]
        .value
    )
    assert "## Fairness by area (ZIP code)" in card


def test_the_audit_judges_the_list_the_selection_decided_on(built):
    resources, _ = built
    result = train(
        resources,
        selection=[selected_model, fairness_audit],
        selection_config=SelectionConfig(flagged_share=0.3, min_group_size=20),
    )
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["fairness_audit"])
    assert event.materialization.metadata["flagged_share"].value == 0.3
    with resources["postgres"].connect() as connection:
        table = pd.read_sql("SELECT * FROM food.fairness_audit", connection)
    assert table["flagged"].sum() / table["group_size"].sum() == pytest.approx(0.3, abs=0.01)
    assert (
        "at the top 30%"
        in next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["selected_model"])
        .materialization.metadata["model_card"]
        .value
    )


def test_a_model_that_fails_the_promotion_rule_leaves_the_current_one(built):
    resources, bucket = built
    train(resources)
    s3 = resources["model_io_manager"].s3_resource.get_client()
    before = s3.get_object(Bucket=bucket, Key="models-test/selected_model")["Body"].read()
    result = materialize(
        [*WEEKLY, *MODELS],
        selection=[selected_model],
        resources=resources,
        run_config=RunConfig({"selected_model": SelectionConfig(promotion_floor=0.99)}),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "not promoted" in str(failure.step_failure_data.user_failure_data.description)
    assert s3.get_object(Bucket=bucket, Key="models-test/selected_model")["Body"].read() == before


def test_a_model_write_that_fails_leaves_the_previous_artifact_whole(tmp_path):
    """Dagster's stock pickle manager opens the file before pickling: a value that cannot be pickled would leave
    a truncated artifact. Ours writes beside it and renames."""
    from chicago_food_assets.resources.storage import ModelIOManager

    good = {"weights": list(range(1000))}

    @asset(name="model")
    def first() -> dict:
        return good

    @asset(name="model")
    def broken() -> dict:
        return {"weights": list(range(1000)), "handle": (line for line in ())}  # generators cannot be pickled

    manager = ModelIOManager(base_dir=str(tmp_path))
    assert materialize([first], resources={"io_manager": manager}).success
    assert pickle.loads((tmp_path / "model").read_bytes()) == good
    assert not materialize([broken], resources={"io_manager": manager}, raise_on_error=False).success
    assert pickle.loads((tmp_path / "model").read_bytes()) == good
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary file left behind


@pytest.mark.faults
def test_a_cut_model_object_fails_naming_it_and_the_way_out(built):
    """A corrupt model file failed with `pickle data was truncated` and no path."""
    resources, bucket = built
    train(resources)
    s3 = resources["model_io_manager"].s3_resource.get_client()
    key = "models-test/selected_model"
    whole = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=whole[: len(whole) // 2])
    try:
        result = materialize(
            [*WEEKLY, *MODELS, rescored], selection=[rescored], resources=resources, raise_on_error=False
        )
        assert not result.success
        message = str(result.get_step_failure_events()[0].event_specific_data.error)
        assert f"s3://{bucket}/{key}" in message and "cut or damaged" in message and "training" in message
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=whole)


@pytest.mark.faults
def test_a_cut_local_model_file_fails_naming_it(tmp_path):
    from dagster import build_input_context
    from upath import UPath

    from chicago_food_assets.resources.storage import AtomicPickleIOManager

    path = tmp_path / "selected_model"
    path.write_bytes(pickle.dumps(list(range(10_000)))[:500])
    manager = AtomicPickleIOManager(base_path=UPath(tmp_path))
    # the context in a `with`: its resources and ephemeral instance closed now, not by a later garbage collection
    # (which printed a traceback from their closed database among the suite's output)
    with (
        build_input_context(asset_key=AssetKey("selected_model")) as context,
        pytest.raises(ValueError, match="cannot be read") as failure,
    ):
        manager.load_from_path(context, UPath(path))
    assert str(path) in str(failure.value) and "selected_model" in str(failure.value)


def test_a_model_stored_before_core_was_grouped_by_stage_still_loads(tmp_path):
    """Artifacts name their classes' modules; a model pickled when core/ was flat (core.training, core.window,
    core.preparation, ...) must load after the move, not fail as damaged."""
    from dagster import build_input_context
    from upath import UPath

    from chicago_food_assets.core.models.preparation import Numbers
    from chicago_food_assets.core.models.window import ModelWindow
    from chicago_food_assets.resources.storage import MOVED, AtomicPickleIOManager

    stored = {"numbers": Numbers(), "window": ModelWindow.__new__(ModelWindow)}
    data = pickle.dumps(stored, protocol=0)  # text opcodes: module names as plain lines
    for old, new in MOVED.items():
        data = data.replace(f"c{new}\n".encode(), f"c{old}\n".encode())
    assert b"chicago_food_assets.core.preparation\n" in data and b"core.models" not in data
    path = tmp_path / "selected_model"
    path.write_bytes(data)
    manager = AtomicPickleIOManager(base_path=UPath(tmp_path))
    with build_input_context(asset_key=AssetKey("selected_model")) as context:
        loaded = manager.load_from_path(context, UPath(path))
    assert isinstance(loaded["numbers"], Numbers) and isinstance(loaded["window"], ModelWindow)
