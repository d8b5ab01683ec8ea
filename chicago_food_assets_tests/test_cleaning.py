"""Cleaning and violations parsing on real rows from the bundled sample."""

import json

import pandas as pd
import pyarrow as pa
import pytest

from chicago_food_assets.core.ingestion.cleaning import COLUMNS, clean, has_nul
from chicago_food_assets.core.ingestion.raw import frame_of_rows


@pytest.fixture(scope="module")
def by_id(sample_rows) -> dict[str, dict]:
    return {row["inspection_id"]: row for row in sample_rows}


def cleaned(*rows: dict):
    return clean(frame_of_rows([dict(row) for row in rows]))


def test_old_scheme_items_are_numbered_and_graded(by_id):
    result = cleaned(by_id["58226"])  # 2010, " | " separated
    assert result.violations[["number", "severity", "scheme"]].values.tolist() == [
        [34, "minor", "old"],
        [38, "minor", "old"],
    ]
    row = result.inspections.iloc[0]
    assert (row.critical_count, row.serious_count, row.minor_count, row.violation_count) == (0, 0, 2, 2)


def test_newline_separated_items_from_2011_are_split(by_id):
    result = cleaned(by_id["612512"])
    assert result.violations["number"].tolist() == [3, 33, 34, 40]
    assert result.violations["severity"].tolist() == ["critical", "minor", "minor", "minor"]


def test_new_scheme_reads_the_category_from_the_comments_else_from_the_number(by_id):
    result = cleaned(by_id["2315661"])  # 2019: three "PRIORITY FOUNDATION" citations and an untagged 57
    assert result.violations[["number", "severity", "scheme"]].values.tolist() == [
        [3, "priority_foundation", "new"],
        [5, "priority_foundation", "new"],
        [36, "priority_foundation", "new"],
        [57, "core", "new"],
    ]
    row = result.inspections.iloc[0]
    assert (row.critical_count, row.serious_count, row.minor_count) == (0, 3, 1)  # PF -> serious, core -> minor


def test_a_missing_violations_key_is_nothing_cited_and_an_explicit_null_is_not_recorded(by_id, sample_rows):
    """The live feed omits `violations` where nothing was cited; the bundled sample says "not recorded" with an
    explicit null (which Socrata never sends). One real inspection, sent four ways."""
    cited = next(r for r in sample_rows if r.get("violations") not in (None, "NIL") and r.get("license_"))
    without = {k: v for k, v in cited.items() if k != "violations"}
    forms = {
        "1": cited,
        "2": without,  # the key absent: nothing cited
        "3": {**cited, "violations": "NIL"},  # the older extracts' word for nothing cited
        "4": {**cited, "violations": None},  # an explicit null: not recorded
    }
    result = cleaned(*({**row, "inspection_id": id_} for id_, row in forms.items())).inspections.set_index(
        "inspection_id"
    )
    counts = ["critical_count", "serious_count", "minor_count", "violation_count"]
    assert result.loc[1, "violation_count"] > 0
    assert result.loc[2, counts].tolist() == [0, 0, 0, 0] and result.loc[3, counts].tolist() == [0, 0, 0, 0]
    assert result.loc[4, counts].isna().all()
    assert result["violations_recorded"].to_dict() == {1: True, 2: True, 3: True, 4: False}


def test_the_bundled_samples_not_recorded_rows_are_those_whose_source_had_no_violations_column(sample_rows):
    """Read from the development sample's provenance file (../shared/data), not from the sample itself."""
    from chicago_food_assets.local.sample import SOURCE, without_violations_column

    if not SOURCE.exists():
        pytest.skip(f"the development sample is not at {SOURCE}")
    unknown = without_violations_column(SOURCE)
    marked = {row["inspection_id"] for row in sample_rows if "violations" in row and row["violations"] is None}
    assert marked == {row["inspection_id"] for row in sample_rows} & unknown
    # since the City's records fill 2011-2014, about a quarter: mostly the 2019 extract without the column
    assert 10_000 < len(marked) < len(sample_rows) // 2
    recorded = cleaned(*sample_rows).inspections
    assert int((~recorded["violations_recorded"]).sum()) == len(marked & set(recorded["inspection_id"].astype(str)))


def test_typed_columns_and_real_nulls(by_id):
    row = dict(by_id["58226"])
    row.pop("aka_name")
    out = cleaned(row).inspections
    assert list(out.columns) == list(COLUMNS)
    first = out.iloc[0]
    assert first.inspection_id == 58226 and first.license == 1968898
    assert first.inspection_date == pd.Timestamp("2010-01-05") and first.week == pd.Timestamp("2010-01-04")
    assert pd.isna(first.aka_name)  # missing stays missing (the seed turned it into 0)
    assert out["latitude"].dtype == float and str(out["inspection_id"].dtype) == "Int64"
    assert first.results == "Pass" and not first.failed and first.risk in (1, 2, 3)


def test_rows_without_license_or_coordinates_and_non_outcomes_are_dropped_and_counted(by_id, sample_rows):
    no_license = next(r for r in sample_rows if "license_" not in r)
    no_coordinates = next(r for r in sample_rows if "latitude" not in r and "location" not in r and r.get("license_"))
    out_of_business = next(r for r in sample_rows if r["results"] == "Out of Business")
    result = cleaned(by_id["58226"], no_license, no_coordinates, out_of_business)
    assert len(result.inspections) == 1
    assert {k: v for k, v in result.dropped.items() if v} == {
        "missing_license": 1,
        "missing_coordinates": 1,
        "not_an_outcome": 1,
    }


def test_duplicate_ids_keep_the_last_and_identical_rows_under_other_ids_are_reported(by_id):
    original = by_id["58226"]
    edited = {**original, "results": "Fail"}
    twin = {**original, "inspection_id": "999999901"}
    result = cleaned(original, edited, twin)
    assert result.dropped["duplicate_inspection_id"] == 1
    kept = result.inspections.set_index("inspection_id")
    assert kept.loc[58226, "results"] == "Fail"  # the later edit wins
    assert result.identical_under_other_ids == 0  # the twin equals the original, not the edit
    result = cleaned(original, twin)
    assert result.identical_under_other_ids == 1 and len(result.inspections) == 2


def test_unparseable_rows_go_to_rejects_with_their_reason(by_id):
    base = by_id["58226"]
    rows = [
        {**base, "inspection_id": "A-17"},
        {**base, "inspection_id": "900000001", "results": "Passed?"},
        {**base, "inspection_id": "900000002", "latitude": "Infinity"},
        {**base, "inspection_id": "900000003", "license_": "ABC"},
        {**base, "inspection_id": "900000004", "inspection_date": "2010-13-45T00:00:00.000"},
    ]
    result = cleaned(base, *rows)
    assert len(result.inspections) == 1
    assert result.rejects["reason"].tolist() == [
        "unreadable_inspection_id",
        "unknown_result",
        "unreadable_coordinates",
        "unreadable_license",
        "unreadable_inspection_date",
    ]
    assert json.loads(result.rejects["row"].iloc[0])["inspection_id"] == "A-17"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Restaurant", "Restaurant"),
        ("TAVERN", "Tavern"),
        ("1023 CHILDERN'S SERVICE FACILITY", "Children's Services Facility"),
        ("PUBLIC SHCOOL", "School"),
        ("Daycare Above and Under 2 Years", "Daycare Above and Under 2 Years"),
        ("DAYCARE", "Daycare (2 - 6 Years)"),
        ("Mobile Food Dispenser", "Mobile Food"),
        ("GROCERY/RESTAURANT", "Restaurant"),
        ("  grocery   store ", "Grocery Store"),
        ("NIL", "Other"),
        ("HELICOPTER TERMINAL", "Other"),
    ],
)
def test_facility_type_spellings_map_to_a_canonical_list_keeping_the_raw_value(by_id, raw, canonical):
    out = cleaned({**by_id["58226"], "facility_type": raw}).inspections.iloc[0]
    assert out.facility_type == canonical
    assert out.facility_type_raw == raw.strip()


@pytest.mark.parametrize(
    ("raw", "kind", "again"),
    [
        ("Canvass", "canvass", False),
        ("Canvass Re-Inspection", "canvass", True),
        ("Complaint-Fire", "complaint", False),
        ("Suspected Food Poisoning Re-inspection", "suspected_food_poisoning", True),
        ("License-Task Force", "task_force", False),
        ("License", "license", False),
        ("TASK FORCE LIQUOR 1474", "task_force", False),
        ("Tag Removal", "other", False),
    ],
)
def test_inspection_types_become_a_kind_and_a_reinspection_flag(by_id, raw, kind, again):
    out = cleaned({**by_id["58226"], "inspection_type": raw}).inspections.iloc[0]
    assert (out.inspection_kind, out.reinspection) == (kind, again)


def test_risk_all_is_high_and_missing_risk_stays_missing(by_id):
    base = by_id["58226"]
    no_risk = {k: v for k, v in base.items() if k != "risk"} | {"inspection_id": "900000010"}
    result = cleaned({**base, "risk": "All"}, no_risk)
    assert result.inspections["risk"].tolist()[0] == 1 and pd.isna(result.inspections["risk"].tolist()[1])
    assert result.repaired["risk_all_as_high"] == 1


def test_coordinates_come_from_location_when_the_fields_are_absent_and_swaps_are_fixed(by_id):
    base = {k: v for k, v in by_id["58226"].items() if k not in ("latitude", "longitude")}
    swapped = {**base, "inspection_id": "900000011", "location": {"latitude": "-87.67", "longitude": "41.96"}}
    result = cleaned(base, swapped)
    own = base["location"]
    assert result.inspections[["latitude", "longitude"]].values.tolist() == [
        [float(own["latitude"]), float(own["longitude"])],
        [41.96, -87.67],
    ]
    assert result.repaired["coordinates_from_location"] == 2
    assert not result.inspections["outside_chicago"].any()


def test_the_whole_sample_cleans_without_loss_of_accounting(sample_rows):
    raw = frame_of_rows(sample_rows)
    result = clean(raw)
    accounted = len(result.inspections) + len(result.rejects) + sum(result.dropped.values())
    assert accounted == len(raw)
    assert result.inspections["inspection_id"].is_unique
    assert set(result.violations["scheme"]) == {"old", "new"}
    assert result.unparsed_violation_items == 0 and result.unknown_violation_numbers == 0


def test_violations_parsed_in_chunks_are_the_same_as_at_once(sample_rows, monkeypatch):
    """Chunking bounds the parser's memory at full scale; it must not change a single item or count."""
    from chicago_food_assets.core.ingestion import violations

    raw = frame_of_rows(sample_rows[:20_000])
    whole = clean(raw)
    monkeypatch.setattr(violations, "CHUNK_ROWS", 1_234)
    chunked = clean(raw)
    assert len(whole.violations) > 1_000
    pd.testing.assert_frame_equal(whole.violations, chunked.violations)
    pd.testing.assert_frame_equal(whole.inspections, chunked.inspections)
    assert whole.unparsed_violation_items == chunked.unparsed_violation_items


def test_swapped_coordinates_are_swapped_back_and_counted(by_id):
    """A row with latitude -87.7 and longitude 41.9 was stored as outside Chicago and ranked first on its list."""
    real = by_id["58226"]
    swapped = {**real, "inspection_id": "900000021", "latitude": real["longitude"], "longitude": real["latitude"]}
    result = cleaned(real, swapped)
    points = result.inspections.set_index("inspection_id")[["latitude", "longitude"]]
    assert (
        points.loc[900000021].tolist()
        == points.loc[58226].tolist()
        == [
            float(real["latitude"]),
            float(real["longitude"]),
        ]
    )
    assert result.repaired["coordinates_swapped"] == 1
    assert not result.inspections["outside_chicago"].any()


def test_coordinates_outside_chicago_are_rejected_with_their_reason(by_id):
    real = by_id["58226"]
    far = {**real, "inspection_id": "900000022", "latitude": "40.7128", "longitude": "-74.0060"}  # New York
    result = cleaned(real, far)
    assert result.inspections["inspection_id"].tolist() == [58226]
    assert result.rejects[["inspection_id", "reason"]].values.tolist() == [["900000022", "coordinates_outside_chicago"]]
    assert json.loads(result.rejects["row"].iloc[0])["latitude"] == "40.7128"  # the row itself is kept


def test_an_implausible_violations_text_is_rejected_not_counted_as_a_thousand_violations(by_id):
    """A 1 MB violations text became 4,690 violation rows (critical_count 1,102) and ranked second on its list."""
    real = by_id["2315661"]
    item = real["violations"].split(" | ")[0]
    huge = {**real, "inspection_id": "900000023", "violations": " | ".join([item] * 4_690)}
    result = cleaned(real, huge)
    assert result.inspections["inspection_id"].tolist() == [2315661]
    assert result.rejects[["inspection_id", "reason"]].values.tolist() == [["900000023", "implausible_violations"]]
    assert set(result.violations["inspection_id"]) == {2315661}


def test_a_nul_character_is_found_in_any_value_and_only_where_it_is():
    """The NUL search scans a column's whole character buffer first: a NUL in bytes outside the values (a slice of a
    larger array) must not mark a row, and one in a value must mark that row only."""
    whole = pa.array(["a\x00b", "clean", None, "also clean", "x\x00"])
    assert has_nul(pa.chunked_array([whole])).tolist() == [True, False, False, False, True]
    assert has_nul(pa.chunked_array([whole.slice(1, 3)])).tolist() == [False, False, False]
    assert has_nul(pa.chunked_array([whole.slice(3), whole.slice(1, 1)])).tolist() == [False, True, False]
    assert has_nul(pa.chunked_array([], type=pa.string())).tolist() == []


def test_nothing_cited_is_read_in_any_letter_case(by_id):
    """ "NIL", "nil" or "Nil": recorded, nothing cited (counts 0), never an item."""
    real = by_id["2315661"]
    rows = [
        {**real, "inspection_id": f"90000003{i}", "violations": word} for i, word in enumerate(["NIL", "nil", " Nil "])
    ]
    result = cleaned(*rows)
    assert result.violations.empty and result.unparsed_violation_items == 0
    assert result.inspections["violation_count"].tolist() == [0, 0, 0]
