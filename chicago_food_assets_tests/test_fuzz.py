"""Bad input, generated: every shape the feed can send goes through cleaning and features without an exception,
and every row received is accounted for: cleaned, dropped and counted, or rejected with a reason."""

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chicago_food_assets.core.declarations.contracts import CLEAN_INSPECTIONS, INSPECTION_FEATURES, INSPECTION_REJECTS
from chicago_food_assets.core.features import own
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.ingestion.raw import FIELDS, frame_of_rows, parse_rows

ODD_TEXT = st.sampled_from(
    ["", " ", "Infinity", "-Infinity", "NaN", "\\N", "null", "NUL\x00NAME", "٣٤", "²", "1e309", "x" * 100_000]
)
TEXT = st.one_of(st.text(max_size=30), ODD_TEXT)
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
DIGITS = st.one_of(
    st.integers(min_value=0, max_value=2**66).map(str), st.sampled_from(["9007199254740993", "9223372036854775808"])
)
DATE = st.one_of(
    st.dates(min_value=pd.Timestamp("2005-01-01").date(), max_value=pd.Timestamp("2105-01-01").date()).map(
        lambda d: f"{d}T00:00:00.000"
    ),
    TEXT,
)
VALUE = st.one_of(TEXT, NUMBER, st.none(), st.booleans(), st.dictionaries(st.sampled_from(["latitude"]), TEXT))
FIELD_VALUES = {
    "inspection_id": st.one_of(DIGITS, VALUE),
    "license_": st.one_of(DIGITS, VALUE),
    "inspection_date": DATE,
    "results": st.one_of(st.sampled_from(["Pass", "Fail", "Pass w/ Conditions", "No Entry", "Passed?"]), VALUE),
    "risk": st.one_of(st.sampled_from(["Risk 1 (High)", "Risk 3 (Low)", "All"]), VALUE),
    "latitude": st.one_of(st.floats(41.6, 42.0).map(str), VALUE),
    "longitude": st.one_of(st.floats(-87.9, -87.5).map(str), VALUE),
    "location": st.one_of(
        st.fixed_dictionaries({"latitude": st.floats(41.6, 42.0).map(str), "longitude": TEXT}), VALUE
    ),
    "violations": st.one_of(
        st.sampled_from(["NIL", "1. X - Comments: y | 33. Z - Comments: PRIORITY", "\n2. A\n70. B"]), VALUE
    ),
}
ROW = st.fixed_dictionaries(
    {},
    optional={
        **{name: VALUE for name in FIELDS},
        **FIELD_VALUES,
        "unexpected_field": VALUE,
    },
)


@pytest.mark.integration  # full-size fits or feeds: tens of seconds, outside the fast tier
@pytest.mark.faults
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(ROW, min_size=0, max_size=150))  # ~7,500 rows over the examples
def test_every_generated_row_is_cleaned_dropped_or_rejected_and_nothing_raises(rows):
    duplicated = rows + [dict(row, dba_name="EDITED") for row in rows[:5]]  # duplicate ids with other content
    frame = frame_of_rows(duplicated)
    cleaned = clean(frame, pd.Timestamp("2010-01-04"), pd.Timestamp("2100-01-04"))

    assert len(cleaned.inspections) + sum(cleaned.dropped.values()) + len(cleaned.rejects) == len(duplicated)
    assert cleaned.rejects["reason"].notna().all()
    clean_table = CLEAN_INSPECTIONS.conform(cleaned.inspections)  # fits its table: types, bounds, no nulls
    assert clean_table["inspection_id"].is_unique
    assert clean_table["latitude"].abs().le(90).all() and clean_table["longitude"].abs().le(180).all()
    rejects = INSPECTION_REJECTS.conform(cleaned.rejects.assign(week=cleaned.rejects["week"].fillna(pd.NaT)))
    for row in rejects["row"]:
        assert "\x00" not in row and isinstance(json.loads(row), dict)  # storable as jsonb
    table = INSPECTION_FEATURES.conform(own.build(cleaned.inspections, citations=cleaned.violations))
    assert len(table) == len(clean_table)


@pytest.mark.faults
def test_values_are_never_lost_on_the_way_in():
    base = {
        "inspection_date": "2013-01-08T00:00:00.000",
        "license_": "1",
        "results": "Pass",
        "latitude": "41.9",
        "longitude": "-87.6",
    }
    rows = [
        {**base, "inspection_id": "9007199254740993", "dba_name": "\\N"},
        {**base, "inspection_id": "9007199254740992"},  # the same float64 as the one above
        {**base, "inspection_id": "3", "latitude": float("inf")},  # a JSON Infinity, not a string
        {**base, "inspection_id": "4", "latitude": float("nan")},
        {**base, "inspection_id": "5", "inspection_date": "2099-01-01T00:00:00.000"},
        {**base, "inspection_id": "6", "inspection_date": "2009-12-01T00:00:00.000"},
        {**base, "inspection_id": "7", "latitude": 41.9, "longitude": -87.6},  # JSON numbers: readable
    ]
    rows = parse_rows(json.dumps(rows))  # as the Socrata resource parses an answer
    cleaned = clean(frame_of_rows(rows), pd.Timestamp("2013-01-07"), pd.Timestamp("2013-01-14"))
    ids = cleaned.inspections["inspection_id"].tolist()
    assert ids == [7, 9007199254740992, 9007199254740993]  # both big ids, distinct
    assert cleaned.inspections.set_index("inspection_id").loc[9007199254740993, "dba_name"] == "\\N"
    reasons = dict(zip(cleaned.rejects["inspection_id"], cleaned.rejects["reason"], strict=True))
    assert reasons == {
        "3": "unreadable_coordinates",
        "4": "unreadable_coordinates",
        "5": "inspection_date_in_the_future",
        "6": "inspection_date_before_the_partitions",
    }
    assert json.loads(cleaned.rejects.set_index("inspection_id").loc["3", "row"])["latitude"] == "Infinity"
    assert (cleaned.rejects["week"] == pd.Timestamp("2013-01-07")).all()  # kept in the window they came with


@pytest.mark.parametrize("kind", ["date", "instant"])
def test_datetimes_conform_as_to_datetime_would_cast_them_whatever_their_zone_or_unit(kind):
    """A contract's date and instant columns skip pandas' to_datetime for values that are datetimes already (its cache
    probe made a Timestamp object of every value: 3 s of the demo); what they become is unchanged."""
    from chicago_food_assets.core.declarations.columns import Column, _cast

    column = Column("at", kind)
    hours = pd.Series(pd.date_range("2010-03-13", periods=6000, freq="h"))
    hours[[3, 100]] = pd.NaT
    for values in (
        hours,
        hours.astype("datetime64[us]"),
        hours.dt.tz_localize("UTC"),
        hours.dt.tz_localize("America/Chicago", ambiguous="NaT", nonexistent="NaT"),
        hours.iloc[:0],
    ):
        expected = pd.to_datetime(values, utc=kind == "instant")
        if kind == "date" and expected.dt.tz is not None:
            expected = expected.dt.tz_convert("UTC").dt.tz_localize(None)
        pd.testing.assert_series_equal(_cast(values, column), expected.astype(column.dtype))
    assert _cast(hours.astype(str).replace("NaT", None), column).equals(_cast(hours, column))  # text parses alike
