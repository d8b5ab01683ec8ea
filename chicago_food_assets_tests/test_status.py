"""`./run status` as a person reads it: whole lines, plain words and what to do, the model's full version and its
target named as a target, stale data as ATTENTION, drift judged on the newest weeks outside training."""

import pandas as pd
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, MetadataValue

from chicago_food_assets.core.models import scoring
from chicago_food_assets.operations import health, status


def evaluation(check: str, asset: str, metadata: dict, blocking: bool = False) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=AssetKey(asset),
        check_name=check,
        passed=False,
        metadata={k: MetadataValue.text(v) if isinstance(v, str) else v for k, v in metadata.items()},
        severity=AssetCheckSeverity.WARN,
        blocking=blocking,
    )


def test_a_late_week_reads_in_plain_words_with_what_to_do_not_epoch_stamps_and_parameter_dicts():
    """ATTENTION lines printed raw metadata (an epoch timestamp, a parameters dict), cut before their explanation."""
    late = evaluation(
        health.FRESHNESS_CHECK,
        "score_monitoring",
        {
            "dagster/latest_cron_tick_timestamp": MetadataValue.float(1764580000.0),
            "dagster/freshness_params": MetadataValue.json({"deadline_cron": "0 9 * * 1", "timezone": "x"}),
        },
    )
    said = health.explain(late)
    assert "not ready by its deadline" in said and "To do:" in said
    assert "1764580000" not in said and "{" not in said
    other = health.explain(
        evaluation(
            "size",
            "clean_inspections",
            {"dagster/last_updated_timestamp": MetadataValue.float(1764580000.0), "rows": 3, "params": {"a": 1}},
            blocking=True,
        )
    )
    assert "stopped the rest of its run" in other and "2025-12-01" in other and "rows 3" in other
    assert "{" not in other and "To do:" in other


def test_status_lines_are_wrapped_whole_never_cut(monkeypatch, capsys):
    long = "word " * 120 + "THE-END"
    monkeypatch.setattr(status, "collect", lambda: [status.Line("checks", status.ATTENTION, long)])
    assert status.main() == 1
    printed = capsys.readouterr().out
    assert "THE-END" in printed
    body = [line for line in printed.splitlines() if line.strip() and "need attention" not in line]
    assert len(body) > 3 and all(len(line) <= 120 for line in body)
    assert all(line.startswith(" " * len("ATTENTION checks  ")) for line in body[1:])


def test_drift_is_judged_on_the_newest_weeks_outside_training():
    """The drift check failed on 2010 training weeks while the status said 'drift last 4 weeks: 0'."""
    weeks = pd.date_range("2010-01-04", periods=20, freq="7D")
    monitoring = pd.DataFrame({"week": weeks, "facility_type": "All", "count": 100, "psi": 0.0})
    monitoring.loc[monitoring["week"] < "2010-03-01", "psi"] = 0.9  # training weeks differ among themselves
    cutoff = weeks[10]
    judged = scoring.recent(monitoring, cutoff)
    assert judged["week"].tolist() == list(weeks[-4:])
    assert scoring.drifting(judged).empty and not scoring.drifting(monitoring).empty
    monitoring.loc[monitoring["week"] == weeks[-1], "psi"] = 0.5
    assert scoring.drifting(scoring.recent(monitoring, cutoff))["week"].tolist() == [weeks[-1]]
    assert scoring.recent(monitoring, "2031-01-06").empty


def test_a_list_week_the_partitions_do_not_have_is_refused_with_the_reason():
    """`visit_list` for a far-future week, a Tuesday or a week before the partitions stopped with
    DagsterInvalidSubsetError and no reason."""
    from chicago_food_assets.local.launcher import refused_partitions

    def asked(week: str, select: str = "visit_list", flag: str = "--partition") -> str | None:
        return refused_partitions(["asset", "materialize", "--select", select, flag, week])

    assert "after visit_list's newest week" in (asked("2031-01-06") or "")
    assert "is a Tuesday" in (asked("2013-03-05") or "") and "2013-03-04 for that day" in (asked("2013-03-05") or "")
    assert "before the first week (2010-01-04)" in (asked("2009-03-02") or "")
    assert "not a date" in (asked("last-week") or "")
    assert asked("2013-03-04") is None and asked("2013-03-04...2013-04-01", flag="--partition-range") is None
    assert "Wednesday" in (asked("2013-03-04...2013-03-06", "raw_inspections", "--partition-range") or "")
    assert refused_partitions(["asset", "list"]) is None
    # the week under way is a list's and a plan's, not a week of data: past the launcher's shortcut (a week of
    # `weekly` is every partitioned asset's), the definitions decide
    from chicago_food_assets.assets.partitions import upcoming, weekly
    from chicago_food_assets.definitions import defs

    under_way = upcoming.get_last_partition_key()
    assert asked(under_way) is None and "after raw_inspections's newest week" in (
        asked(under_way, "raw_inspections") or ""
    )
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        if partitions is not None:
            assert set(weekly.get_partition_keys()) <= set(partitions.get_partition_keys()), key


def test_a_signal_to_a_launched_command_stops_its_whole_group(tmp_path):
    """Killing `./run dagster ...` left its `dagster` child running (and `./run api` its server)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from chicago_food_assets.local import servers

    script = (
        "import sys; from chicago_food_assets.local import servers; "
        "env = {'CHICAGO_FOOD_STATE_DIR': sys.argv[1], 'PATH': '/usr/bin:/bin'}; "
        "sys.exit(servers.run('dagster', ['sleep', '300'], env))"
    )
    # started from a process that ignores SIGTERM and SIGHUP (nohup, some CI runners, a busy pytest worker): an
    # ignored signal stays ignored across exec, so the server ignored the stop and was killed 10 s later (exit 247)
    ignoring = (signal.SIGTERM, signal.SIGHUP)
    launcher = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        preexec_fn=lambda: [signal.signal(sig, signal.SIG_IGN) for sig in ignoring] and None,
    )
    deadline = time.monotonic() + 20
    while not list((tmp_path / "servers").glob("dagster-*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    [record] = list((tmp_path / "servers").glob("dagster-*.json"))
    child = int(record.stem.split("-")[1])
    started = time.monotonic()
    os.kill(launcher.pid, signal.SIGTERM)
    assert launcher.wait(15) == 0
    assert time.monotonic() - started < servers.PATIENCE  # stopped by the signal, not killed after the wait
    assert not servers._running(child) and not record.exists()

    # and ./run stop finds a recorded group and stops it
    # (the stray starts with SIGTERM's default action whatever this worker inherited or an earlier test left ignored)
    def default_term() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    stray = subprocess.Popen(["sleep", "300"], start_new_session=True, preexec_fn=default_term)
    (tmp_path / "servers" / f"api-{stray.pid}.json").write_text(f'{{"name": "api", "pid": {stray.pid}}}')
    assert servers.stop_all(tmp_path) == ["api"]
    assert stray.wait(10) == -signal.SIGTERM
