"""The weekly plan on hand-made DataFrames: each policy's choice, the legal floor, the area cap, the team and its
capacity, territories, routes with a known best order, the solver's time limit and places without coordinates."""

import itertools

import numpy as np
import pandas as pd
import pytest

from chicago_food_assets.core.declarations.contracts import INSPECTION_PLAN, VISIT_LIST
from chicago_food_assets.core.lists import plans, routes

WEEK = pd.Timestamp("2020-03-09")


def candidates(rows: list[tuple]) -> pd.DataFrame:
    """A week's visit list from (establishment, score, risk, days_overdue, zip, latitude, longitude) rows."""
    frame = pd.DataFrame(
        rows, columns=["establishment", "score", "risk", "days_overdue", "zip", "latitude", "longitude"]
    )
    n = len(frame)
    frame = frame.assign(
        week=WEEK,
        rank=frame["score"].rank(ascending=False, method="first").astype(int),
        license=np.arange(1, n + 1),
        dba_name=frame["establishment"].str.upper(),
        aka_name=None,
        address=[f"{i} N STATE ST" for i in range(1, n + 1)],
        on_map=frame["latitude"].notna(),
        facility_type="Restaurant",
        last_inspection=WEEK - pd.Timedelta(days=300),
        last_canvass=WEEK - pd.Timedelta(days=300),
        last_result="Pass",
        due_date=WEEK - pd.to_timedelta(frame["days_overdue"], unit="D"),
        reasons=[[] for _ in range(n)],
        model_version="m1",
        period="prediction",
    )
    return VISIT_LIST.conform(frame.sort_values("rank")[list(VISIT_LIST.names)].reset_index(drop=True))


# ten places: a to j. Scores fall a..j; e and h are risk 1 places far overdue; a-d share ZIP 60601.
TEN = candidates(
    [
        ("a", 0.90, 2, 10, "60601", 41.880, -87.630),
        ("b", 0.85, 2, 5, "60601", 41.881, -87.631),
        ("c", 0.80, 3, 1, "60601", 41.882, -87.632),
        ("d", 0.75, 2, 20, "60601", 41.883, -87.633),
        ("e", 0.30, 1, 200, "60614", 41.920, -87.650),
        ("f", 0.70, 2, 30, "60614", 41.921, -87.651),
        ("g", 0.65, 3, 400, "60622", 41.900, -87.680),
        ("h", 0.20, 1, 120, "60622", 41.901, -87.681),
        ("i", 0.60, 1, 10, "60622", 41.902, -87.682),
        ("j", 0.10, 2, 300, "60647", 41.920, -87.700),
    ]
)


def chosen(settings: plans.PlanSettings, capacity: int, table: pd.DataFrame = TEN) -> list[str]:
    return plans.choose(table, capacity, settings)["establishment"].tolist()


def test_due_takes_the_most_overdue_first() -> None:
    assert chosen(plans.PlanSettings(policy="due"), 4) == ["g", "j", "e", "h"]


def test_risk_takes_the_highest_scores_first() -> None:
    assert chosen(plans.PlanSettings(policy="risk"), 4) == ["a", "b", "c", "d"]


def test_balanced_puts_the_legal_floor_first_then_scores_within_the_area_cap() -> None:
    settings = plans.PlanSettings(policy="balanced", floor_days=60, floor_share=1.0, area_cap=0.4)
    # floor: e (200 days) then h (120); then by score with at most floor(0.4 * 5) = 2 places of one ZIP
    assert chosen(settings, 5) == ["e", "h", "a", "b", "f"]
    why = plans.choose(TEN, 5, settings).set_index("establishment")["why"].to_dict()
    assert why == {"e": "floor", "h": "floor", "a": "score", "b": "score", "f": "score"}


def test_a_floor_place_the_scores_would_have_taken_too_says_both() -> None:
    settings = plans.PlanSettings(policy="balanced", floor_days=5, floor_share=1.0, area_cap=1.0)
    riskiest_i = TEN.assign(score=TEN["score"].where(TEN["establishment"] != "i", 0.95))
    table = plans.choose(riskiest_i, 4, settings).set_index("establishment")
    # floor (risk 1, > 5 days): e (200), h (120), i (10). i's score (0.95) is the top one without the floor: both
    assert table.index.tolist() == ["e", "h", "i", "a"]
    assert table["why"].to_dict() == {"e": "floor", "h": "floor", "i": "both", "a": "score"}


def test_the_floor_fills_the_capacity_before_any_score_and_is_never_capped() -> None:
    settings = plans.PlanSettings(policy="balanced", floor_days=60, floor_share=1.0, area_cap=0.1)
    assert chosen(settings, 1) == ["e"]  # the most overdue floor place, though capped areas hold one place
    assert chosen(settings, 2) == ["e", "h"]


def test_the_floor_takes_at_most_its_share_of_the_week_the_most_overdue_first() -> None:
    settings = plans.PlanSettings(policy="balanced", floor_days=60, floor_share=0.25, area_cap=1.0)
    table = plans.choose(TEN, 4, settings).set_index("establishment")
    assert table.index.tolist() == ["e", "a", "b", "c"]  # one floor place (0.25 x 4): e, 200 days; h competes
    assert table["why"].tolist() == ["floor", "score", "score", "score"]
    assert chosen(plans.PlanSettings(floor_days=60, floor_share=0.0, area_cap=1.0), 4) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="floor_share"):
        plans.PlanSettings(floor_share=1.5)


def test_the_area_cap_spreads_a_week_over_zip_codes() -> None:
    settings = plans.PlanSettings(policy="balanced", floor_days=10_000, area_cap=0.25)
    picks = plans.choose(TEN, 8, settings)
    assert picks.groupby("zip").size().max() <= 2  # floor(0.25 * 8) = 2 a ZIP
    assert chosen(plans.PlanSettings(policy="balanced", floor_days=10_000, area_cap=1.0), 4) == ["a", "b", "c", "d"]


def test_a_capacity_of_zero_or_more_than_the_candidates() -> None:
    for policy in plans.POLICIES:
        assert plans.choose(TEN, 0, plans.PlanSettings(policy=policy)).empty
        assert sorted(chosen(plans.PlanSettings(policy=policy, area_cap=1.0), 50)) == list("abcdefghij")
    assert plans.choose(TEN.iloc[:0], 10, plans.PlanSettings()).empty


def test_bad_settings_are_refused_with_what_was_wrong() -> None:
    with pytest.raises(ValueError, match="unknown policy 'random'"):
        plans.PlanSettings(policy="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        plans.PlanSettings(capacity=-1)
    with pytest.raises(ValueError, match="area_cap"):
        plans.PlanSettings(area_cap=0)
    with pytest.raises(ValueError, match="visits_per_day"):
        plans.PlanSettings(visits_per_day=0)


def test_the_capacity_is_the_teams_or_the_datas_median_of_recent_complete_weeks() -> None:
    weeks = pd.to_datetime(["2020-02-03"] * 5 + ["2020-02-10"] * 7 + ["2020-02-17"] * 9 + ["2020-03-09"] * 50)
    inspections = pd.DataFrame(
        {"week": weeks, "inspection_kind": "canvass", "reinspection": [False] * 4 + [True] + [False] * 66}
    )
    counts = plans.canvass_counts(inspections)
    assert plans.weekly_canvass(counts, WEEK, 12) == 7  # 4, 7, 9; the plan's own week is not read
    assert plans.weekly_canvass(counts, WEEK, 1) == 9
    assert plans.weekly_canvass(plans.canvass_counts(inspections.iloc[:0]), WEEK, 12) is None
    crew, capacity = plans.team(plans.PlanSettings(visits_per_day=4, days=5), 42)
    assert (crew.inspectors, capacity) == (3, 42)  # 42 visits need three inspectors at 20 a week
    crew, capacity = plans.team(plans.PlanSettings(inspectors=2, visits_per_day=3, days=4), 42)
    assert (crew.inspectors, capacity) == (2, 24)
    with pytest.raises(ValueError, match="no capacity"):
        plans.team(plans.PlanSettings(), None)


def grid_city(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (f"p{i}", float(rng.random()), int(rng.integers(1, 4)), int(rng.integers(-5, 400)), f"606{i % 7:02d}",
         41.75 + 0.2 * rng.random(), -87.75 + 0.15 * rng.random())
        for i in range(n)
    ]  # fmt: skip
    return candidates(rows)


def test_a_plan_gives_every_chosen_place_an_inspector_a_day_and_a_stop() -> None:
    table = grid_city(120)
    crew = plans.Team(inspectors=3, visits_per_day=4, days=5)
    plan = plans.build(table, 60, crew, plans.PlanSettings(), routes.RouteSettings(time_limit_seconds=2))
    assert list(plan.columns) == list(INSPECTION_PLAN.names)
    assert len(plan) == 60 and plan["establishment"].is_unique
    per_day = plan.groupby(["inspector", "day"]).size()
    assert per_day.max() <= 4 and set(plan["inspector"]) == {1, 2, 3}
    assert plan.groupby("inspector").size().tolist() == [20, 20, 20]  # balanced territories
    for _, day in plan.groupby(["inspector", "day"]):
        assert sorted(day["stop"]) == list(range(1, len(day) + 1))
        assert day["day_km"].nunique() == 1
        assert day["day_km"].iloc[0] >= day["km"].sum()  # the way back is in the day's km
    assert (plan["day"].dt.weekday < 5).all()
    for _, mine in plan.groupby("inspector"):  # the days used are the first of the week
        used = sorted(mine["day"].dt.weekday.unique())
        assert used == list(range(len(used)))
    light = plans.build(table, 6, crew, plans.PlanSettings(), routes.RouteSettings())  # 2 stops each: Monday
    assert set(light["day"]) == {WEEK}
    assert set(plan["route"]) == {"solved"}
    routed_km = plan.drop_duplicates(["inspector", "day"])["day_km"].sum()
    assert routed_km < 0.8 * plan.drop_duplicates("inspector")["list_order_km"].sum()  # routing saves
    one = plan[plan["inspector"] == 1].sort_values("rank")  # the baseline: by rank, four a day, from the start
    start = (one["start_latitude"].iloc[0], one["start_longitude"].iloc[0])
    lat, lon = one["latitude"].to_numpy(), one["longitude"].to_numpy()
    by_hand = sum(routes.day_km(lat[i : i + 4], lon[i : i + 4], start) for i in range(0, len(one), 4))
    assert one["list_order_km"].iloc[0] == pytest.approx(by_hand)


def test_one_inspector_and_places_without_coordinates_are_planned_to_locate() -> None:
    table = TEN.copy()
    table.loc[table["establishment"].isin(["a", "e"]), ["latitude", "longitude"]] = np.nan
    plan = plans.build(
        table, 6, plans.Team(1, 3, 2), plans.PlanSettings(area_cap=1.0), routes.RouteSettings(time_limit_seconds=1)
    )
    apart = plan[plan["route"] == "to_locate"]
    assert set(apart["establishment"]) == {"a", "e"}
    assert apart["day"].isna().all() and (apart["stop"] == 0).all() and apart["km"].isna().all()
    assert (plan["inspector"] == 1).all() and len(plan) == 6
    everyone_lost = TEN.assign(latitude=np.nan, longitude=np.nan)
    plan = plans.build(everyone_lost, 4, plans.Team(2, 2, 1), plans.PlanSettings(), routes.RouteSettings())
    assert len(plan) == 4 and (plan["route"] == "to_locate").all()


def test_a_week_without_candidates_makes_an_empty_plan() -> None:
    plan = plans.build(TEN.iloc[:0], 10, plans.Team(1, 5, 2), plans.PlanSettings(), routes.RouteSettings())
    assert plan.empty and list(plan.columns) == list(INSPECTION_PLAN.names)
    with pytest.raises(ValueError, match="more than the team"):
        plans.build(TEN, 11, plans.Team(1, 5, 2), plans.PlanSettings(), routes.RouteSettings())


def test_routing_finds_the_known_best_order() -> None:
    # six stops on a line east of the start, given shuffled: the best single day goes out and back in order
    lon = np.array([-87.60, -87.64, -87.62, -87.65, -87.61, -87.63])
    lat = np.full(6, 41.88)
    start = (41.88, -87.66)
    day, stop, status = routes.route(lat, lon, routes.RouteSettings(visits_per_day=6, days=1), start)
    assert status == "solved" and (day == 0).all()
    walked = lon[np.argsort(stop)]
    assert list(walked) in (sorted(lon), sorted(lon, reverse=True))
    best = min(
        routes.day_km(lat, lon[list(p)], start) for p in itertools.permutations(range(6))
    )  # every order of six stops
    assert routes.day_km(lat, walked, start) == pytest.approx(best)


def test_the_solver_at_its_time_limit_keeps_the_best_found_and_says_so() -> None:
    rng = np.random.default_rng(3)
    lat, lon = 41.7 + 0.3 * rng.random(200), -87.8 + 0.2 * rng.random(200)
    settings = routes.RouteSettings(visits_per_day=20, days=10, time_limit_seconds=0.001)
    day, stop, status = routes.route(lat, lon, settings, (41.85, -87.7))
    assert status == "time_limit"
    assert np.bincount(day).max() <= 20 and len(set(zip(day, stop, strict=True))) == 200  # still a whole plan


def test_territories_from_a_file_refuse_unknown_and_shared_zip_codes() -> None:
    known = ["60601", "60614", "60622", "60647"]
    good = pd.DataFrame({"inspector": ["Ann", "Ann", "Bo", "Bo"], "zip": known})
    assert len(routes.territories_from(good, known)) == 4
    with pytest.raises(routes.TerritoryError, match="does not know: 99999"):
        routes.territories_from(pd.DataFrame({"inspector": ["Ann"], "zip": ["99999"]}), known)
    with pytest.raises(routes.TerritoryError, match=r"more than one inspector \(60601: Ann, Bo\)"):
        routes.territories_from(pd.DataFrame({"inspector": ["Ann", "Bo"], "zip": ["60601", "60601"]}), known)
    with pytest.raises(routes.TerritoryError, match="missing zip"):
        routes.territories_from(pd.DataFrame({"inspector": ["Ann"]}), known)
    plan = plans.build(
        TEN, 8, plans.Team(2, 2, 2), plans.PlanSettings(area_cap=1.0), routes.RouteSettings(), territories=good
    )
    by_name = plan.groupby("inspector_name")["zip"].agg(set).to_dict()
    assert by_name["Ann"] <= {"60601", "60614"} and by_name["Bo"] <= {"60622", "60647"}
    assert plan.groupby("inspector").size().max() <= 4  # each inspector's week holds 2 x 2 visits


def test_the_compact_split_balances_and_keeps_areas_apart() -> None:
    rng = np.random.default_rng(0)
    lat, lon = rng.random(101), rng.random(101)
    label = routes.split(lat, lon, 4)
    sizes = np.bincount(label)
    assert sizes.max() - sizes.min() <= 1
    assert routes.split(lat, lon, 1).max() == 0


def test_a_plan_is_judged_on_the_weeks_real_canvass_inspections_with_intervals() -> None:
    from chicago_food_assets.core.lists import prospective

    plan = pd.DataFrame(
        {
            "week": [WEEK] * 3 + [WEEK + pd.Timedelta(days=7)] * 2,
            "establishment": ["a", "b", "c", "a", "d"],
            "policy": "balanced",
            "model_version": "m1",
            "period": ["holdout"] * 3 + ["training"] * 2,
        }
    )
    rows = [  # week, id, place, canvass, failed
        (WEEK, 1, "a", True, True), (WEEK, 2, "a", True, False), (WEEK, 3, "b", True, False),
        (WEEK, 4, "x", True, False), (WEEK, 5, "y", True, True), (WEEK, 6, "z", True, False),
        (WEEK, 7, "c", False, True),  # a re-inspection at a planned place: not what a plan is judged on
        (WEEK + pd.Timedelta(days=7), 8, "d", True, True),
    ]  # fmt: skip
    outcomes = pd.DataFrame(rows, columns=["week", "inspection_id", "establishment", "canvass", "failed"])
    outcomes["inspection_date"] = outcomes["week"]
    table = prospective.plan_table(outcomes, plan).set_index("scope")
    week = table.loc["2020-03-09"]
    assert (week["planned"], week["planned_inspected"], week["planned_fails"]) == (3, 2, 1)  # a's first, b
    assert (week["other_inspected"], week["other_fails"]) == (3, 1)
    assert week["planned_low"] < 0.5 < week["planned_high"] and week["difference"] == pytest.approx(0.5 - 1 / 3)
    pooled = table.loc["pooled"]
    assert pooled["weeks"] == 1 and pooled["planned_inspected"] == 2  # the training week is not pooled
    assert pooled["difference_low"] < pooled["difference"] < pooled["difference_high"]
    rate, low, high = prospective.wilson(np.array([0.0, 10.0]), np.array([10.0, 10.0]))
    assert low[0] == 0 and 0.27 < high[0] < 0.31 and high[1] == pytest.approx(1.0) and rate[1] == 1.0


def test_a_place_without_coordinates_goes_to_the_inspector_most_present_in_its_zip() -> None:
    stops = pd.DataFrame(
        {
            "zip": ["60601", "60601", "60601", "60647", "60647", "60601", "60647", "99999"],
            "latitude": [41.88, 41.881, 41.882, 41.92, 41.921, np.nan, np.nan, np.nan],
            "longitude": [-87.63, -87.631, -87.632, -87.70, -87.701, np.nan, np.nan, np.nan],
        }
    )
    who = routes.assign(stops, 2, None)
    assert who.iloc[5] == who.iloc[0] and who.iloc[6] == who.iloc[3] and who.iloc[0] != who.iloc[3]
    assert who.iloc[7] in (1, 2)  # a ZIP nobody is in: dealt to the least loaded
