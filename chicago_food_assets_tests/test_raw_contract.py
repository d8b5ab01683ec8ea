"""The raw feed's field contract on real weeks: a field a week (as stored before) or the weeks before it carried,
and that none of this week's rows has, is reported; a field only sometimes present is judged by its share."""

import pandas as pd
import pytest

from chicago_food_assets.assets.partitions import weekly
from chicago_food_assets.core.ingestion.raw import frame_of_rows, missing_fields, presence
from chicago_food_assets.resources.storage import split_by_partition

WEEKS = ["2013-02-04", "2013-02-11", "2013-02-18", "2013-02-25", "2013-03-04", "2013-03-11"]


def profile(rows: list[dict], weeks: list[str]) -> pd.DataFrame:
    return presence(split_by_partition(frame_of_rows(rows), "inspection_date", weekly, weeks))


def without(rows: list[dict], field: str, keep_every: int = 0) -> list[dict]:
    """The rows without `field` (but every `keep_every`-th row, when given)."""
    return [
        row if keep_every and i % keep_every == 0 else {k: v for k, v in row.items() if k != field}
        for i, row in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def weeks(sample_rows) -> dict[str, list[dict]]:
    """Six real weeks of 2013 (every field; violations, cited or marked not recorded, on most rows)."""
    ends = [*WEEKS[1:], "2013-03-18"]
    return {
        w: [r for r in sample_rows if w <= r["inspection_date"][:10] < end] for w, end in zip(WEEKS, ends, strict=True)
    }


def test_a_repulled_week_that_lost_a_field_its_stored_version_had_is_reported(weeks):
    week = WEEKS[2]
    stored = profile(weeks[week], [week])
    found = missing_fields(profile(without(weeks[week], "violations"), [week]), stored)
    assert found[["week", "field", "reference"]].values.tolist() == [[week, "violations", "this week as stored before"]]
    assert 0.2 < found["reference_share"].iloc[0] < 0.9 and found["rows"].iloc[0] == len(weeks[week])


def test_a_new_week_is_compared_with_the_weeks_stored_before_it(weeks):
    stored = profile([r for w in WEEKS[:4] for r in weeks[w]], WEEKS[:4])
    new = WEEKS[4]
    found = missing_fields(profile(without(weeks[new], "dba_name"), [new]), stored)
    assert found[["field", "reference"]].values.tolist() == [["dba_name", "the weeks stored before it"]]
    assert missing_fields(profile(weeks[new], [new]), stored).empty  # the same week with its fields: nothing


def test_a_field_still_on_some_rows_or_a_week_too_small_to_tell_is_not_a_change(weeks):
    week = WEEKS[1]
    stored = profile(weeks[week], [week])
    some = without(weeks[week], "violations", keep_every=20)  # nothing cited on most rows: the live feed's way
    assert missing_fields(profile(some, [week]), stored).empty
    small = without(weeks[week], "violations")[:5]
    assert missing_fields(profile(small, [week]), stored).empty


def test_weeks_pulled_together_for_the_first_time_are_not_each_others_reference(weeks):
    """The bundled sample joins extracts whose columns differ (violations ends with one of them): a first backfill
    has nothing stored to compare with, and must not stop."""
    rows = [r for w in WEEKS[:3] for r in weeks[w]] + [r for w in WEEKS[3:] for r in without(weeks[w], "violations")]
    nothing_stored = presence({})
    assert missing_fields(profile(rows, WEEKS), nothing_stored).empty
