"""A snapshot of the definitions (assets, partitions, dependencies, checks, automation, jobs, schedules, sensors), so
that any change to the graph shows in review as a change of `snapshots/definitions.json`.

After an intended change, write the new snapshot and commit it with the change:
    CHICAGO_FOOD_SNAPSHOT=update .venv/bin/pytest chicago_food_assets_tests/test_definitions.py
"""

import json
import os
from pathlib import Path
from typing import Any

from dagster import AssetKey, AutomationCondition, PartitionsDefinition, TimeWindowPartitionsDefinition

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.json"


def name(key: AssetKey) -> str:
    return key.to_user_string()


def partitions(definition: PartitionsDefinition | None) -> dict[str, Any] | None:
    if definition is None:
        return None
    described: dict[str, Any] = {"kind": type(definition).__name__}
    if isinstance(definition, TimeWindowPartitionsDefinition):
        described |= {
            "cron": definition.cron_schedule,
            "start": definition.start.isoformat(),
            "timezone": definition.timezone,
            "format": definition.fmt,
            "end_offset": definition.end_offset,
        }
    return described


def condition(automation: AutomationCondition | None) -> dict[str, Any] | None:
    """An automation condition as its tree: each node's label (ours) or name (Dagster's), then its operands."""
    if automation is None:
        return None
    described: dict[str, Any] = {"node": automation.get_label() or automation.name}
    if automation.children:
        described["of"] = [condition(child) for child in automation.children]
    return described


def describe() -> dict[str, Any]:
    from chicago_food_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for definition in graph.assets_defs:
        for spec in definition.check_specs:
            reads = sorted(name(dep.asset_key) for dep in spec.additional_deps)
            described = spec.name + (" (blocking)" if spec.blocking else "") + (f" reads {reads}" if reads else "")
            checks.setdefault(name(spec.asset_key), []).append(described)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=name):
        node = graph.get(key)
        assets[name(key)] = {
            "group": node.group_name,
            "partitions": partitions(node.partitions_def),
            "reads": sorted(map(name, node.parent_keys)),
            "automation": condition(node.automation_condition),
            "checks": sorted(checks.get(name(key), [])),
        }
    jobs = {
        job.name: sorted(map(name, job.selection.resolve(graph)))
        for job in defs.jobs or []
        if hasattr(job, "selection")
    }
    schedules = {
        schedule.name: {
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "job": schedule.job_name,
            "default": schedule.default_status.value,
        }
        for schedule in defs.schedules or []
    }
    sensors = {
        sensor.name: {
            "type": sensor.sensor_type.value,
            "default": sensor.default_status.value,
            "interval_seconds": sensor.minimum_interval_seconds,
            "jobs": sorted(target.job_name for target in sensor.targets) if sensor.has_jobs else [],
        }
        for sensor in defs.sensors or []
    }
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_the_definitions_are_the_reviewed_snapshot():
    now = json.dumps(describe(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("CHICAGO_FOOD_SNAPSHOT") == "update":
        SNAPSHOT.write_text(now)
    assert SNAPSHOT.exists(), f"no snapshot yet: write it with CHICAGO_FOOD_SNAPSHOT=update ({__doc__})"
    assert now == SNAPSHOT.read_text(), (
        "the definitions differ from snapshots/definitions.json. If the change is intended, write the new "
        "snapshot with CHICAGO_FOOD_SNAPSHOT=update and commit it with the change"
    )
