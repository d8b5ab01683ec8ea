"""Alerts, end to end against real receivers: an SMTP server (aiosmtpd) and an HTTP receiver on 127.0.0.1 get
exactly one message each for a run that failed, a late week and a model that was not promoted, whatever the number
of ticks; a receiver that is down loses nothing and fails nothing."""

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetSelection, AssetSpec, DagsterInstance, RunConfig, build_sensor_context, materialize
from dagster._core.test_utils import freeze_time

from chicago_food_assets.alerting import alerts, given_up_alerts
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.core.alerts import Alert
from chicago_food_assets.definitions import defs
from chicago_food_assets.freshness import weekly_freshness
from chicago_food_assets.partitions import upcoming, weekly
from chicago_food_assets.resources.alerts import AlertResource
from chicago_food_assets.resources.storage import LocalRawIOManager
from chicago_food_assets_tests.helpers import (
    Mailbox,
    Receiver,
    free_port,
    inject,
    new_database,
    project_instance,
    smtp_server,
)

UI = "https://dagster.example.org"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as found:
        yield found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def instance(server_url, monkeypatch, tmp_path) -> Iterator[DagsterInstance]:
    """The project's own instance (dagster.yaml: PostgreSQL storage, run retries) on a database of its own."""
    with new_database(server_url) as url:
        found = project_instance(monkeypatch, url, tmp_path)
        yield found
        found.dispose()


def channels(mailbox: tuple[Mailbox, int], webhook: str) -> AlertResource:
    return AlertResource(
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_starttls=False,
        email_to="inspections-data@example.org, on-call@example.org",
        webhook_url=webhook,
        ui_url=UI,
        attempts=2,
        backoff_seconds=0.05,
        timeout_seconds=5,
    )


def failed_pull(instance: DagsterInstance, replay, socrata, tmp_path, week: str):
    """A run of `raw_inspections` for `week` while the portal answers 500 for good: every retry fails."""
    inject(replay, status=500, times=-1)
    result = materialize(
        [raw_inspections],
        partition_key=week,
        resources={"socrata": socrata, "raw_io_manager": LocalRawIOManager(base_dir=str(tmp_path / "objects"))},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    return result


def tick(instance: DagsterInstance, resource: AlertResource, cursor: str | None) -> str:
    """One evaluation of the alerts sensor, as the daemon runs it: from the cursor it stored last."""
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"alerting": resource})
    result = alerts(context)
    return result.cursor


def test_a_run_that_failed_for_good_is_told_once_by_email_and_webhook(
    instance, replay, socrata, tmp_path, mailbox, receiver
):
    failed = failed_pull(instance, replay, socrata, tmp_path, "2013-01-14")
    resource = channels(mailbox, f"http://127.0.0.1:{receiver.server_port}/hook")
    cursor = tick(instance, resource, None)
    for _ in range(2):  # later ticks, and a daemon restarted from the stored cursor: nothing new to tell
        cursor = tick(instance, resource, cursor)
    (email,) = mailbox[0].messages
    (post,) = receiver.posts
    assert "a run failed after its retries" in email["Subject"] and "raw_inspections" in email["Subject"]
    assert email["To"] == "inspections-data@example.org, on-call@example.org"
    body = email.get_content()
    assert f"{UI}/runs/{failed.run_id}" in body and "weeks: 2013-01-14" in body and "500" in body
    assert post["alert"]["kind"] == "run_failed" and post["alert"]["run_id"] == failed.run_id
    assert f"{UI}/runs/{failed.run_id}" in post["text"] and post["blocks"][0]["type"] == "header"


def test_a_week_missing_at_its_deadline_is_one_late_alert(instance, mailbox, receiver):
    # Monday 2013-07-01 10:00 in Chicago: past the 09:00 deadline, and nothing of 2013-06-24 was materialized
    monday = datetime(2013, 7, 1, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    # the two assets as the checks see them (their weekly partitions), without the pipeline behind them
    assets = [AssetSpec("score_monitoring", partitions_def=weekly), AssetSpec("visit_list", partitions_def=upcoming)]

    def evaluate():
        with freeze_time(monday):
            return materialize(
                [*assets, *weekly_freshness],
                selection=AssetSelection.checks(*weekly_freshness),
                instance=instance,
                raise_on_error=False,
            )

    evaluations = {e.asset_key.to_user_string(): e for e in evaluate().get_asset_check_evaluations()}
    assert not evaluations["score_monitoring"].passed and not evaluations["visit_list"].passed
    evaluate()  # and again before the sensor's next tick: both runs are read in one tick
    resource = channels(mailbox, f"http://127.0.0.1:{receiver.server_port}/hook")
    cursor = tick(instance, resource, json.dumps({"after": 0}))  # the run is dated 2013: read from the start
    evaluate()  # evaluated again (as after a write of an older week): the same weeks are still late, told once
    tick(instance, resource, cursor)
    late = sorted(post["alert"]["weeks"][0] for post in receiver.posts)
    assert [post["alert"]["kind"] for post in receiver.posts] == ["late", "late"]
    assert late == ["2013-06-24", "2013-07-01"]  # the week that ended (monitoring) and the week's list
    assert len(mailbox[0].messages) == 2 and all("a week is late" in m["Subject"] for m in mailbox[0].messages)


def test_a_model_refused_by_the_promotion_rule_is_told_once(instance, pipeline, mailbox, receiver):
    resources = pipeline["resources"]
    refused = materialize(
        list(defs.assets),
        selection=["selected_model"],
        resources=resources,
        run_config=RunConfig({"selected_model": {"config": {"promotion_floor": 0.99}}}),
        instance=instance,
        raise_on_error=False,
    )
    assert not refused.success
    resource = channels(mailbox, f"http://127.0.0.1:{receiver.server_port}/hook")
    cursor = tick(instance, resource, None)
    tick(instance, resource, cursor)
    (post,) = receiver.posts
    (email,) = mailbox[0].messages
    assert post["alert"]["kind"] == "model_not_promoted" and "not promoted" in post["alert"]["summary"]
    assert "the current model stays" in email.get_content() and refused.run_id in email.get_content()


def test_a_receiver_that_is_down_loses_nothing_and_gets_it_once_when_back(instance, replay, socrata, tmp_path, mailbox):
    failed = failed_pull(instance, replay, socrata, tmp_path, "2013-01-21")
    port = free_port()  # nobody listens here yet
    resource = channels(mailbox, f"http://127.0.0.1:{port}/hook")
    cursor = tick(instance, resource, None)  # the webhook is down: the tick itself succeeds
    state = json.loads(cursor)
    assert [item["channels"] for item in state["unsent"]] == [["webhook"]]
    assert len(mailbox[0].messages) == 1  # the email went; it is not sent again with the webhook's retry
    receiver = Receiver(port)
    try:
        cursor = tick(instance, resource, cursor)
        cursor = tick(instance, resource, cursor)
        assert [post["alert"]["run_id"] for post in receiver.posts] == [failed.run_id]
        assert len(mailbox[0].messages) == 1 and json.loads(cursor)["unsent"] == []
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_a_refusing_receiver_is_tried_once_a_tick_and_gets_every_alert_when_it_accepts(
    instance, replay, socrata, tmp_path, mailbox, receiver
):
    runs = {failed_pull(instance, replay, socrata, tmp_path, week).run_id for week in ("2013-02-04", "2013-02-11")}
    receiver.status = 500
    resource = channels(mailbox, f"http://127.0.0.1:{receiver.server_port}/hook")
    cursor = tick(instance, resource, None)
    assert len(receiver.refused) == resource.attempts  # one alert's tries; the second alert waits without a try
    assert [item["channels"] for item in json.loads(cursor)["unsent"]] == [["webhook"], ["webhook"]]
    assert len(mailbox[0].messages) == 2
    receiver.status = 200
    cursor = tick(instance, resource, cursor)
    assert {post["alert"]["run_id"] for post in receiver.posts} == runs and len(receiver.posts) == 2
    assert json.loads(cursor)["unsent"] == [] and len(mailbox[0].messages) == 2


def test_no_channel_configured_sends_nothing_and_does_not_replay_the_past_later(instance, replay, socrata, tmp_path):
    failed_pull(instance, replay, socrata, tmp_path, "2013-01-28")
    off = AlertResource()
    assert off.channels() == []
    cursor = tick(instance, off, None)
    assert json.loads(cursor)["unsent"] == [] and json.loads(cursor)["after"] is not None


def test_weeks_given_up_are_told_once_and_again_only_after_they_recover():
    first = given_up_alerts(["2013-02-04"], set())
    assert [a.kind for a in first] == ["weeks_given_up"] and first[0].weeks == ["2013-02-04"]
    assert given_up_alerts(["2013-02-04"], {"2013-02-04"}) == []  # the next ticks
    assert [a.weeks for a in given_up_alerts(["2013-02-04", "2013-03-04"], {"2013-02-04"})] == [["2013-03-04"]]


def test_an_alert_kind_outside_the_runbook_is_refused():
    with pytest.raises(ValueError, match="unknown alert kind"):
        Alert("something", "key", "summary")
