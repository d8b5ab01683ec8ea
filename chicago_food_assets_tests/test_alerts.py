"""Alerts, end to end against real receivers: an SMTP server (aiosmtpd) and an HTTP receiver on 127.0.0.1 get
exactly one message each for a run that failed, a late week and a model that was not promoted, whatever the number
of ticks; a receiver that is down loses nothing and fails nothing; and the real daemon, killed and started again,
tells nothing twice."""

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetSelection, AssetSpec, DagsterInstance, RunConfig, build_sensor_context, materialize
from dagster._core.test_utils import freeze_time

from chicago_food_assets.assets.partitions import upcoming, weekly
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.automation.freshness import weekly_freshness
from chicago_food_assets.definitions import defs
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.operations.alerts import alerts, given_up_alerts
from chicago_food_assets.operations.messages import Alert
from chicago_food_assets.resources.alerts import AlertResource
from chicago_food_assets.resources.storage import LocalRawIOManager
from chicago_food_assets_tests.helpers import (
    Mailbox,
    Receiver,
    daemon_settings,
    free_port,
    inject,
    launch,
    new_database,
    project_instance,
    rows_between,
    smtp_server,
    start_daemon,
    wait,
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


@pytest.mark.system  # a daemon
@pytest.mark.faults
@pytest.mark.timeout(900)
def test_the_daemon_tells_a_failed_run_once_by_email_and_webhook_across_a_restart(
    server_url, tmp_path, sample_rows, monkeypatch
):
    """The project's dagster.yaml, the daemon running its sensors with the alert settings from the environment: a
    run whose pulls fail for good is told once to a real SMTP server and a real webhook, and a daemon killed and
    started again (resuming the alerts sensor from its stored cursor) tells it no second time."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with (
        new_database(server_url) as dagster_url,
        new_database(server_url) as tables_url,
        ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-01-21")) as replay,
        smtp_server() as (mailbox, smtp_port),
    ):
        receiver = Receiver(free_port())
        settings = {
            **daemon_settings(home, dagster_url, tables_url, replay, tmp_path),
            "CHICAGO_FOOD_ALERT_SMTP_HOST": "127.0.0.1",
            "CHICAGO_FOOD_ALERT_SMTP_PORT": str(smtp_port),
            "CHICAGO_FOOD_ALERT_SMTP_STARTTLS": "false",
            "CHICAGO_FOOD_ALERT_EMAIL_TO": "on-call@example.org",
            "CHICAGO_FOOD_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_port}/hook",
            "CHICAGO_FOOD_UI_URL": "https://dagster.example.org",
            "CHICAGO_FOOD_ALERT_INTERVAL_SECONDS": "5",
            # the step fails for good at its first try (each try waits out the client's backoff: 31 s)
            "CHICAGO_FOOD_SOCRATA_STEP_RETRIES": "0",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        inject(replay, status=500, times=-1, match="inspection_date >= '2013-01-07")  # the pulls, not the polls
        daemon = start_daemon(tmp_path / "daemon.log")
        instance = DagsterInstance.get()
        try:
            failed = launch("2013-01-07")
            wait(lambda: instance.get_run_by_id(failed).is_failure, 300, "the run failed", tmp_path / "daemon.log")
            wait(lambda: receiver.posts and mailbox.messages, 180, "the alert arrived", tmp_path / "daemon.log")
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(30)
            restarted = time.time()
            daemon = start_daemon(tmp_path / "daemon-restarted.log")

            def ticks_since_restart() -> int:
                [state] = [s for s in instance.all_instigator_state() if s.name == "alerts"]
                found = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10)
                return sum(tick.timestamp > restarted for tick in found)

            wait(
                lambda: ticks_since_restart() >= 2,
                300,
                "two ticks after the restart",
                tmp_path / "daemon-restarted.log",
            )
            told = [post["alert"] for post in receiver.posts]
            # the daemon's freshness sensor also finds this empty instance's weeks late: told too, once each
            assert {alert["kind"] for alert in told} <= {"run_failed", "late"}, told
            assert [alert["run_id"] for alert in told if alert["kind"] == "run_failed"] == [failed]
            keys = [alert["key"] for alert in told]
            assert len(keys) == len(set(keys)) and len(mailbox.messages) == len(told)  # nothing twice, each by both
            [email] = [m for m in mailbox.messages if "a run failed" in m["Subject"]]
            assert f"https://dagster.example.org/runs/{failed}" in email.get_content()
            assert instance.get_run_by_id(failed).tags.get("dagster/will_retry") != "true"  # a step failure
        finally:
            instance.dispose()
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(30)
            receiver.shutdown()
            receiver.server_close()


@pytest.mark.faults
def test_a_receiver_that_trickles_is_given_up_at_the_deliverys_deadline():
    """A webhook that trickles one byte every 5 s made each alerts tick fail at 60 s ('Unable to reach the user code
    server') and slowed every other sensor to a tick a minute: per-read timeouts never tripped."""
    import socket
    import threading
    import time

    from chicago_food_assets.operations.messages import Alert

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                listener.settimeout(0.5)
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                if stop.wait(1.0):
                    break
                try:
                    connection.send(bytes([byte]))
                except OSError:
                    break
            connection.close()

    threading.Thread(target=trickle, daemon=True).start()
    slow = AlertResource(
        webhook_url=f"http://127.0.0.1:{port}/hook",
        attempts=3,
        backoff_seconds=0.1,
        timeout_seconds=5,
        deadline_seconds=3,
    )
    alert = Alert("run_failed", "k1", "a run failed", "detail", weeks=[], run_id="r", job="weekly")
    started = time.monotonic()
    try:
        assert slow.send(alert, slow.channels()) == ["webhook"]
        assert time.monotonic() - started < 5, "the deadline is the whole delivery's, retries included"
    finally:
        stop.set()
        listener.close()


def test_a_webhook_that_answers_in_time_is_delivered_and_an_error_status_is_a_failure():
    from chicago_food_assets.operations.messages import Alert
    from chicago_food_assets_tests.helpers import Receiver, free_port

    port = free_port()
    receiver = Receiver(port)
    resource = AlertResource(webhook_url=f"http://127.0.0.1:{port}/hook?x=1", attempts=1, deadline_seconds=5)
    alert = Alert("run_failed", "k2", "a run failed", "detail", weeks=[], run_id="r", job="weekly")
    assert resource.send(alert, ["webhook"]) == [] and len(receiver.posts) == 1
    receiver.status = 500
    assert resource.send(alert, ["webhook"]) == ["webhook"] and len(receiver.refused) == 1
    receiver.shutdown()
