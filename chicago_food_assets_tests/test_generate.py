"""The feed generator: its marginals are the declared ones, it is seeded, and the pipeline's parts read it."""

import gzip
import json
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.ingestion.raw import FIELDS, frame_of_rows
from chicago_food_assets.local.generate import generate, read_sample, write
from chicago_food_assets.local.generate.marginals import fit, load
from chicago_food_assets.local.replay.soda import Table

ROWS = 30_000

# the generator's CLI in a process of its own, writing a feed of tens of thousands of rows: outside the fast tier
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> tuple[list[dict], bytes]:
    out = tmp_path_factory.mktemp("feed") / "feed.jsonl.gz"
    command = [sys.executable, "-m", "chicago_food_assets.local.generate", "--rows", str(ROWS), "--seed", "7"]
    subprocess.run([*command, "--last", "2024-12-31", "--out", str(out)], check=True, capture_output=True)
    data = out.read_bytes()
    return [json.loads(line) for line in gzip.decompress(data).splitlines()], data


def distance(values: pd.Series, declared: dict[str, float]) -> float:
    """Total variation distance between the values' shares and the declared shares."""
    got = values.fillna("(missing)").value_counts(normalize=True)
    return 0.5 * sum(abs(got.get(k, 0.0) - declared.get(k, 0.0)) for k in set(got.index) | set(declared))


def test_the_declared_marginals_are_those_of_the_bundled_sample():
    assert load()["fitted"] == json.loads(json.dumps(fit(read_sample())))


@pytest.mark.parametrize(
    ("field", "tolerance"),
    [("facility_type", 0.05), ("risk", 0.02), ("inspection_type", 0.02), ("results", 0.02)],
)
def test_the_generated_marginals_match_the_declared_ones(feed, field, tolerance):
    rows, _ = feed
    frame = pd.DataFrame(rows)
    # facility types come per place (about 4,000 here), so they wander more than per-visit fields
    assert distance(frame[field], load()["fitted"][field]) < tolerance


def test_rows_are_shaped_like_the_socrata_answer(feed):
    rows, _ = feed
    assert ROWS * 0.97 < len(rows) < ROWS * 1.03
    assert all(set(row) <= set(FIELDS) for row in rows)
    assert all(isinstance(v, str) for row in rows[:2000] for k, v in row.items() if k not in ("location", "violations"))
    located = [row for row in rows if "location" in row]
    assert located and located[0]["location"] == {
        "latitude": located[0]["latitude"],
        "longitude": located[0]["longitude"],
    }
    assert any("facility_type" not in row for row in rows)  # absent keys, never nulls
    assert not any(v is None for row in rows for k, v in row.items() if k != "violations")
    # violations: cited (text), nothing cited (the key absent, as Socrata sends it), or not recorded (a null, as the
    # bundled sample marks its extracts without the column), the last in its declared share
    kinds = pd.Series(["absent" if "violations" not in r else r["violations"] is None for r in rows]).value_counts()
    assert kinds[False] > 0.3 * len(rows) and kinds["absent"] > 0.1 * len(rows)
    assert kinds[True] / len(rows) == pytest.approx(load()["assumed"]["violations_not_recorded"], abs=0.01)
    passes = [r for r in rows if r["results"] == "Pass" and r.get("violations", "") is not None]
    assert sum("violations" not in r for r in passes) / len(passes) > 0.3  # most clean passes cite nothing
    days = pd.to_datetime([row["inspection_date"] for row in rows], errors="coerce")
    assert days.min() >= pd.Timestamp("2010-01-04") and days.max() <= pd.Timestamp("2024-12-31")
    assert (days.dropna().dayofweek < 5).mean() > 0.999  # weekdays (a handful of malformed dates aside)
    assert len({row["license_"] for row in rows if "license_" in row}) > ROWS / 10


def test_both_violation_schemes_and_the_dirt_are_there(feed):
    rows, _ = feed
    frame = frame_of_rows(rows)
    old = frame["inspection_date"] < "2018-07-01"
    assert frame.loc[old, "violations"].str.contains(r"^\d{1,2}\. ", regex=True).sum() > 1000
    numbers = frame.loc[~old, "violations"].str.extractall(r"(?:^|\| )(\d{1,2})\. ")[0].astype(int)
    assert numbers.max() > 44 and numbers.max() <= 63  # the new scheme's numbering
    ids = frame["inspection_id"]
    assert ids.duplicated().sum() > 10  # corrections: the same id again, later in the file
    assert (frame["facility_type"].str.isupper() & frame["facility_type"].str.endswith(" ")).sum() > 10
    assert (frame["license_"] == "N/A").sum() + (frame["zip"] == "6061").sum() > 0
    assert (pd.to_numeric(frame["latitude"], errors="coerce") < 0).sum() > 5  # swapped coordinates
    late = pd.to_numeric(ids).diff().lt(0) | pd.to_datetime(frame["inspection_date"], errors="coerce").diff().lt(
        pd.Timedelta(days=-60)
    )
    assert late.sum() > 50  # rows out of date order: published late


def test_the_same_seed_writes_the_same_bytes(feed, tmp_path):
    _, data = feed
    out = tmp_path / "again.jsonl.gz"
    write(generate(ROWS, seed=7, last=date(2024, 12, 31)), out)
    assert out.read_bytes() == data
    other = generate(2_000, seed=8, last=date(2024, 12, 31))
    assert (
        not other["inspection_date"]
        .head(50)
        .equals(generate(2_000, seed=9, last=date(2024, 12, 31))["inspection_date"].head(50))
    )


def test_the_cleaner_and_the_replay_server_take_it(feed):
    rows, _ = feed
    table = Table(rows)  # corrections replace their first version, as an edit on the portal does
    assert len(table.rows) == len({row["inspection_id"] for row in rows})
    cleaned = clean(frame_of_rows(table.rows))
    kept = len(cleaned.inspections)
    assert kept > 0.9 * len(table.rows)
    assert sum(cleaned.dropped.values()) > 0 and len(cleaned.rejects) > 0  # dirt counted, not silently lost
    visits = cleaned.inspections.sort_values("inspection_date", kind="stable")
    visits = visits[~visits["reinspection"]]
    failed = visits["failed"].astype(float)
    seen = visits.groupby("license").cumcount()
    prior = (failed.groupby(visits["license"]).cumsum() - failed) / seen.where(seen > 0)
    known = seen >= 3
    risky = prior[known] > prior[known].median()
    assert failed[known][risky].mean() > 1.3 * failed[known][~risky].mean()  # the latent risk persists


def test_a_feed_that_reaches_today_runs_up_to_the_last_complete_week(tmp_path):
    """The week under way is not a partition yet: `./run demo --data` on a live-like feed stops before it."""
    from datetime import timedelta

    from chicago_food_assets.assets.partitions import week_of
    from chicago_food_assets.local.demo import data_weeks

    out = tmp_path / "today.jsonl"
    write(generate(3_000, seed=1, first=date.today() - timedelta(days=120), last=date.today()), out)
    first, last = data_weeks(out)
    assert date.fromisoformat(last) == week_of(date.today()) - timedelta(days=7)
    assert date.fromisoformat(first) <= date.today() - timedelta(days=112)
