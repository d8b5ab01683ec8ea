"""`./run demo --data FILE` takes the files users have: JSON lines (gzip or not, whatever the name), a JSON array,
the portal's CSV export; a cut line is a reject with its number; anything else is one line that says what it is."""

import gzip
import json
import subprocess

import pytest

from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.replay.files import ACCEPTED, DataFileError, load
from chicago_food_assets_tests.helpers import bash, portal_csv, user_environment

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
    cut_gzip = tmp_path / "cut.jsonl.gz"
    whole = TINY.read_bytes()
    cut_gzip.write_bytes(whole[: len(whole) * 3 // 4])  # a download that stopped
    loaded = load(cut_gzip)
    assert 1000 < len(loaded.rows) < len(tiny)
    assert "the gzip stream ends early" in " ".join(why for _, why in loaded.rejects)


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
