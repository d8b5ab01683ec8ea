"""The fairness audit's numbers against a hand computation."""

import pandas as pd
import pytest

from chicago_food_assets.core.models import fairness


def frame() -> pd.DataFrame:
    # Restaurant: 10 rows; flagged (score >= 0.5) rows 0-3; failed rows 0, 1, 4
    #   FP = flagged & passed = rows 2, 3 -> FPR = 2 / 7 passed; FDR = 2 / 4 flagged
    # Grocery Store: 6 rows; flagged rows 0-2; failed row 0 -> FPR = 2 / 5; FDR = 2 / 3
    # Bakery: 2 rows (small: merged)
    restaurant = pd.DataFrame(
        {
            "facility_type": "Restaurant",
            "score": [0.9, 0.8, 0.7, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            "outcome": [1, 1, 0, 0, 1, 0, 0, 0, 0, 0],
        }
    )
    grocery = pd.DataFrame(
        {"facility_type": "Grocery Store", "score": [0.9, 0.8, 0.7, 0.1, 0.1, 0.1], "outcome": [1, 0, 0, 0, 0, 0]}
    )
    bakery = pd.DataFrame({"facility_type": "Bakery", "score": [0.9, 0.1], "outcome": [0, 1]})
    return pd.concat([restaurant, grocery, bakery], ignore_index=True)


def test_fpr_fdr_and_disparities_match_a_hand_computation():
    table = fairness.audit(frame(), threshold=0.5, min_size=5).set_index("facility_type")
    assert table.loc["Restaurant", "fpr"] == pytest.approx(2 / 7) and table.loc["Restaurant", "fdr"] == pytest.approx(
        2 / 4
    )
    assert table.loc["Grocery Store", "fpr"] == pytest.approx(2 / 5) and table.loc[
        "Grocery Store", "fdr"
    ] == pytest.approx(2 / 3)
    assert table.loc["Grocery Store", "fpr_disparity"] == pytest.approx((2 / 5) / (2 / 7))
    assert table.loc["Grocery Store", "fdr_disparity"] == pytest.approx((2 / 3) / (2 / 4))
    assert table.loc["Restaurant", "fpr_disparity"] == pytest.approx(1.0) and table.loc["Restaurant", "reference"]
    assert not table.loc["Grocery Store", "fpr_parity"]  # 1.4 is outside [0.8, 1.25]
    assert table.loc["Grocery Store", "flagged"] == 3 and table.loc["Grocery Store", "group_size"] == 6
    assert fairness.SMALL in table.index and "Bakery" not in table.index


def test_groups_outside_the_band_are_named_when_they_are_big_enough():
    table = fairness.audit(frame(), threshold=0.5, min_size=5)
    assert fairness.outside_band(table, min_size=5)["facility_type"].tolist() == ["Grocery Store"]
    assert fairness.outside_band(table, min_size=7).empty


def test_the_operating_threshold_flags_the_top_share():
    scores = pd.Series(range(100), dtype=float).to_numpy()
    threshold = fairness.operating_threshold(scores, 0.2)
    assert (scores >= threshold).sum() == 20


def policy_frame(grocery_scores: list[float]) -> pd.DataFrame:
    """100 restaurants and 100 grocery stores, each failing 30 times; restaurants' fails score highest."""
    import numpy as np

    rng = np.random.default_rng(0)
    restaurant_failed = np.r_[np.ones(30), np.zeros(70)]
    restaurant_score = np.where(restaurant_failed == 1, 0.4, 0.2) + rng.random(100) * 0.4  # an imperfect ranking
    return pd.DataFrame(
        {
            "facility_type": ["Restaurant"] * 100 + ["Grocery Store"] * 100,
            "score": np.r_[restaurant_score, grocery_scores],
            "outcome": np.r_[restaurant_failed, np.r_[np.ones(30), np.zeros(70)]].astype(int),
            "inspection_date": pd.Timestamp("2019-07-01") + pd.to_timedelta(rng.integers(0, 60, 200), unit="D"),
        }
    )


def test_a_group_flagged_beyond_its_fail_rate_gets_its_own_threshold_when_it_costs_little():
    import numpy as np

    # grocery stores fail as often as restaurants but every one of them scores high: flagged far beyond its rate
    grocery = 0.5 + np.r_[np.full(30, 0.1), np.zeros(70)] + np.random.default_rng(1).random(100) * 0.2
    decision = fairness.decide(policy_frame(list(grocery)), flagged_share=0.2, min_size=50, cost=1.0)
    table = decision.table.set_index("facility_type")
    assert not table.loc["Grocery Store", "explained_by_base_rate"]
    assert table.loc["Grocery Store", "fail_rate_ratio"] == pytest.approx(1.0)
    assert decision.deployed == fairness.PER_GROUP and "Grocery Store" in decision.why
    before, after = table.loc["Grocery Store", ["fpr_disparity", "mitigated_fpr_disparity"]]
    assert before > fairness.FAIR_BAND[1] and abs(np.log(after)) < abs(np.log(before))  # the gap narrows
    assert set(decision.days_earlier) == {fairness.SINGLE, fairness.PER_GROUP}
    # the same gap, when fixing it would cost more days earlier than accepted: the single threshold stays
    strict = fairness.decide(policy_frame(list(grocery)), flagged_share=0.2, min_size=50, cost=-1.0)
    assert strict.deployed == fairness.SINGLE and "more than" in strict.why


def test_per_group_thresholds_that_open_a_wider_gap_elsewhere_are_not_deployed():
    """300 inspections, 100 per type, 30 fails each; scores 300..1 in the order below (the top 60 are flagged)."""
    import numpy as np

    def block(group: str, fails: int, passes: int) -> list[tuple[str, int]]:
        return [(group, 1)] * fails + [(group, 0)] * passes

    ranked = (
        block("Restaurant", 14, 6)  # the flagged 60: restaurants 20 (6 false flags), grocery stores 30 (15), schools
        + block("Grocery Store", 12, 8)  # 10 (6): grocery stores' false-flag rate is 2.5 times restaurants'
        + block("Grocery Store", 3, 7)
        + block("School", 4, 6)
        + block("School", 0, 10)  # schools' next 10: per-group thresholds would flag 10 more passes there
        + block("Restaurant", 16, 64)
        + block("Grocery Store", 15, 55)
        + block("School", 26, 54)
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(ranked, columns=["facility_type", "outcome"]).assign(
        score=np.arange(len(ranked), 0, -1) / len(ranked),
        inspection_date=pd.Timestamp("2019-07-01") + pd.to_timedelta(rng.integers(0, 60, len(ranked)), unit="D"),
    )
    decision = fairness.decide(frame, flagged_share=0.2, min_size=50, cost=1.0)
    table = decision.table.set_index("facility_type")
    assert table.loc["Grocery Store", "fpr_disparity"] == pytest.approx(2.5)  # out of the band, unexplained
    assert not table.loc["Grocery Store", "explained_by_base_rate"]
    assert table.loc["Grocery Store", "mitigated_fpr_disparity"] == pytest.approx(8 / 6)  # narrower for them
    assert table.loc["School", "fpr_disparity"] == pytest.approx(1.0)
    assert table.loc["School", "mitigated_fpr_disparity"] == pytest.approx(16 / 6)  # but wider for schools
    assert decision.deployed == fairness.SINGLE and "would widen the largest disparity" in decision.why
    assert "School: 2.67x" in decision.why


def test_per_group_ranking_puts_each_groups_riskiest_first():
    from chicago_food_assets.core.models import scoring
    from chicago_food_assets.core.models.window import ModelWindow

    rows = pd.DataFrame(
        {
            "inspection_id": [1, 2, 3, 4],
            "license": [1, 2, 3, 4],
            "establishment": ["a", "b", "c", "d"],
            "week": pd.Timestamp("2019-07-01"),
            "inspection_date": pd.Timestamp("2019-07-02"),
            "facility_type": ["Grocery Store", "Grocery Store", "Restaurant", "Restaurant"],
            "failed": False,
        }
    )
    window = ModelWindow(
        pd.Timestamp("2019-01-07").date(), pd.Timestamp("2019-03-04").date(), pd.Timestamp("2019-04-01").date()
    )
    score = [0.9, 0.8, 0.3, 0.2]
    single = scoring.score_table(rows, score, "v", window)
    assert single.sort_values("rank")["inspection_id"].tolist() == [1, 2, 3, 4]
    decision = fairness.Decision(pd.DataFrame(), {}, fairness.PER_GROUP, "test", ("Grocery Store", "Restaurant"))
    per_group = scoring.score_table(rows, score, "v", window, decision=decision)
    assert per_group.sort_values("rank")["inspection_id"].tolist() == [1, 3, 2, 4]  # each type's riskiest first


def test_the_per_group_list_the_decision_judges_is_the_one_scoring_ranks():
    """Groups of different sizes: the days earlier of the decision come from the order inspectors get."""
    import numpy as np

    from chicago_food_assets.core.models import evaluation, scoring
    from chicago_food_assets.core.models.window import ModelWindow

    rng = np.random.default_rng(3)
    n = {"Restaurant": 70, "Grocery Store": 30, "School": 13}
    frame = pd.DataFrame(
        {
            "facility_type": [t for t, size in n.items() for _ in range(size)],
            "score": rng.random(sum(n.values())),
            "outcome": rng.random(sum(n.values())) < 0.3,
            "inspection_date": pd.Timestamp("2019-07-01") + pd.to_timedelta(rng.integers(0, 90, sum(n.values())), "D"),
        }
    )
    decision = fairness.decide(frame, flagged_share=0.2, min_size=10, cost=1.0)
    rows = frame.assign(
        inspection_id=range(1, len(frame) + 1),
        license=range(1, len(frame) + 1),
        establishment=[f"e{i}" for i in range(len(frame))],
        week=pd.Timestamp("2019-07-01"),
        failed=frame["outcome"],  # what scoring records beside the score
    )
    window = ModelWindow(
        pd.Timestamp("2019-01-07").date(), pd.Timestamp("2019-03-04").date(), pd.Timestamp("2019-04-01").date()
    )
    deployed = fairness.Decision(pd.DataFrame(), {}, fairness.PER_GROUP, "test", decision.groups)
    ranked = scoring.score_table(rows, frame["score"].to_numpy(), "v", window, decision=deployed)
    visited = evaluation.reorder(
        frame["inspection_date"].to_numpy(), frame["outcome"].to_numpy(dtype=int), -ranked["rank"].to_numpy(float)
    )
    assert decision.days_earlier[fairness.PER_GROUP] == pytest.approx(visited["days_earlier"])


@pytest.mark.faults
def test_tied_scores_keep_their_visiting_order_whatever_order_the_rows_arrive_in():
    """Two identical backfills read the week's rows in different orders: equal scores are ranked by inspection id,
    under either policy, so a re-run never changes the list."""
    import numpy as np

    from chicago_food_assets.core.models import scoring
    from chicago_food_assets.core.models.window import ModelWindow

    rng = np.random.default_rng(7)
    size = 60
    rows = pd.DataFrame(
        {
            "inspection_id": rng.permutation(np.arange(1000, 1000 + size)),
            "license": np.arange(size),
            "establishment": [f"e{i}" for i in range(size)],
            "week": pd.Timestamp("2019-07-01"),
            "inspection_date": pd.Timestamp("2019-07-02"),
            "facility_type": rng.choice(["Grocery Store", "Restaurant", "School"], size),
            "failed": False,
        }
    )
    score = rng.choice([0.1, 0.4, 0.7], size)  # three values: ties everywhere
    window = ModelWindow(
        pd.Timestamp("2019-01-07").date(), pd.Timestamp("2019-03-04").date(), pd.Timestamp("2019-04-01").date()
    )
    per_group = fairness.Decision(pd.DataFrame(), {}, fairness.PER_GROUP, "test", ("Grocery Store", "Restaurant"))
    for decision in (None, per_group):
        first = scoring.score_table(rows, score, "v", window, decision=decision).set_index("inspection_id")["rank"]
        shuffled = rng.permutation(size)
        again = scoring.score_table(
            rows.iloc[shuffled].reset_index(drop=True), score[shuffled], "v", window, decision=decision
        ).set_index("inspection_id")["rank"]
        assert (first.sort_index() == again.sort_index()).all()
        ranked = rows.assign(score=score, rank=first.reindex(rows["inspection_id"]).to_numpy()).sort_values("rank")
        for _, tied in ranked.groupby(["score", "facility_type"] if decision else ["score"]):
            assert tied["inspection_id"].is_monotonic_increasing  # ties: the smaller id first


def test_each_areas_share_of_the_flags_is_set_beside_its_share_of_the_positives():
    # 60601: 10 rows, flagged 0-3, positives 0, 1 -> 4 of 6 flags, 2 of 4 positives: 0.667 / 0.5 = 1.33 per finding;
    #   FPR 2/8 (the reference: the largest area)
    # 60602: 6 rows, flagged 0-1, positives 0, 3 -> 2 of 6 flags, 2 of 4 positives: 0.67; FPR 1/4
    first = pd.DataFrame({"zip": "60601", "score": [0.9, 0.8, 0.7, 0.6] + [0.1] * 6, "outcome": [1, 1, 0, 0] + [0] * 6})
    second = pd.DataFrame({"zip": "60602", "score": [0.9, 0.8, 0.1, 0.1, 0.1, 0.1], "outcome": [1, 0, 0, 1, 0, 0]})
    few = pd.DataFrame({"zip": ["60603", None], "score": [0.1, 0.1], "outcome": [0, 0]})  # small, and no ZIP code
    table = fairness.area_audit(pd.concat([first, second, few], ignore_index=True), 0.5, min_size=5)
    table = table.set_index("area")
    assert table.loc["60601", "reference"] and not table.loc["60602", "reference"]
    assert table.loc["60601", "flagged_share"] == pytest.approx(4 / 6)
    assert table.loc["60601", "positive_share"] == pytest.approx(2 / 4)
    assert table.loc["60601", "flags_per_finding"] == pytest.approx((4 / 6) / (2 / 4))
    assert table.loc["60602", "flags_per_finding"] == pytest.approx((2 / 6) / (2 / 4))
    assert table.loc["60602", "fpr"] == pytest.approx(1 / 4) and table.loc["60601", "fpr"] == pytest.approx(2 / 8)
    assert table.loc["60602", "fpr_disparity"] == pytest.approx(1.0)
    assert {fairness.SMALL_AREAS} <= set(table.index)  # 60603 and the row without a ZIP code: too few alone
    assert table["group_size"].sum() == 18
    outside = fairness.areas_outside_band(table.reset_index())
    assert set(outside["area"]) == {"60601", "60602"}  # 1.33 and 0.67 flags per finding
