"""The fairness audit's numbers against a hand computation."""

import pandas as pd
import pytest

from chicago_food_assets.core import fairness


def frame() -> pd.DataFrame:
    # Restaurant: 10 rows; flagged (score >= 0.5) rows 0-3; failed rows 0, 1, 4
    #   FP = flagged & passed = rows 2, 3 -> FPR = 2 / 7 passed; FDR = 2 / 4 flagged
    # Grocery Store: 6 rows; flagged rows 0-2; failed row 0 -> FPR = 2 / 5; FDR = 2 / 3
    # Bakery: 2 rows (small: merged)
    restaurant = pd.DataFrame(
        {
            "facility_type": "Restaurant",
            "score": [0.9, 0.8, 0.7, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            "failed": [1, 1, 0, 0, 1, 0, 0, 0, 0, 0],
        }
    )
    grocery = pd.DataFrame(
        {"facility_type": "Grocery Store", "score": [0.9, 0.8, 0.7, 0.1, 0.1, 0.1], "failed": [1, 0, 0, 0, 0, 0]}
    )
    bakery = pd.DataFrame({"facility_type": "Bakery", "score": [0.9, 0.1], "failed": [0, 1]})
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
