"""The weekly plan built by the pipeline and read over HTTP: the real Litestar app over a socket, as the read-only
role; and the asset's refusals (a week the data cannot speak for, a bad territory file) through Dagster."""

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chicago_food_assets.core.declarations.contracts import INSPECTION_PLAN
from chicago_food_assets.resources.tables import read_table
from chicago_food_assets_tests.helpers import api_get as get


@pytest.fixture(scope="module")
def plans(pipeline) -> pd.DataFrame:
    return read_table(pipeline["postgres"], "food", "inspection_plan")


@pytest.fixture(scope="module")
def lists(pipeline) -> pd.DataFrame:
    return read_table(pipeline["postgres"], "food", "visit_list")


def test_every_list_week_has_a_plan_within_its_capacity_and_routed(plans, lists):
    assert set(plans["week"]) == set(lists["week"])
    for week, plan in plans.groupby("week"):
        listed = lists[lists["week"] == week]
        assert plan["establishment"].is_unique and set(plan["establishment"]) <= set(listed["establishment"])
        assert len(plan) < len(listed)  # a backlog: the list is longer than what a team can do
        located = plan[plan["route"] != "to_locate"]
        assert located.groupby(["inspector", "day"]).size().max() <= 4  # the default team's visits a day
        assert located["day_km"].notna().all() and (located["day"].dt.weekday < 5).all()
        assert list(plan["line"]) == list(range(1, len(plan) + 1))
    assert set(plans["policy"]) == {"balanced"} and set(plans["why"]) <= {"floor", "score", "both"}


def test_a_plan_pages_by_inspector_and_day_with_the_weeks_totals(api, plans, lists):
    newest = plans["week"].max()
    expected = plans[plans["week"] == newest].sort_values("line")
    first = get(api, "/v1/plans/current", limit=25).json()
    assert first["week"] == f"{newest:%Y-%m-%d}" and len(first["items"]) == min(25, len(expected))
    items, cursor = list(first["items"]), first["next_cursor"]
    while cursor:
        page = get(api, f"/v1/plans/{newest:%Y-%m-%d}", limit=25, cursor=cursor).json()
        items += page["items"]
        cursor = page["next_cursor"]
    assert [item["establishment"] for item in items] == expected["establishment"].tolist()
    assert set(items[0]) == set(INSPECTION_PLAN.names) - {"week"}
    totals = first["totals"]
    listed = int((lists["week"] == newest).sum())
    assert totals["planned"] == len(expected) and totals["candidates"] == listed
    assert totals["backlog"] == listed - len(expected) and totals["policy"] == "balanced"
    days = expected[expected["day"].notna()].drop_duplicates(["inspector", "day"])
    assert totals["km"] == pytest.approx(days["day_km"].sum(), abs=0.01)
    one = get(api, "/v1/plans/current", inspector=1, day=f"{expected['day'].min():%Y-%m-%d}").json()["items"]
    assert one and {(i["inspector"], i["day"]) for i in one} == {(1, f"{expected['day'].min():%Y-%m-%d}")}


def test_one_inspectors_week_and_its_route_sheets(api, plans):
    newest = plans["week"].max()
    mine = plans[(plans["week"] == newest) & (plans["inspector"] == 1)].sort_values("line")
    answer = get(api, f"/v1/plans/{newest:%Y-%m-%d}/inspectors/1").json()
    assert answer["inspector"] == 1 and answer["inspector_name"] == mine["inspector_name"].iloc[0]
    assert [i["establishment"] for i in answer["items"]] == mine["establishment"].tolist()
    routed = mine[mine["day"].notna()]
    assert [d["stops"] for d in answer["days"]] == routed.groupby("day").size().tolist()
    assert answer["km"] == pytest.approx(routed.drop_duplicates("day")["day_km"].sum(), abs=0.01)
    csv = get(api, "/v1/plans/current/inspectors/1/stops.csv")
    assert csv.status_code == 200 and "ETag" in csv.headers
    assert f'filename="plan-{newest:%Y-%m-%d}-inspector-1.csv"' in csv.headers["Content-Disposition"]
    sheet = pd.read_csv(io.StringIO(csv.text))
    assert {"day", "stop", "dba_name", "address", "score", "reasons", "why", "km"} <= set(sheet.columns)
    assert sheet["establishment"].tolist() == mine["establishment"].tolist()
    parquet = pq.read_table(io.BytesIO(get(api, "/v1/plans/current/inspectors/1/stops.parquet").content)).to_pandas()
    assert parquet["establishment"].tolist() == mine["establishment"].tolist()


def test_past_plans_are_judged_with_counts_and_intervals(api, pipeline):
    table = read_table(pipeline["postgres"], "food", "plan_evaluation")
    weeks = table[table["scope"] != "pooled"]
    assert len(weeks) and (weeks["planned_inspected"] + weeks["other_inspected"] > 0).all()
    answer = get(api, "/v1/plans/evaluation").json()
    assert len(answer["weeks"]) == len(weeks)
    for row in answer["pooled"]:
        if row["planned_inspected"]:
            assert row["planned_low"] <= row["planned_fail_rate"] <= row["planned_high"]


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/v1/plans/2013-03-05", {}, 400, "must be the Monday"),
        ("/v1/plans/2031-01-06", {}, 404, "no plan for the week of 2031-01-06"),
        ("/v1/plans/current/inspectors/0", {}, 400, "inspector must be a number from 1"),
        ("/v1/plans/current/inspectors/x", {}, 400, "inspector must be a whole number"),
        ("/v1/plans/current/inspectors/999", {}, 404, "no inspector 999"),
        ("/v1/plans/2031-01-06/inspectors/1/stops.csv", {}, 404, "no plan"),
        ("/v1/plans/current", {"inspector": 0}, 400, "inspector"),
        ("/v1/plans/current", {"day": "monday"}, 400, "day"),
        ("/v1/plans/current", {"limit": 501}, 400, "limit"),
    ],
)
def test_bad_plan_requests_get_a_4xx_that_says_what_was_wrong(api, path, params, status, says):
    response = get(api, path, **params)
    assert response.status_code == status
    assert says in str(response.json())


def refusal(pipeline, week: str, config: dict) -> str:
    from dagster import RunConfig, materialize

    from chicago_food_assets.definitions import defs

    result = materialize(
        list(defs.assets),
        selection=["inspection_plan"],
        partition_key=week,
        resources=pipeline["resources"],
        run_config=RunConfig({"inspection_plan": {"config": config}}),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    return str(failure.step_failure_data.error.message)


def test_a_bad_territory_file_or_a_future_week_is_refused_and_the_stored_plan_stays(pipeline, plans, tmp_path):
    week = f"{plans['week'].max():%Y-%m-%d}"
    shared = tmp_path / "shared.csv"
    shared.write_text("inspector,zip\nAnn,60601\nBo,60601\n")
    assert "gives a ZIP code to more than one inspector (60601: Ann, Bo)" in refusal(
        pipeline, week, {"territories": str(shared)}
    )
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("inspector,zip\nAnn,99999\n")
    assert "ZIP codes the data does not know: 99999" in refusal(pipeline, week, {"territories": str(unknown)})
    assert "unknown policy 'random'" in refusal(pipeline, week, {"policy": "random"})
    assert "the plan of 2013-07-15 is too far in the future" in refusal(pipeline, "2013-07-15", {})
    after = read_table(pipeline["postgres"], "food", "inspection_plan")
    assert (
        after.sort_values(["week", "line"])
        .reset_index(drop=True)
        .equals(plans.sort_values(["week", "line"]).reset_index(drop=True))
    )


def test_a_territory_file_gives_the_team_and_each_inspectors_zip_codes(pipeline, plans, tmp_path):
    from dagster import RunConfig, materialize

    from chicago_food_assets.definitions import defs

    week = plans["week"].max()
    zips = sorted(plans.loc[plans["week"] == week, "zip"].dropna().unique())
    file = tmp_path / "territories.csv"
    file.write_text("inspector,zip\n" + "".join(f"{'North' if i % 2 else 'South'},{z}\n" for i, z in enumerate(zips)))

    def plan_with(config: dict) -> pd.DataFrame:
        result = materialize(
            list(defs.assets),
            selection=["inspection_plan"],
            partition_key=f"{week:%Y-%m-%d}",
            resources=pipeline["resources"],
            run_config=RunConfig({"inspection_plan": {"config": config}}),
        )
        assert result.success
        stored = read_table(pipeline["postgres"], "food", "inspection_plan")
        return stored[stored["week"] == week]

    plan = plan_with({"territories": str(file)})
    assert len(plan_with({})) == int((plans["week"] == week).sum())  # the default plan back, for the other tests
    assert set(plan["inspector_name"]) == {"North", "South"}
    north = {z for i, z in enumerate(zips) if i % 2}
    located = plan[plan["zip"].isin(zips)]
    assert (located["inspector_name"] == located["zip"].map(lambda z: "North" if z in north else "South")).all()
    assert located.groupby("inspector").size().max() <= 4 * 5  # each inspector's week
