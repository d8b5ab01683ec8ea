"""Features use only what was known before the inspection date, on real establishments' histories."""

import pandas as pd
import pytest

from chicago_food_assets.core.declarations import targets
from chicago_food_assets.core.features import own, peers
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.ingestion.establishments import chain_key
from chicago_food_assets.core.ingestion.raw import frame_of_rows


@pytest.fixture(scope="module")
def clean_sample(cleaned_sample) -> pd.DataFrame:
    return cleaned_sample.inspections


@pytest.fixture(scope="module")
def citations(cleaned_sample) -> pd.DataFrame:
    return cleaned_sample.violations


@pytest.fixture(scope="module")
def history_of(sample_rows):
    """An establishment with several inspections in the sample, its raw rows in date order."""
    by_license: dict[str, list[dict]] = {}
    for row in sample_rows:
        if row.get("license_") and row.get("latitude") and row["results"] in ("Pass", "Fail", "Pass w/ Conditions"):
            by_license.setdefault(row["license_"], []).append(row)
    return {
        license: sorted(rows, key=lambda r: (r["inspection_date"], int(r["inspection_id"])))
        for license, rows in by_license.items()
    }


def build_from(rows: list[dict]) -> pd.DataFrame:
    cleaned = clean(frame_of_rows(rows))
    return own.build(cleaned.inspections, citations=cleaned.violations).set_index("inspection_id")


def test_changing_an_inspections_violations_and_result_changes_only_later_rows(history_of):
    rows = next(r for r in history_of.values() if len(r) >= 3 and len({x["inspection_date"] for x in r}) == len(r))
    before = build_from(rows)
    middle = int(rows[1]["inspection_id"])
    changed = [dict(r) for r in rows]
    changed[1]["results"] = "Fail" if rows[1]["results"] != "Fail" else "Pass"
    changed[1]["violations"] = "1. APPROVED FOOD SOURCES - Comments: CHANGED | 15. UNWRAPPED FOOD - Comments: CHANGED"
    after = build_from(changed)
    inputs = list(own.BUILT)
    pd.testing.assert_series_equal(before.loc[middle, inputs], after.loc[middle, inputs])  # the row itself: unchanged
    assert before.loc[middle, "failed"] != after.loc[middle, "failed"]  # its targets moved
    assert after.loc[middle, "critical_found"] == True  # noqa: E712 (item 1 is critical; a pandas boolean)
    later = int(rows[2]["inspection_id"])
    assert before.loc[later, "prior_fails"] != after.loc[later, "prior_fails"]
    assert after.loc[later, "last_critical"] == 1 and after.loc[later, "last_serious"] == 1


def test_a_first_inspection_has_no_history(history_of):
    rows = next(r for r in history_of.values() if len(r) >= 2)
    first = build_from(rows).loc[int(rows[0]["inspection_id"])]
    assert first.prior_inspections == 0 and first.prior_fails == 0
    assert pd.isna(first.days_since_last) and pd.isna(first.last_result) and pd.isna(first.prior_fail_rate)


def test_history_counts_days_and_last_result(history_of):
    rows = next(r for r in history_of.values() if len(r) >= 3 and len({x["inspection_date"] for x in r}) == len(r))
    third = build_from(rows).loc[int(rows[2]["inspection_id"])]
    assert third.prior_inspections == 2
    assert third.prior_fails == sum(r["results"] == "Fail" for r in rows[:2])
    assert third.last_result == rows[1]["results"]
    gap = pd.Timestamp(rows[2]["inspection_date"][:10]) - pd.Timestamp(rows[1]["inspection_date"][:10])
    assert third.days_since_last == gap.days


def test_a_reinspection_after_a_failed_canvass_is_flagged(clean_sample):
    table = own.build(clean_sample)
    flagged = table[table["reinspection_after_failed_canvass"]]
    assert len(flagged) > 100
    assert (flagged["last_result"] == "Fail").all() and flagged["reinspection"].all()
    # and the flag is right on a concrete establishment
    row = flagged.iloc[0]
    earlier = clean_sample[
        (clean_sample["establishment"] == row.establishment) & (clean_sample["inspection_date"] < row.inspection_date)
    ]
    assert earlier.iloc[-1]["inspection_kind"] == "canvass" and earlier.iloc[-1]["failed"]


def test_inspections_on_the_same_day_do_not_see_each_other(history_of):
    base = next(r for r in history_of.values() if len(r) >= 2)[0]
    same_day = [
        {**base, "inspection_id": "900000100", "results": "Fail"},
        {**base, "inspection_id": "900000101", "results": "Fail"},
    ]
    table = build_from(same_day)
    assert table["prior_inspections"].tolist() == [0, 0] and table["prior_fails"].tolist() == [0, 0]


def test_the_last_year_window_excludes_older_inspections(history_of):
    base = next(r for r in history_of.values() if len(r) >= 1)[0]
    text = "1. SOURCE - Comments: X | 2. FACILITIES - Comments: Y"  # two critical items (old scheme)
    rows = [
        {**base, "inspection_id": "900000200", "inspection_date": "2012-01-02T00:00:00.000", "violations": text},
        {**base, "inspection_id": "900000201", "inspection_date": "2013-01-07T00:00:00.000", "violations": "NIL"},
        {**base, "inspection_id": "900000202", "inspection_date": "2013-03-04T00:00:00.000", "violations": "NIL"},
    ]
    last = build_from(rows).loc[900000202]
    assert last.inspections_last_year == 1  # 2012-01-02 is more than 365 days before 2013-03-04
    assert last.critical_last_year == 0 and last.prior_inspections == 2


def test_a_week_built_with_history_from_the_table_equals_the_full_build(clean_sample, citations):
    everything = own.build(clean_sample, citations=citations).set_index("inspection_id").sort_index()
    week = clean_sample[clean_sample["week"] == pd.Timestamp("2013-01-14")]
    history = clean_sample[clean_sample["week"] < pd.Timestamp("2013-01-14")]
    alone = own.build(week, history, citations).set_index("inspection_id").sort_index()
    pd.testing.assert_frame_equal(alone, everything.loc[alone.index], check_dtype=True)


def test_the_sample_passes_the_no_future_recomputation(clean_sample, citations):
    table = own.build(clean_sample, citations=citations)
    assert own.verify_no_future(clean_sample, table, citations=citations, sample=400) == []
    broken = table.assign(prior_inspections=table["prior_inspections"] + 1)
    assert len(own.verify_no_future(clean_sample, broken, citations=citations, sample=50)) == 50
    repeated = table.assign(repeats_last_2_years=table["repeats_last_2_years"].fillna(0) + 1)
    assert len(own.verify_no_future(clean_sample, repeated, citations=citations, sample=50)) == 50


def test_the_no_future_check_rebuilds_its_worlds_a_few_at_a_time_as_it_would_all_at_once(
    clean_sample, citations, monkeypatch
):
    """Each sampled day's world holds the city's 90 days before it: a range's sample is rebuilt a few worlds at a
    time (the full run's peak of memory was all of them in one build), and each row comes out as in one build."""
    table = own.build(clean_sample, citations=citations)
    rebuild = own._rebuild
    outputs: dict[int, list[pd.DataFrame]] = {}

    def recorded(*args, **kwargs):
        out = rebuild(*args, **kwargs)
        outputs.setdefault(own.WORLDS_AT_ONCE, []).append(out.assign(world=args[3]))
        return out

    monkeypatch.setattr(own, "_rebuild", recorded)
    for at_once in (10**6, 7, 1):
        monkeypatch.setattr(own, "WORLDS_AT_ONCE", at_once)
        assert own.verify_no_future(clean_sample, table, citations=citations, sample=60) == []
    whole, *parts = (pd.concat(outputs[n]).sort_values(["world", "inspection_id"]) for n in (10**6, 7, 1))
    assert len(outputs[10**6]) == 1 and len(outputs[1]) == whole["world"].nunique() > 40
    for part in parts:
        pd.testing.assert_frame_equal(part.reset_index(drop=True), whole.reset_index(drop=True), check_exact=True)


def test_a_feature_that_reads_the_same_day_is_caught_though_a_days_rows_share_a_world(
    clean_sample, citations, monkeypatch
):
    honest = own.build

    def leaky(inspections, history=None, citations=None):  # adds the day's fails, its own and its neighbours'
        out = honest(inspections, history, citations)
        rows = pd.concat([inspections, history]) if history is not None else inspections
        fails = rows.drop_duplicates("inspection_id").groupby("inspection_date")["failed"].sum()
        out["prior_inspections"] += inspections["inspection_date"].map(fails).to_numpy()
        return out

    monkeypatch.setattr(own, "build", leaky)
    week = clean_sample[clean_sample["week"] == pd.Timestamp("2013-01-14")]
    history = clean_sample[clean_sample["week"] < pd.Timestamp("2013-01-14")]
    table = own.build(week, history, citations)
    assert week["inspection_date"].nunique() <= 6 < 50  # fifty rows of a week: several to a day, to a world
    assert len(own.verify_no_future(week, table, history, citations, sample=50)) == 50


def test_current_violations_and_results_are_not_features():
    assert not {"results", "failed", "critical_count", "serious_count", "minor_count", "violation_count"} & set(
        own.BUILT
    )
    assert not set(targets.TARGETS) & set(own.BUILT)  # the targets are the inspection's own outcome


def test_an_empty_week_gives_an_empty_typed_table(sample_rows):
    empty = clean(frame_of_rows([])).inspections
    table = own.build(empty)
    assert list(table.columns) == list(own.COLUMNS) and len(table) == 0


def test_feature_columns_have_their_types(clean_sample):
    table = own.build(clean_sample)
    assert {
        name: str(table[name].dtype)
        for name in ("reinspection", "reinspection_after_failed_canvass", "failed", "critical_found")
    } == {
        "reinspection": "bool",
        "reinspection_after_failed_canvass": "bool",
        "failed": "bool",
        "critical_found": "boolean",  # unknown where the violations were not recorded
    }
    assert str(table["last_failed"].dtype) == "boolean" and str(table["prior_inspections"].dtype) == "Int32"


def hand_made(
    days: list[tuple[str, str, str, int | None]], citations: list[tuple[int, int, str]] | None = None, risk: int = 1
) -> pd.DataFrame:
    """One establishment's inspections (date, result, kind, critical+serious count): clean rows, features built.

    `citations` are (inspection_id, number, scheme); ids count the days from 1."""
    rows = pd.DataFrame(
        {
            "inspection_id": range(1, len(days) + 1),
            "week": [pd.Timestamp(d) - pd.Timedelta(days=pd.Timestamp(d).weekday()) for d, *_ in days],
            "inspection_date": [pd.Timestamp(d) for d, *_ in days],
            "establishment": "one",
            "chain": "ONE",
            "license": 7,
            "results": [r for _, r, *_ in days],
            "failed": [r == "Fail" for _, r, *_ in days],
            "inspection_kind": [k for *_, k, _ in days],
            "critical_count": [c for *_, c in days],
            "serious_count": [0 if c is not None else None for *_, c in days],
            "minor_count": [0 if c is not None else None for *_, c in days],
            "reinspection": [k == "reinspection" for *_, k, _ in days],
            "risk": pd.array([risk] * len(days), dtype="Int16"),
            "latitude": 41.9,
            "longitude": -87.6,
            "facility_type": "Restaurant",
            "zip": "60601",
        }
    )
    cited = None if citations is None else pd.DataFrame(citations, columns=["inspection_id", "number", "scheme"])
    return own.build(rows, citations=cited).set_index("inspection_id")


def test_richer_history_counts_fails_in_a_row_complaints_severity_and_age():
    built = hand_made(
        [
            ("2013-01-02", "Pass", "canvass", 2),  # a critical violation
            ("2013-03-04", "Fail", "complaint", 0),
            ("2013-03-11", "Fail", "reinspection", None),  # violations unknown
            ("2013-05-06", "Fail", "suspected_food_poisoning", 0),
            ("2014-04-07", "Pass", "complaint", 0),
        ]
    )
    assert built["fails_in_a_row"].tolist() == [0, 0, 1, 2, 3]
    assert built["establishment_age"].tolist() == [0, 61, 68, 124, 460]
    assert built["complaints_last_year"].tolist() == [0, 0, 1, 1, 0]  # 2013-03-04 is more than 365 days before
    assert built["food_poisoning_last_year"].tolist() == [0, 0, 0, 0, 1]
    assert built["conditional_passes_last_year"].tolist() == [0, 0, 0, 0, 0]  # none passed with conditions
    assert pd.isna(built.loc[1, "days_since_critical"])  # nothing earlier
    assert built.loc[2:5, "days_since_critical"].tolist() == [61, 68, 124, 460]  # since 2013-01-02's


def test_conditional_passes_count_the_year_before_only():
    built = hand_made(
        [
            ("2013-01-02", "Pass w/ Conditions", "canvass", 0),
            ("2013-01-02", "Pass w/ Conditions", "canvass", 0),  # the same day: not each other's history
            ("2013-06-03", "Pass", "canvass", 0),
            ("2014-01-06", "Pass w/ Conditions", "canvass", 0),  # 2013-01-02 is more than 365 days before
            ("2014-02-03", "Fail", "canvass", 0),
        ]
    )
    assert built["conditional_passes_last_year"].tolist() == [0, 0, 2, 0, 1]


def test_fails_last_year_count_the_failed_inspections_of_the_year_before_only():
    built = hand_made(
        [
            ("2013-01-02", "Fail", "canvass", 1),
            ("2013-01-02", "Fail", "complaint", 1),  # the same day: not each other's history
            ("2013-06-03", "Pass", "reinspection", 0),
            ("2014-01-06", "Fail", "canvass", 1),  # 2013-01-02's two fails are more than 365 days before
            ("2014-02-03", "Pass", "reinspection", 0),
        ]
    )
    assert built["fails_last_year"].tolist() == [0, 0, 2, 0, 1]
    assert built["prior_fails"].tolist() == [0, 0, 2, 2, 3]  # where every earlier fail counts


def test_the_canvass_schedule_counts_from_the_last_canvass_and_numbers_re_inspections():
    built = hand_made(
        [
            ("2013-01-02", "Pass", "complaint", 0),
            ("2013-02-04", "Fail", "canvass", 0),  # never canvassed before: overdue counted from the last inspection
            ("2013-02-11", "Fail", "reinspection", 0),
            ("2013-02-18", "Pass", "reinspection", 0),
            ("2013-10-07", "Pass", "canvass", 0),  # 245 days after the last canvass, risk 1's is due every 182
            ("2013-10-14", "Pass", "reinspection", 0),
        ]
    )
    assert pd.isna(built.loc[1, "days_since_canvass"]) and pd.isna(built.loc[2, "days_since_canvass"])
    assert built.loc[3:6, "days_since_canvass"].tolist() == [7, 14, 245, 7]
    assert pd.isna(built.loc[1, "days_overdue"])  # a first inspection
    assert built.loc[2:6, "days_overdue"].tolist() == [33 - 182, 7 - 182, 14 - 182, 245 - 182, 7 - 182]
    assert built["reinspection_number"].tolist() == [0, 0, 1, 2, 0, 1]


def peer_rows(
    rows: list[tuple[str, str, str | None, str | None, bool]],
    critical: list[int | None] | None = None,
    places: list[tuple[float, float] | None] | None = None,
) -> pd.DataFrame:
    """Inspections (date, establishment, chain, zip, failed) of several places, with their critical counts (0 when
    not given) and coordinates (none when not given): peer features built."""
    points = places or [None] * len(rows)
    return peers.build(
        pd.DataFrame(
            {
                "inspection_date": [pd.Timestamp(d) for d, *_ in rows],
                "establishment": [e for _, e, *_ in rows],
                "chain": [c for _, _, c, *_ in rows],
                "zip": [z for *_, z, _ in rows],
                "latitude": [p[0] if p else None for p in points],
                "longitude": [p[1] if p else None for p in points],
                "failed": [f for *_, f in rows],
                "critical_count": pd.array(critical or [0] * len(rows), dtype="Int16"),
            }
        )
    )


def test_a_chain_counts_its_other_locations_and_their_earlier_fails():
    built = peer_rows(
        [
            ("2013-01-07", "a", "SUBWAY", "60601", True),
            ("2013-01-07", "b", "SUBWAY", "60601", False),  # the same day as a's: neither sees the other
            ("2013-02-04", "b", "SUBWAY", "60601", True),
            ("2013-03-04", "a", "SUBWAY", "60602", False),
            ("2013-03-04", "c", "SUBWAY", "60602", False),
            ("2013-03-04", "d", None, "60602", True),  # no business name: no chain features
        ]
    )
    assert built["chain_locations"].tolist()[:5] == [0, 0, 1, 1, 2]
    assert built["chain_fail_rate"].tolist()[2:5] == [1.0, 0.5, 2 / 3]  # a's, then b's, then a's and b's
    assert built.loc[0:1, "chain_fail_rate"].isna().all()
    assert built.loc[5, ["chain_locations", "chain_fail_rate"]].isna().all()


def test_the_zip_fail_rate_covers_the_90_days_before_only():
    built = peer_rows(
        [
            ("2013-01-02", "a", None, "60601", True),  # 91 days before 2013-04-03: outside the window
            ("2013-01-03", "b", None, "60601", False),
            ("2013-01-03", "c", None, "60601", True),
            ("2013-04-03", "d", None, "60601", False),
            ("2013-04-03", "e", None, "60601", False),
            ("2013-04-03", "f", None, "60602", False),  # another ZIP
            ("2013-04-03", "g", None, None, False),  # no ZIP
        ]
    )
    assert built.loc[3:4, "zip_fail_rate"].tolist() == [0.5, 0.5]  # b's and c's; the city's rate is the same
    assert built.loc[[0, 6], "zip_fail_rate"].isna().all()  # nothing before it anywhere; no ZIP code
    assert built.loc[5, "zip_fail_rate"] == 0.5  # nothing in its ZIP code: the city's rate of those 90 days
    assert built.loc[1, "zip_fail_rate"] == 1.0  # only a's, the day before


def test_a_zip_codes_rate_from_few_inspections_is_weighed_toward_the_citys():
    """Two fails in three inspections say less than 20 in 30: each ZIP code's rate is pulled toward the city's by
    `peers.PRIOR` inspections' worth, so a ZIP code's handful of inspections cannot top the list on its own."""
    few = [("2013-03-01", f"few{i}", None, "60601", i < 2) for i in range(3)]
    many = [("2013-03-01", f"many{i}", None, "60602", i < 20) for i in range(30)]
    calm = [("2013-03-01", f"calm{i}", None, "60603", False) for i in range(67)]
    later = [("2013-03-04", "x", None, "60601", False), ("2013-03-04", "y", None, "60602", False)]
    built = peer_rows([*few, *many, *calm, *later])
    city = 22 / 100  # 2 + 20 fails of the 100 inspections before
    expected = [(2 + peers.PRIOR * city) / (3 + peers.PRIOR), (20 + peers.PRIOR * city) / (30 + peers.PRIOR)]
    assert built["zip_fail_rate"].iloc[-2:].tolist() == pytest.approx(expected)
    assert expected[0] < expected[1]  # raw, 2 of 3 (0.67) would rank above 20 of 30 (0.67 too, and tied)


def test_nearby_inspections_count_the_squares_around_a_place_in_the_30_days_before():
    here, next_door, far = (41.8000, -87.7000), (41.8050, -87.7050), (41.9000, -87.7000)  # 11 km north: far
    built = peer_rows(
        [
            ("2013-03-01", "a", None, "60601", True),  # 31 days before 2013-04-01: outside the window
            ("2013-03-05", "b", None, "60601", True),
            ("2013-03-06", "c", None, "60601", False),
            ("2013-03-06", "d", None, "60601", True),  # far away: not nearby
            ("2013-04-01", "e", None, "60601", False),
            ("2013-04-01", "f", None, "60601", False),  # the same day as e: neither counts the other
            ("2013-04-01", "g", None, "60601", False),  # no coordinates
        ],
        places=[here, next_door, here, far, here, next_door, None],
    )
    assert built.loc[4:5, "nearby_inspections"].tolist() == [2, 2]  # b and c
    lately = 2 / 3  # the city's rate of those 30 days: b, c and d
    assert built.loc[4, "nearby_fail_rate"] == pytest.approx((1 + peers.PRIOR * lately) / (2 + peers.PRIOR))
    assert built.loc[3, "nearby_inspections"] == 0 and built.loc[2, "nearby_inspections"] == 2  # c: a and b
    assert built.loc[[6], ["nearby_inspections", "nearby_fail_rate"]].isna().all(axis=None)


def test_the_zip_critical_rate_counts_recorded_inspections_of_the_90_days_before():
    built = peer_rows(
        [
            ("2013-01-02", "a", None, "60601", True),  # 91 days before 2013-04-03: outside the window
            ("2013-01-03", "b", None, "60601", False),
            ("2013-01-03", "c", None, "60601", True),
            ("2013-01-04", "h", None, "60601", True),  # violations not recorded: not counted either way
            ("2013-04-03", "d", None, "60601", False),
            ("2013-04-03", "f", None, "60602", False),  # another ZIP
        ],
        critical=[2, 0, 1, None, 5, 0],
    )
    assert built.loc[4, "zip_critical_rate"] == 0.5  # b's none, c's one; h unknown; d's own not its history
    assert built.loc[1, "zip_critical_rate"] == 1.0  # a's, the day before
    assert built.loc[3, "zip_critical_rate"] == 2 / 3
    assert pd.isna(built.loc[0, "zip_critical_rate"]) and built.loc[5, "zip_critical_rate"] == 0.5  # the city's


def test_peer_features_pass_the_no_future_recomputation_and_catch_a_leak(clean_sample, citations):
    table = own.build(clean_sample, citations=citations)
    # about a quarter of the sample's rows come from extracts without the ZIP column
    assert table["chain_fail_rate"].notna().mean() > 0.2 and table["zip_fail_rate"].notna().mean() > 0.7
    leaked = table.assign(zip_fail_rate=table["zip_fail_rate"].fillna(0) + 0.01)
    assert len(own.verify_no_future(clean_sample, leaked, citations=citations, sample=30)) == 30
    # the candidates are checked too, though no model reads them
    leaked = table.assign(zip_critical_rate=table["zip_critical_rate"].fillna(0) + 0.01)
    assert len(own.verify_no_future(clean_sample, leaked, citations=citations, sample=30)) == 30


def test_peer_features_asked_for_the_first_rows_only_are_those_of_the_whole_build(clean_sample):
    """A week's list asks for its 8,000 places against all their history: the rows behind them are counted but not
    queried, and the asked rows' features are exactly those of building every row."""
    rows = clean_sample.sample(frac=1.0, random_state=7).reset_index(drop=True)
    everything = peers.build(rows, own.zip_as_known(rows))
    for asked in (0, 1, 500, len(rows)):
        first = peers.build(rows, own.zip_as_known(rows), asked)
        assert len(first) == asked
        pd.testing.assert_frame_equal(first, everything.iloc[:asked], check_exact=True)
    assert everything["nearby_inspections"].notna().any() and everything["chain_fail_rate"].notna().any()


def test_branches_of_one_business_share_a_chain():
    public = pd.Series(["SUBWAY #1234", "McDonald's", "NIL", None, "7-ELEVEN", "POTBELLY SANDWICH WORKS LLC", ""])
    legal = pd.Series(["SUBWAY 12", "x", "MCDONALDS CORP", None, "y", "z", "A.B.C. Inc."])
    assert chain_key(public, legal).tolist() == [
        "SUBWAY",
        "MCDONALDS",
        "MCDONALDS",
        None,
        "7 ELEVEN",
        "POTBELLY SANDWICH WORKS",
        "ABC",
    ]


def test_a_violation_cited_again_within_2_years_is_a_repeat():
    rows = hand_made(
        [
            ("2012-01-02", "Pass", "canvass", 0),  # cites 18 and 33
            ("2012-06-04", "Pass", "canvass", 0),  # cites 18 again: a repeat
            ("2012-06-11", "Pass", "canvass", None),  # violations not recorded
            ("2014-08-04", "Pass", "canvass", 0),  # cites 33: last cited more than 730 days before
            ("2018-08-06", "Pass", "canvass", 0),  # new scheme: its 18 is another item
            ("2018-09-03", "Fail", "canvass", 0),
        ],
        citations=[(1, 18, "old"), (1, 33, "old"), (2, 18, "old"), (4, 33, "old"), (5, 18, "new")],
    )
    assert pd.isna(rows.loc[1, "last_repeats"]) and rows.loc[2, "last_repeats"] == 0
    assert rows.loc[3, "last_repeats"] == 1 and rows.loc[3, "repeats_last_2_years"] == 1
    assert rows.loc[4, ["last_repeats", "repeats_last_2_years"]].isna().all()  # nothing recorded in the 2 years
    assert rows.loc[5, "last_repeats"] == 0  # 2014's 33 was last cited more than 2 years before it
    assert pd.isna(rows.loc[5, "repeats_last_2_years"])
    assert rows.loc[6, "last_repeats"] == 0 and rows.loc[6, "repeats_last_2_years"] == 0  # old 18 is not new 18


def test_without_citations_repeated_violations_are_unknown_not_zero():
    rows = hand_made([("2012-01-02", "Pass", "canvass", 0), ("2012-06-04", "Pass", "canvass", 0)])
    assert rows[["last_repeats", "repeats_last_2_years"]].isna().all().all()


def test_citations_count_by_subject_in_both_numberings_over_the_2_years_before():
    """Old 3 (hazardous food at temperature) and new 18 (cooking) are both food temperatures; old 18 (outer openings
    rodent-proof) and new 38 are pests, new 18 is not; an old 33 (surfaces clean) is no subject."""
    rows = hand_made(
        [
            ("2012-01-02", "Pass", "canvass", 0),  # cites old 3, 18 and 33
            ("2012-06-04", "Pass", "canvass", 0),  # cites old 18 again
            ("2012-06-11", "Pass", "canvass", None),  # violations not recorded
            ("2014-08-04", "Pass", "canvass", 0),  # the 2012 citations are more than 730 days before it
            ("2018-08-06", "Fail", "canvass", 0),  # cites new 18 (cooking: temperature) and new 38 (pests)
            ("2018-09-03", "Pass", "canvass", 0),
        ],
        citations=[(1, 3, "old"), (1, 18, "old"), (1, 33, "old"), (2, 18, "old"), (5, 18, "new"), (5, 38, "new")],
    )
    subjects = ["temperature_citations_last_2_years", "pests_citations_last_2_years", "hands_citations_last_2_years"]
    assert rows.loc[1, subjects].isna().all()  # nothing before it
    assert rows.loc[2, subjects].tolist() == [1, 1, 0]
    assert rows.loc[3, subjects].tolist() == [1, 2, 0]
    assert rows.loc[4, subjects].isna().all()  # nothing recorded in the 2 years before
    assert rows.loc[6, subjects].tolist() == [1, 1, 0]  # the new numbering's subjects, 2014's rows cited nothing
    without = hand_made([("2012-01-02", "Pass", "canvass", 0), ("2012-06-04", "Pass", "canvass", 0)])
    assert without[subjects].isna().all().all()  # without citations, unknown rather than 0


def test_a_places_type_and_season_make_one_category():
    rows = hand_made([("2013-01-02", "Pass", "canvass", 0), ("2013-07-01", "Fail", "canvass", 0)])
    assert rows["facility_season"].tolist() == ["Restaurant in winter", "Restaurant in summer"]


def test_a_row_without_a_zip_code_takes_its_places_from_an_earlier_day_and_counts_in_that_zip_codes_window():
    """Some extracts dropped the ZIP column: a row without one reads the ZIP code its place had on an earlier day
    (never the same day's: features see strictly earlier days), and looks up that ZIP code's recent rates; the rows
    count in others' windows by the ZIP code they carry."""
    rows = pd.DataFrame(
        {
            "establishment": ["a", "a", "a", "b", "c"],
            "inspection_date": pd.to_datetime(["2013-01-01", "2013-01-01", "2013-02-01", "2013-02-01", "2013-01-15"]),
            "zip": ["60601", None, None, None, "60601"],
        }
    )
    assert own.zip_as_known(rows).tolist() == ["60601", None, "60601", None, "60601"]
    assert own.zip_as_known(rows.assign(zip=None)).isna().all()  # none known anywhere (it raised IndexError)
    built = peers.build(
        rows.assign(
            chain=None, latitude=None, longitude=None, failed=[True, False, False, False, True], critical_count=0
        ),
        own.zip_as_known(rows),
    )
    city = 2 / 3  # the city's 90 days before 2013-02-01: a's two rows and c's, two of them failed
    # a's 2013-02-01 row reads 60601's window: a's first row and c's (a's second carries no ZIP code): 2 fails of 2
    assert built.loc[2, "zip_fail_rate"] == pytest.approx((2 + peers.PRIOR * city) / (2 + peers.PRIOR))
    assert pd.isna(built.loc[3, "zip_fail_rate"])  # b: never had a ZIP code
