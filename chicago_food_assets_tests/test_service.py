"""The score API: the real Litestar app under uvicorn, over a socket, reading pipeline output as the read-only role."""

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pandas as pd
import psycopg2
import pytest
import requests
from openapi_spec_validator import validate

from chicago_food_assets.core.declarations.contracts import CONTRACTS
from chicago_food_assets.local.embedded import stop_embedded_postgres, with_database
from chicago_food_assets.resources.postgres import PostgresResource, Table
from chicago_food_assets.resources.tables import read_table, write_table
from chicago_food_assets_tests.conftest import ARTIFACTS, needs_chromium
from chicago_food_assets_tests.helpers import api_get as get
from chicago_food_assets_tests.helpers import new_database, serve_api
from service.api.schemas import SERVED_MODEL
from service.api.versions import SERVED
from service.db import READER, Database, ensure_reader

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scores(pipeline) -> pd.DataFrame:
    return read_table(pipeline["postgres"], "food", "inspection_scores")


def test_health_and_ready_name_the_model(api, pipeline):
    assert get(api, "/health").json() == {"status": "ok"}
    ready = get(api, "/ready")
    assert ready.status_code == 200
    version = read_table(pipeline["postgres"], "food", "current_model")["model_version"].item()
    assert ready.json() == {"status": "ready", "model_version": version}


def test_an_inspections_score_is_the_pipelines(api, scores):
    row = scores.sort_values("score").iloc[-1]
    body = get(api, f"/v1/inspections/{row.inspection_id}/score").json()
    assert body["score"] == pytest.approx(row.score) and body["rank"] == row["rank"]
    assert body["week"] == str(row.week.date()) and body["period"] == row.period and body["failed"] == bool(row.failed)
    assert body["model_version"] == row.model_version and body["license"] == row.license


def test_an_establishment_has_its_latest_score_and_history(api, scores):
    license_number, rows = next((k, g) for k, g in scores.groupby("license") if len(g) >= 2 and k > 0)
    body = get(api, f"/v1/establishments/{license_number}").json()
    latest = rows.sort_values(["inspection_date", "inspection_id"]).iloc[-1]
    assert body["current"]["inspection_id"] == latest.inspection_id and body["inspections_scored"] == len(rows)
    assert [h["inspection_id"] for h in body["history"]] == rows.sort_values(
        ["inspection_date", "inspection_id"], ascending=False
    )["inspection_id"].tolist()


def test_the_lookups_read_each_places_newest_score_and_its_count_as_pandas_finds_them_in_every_score(pipeline):
    """establishment_risk reads only each place's newest row and the counts from PostgreSQL (`History.latest`,
    `History.counts`); the whole scores table, sorted in pandas, gives the same rows. Both read the table now: other
    files' tests on this worker add weeks to the pipeline's scores without rebuilding the lookups."""
    from chicago_food_assets.core.declarations.contracts import INSPECTION_SCORES
    from chicago_food_assets.core.models import scoring
    from chicago_food_assets.resources.history import History

    stored = History(pipeline["postgres"])
    latest = stored.latest(INSPECTION_SCORES, "establishment", ("inspection_date", "inspection_id"))
    got = scoring.latest_by_establishment(latest, stored.counts(INSPECTION_SCORES, "establishment"))
    scores = read_table(pipeline["postgres"], "food", "inspection_scores")
    ordered = scores.sort_values(["establishment", "inspection_date", "inspection_id"], kind="stable")
    expected = ordered.drop_duplicates("establishment", keep="last").reset_index(drop=True)
    expected["inspections_scored"] = ordered.groupby("establishment").size().reindex(expected["establishment"]).values
    assert len(got) == scores["establishment"].nunique() > 1000
    pd.testing.assert_frame_equal(got, expected[list(got.columns)], check_dtype=False)


def test_a_weeks_scores_come_ranked_and_page_by_cursor_without_gaps(api, scores):
    week = scores[scores["week"] == pd.Timestamp("2013-03-04")]
    seen, cursor = [], None
    while True:
        page = get(api, "/v1/weeks/2013-03-04/scores", limit=37, **({"cursor": cursor} if cursor else {})).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [item["rank"] for item in seen] == list(range(1, len(week) + 1))
    assert sorted(item["inspection_id"] for item in seen) == sorted(week["inspection_id"])
    ranking = get(api, "/v1/models/current").json()["ranking"]
    if ranking["deployed"] == "single threshold":
        assert all(a["score"] >= b["score"] for a, b in pairwise(seen))
    else:  # per-group thresholds: each facility type's places come riskiest first, the types interleaved
        kept = {group["facility_type"] for group in ranking["groups"]} - {"Other (small groups)"}
        by_group: dict[str, list[float]] = {}
        for item in seen:
            group = item["facility_type"] if item["facility_type"] in kept else "Other (small groups)"
            by_group.setdefault(group, []).append(item["score"])
        assert len(by_group) >= 2 and all(scores == sorted(scores, reverse=True) for scores in by_group.values())
        assert [item["score"] for item in seen] != sorted((item["score"] for item in seen), reverse=True)


def test_facility_type_and_min_score_filter(api, scores):
    week = scores[scores["week"] == pd.Timestamp("2013-03-04")]
    threshold = float(week["score"].median())
    items = get(api, "/v1/weeks/2013-03-04/scores", facility_type="Restaurant", min_score=threshold, limit=500).json()[
        "items"
    ]
    expected = week[(week["facility_type"] == "Restaurant") & (week["score"] >= threshold)]
    assert len(items) == len(expected) > 0
    assert {i["facility_type"] for i in items} == {"Restaurant"} and min(i["score"] for i in items) >= threshold


@pytest.mark.faults
@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/v1/weeks/2013-03-05/scores", {}, 400, "must be the Monday"),
        ("/v1/weeks/03-04-2013/scores", {}, 400, "YYYY-MM-DD"),
        ("/v1/weeks/2013-03-04/scores", {"limit": 501}, 400, "limit"),
        ("/v1/weeks/2013-03-04/scores", {"limit": 0}, 400, "limit"),
        ("/v1/weeks/2013-03-04/scores", {"min_score": 1.5}, 400, "min_score"),
        ("/v1/weeks/2013-03-04/scores", {"cursor": "not-ours"}, 400, "cursor"),
        ("/v1/weeks/2016-06-06/scores", {}, 404, "no scores for the week of 2016-06-06"),
        ("/v1/establishments/abc", {}, 400, "license must be a whole number"),
        ("/v1/establishments/\u00b2", {}, 400, "license must be a whole number"),  # a digit to isdigit, not to int
        ("/v1/establishments/9223372036854775808", {}, 400, "at most 19 digits"),
        ("/v1/establishments/9223372036854775807", {}, 404, "no establishment"),
        ("/v1/inspections/\u2460/score", {}, 400, "inspection_id must be a whole number"),
        ("/v1/weeks/2013-03-04/scores", {"facility_type": "\x00"}, 400, "NUL"),
        ("/v1/weeks/2013-03-04/scores", {"facility_type": "x" * 101}, 400, "facility_type"),
        ("/v1/weeks/2013-03-04/scores", {"cursor": "cmFuazoyMTQ3NDgzNjQ4"}, 400, "cursor"),  # rank:2147483648
        ("/v1/weeks/2013-03-04/scores", {"cursor": "cmFuazotNQ=="}, 400, "cursor"),  # rank:-5, well formed
        ("/v1/establishments/0", {}, 400, "no license"),
        ("/v1/establishments/1", {}, 404, "no establishment with license 1"),
        ("/v1/inspections/12x/score", {}, 400, "inspection_id"),
        ("/v1/inspections/1/score", {}, 404, "no score for inspection 1"),
        ("/v1/weeks/2013-03-04/scores", {"page_size": -1}, 400, "unknown query parameter page_size"),
        ("/v1/weeks/2013-03-04/scores", {"offset": -1, "limt": 5}, 400, "unknown query parameter limt, offset"),
        ("/v1/lists/current", {"page_size": -1}, 400, "this route takes cursor, facility_type, limit"),
        ("/v1/lists/current", {"zip": "abc"}, 400, "zip must be five digits"),
        ("/v1/lists/current", {"zip": "606"}, 400, "zip must be five digits"),
        ("/v1/establishments/2", {"week": "2013-03-04"}, 400, "unknown query parameter week"),
        ("/v1/models/current", {"verbose": 1}, 400, "this route takes no query parameters"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_what_was_wrong(api, path, params, status, says):
    response = get(api, path, **params)
    assert response.status_code == status
    assert says in str(response.json())


@pytest.mark.faults
def test_injection_strings_change_nothing(api, pipeline):
    before = read_table(pipeline["postgres"], "food", "inspection_scores").shape
    attempts = [
        ("/v1/establishments/1;DROP TABLE food.inspection_scores", {}),
        ("/v1/inspections/1 OR 1=1/score", {}),
        ("/v1/weeks/2013-03-04'; DELETE FROM food.inspection_scores; --/scores", {}),
        ("/v1/weeks/2013-03-04/scores", {"facility_type": "Restaurant' OR '1'='1"}),
        ("/v1/weeks/2013-03-04/scores", {"facility_type": "x'); DROP TABLE food.current_model; --"}),
    ]
    for path, params in attempts:
        response = get(api, path, **params)
        assert response.status_code in (200, 400, 404)
        if response.status_code == 200:
            assert response.json()["items"] == []
    assert read_table(pipeline["postgres"], "food", "inspection_scores").shape == before
    assert get(api, "/ready").status_code == 200


@pytest.mark.faults
def test_the_service_role_can_only_read(pipeline, server_url):
    with new_database(server_url) as private:  # plays Dagster's database on the same server
        private_name = urlsplit(private).path.lstrip("/")
        reader = ensure_reader(pipeline["url"], private=(private_name,))
        connection = psycopg2.connect(reader)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, count(*) FROM food.inspection_scores")
            user, rows = cursor.fetchone()
            assert user == READER and rows > 0
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                cursor.execute("DELETE FROM food.inspection_scores")
            cursor.execute("SET default_transaction_read_only = off")  # out of read-only: privileges still refuse
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute("DELETE FROM food.inspection_scores")
            # a role may reset its own defaults: harmless, the service sets them on every connection it opens
            cursor.execute(f"ALTER ROLE {READER} SET default_transaction_read_only = off")
            cursor.execute(f"ALTER ROLE {READER} RESET statement_timeout")
        connection.close()
        settings = asyncio.run(session_settings(reader))
        assert settings == {"default_transaction_read_only": "on", "statement_timeout": "5s"}
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(with_database(reader, private_name)).close()
        ensure_reader(pipeline["url"])  # the defaults back for the other tests


async def session_settings(url: str) -> dict[str, str]:
    """What a connection of the service's pool runs with, and whether it may write."""
    database = Database(url)
    try:
        row = await database.fetchrow(
            "SELECT current_setting('default_transaction_read_only') AS ro, current_setting('statement_timeout') AS t"
        )
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await database.fetchrow("CREATE TEMP TABLE t (x int)")
        return {"default_transaction_read_only": row["ro"], "statement_timeout": row["t"]}
    finally:
        await database.close()


def test_the_current_model_has_its_windows_metrics_and_fairness(api, pipeline):
    body = get(api, "/v1/models/current").json()
    stored = read_table(pipeline["postgres"], "food", "current_model").iloc[0]
    assert body["model_version"] == stored.model_version
    # the response is the table's columns as declared (the windows named as stored), then the fairness groups
    assert list(body) == [*SERVED_MODEL, "fairness"]
    windows = ("training_from", "holdout_from", "holdout_to")
    assert [body[name] for name in windows] == [str(stored[name].date()) for name in windows]
    assert set(body["metrics"]) >= {"xgboost", "knn", "logistic", "baseline_fail_rate"}
    assert "Restaurant" in {g["facility_type"] for g in body["fairness"]}
    assert body["metrics"][body["name"]]["roc_auc"] > 0.5
    pooled = {row["model"]: row for row in body["backtest"] if row["cutoff"] == "pooled"}
    assert {"xgboost", "knn", "logistic", "baseline_fail_rate"} <= set(pooled)
    assert (
        pooled[body["name"]]["roc_auc_low"] <= pooled[body["name"]]["roc_auc"] <= pooled[body["name"]]["roc_auc_high"]
    )
    assert "pooled backtest ROC AUC" in body["selected_because"]
    assert body["ranking"]["deployed"] in ("single threshold", "per-group thresholds") and body["ranking"]["why"]
    assert set(body["ranking"]["days_earlier"]) == {"single threshold", "per-group thresholds"}
    assert body["target"] == "failed"  # the default
    chicago = {row["model"]: row for row in body["chicago"] if row["cutoff"] == "pooled"}
    assert chicago[body["name"]]["rows"] <= pooled[body["name"]]["rows"]  # canvass only, each window's first 60 days
    assert body["chicago"] == json.loads(stored.chicago)  # per window and pooled, as published
    assert set(chicago[body["name"]]) >= {
        "roc_auc",
        "days_earlier",
        "first_half_real",
        "first_half_model",
        "found_later",
    }


def test_the_openapi_document_is_valid_and_lists_the_routes(api):
    document = get(api, "/schema/openapi.json").json()
    validate(document)
    assert {
        "/health",
        "/ready",
        "/v1/inspections/{inspection_id}/score",
        "/v1/establishments/{license}",
        "/v1/weeks/{week}/scores",
        "/v1/weeks/{week}/scores.csv",
        "/v1/weeks/{week}/scores.parquet",
        "/v1/models/current",
        "/v1/lists/{week}",
        "/v1/lists/{week}/visits.csv",
        "/v1/lists/{week}/visits.parquet",
        "/v1/lists/evaluation",
    } <= set(document["paths"])
    for path, item in document["paths"].items():  # every data route documents its validators and its 304
        if path.startswith("/v1/"):
            answers = item["get"]["responses"]
            assert "304" in answers and {"ETag", "Cache-Control"} <= set(answers["200"]["headers"]), path


@pytest.mark.faults
def test_a_database_outage_gives_503_and_the_service_recovers_by_itself(pipeline):
    """The database is stopped and restarted under the running service."""
    with tempfile.TemporaryDirectory(prefix="cfa-outage-") as folder:
        os.chmod(folder, 0o755)
        data = Path(folder) / "pg"
        start = [
            sys.executable,
            "-c",
            f"from chicago_food_assets.local.embedded import start_embedded_postgres as s; "
            f"from pathlib import Path; print(s(Path({str(data)!r})))",
        ]
        admin = with_database(
            subprocess.run(start, capture_output=True, text=True, check=True).stdout.strip(), "chicago_food"
        )
        target = PostgresResource(url=admin)
        for name in SERVED:  # the pipeline's output, copied to a server we can stop
            write_table(target, Table("food", CONTRACTS[name]), read_table(pipeline["postgres"], "food", name), None)
        process, base = serve_api(ensure_reader(admin))
        try:
            license_number = read_table(target, "food", "establishment_risk")["license"].iloc[0]
            assert get(base, f"/v1/establishments/{license_number}").status_code == 200
            stop_embedded_postgres(data)
            assert get(base, "/ready").status_code == 503
            time.sleep(1.1)  # past the second for which the cached answer is the current publication
            down = get(base, f"/v1/establishments/{license_number}")
            assert down.status_code == 503 and down.json() == {"status_code": 503, "detail": "database unavailable"}
            assert down.headers["Retry-After"] == "5"
            assert get(base, "/health").status_code == 200  # the process itself is fine
            subprocess.run(start, capture_output=True, check=True)
            assert get(base, "/ready").status_code == 200
            assert get(base, f"/v1/establishments/{license_number}").status_code == 200
            # restarts under load: requests running when the pool is torn down get 503, never 500
            statuses: list[int] = []
            stop_flag = threading.Event()

            def poll() -> None:
                with requests.Session() as session:
                    while not stop_flag.is_set():
                        statuses.append(
                            session.get(f"{base}/v1/establishments/{license_number}", timeout=10).status_code
                        )

            pollers = [threading.Thread(target=poll) for _ in range(4)]
            for poller in pollers:
                poller.start()
            for _ in range(3):
                time.sleep(0.5)
                stop_embedded_postgres(data)
                time.sleep(0.3)
                subprocess.run(start, capture_output=True, check=True)
            time.sleep(1)
            stop_flag.set()
            for poller in pollers:
                poller.join()
            assert set(statuses) <= {200, 503} and statuses.count(503) > 0 and statuses[-1] == 200
        finally:
            process.terminate()
            process.wait(30)
            stop_embedded_postgres(data)


@needs_chromium
def test_the_api_docs_render_offline_in_a_browser(api, browser):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{api}/schema")
    page.locator(".swagger-ui .info .title").filter(has_text="Chicago food inspection risk").wait_for(timeout=20_000)
    page.locator(".opblock-summary-path", has_text="/v1/establishments/{license}").wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)
    assert requested and all(url.startswith(api) for url in requested), [u for u in requested if not u.startswith(api)]
    page.close()


@pytest.mark.faults
def test_schemathesis_finds_no_server_error_over_the_openapi_schema(api, tmp_path):
    """Property-based requests generated from the service's own OpenAPI document: every answer is below 500."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{api}/schema/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "150",
            "--generation-allow-x00",
            "true",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    generated = int(re.search(r"(\d+) generated", done.stdout).group(1))
    assert generated > 500 and " 0 passed" not in done.stdout


def test_data_answers_carry_the_publications_etag_and_revalidate_to_304(api, pipeline):
    first = get(api, "/v1/models/current")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    assert "ETag" not in get(api, "/health").headers  # operations routes are not data
    again = requests.get(api + "/v1/models/current", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    license = int(read_table(pipeline["postgres"], "food", "establishment_risk")["license"].iloc[0])
    same = requests.get(f"{api}/v1/establishments/{license}", headers={"If-None-Match": etag}, timeout=10)
    assert same.status_code == 304  # one version for every data route: the publication, not the resource

    postgres = pipeline["postgres"]  # a run publishes the lookups again: a new version, the old ETag goes stale
    lookups = read_table(postgres, "food", "establishment_risk")
    write_table(postgres, Table("food", CONTRACTS["establishment_risk"]), lookups, None)
    time.sleep(1.2)  # the API trusts the version it read for at most a second
    fresh = requests.get(api + "/v1/models/current", headers={"If-None-Match": etag}, timeout=10)
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert fresh.json()["model_version"] == first.json()["model_version"]


def test_large_answers_are_gzipped(api, scores):
    week = str(scores["week"].value_counts().idxmax().date())
    answer = requests.get(
        f"{api}/v1/weeks/{week}/scores", params={"limit": 500}, headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert len(answer.json()["items"]) > 20  # requests decompressed it: the body is whole JSON


def test_a_client_over_the_rate_limit_gets_429_with_retry_after(pipeline):
    process, base = serve_api(ensure_reader(pipeline["url"]), CHICAGO_FOOD_API_RATE_LIMIT="minute:5")
    try:
        answers = [get(base, "/v1/models/current") for _ in range(7)]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        limited = answers[5]
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.json()["status_code"] == 429
        assert get(base, "/health").status_code == 200  # operations routes are never limited
    finally:
        process.terminate()
        process.wait(10)


def test_tables_written_before_publications_were_counted_are_served_without_etags(api, pipeline):
    def rename(old: str, new: str) -> None:
        with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE food.{old} RENAME TO {new}")

    rename("publications", "publications_hidden")
    try:
        time.sleep(1.2)
        answer = get(api, "/v1/models/current")
        assert answer.status_code == 200 and "ETag" not in answer.headers
    finally:
        rename("publications_hidden", "publications")
    time.sleep(1.2)
    assert "ETag" in get(api, "/v1/models/current").headers


def test_a_week_exports_whole_as_csv_and_parquet(api, scores):

    import pyarrow.parquet as pq

    week = scores["week"].value_counts().idxmax().date()
    expected = scores[scores["week"].dt.date == week].sort_values("rank")
    csv = requests.get(f"{api}/v1/weeks/{week}/scores.csv", timeout=10)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert f'filename="scores-{week}.csv"' in csv.headers["Content-Disposition"] and "ETag" in csv.headers
    assert csv.headers["Transfer-Encoding"] == "chunked"  # streamed as PostgreSQL hands the rows over
    table = pd.read_csv(io.StringIO(csv.text))
    assert list(table.columns) == [*CONTRACTS["inspection_scores"].names, "dba_name", "aka_name", "address", "zip"]
    assert table["inspection_id"].tolist() == expected["inspection_id"].tolist()  # riskiest first, all of them
    parquet = requests.get(f"{api}/v1/weeks/{week}/scores.parquet", timeout=10)
    assert parquet.status_code == 200 and parquet.headers["Content-Type"] == "application/vnd.apache.parquet"
    frame = pq.read_table(io.BytesIO(parquet.content)).to_pandas()
    assert frame["inspection_id"].tolist() == expected["inspection_id"].tolist()
    assert frame["score"].to_numpy() == pytest.approx(expected["score"].to_numpy())
    assert requests.get(f"{api}/v1/weeks/2031-01-06/scores.csv", timeout=10).status_code == 404
    tuesday = week + timedelta(days=1)
    assert requests.get(f"{api}/v1/weeks/{tuesday}/scores.parquet", timeout=10).status_code == 400


def test_cached_answers_are_served_without_a_query(api, pipeline):
    """With the tables locked against every reader, an answer already cached still comes back at once (and the
    same); one not cached waits on the lock."""
    licenses = read_table(pipeline["postgres"], "food", "establishment_risk")["license"]
    cached, other = (int(n) for n in licenses[licenses > 0].iloc[:2])
    first = get(api, f"/v1/establishments/{cached}")
    assert first.status_code == 200
    locker = psycopg2.connect(pipeline["url"])
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLE food.establishment_risk, food.inspection_scores IN ACCESS EXCLUSIVE MODE")
            start = time.perf_counter()
            again = get(api, f"/v1/establishments/{cached}")
            assert again.status_code == 200 and time.perf_counter() - start < 0.5
            assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(f"{api}/v1/establishments/{other}", timeout=1.5)
    finally:
        locker.rollback()
        locker.close()


def test_publishing_while_a_client_polls_never_mixes_two_versions(api, pipeline):
    """A run publishes new scores and lookups (two tables, two transactions) while a client polls: every answer is
    whole (its body belongs to its ETag, one body per ETag), versions never go back, and the new one arrives."""
    postgres = pipeline["postgres"]
    scores = read_table(postgres, "food", "inspection_scores")
    lookups = read_table(postgres, "food", "establishment_risk")
    license = int(lookups.loc[lookups["license"] > 0, "license"].iloc[0])
    answers: list[tuple[str, bytes]] = []
    stop = threading.Event()

    def poll() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                answer = session.get(f"{api}/v1/establishments/{license}", timeout=10)
                assert answer.status_code == 200
                answers.append((answer.headers["ETag"], answer.content))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.5)
        write_table(postgres, Table("food", CONTRACTS["inspection_scores"]), scores.assign(score=0.4242), None)
        write_table(postgres, Table("food", CONTRACTS["establishment_risk"]), lookups.assign(score=0.4242), None)
        time.sleep(2.5)  # the version is trusted for at most a second
    finally:
        stop.set()
        poller.join(15)
        write_table(postgres, Table("food", CONTRACTS["inspection_scores"]), scores, None)
        write_table(postgres, Table("food", CONTRACTS["establishment_risk"]), lookups, None)
    bodies: dict[str, set[bytes]] = {}
    for etag, body in answers:
        bodies.setdefault(etag, set()).add(body)
    assert all(len(seen) == 1 for seen in bodies.values()), "one ETag, two different bodies"
    order = list(dict.fromkeys(etag for etag, _ in answers))  # versions in the order first seen
    assert [etag for etag, _ in answers] == sorted((e for e, _ in answers), key=order.index), "a version came back"
    old, new = json.loads(answers[0][1]), json.loads(answers[-1][1])
    assert old["current"]["score"] != 0.4242 and len(order) >= 2
    assert new["current"]["score"] == 0.4242 and {p["score"] for p in new["history"]} == {0.4242}
    for _, body in answers:  # whole: the history is all old or all new, as is the current score
        document = json.loads(body)
        assert len({p["score"] == 0.4242 for p in document["history"]}) == 1
    assert len(answers) > 100


def test_large_answers_are_brotli_compressed_for_clients_that_accept_it(api, scores):
    import brotli

    week = str(scores["week"].value_counts().idxmax().date())
    raw = requests.get(
        f"{api}/v1/weeks/{week}/scores",
        params={"limit": 500},
        headers={"Accept-Encoding": "br"},
        timeout=10,
        stream=True,
    ).raw
    assert raw.headers["Content-Encoding"] == "br"
    assert len(json.loads(brotli.decompress(raw.read(decode_content=False)))["items"]) > 20
    # the cache keeps answers compressed: a client that accepts no compression still gets plain JSON
    plain = requests.get(
        f"{api}/v1/weeks/{week}/scores", params={"limit": 500}, headers={"Accept-Encoding": "identity"}, timeout=10
    )
    assert "Content-Encoding" not in plain.headers and len(plain.json()["items"]) > 20


def test_scores_come_with_their_reasons_in_plain_words(api, pipeline, scores):
    model = get(api, "/v1/models/current").json()
    assert model["name"] in ("xgboost", "logistic"), "the sample's quick models select one with contributions"
    row = scores.sort_values("score").iloc[-1]  # the riskiest: it has reasons
    body = get(api, f"/v1/inspections/{int(row.inspection_id)}/score").json()
    assert body["reasons"] == json.loads(row.reasons) and 1 <= len(body["reasons"]) <= 3
    assert all(set(reason) == {"feature", "reason", "contribution"} for reason in body["reasons"])
    lookup = get(api, f"/v1/establishments/{int(row.license)}").json()
    assert isinstance(lookup["current"]["reasons"], list)
    week = get(api, f"/v1/weeks/{row.week.date()}/scores", limit=5).json()
    assert all(isinstance(item["reasons"], list) for item in week["items"])


@pytest.mark.faults
def test_the_reader_role_is_ensured_by_many_callers_at_once(server_url):
    """`./run api` and `./run dashboard` started together both ensure the reader: 20 callers at once on one
    database, and 4 more on a second database of the same server, all succeed and leave one working role."""
    from concurrent.futures import ThreadPoolExecutor

    with new_database(server_url) as first, new_database(server_url) as second:
        with ThreadPoolExecutor(max_workers=24) as pool:
            urls = list(pool.map(ensure_reader, [first] * 20 + [second] * 4))
        assert len(set(urls)) == 2
        for url in set(urls):
            connection = psycopg2.connect(url)
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, current_setting('default_transaction_read_only')")
                assert cursor.fetchone() == (READER, "on")
            connection.close()


def test_facility_types_match_in_any_case(api, scores):
    week = scores["week"].min()
    wanted = scores[(scores["week"] == week) & (scores["facility_type"] == "Restaurant")]
    for spelled in ("restaurant", "RESTAURANT", "Restaurant"):
        items = get(api, f"/v1/weeks/{week:%Y-%m-%d}/scores", facility_type=spelled, limit=500).json()["items"]
        assert len(items) == min(len(wanted), 500) > 0


def test_a_place_is_shown_with_its_names_and_address_not_its_license_alone(api, scores, pipeline):
    """/v1/weeks/{week}/scores had license numbers but no names or addresses."""
    from chicago_food_assets.resources.tables import read_table

    clean = read_table(pipeline["postgres"], "food", "clean_inspections").set_index("inspection_id")
    week = scores["week"].min()
    items = get(api, f"/v1/weeks/{week:%Y-%m-%d}/scores", limit=20).json()["items"]
    for item in items:
        row = clean.loc[item["inspection_id"]]
        assert (item["dba_name"], item["address"], item["zip"]) == (row["dba_name"], row["address"], row["zip"])
    one = get(api, f"/v1/inspections/{items[0]['inspection_id']}/score").json()
    assert one["dba_name"] == items[0]["dba_name"] and one["address"] == items[0]["address"]
    current = get(api, f"/v1/establishments/{items[0]['license']}").json()["current"]
    assert current["dba_name"] and current["address"]
    table = pd.read_csv(io.StringIO(get(api, f"/v1/weeks/{week:%Y-%m-%d}/scores.csv").text), dtype=str)
    assert {"dba_name", "aka_name", "address", "zip"} <= set(table.columns)
    assert table["dba_name"].notna().mean() > 0.9


def test_a_place_not_on_the_newest_list_says_why(api, pipeline):
    """/v1/establishments/2, an active place outside within_years, said "listed": null with no reason."""
    from chicago_food_assets.resources.tables import read_table

    lists = read_table(pipeline["postgres"], "food", "visit_list")
    newest = lists["week"].max()
    register = read_table(pipeline["postgres"], "food", "establishments")
    risk = read_table(pipeline["postgres"], "food", "establishment_risk")
    off = register[~register["license"].isin(lists.loc[lists["week"] == newest, "license"])]
    off = off[off["license"].isin(risk["license"]) & (off["license"] > 0)]
    said = {}
    for license in off["license"].head(40):
        answer = get(api, f"/v1/establishments/{int(license)}").json()
        assert answer["listed"] is None and answer["not_listed"], answer
        said[int(license)] = answer["not_listed"]
    not_due = [(n, why) for n, why in said.items() if why.startswith("not due that week")]
    assert not_due, said
    license, why = not_due[0]
    row = register[register["license"] == license].iloc[0]
    assert str(row["risk"] if pd.notna(row["risk"]) else 1) in why and "is due on" in why
    on = lists[lists["week"] == newest].iloc[0]
    assert get(api, f"/v1/establishments/{int(on['license'])}").json()["not_listed"] is None


def test_before_any_list_is_built_an_establishment_says_so(pipeline, server_url):
    """A deployment whose visit_list table does not exist yet (lists never built): the lookup answers, unlisted."""
    with new_database(server_url) as url:
        target = PostgresResource(url=url)
        for name in SERVED:
            if name not in ("visit_list", "list_evaluation"):
                write_table(
                    target, Table("food", CONTRACTS[name]), read_table(pipeline["postgres"], "food", name), None
                )
        process, base = serve_api(ensure_reader(url))
        try:
            license_number = int(read_table(target, "food", "establishment_risk")["license"].iloc[0])
            answer = get(base, f"/v1/establishments/{license_number}")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["listed"] is None and body["listed_week"] is None
            assert body["not_listed"] == "no visit list has been built yet" and body["current"]["dba_name"]
        finally:
            process.terminate()
            process.wait(10)
