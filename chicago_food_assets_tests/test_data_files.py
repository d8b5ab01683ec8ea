"""`./run demo --data FILE` takes the files users have: JSON lines (gzip or not, whatever the name), a JSON array,
the portal's CSV export; a cut line is a reject with its number; anything else is one line that says what it is."""

import gzip
import json
import re
import subprocess

import pytest

from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.replay.files import ACCEPTED, DataFileError, load
from chicago_food_assets_tests.helpers import bash, portal_csv, processes_of, user_environment

TINY = PROJECT / "examples" / "tiny_inspections.jsonl.gz"


@pytest.fixture(scope="module")
def tiny() -> list[str]:
    """The example file's lines (real rows, 1,686 of them)."""
    return gzip.decompress(TINY.read_bytes()).decode().splitlines()


def test_json_lines_gzip_or_plain_whatever_the_name_and_a_json_array_read_the_same(tiny, tmp_path):
    rows = [json.loads(line) for line in tiny]
    plain_named_gz = tmp_path / "rows.jsonl.gz"
    plain_named_gz.write_text("\n".join(tiny) + "\n")  # a plain file named .gz
    gz_named_plain = tmp_path / "rows.jsonl"
    gz_named_plain.write_bytes(TINY.read_bytes())
    array = tmp_path / "rows.json"
    array.write_text(json.dumps(rows))
    for path, form in ((plain_named_gz, "JSON lines"), (gz_named_plain, "JSON lines"), (array, "JSON array")):
        loaded = load(path)
        assert loaded.form == form and loaded.rows == rows and loaded.rejects == []


def test_the_portals_csv_export_becomes_the_apis_rows(tiny, tmp_path):
    loaded = load(portal_csv(tiny, tmp_path / "Food_Inspections.csv"))
    assert loaded.form == "portal CSV export" and loaded.renamed["License #"] == "license_"
    expected = [json.loads(line) for line in tiny]
    assert len(loaded.rows) == len(expected)
    for got, want in zip(loaded.rows, expected, strict=True):
        assert got["inspection_date"] == want["inspection_date"][:10] + "T00:00:00.000"
        for name in ("inspection_id", "license_", "dba_name", "results", "latitude"):
            value = want.get(name)  # the example's odd rows send some values as JSON numbers: a CSV cell is text
            assert got.get(name) == (None if value is None or value == "" else str(value))
        # an empty cell is an absent field (nothing cited), as in the API: the portal's CSV has no "not recorded"
        assert ("violations" in got) == (want.get("violations") is not None)


def test_other_exports_names_are_mapped_to_the_apis(tiny, tmp_path):
    path = tmp_path / "renamed.jsonl"
    rows = [json.loads(line) for line in tiny]
    path.write_text(
        "\n".join(json.dumps({("license" if k == "license_" else k): v for k, v in r.items()}) for r in rows)
    )
    loaded = load(path)
    assert loaded.renamed == {"license": "license_"}
    assert sum("license_" in row for row in loaded.rows) == sum("license_" in row for row in rows) > 1000


@pytest.mark.faults
def test_a_cut_last_line_is_a_reject_with_its_number_and_the_rest_is_kept(tiny, tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(tiny)[: -len(tiny[-1]) // 2])  # the last line cut in the middle
    loaded = load(path)
    assert len(loaded.rows) == len(tiny) - 1 == 1685
    assert [number for number, _ in loaded.rejects] == [len(tiny)]
    assert "not complete JSON" in loaded.rejects[0][1]
    assert f"line {len(tiny)}: not complete JSON" in " ".join(loaded.describe(path))


@pytest.mark.faults
def test_a_cut_gzip_file_is_refused_as_cut_not_read_as_lines(tmp_path):
    """A download that stopped was accepted: its end counted as 'line 2' of two unreadable lines, the rest ran."""
    cut_gzip = tmp_path / "cut.jsonl.gz"
    whole = TINY.read_bytes()
    cut_gzip.write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(DataFileError) as failure:
        load(cut_gzip)
    message = str(failure.value)
    assert "the gzip file is cut short" in message and str(cut_gzip) in message and "\n" not in message


@pytest.mark.faults
def test_json_lines_are_split_at_newlines_only(tiny, tmp_path):
    """U+2028 and U+0085 are legal inside JSON strings; str.splitlines broke such a row into unreadable pieces."""
    rows = [json.loads(line) for line in tiny[:3]]
    rows[1]["dba_name"] = "CAFE\u2028NORTH\u0085SIDE\u000b\u001c"
    path = tmp_path / "odd.jsonl"
    path.write_text("\r\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    loaded = load(path)
    assert loaded.rejects == [] and loaded.rows == rows


@pytest.mark.faults
def test_an_inspection_id_sent_twice_is_counted_and_named(tiny, tmp_path):
    """The same id twice with conflicting results kept the last row and counted the other nowhere."""
    rows = [json.loads(line) for line in tiny[:50]]
    edited = {**rows[10], "results": "Fail" if rows[10].get("results") != "Fail" else "Pass"}
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [*rows, edited]))
    loaded = load(path)
    assert len(loaded.rows) == 51 and loaded.repeated == [str(rows[10]["inspection_id"])]
    described = " ".join(loaded.describe(path))
    assert "1 rows repeat an inspection_id" in described and str(rows[10]["inspection_id"]) in described


@pytest.mark.faults
def test_a_future_dated_row_does_not_stretch_the_weeks(tiny, tmp_path):
    """One row dated 2030 is rejected by cleaning, yet it stretched the demo to 734 weeks."""
    from chicago_food_assets.local.demo import data_weeks

    rows = [json.loads(line) for line in tiny]
    future = {**rows[0], "inspection_id": "990000001", "inspection_date": "2030-06-03T00:00:00.000"}
    path = tmp_path / "future.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [*rows, future]))
    assert load(path).days() == load(TINY).days()
    assert data_weeks(path) == data_weeks(TINY)


@pytest.mark.faults
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        (b"", "the file is empty"),
        (b"hello, world\nthis is not data\n", "not a file of inspections (it starts 'hello, world')"),
        (b'{"name": "a"}\n{"name": "b"}\n', "no row has both inspection_id and inspection_date"),
        (b'[{"inspection_id": "1"', "a JSON array that is cut or malformed"),
        (b"\x1f\x8b\x08\x00garbage", "a damaged gzip file"),
    ],
    ids=["binary", "empty", "prose", "json without inspections", "cut array", "damaged gzip"],
)
def test_anything_else_gets_one_line_that_says_what_it_is_and_what_is_accepted(tmp_path, content, says):
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(DataFileError) as failure:
        load(path)
    message = str(failure.value)
    assert says in message and ACCEPTED in message and "\n" not in message


@pytest.mark.faults
def test_a_refused_data_file_leaves_the_state_folder_as_it_was(state, tmp_path):
    """A state folder that works; `./run demo --data` with a file that is not inspections: one line, exit 2, no
    traceback, and the folder still replays its own data for the next command."""
    env = user_environment(state)
    assert bash("./run env", env).returncode == 0
    record = (state / "replay.json").read_text()
    bad = tmp_path / "notes.txt"
    bad.write_text("meeting notes\nnothing to see\n")
    failed = bash(f"./run demo --data {bad}", env)
    assert failed.returncode != 0
    assert f"{bad}: not a file of inspections" in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr + failed.stdout
    assert (state / "replay.json").read_text() == record  # the running replay server untouched
    assert not (state / "source.json").exists()  # nothing remembered
    again = bash("./run env", env)
    assert again.returncode == 0 and "SOCRATA_DOMAIN" in again.stdout
    subprocess.run(["./run", "stop"], cwd=PROJECT, env=env, capture_output=True, timeout=120)


@pytest.mark.faults
def test_a_small_portal_csv_stops_with_one_message_naming_the_settings_and_leaves_nothing(tiny, tmp_path, state):
    """A 200-row portal CSV ingested, then training stopped with 'need more than 12 weeks with >= 50 rows, have 0',
    naming no setting; every refused attempt left a new state folder and a running PostgreSQL."""
    env = user_environment(state)
    small = portal_csv(tiny[:200], tmp_path / "Food_Inspections.csv")
    failed = bash(f"./run demo --data {small}", env)
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0, said
    assert "holdout_weeks" in said and "min_week_rows" in said and "--train-config" in said, said
    assert "Traceback" not in said
    assert not state.exists(), "the state folder this demo made is left behind"
    assert processes_of(state) == []
    # the settings the message names are ones that work on this file
    suggested = dict(re.findall(r"(holdout_weeks|min_week_rows): (\d+)", said))
    config = tmp_path / "small.yaml"
    config.write_text(
        "ops:\n  trained_models:\n    config:\n"
        + "".join(f"      {name}: {value}\n" for name, value in suggested.items())
        + "  selected_model:\n    config:\n      promotion_floor: 0\n"  # 200 rows cannot reach the quality gate
    )
    ran = bash(f"./run demo --data {small} --train-config {config}", env)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "selected model" in ran.stdout
    assert "visit lists: no place is due a canvass" in ran.stdout  # the empty lists explained


@pytest.mark.faults
def test_a_refused_file_in_a_new_state_folder_starts_nothing_and_leaves_no_folder(tmp_path, state):
    env = user_environment(state)
    bad = tmp_path / "cut.jsonl.gz"
    bad.write_bytes(TINY.read_bytes()[:5000])
    failed = bash(f"./run demo --data {bad}", env)
    assert failed.returncode != 0 and "cut short" in failed.stdout + failed.stderr
    assert not state.exists() and processes_of(state) == []
