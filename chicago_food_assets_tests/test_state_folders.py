"""A user's state folder beyond the README's first hour: one environment for every tool, demos on other data side by
side, and a state folder written by an older version. A file of their own, so that they run beside the first-contact
test on another worker."""

import json
import re
import subprocess

import psycopg2
import pytest
import requests

from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets_tests.helpers import bash, portal_csv, user_environment


def test_the_environment_is_one_for_every_tool(state):
    env = user_environment(state)
    exported = bash("./run env", env)
    assert exported.returncode == 0, exported.stderr
    names = dict(re.findall(r"^export (\w+)=(.*)$", exported.stdout, flags=re.M))
    assert {"DAGSTER_HOME", "DAGSTER_POSTGRES_URL", "CHICAGO_FOOD_POSTGRES_URL", "SOCRATA_DOMAIN"} <= set(names)
    assert names["DAGSTER_HOME"].startswith(str(state)), "Dagster's home is under the state folder"
    # the same replay server and database for the next command: nothing restarts
    again = dict(re.findall(r"^export (\w+)=(.*)$", bash("./run env", env).stdout, flags=re.M))
    assert again == names
    domain = names["SOCRATA_DOMAIN"]
    assert requests.get(f"http://{domain}/resource/4ijn-s7e5.json?$limit=1", timeout=10).status_code == 200
    inside = bash('eval "$(./run env)"; python -c "import os; print(os.environ[\'SOCRATA_DOMAIN\'])"', env)
    assert inside.stdout.strip() == domain
    with psycopg2.connect(names["CHICAGO_FOOD_POSTGRES_URL"].strip("'")) as connection:
        assert connection.server_version >= 160000  # the embedded PostgreSQL 16

    stopped = bash("./run stop", env)
    assert "replay server" in stopped.stdout and "embedded PostgreSQL" in stopped.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{domain}/resource/4ijn-s7e5.json?$limit=1", timeout=5)


def test_two_demos_on_other_data_run_side_by_side_with_a_training_config(state, tmp_path):
    """Two state folders side by side: one built from JSON lines, one from the same rows as the portal's CSV export
    (its own header names and date form): every week the two share holds the same inspections."""
    plain = tmp_path / "rows.jsonl"  # not gzip: both are accepted
    subprocess.run(f"zcat {PROJECT}/examples/tiny_inspections.jsonl.gz > {plain}", shell=True, check=True)
    export = portal_csv(plain.read_text().splitlines(), tmp_path / "Food_Inspections.csv")
    files = {"a": plain, "b": export}
    config = tmp_path / "training.yaml"
    config.write_text(
        "ops:\n  trained_models:\n    config:\n      holdout_weeks: 3\n      min_week_rows: 20\n"
        "      xgboost_trees: 50\n      knn_sample: 500\n"
    )
    runs = []
    for name, (first, last) in {"a": ("2012-11-05", "2013-02-04"), "b": ("2012-11-12", "2013-03-25")}.items():
        env = user_environment(state.parent / name)
        command = f"./run demo --data {files[name]} --first {first} --last {last} --train-config {config}"
        runs.append(
            (
                name,
                env,
                subprocess.Popen(
                    ["bash", "-c", command],
                    cwd=PROJECT,
                    env=env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
            )
        )
    for name, _, process in runs:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"demo {name}:\n{out[-3000:]}\n{err[-3000:]}"
    weekly = {}
    try:
        for name, env, _ in runs:
            url = dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", bash("./run env", env).stdout, flags=re.M))[
                "CHICAGO_FOOD_POSTGRES_URL"
            ]
            with psycopg2.connect(url) as connection, connection.cursor() as cursor:
                cursor.execute(
                    # rows with citations: a CSV cell cannot say "not recorded", so such rows land as nothing cited
                    "SELECT week, count(*), count(license), count(*) FILTER (WHERE violation_count > 0) "
                    "FROM food.clean_inspections WHERE week BETWEEN '2012-11-12' AND '2013-02-04' "
                    "GROUP BY week ORDER BY week"
                )
                weekly[name] = cursor.fetchall()
                cursor.execute("SELECT min(week), max(week) FROM food.inspection_features")
                first, last = (str(day) for day in cursor.fetchone())
                cursor.execute("SELECT holdout_from, holdout_to FROM food.current_model")
                cutoff, end = cursor.fetchone()
            expected = {"a": ("2012-11-05", "2013-02-04"), "b": ("2012-11-12", "2013-03-25")}[name]
            assert first >= expected[0] and last <= expected[1]
            assert (end - cutoff).days == 21, "the training config's holdout_weeks: 3 was applied"
            source = json.loads((state.parent / name / "source.json").read_text())["data"]
            assert source == str(files[name]), "the state folder remembers its data file"
        assert len(weekly["a"]) >= 10 and weekly["a"] == weekly["b"], "the CSV export lands as the JSON lines do"
    finally:
        for _, env, _ in runs:
            bash("./run stop", env)


def test_the_demo_reads_a_model_table_of_an_older_version_as_not_yet_published(server_url):
    """A state folder whose current_model still names its windows as before (cutoff, holdout_end): the demo plans
    as if no model were published (its training stage rewrites the table) instead of failing on the column."""
    from chicago_food_assets.local.demo import published
    from chicago_food_assets_tests.helpers import new_database

    with new_database(server_url) as url:
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA food")
            cursor.execute("CREATE TABLE food.current_model (cutoff date, holdout_end date)")
            cursor.execute("INSERT INTO food.current_model VALUES ('2019-06-24', '2019-09-16')")
            cursor.execute("CREATE TABLE food.clean_inspections (week date)")
            cursor.execute("INSERT INTO food.clean_inspections VALUES ('2020-05-04')")
        assert published(url) == (None, "2020-05-04")
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("DROP TABLE food.current_model")
            cursor.execute("CREATE TABLE food.current_model (holdout_from date, holdout_to date)")
            cursor.execute("INSERT INTO food.current_model VALUES ('2019-06-24', '2019-09-16')")
        assert published(url) == (("2019-06-24", "2019-09-16"), "2020-05-04")
