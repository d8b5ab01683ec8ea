"""The weekly visit list: every establishment due for a canvass inspection in a week, as known before it began.

The register (`register`) says, from everything dated before the week, what each establishment is (its latest names,
address, coordinates, facility type and risk), when it was inspected and whether it still exists (a visit that found
it out of business or not located, with no inspection after it, closes it). Chicago inspects by risk: risk 1 twice
a year, risk 2 once a year, risk 3 every other year, counted from the last canvass (or, never canvassed, the last
inspection); a place is due when that time has passed by the end of the week. The due places become planned canvass
inspections on the week's Monday (`planned`), whose features come from `own.build`, the function training's
rows come from.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from chicago_food_assets.core import dates
from chicago_food_assets.core.arrow import TEXT
from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.contracts import ESTABLISHMENTS, VISIT_LIST
from chicago_food_assets.core.features import own
from chicago_food_assets.core.models import reasons, scoring

if TYPE_CHECKING:
    from chicago_food_assets.core.models.training import Selected

# visits without an outcome that say the place is gone; `No Entry` and `Not Ready` say it is there
CLOSED = {"Out of Business": "out_of_business", "Business Not Located": "not_located"}
ACTIVE = "active"
COLUMNS = ESTABLISHMENTS.names
COUNTS = ("critical_count", "serious_count", "minor_count")  # a planned inspection's: unknown


@dataclass(frozen=True)
class ListSettings:
    frequency_days: Mapping[int, int] = field(default_factory=lambda: dict(canvass.FREQUENCY_DAYS))
    include_not_due: bool = False  # list every active place, due or not (the due ones are still marked)
    within_years: float = 3.0  # only places inspected or visited in the last N years (older ones are likely gone)
    max_length: int | None = None  # the list's length at most (the riskiest first)


class FutureWeekError(ValueError):
    """A list was asked for a week its data cannot speak for yet."""


def register(inspections: pd.DataFrame, visits: pd.DataFrame, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per establishment from its clean inspections and its visits without an outcome (both dated before
    `before`, when given). The latest known value of each attribute wins (a missing value does not erase an older
    one); the status is the latest event's: a closing visit with no inspection after it, else active."""
    if before is not None:
        inspections = inspections[inspections["inspection_date"] < before]
        visits = visits[visits["inspection_date"] < before]
    attributes = ["license", "dba_name", "aka_name", "address", "zip", "latitude", "longitude"]
    kept = [*attributes, "facility_type", "risk", "chain", "results"]
    from_inspections = inspections[["inspection_id", "inspection_date", "establishment", *kept]].assign(
        outcome=True,
        canvass=canvass.is_canvass(inspections),
    )
    from_visits = visits[["inspection_id", "inspection_date", "establishment", *attributes, "risk", "results"]]
    from_visits = from_visits.assign(outcome=False, canvass=False)
    types = {"latitude": float, "longitude": float, "risk": "Float64", "license": "Int64"}
    events = (
        pd.concat([part.astype(types) for part in (from_inspections, from_visits) if len(part)], ignore_index=True)
        if len(from_inspections) or len(from_visits)
        else from_inspections
    )
    if events.empty:
        return ESTABLISHMENTS.empty()
    # Events are put in (establishment, date, id) order by their positions only: each attribute's latest non-null
    # value is the one at its highest position among its non-null rows (one integer group-by per column), so only
    # one row per establishment of each column is ever taken, not the whole table sorted (a list is built every
    # week over all of history).
    code, places = pd.factorize(events["establishment"], sort=True)
    order = np.lexsort(
        (events["inspection_id"].to_numpy(dtype=np.int64), dates.day_numbers(events["inspection_date"]), code)
    )
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    by_place = pd.Series(position).groupby(code)

    def latest(column: str, rows: np.ndarray | None = None) -> pd.Series:
        """Per establishment, the value of `column` at its last event (among `rows`, and non-null)."""
        known = events[column].notna().to_numpy(dtype=bool) & (True if rows is None else rows)
        last = pd.Series(np.where(known, position, -1)).groupby(code).max().to_numpy()
        found = last >= 0
        values = events[column].take(order[np.where(found, last, 0)]).reset_index(drop=True)
        return values.where(found).set_axis(places)

    inspected = events["outcome"].to_numpy(dtype=bool)
    last_event = order[by_place.max().to_numpy()]
    closing = events["results"].take(last_event).map(CLOSED).to_numpy(dtype=object)
    last_was_inspection = inspected[last_event]
    dated = events["inspection_date"].where(inspected)
    out = pd.DataFrame({column: latest(column) for column in [*attributes, "facility_type", "risk", "chain"]})
    out = out.assign(
        first_inspection=dated.groupby(code).min().to_numpy(),
        last_inspection=dated.groupby(code).max().to_numpy(),
        last_canvass=events["inspection_date"]
        .where(events["canvass"].to_numpy(dtype=bool))
        .groupby(code)
        .max()
        .to_numpy(),
        last_result=latest("results", inspected),
        last_visit=latest("inspection_date"),
        last_visit_result=latest("results"),
        status=np.where(pd.notna(closing) & ~last_was_inspection, closing, ACTIVE),
    )
    out.index.name = "establishment"
    out = out[out["last_inspection"].notna()]  # never inspected with an outcome: nothing to score it on
    return ESTABLISHMENTS.conform(out.reset_index()[list(COLUMNS)])


def due_dates(places: pd.DataFrame, frequency_days: Mapping[int, int] = canvass.FREQUENCY_DAYS) -> pd.Series:
    """When each place's next canvass is due: its frequency after the last canvass, else after the last inspection.
    An unknown risk is treated as risk 1 (the most frequent)."""
    days = canvass.frequency(places["risk"], frequency_days)
    start = places["last_canvass"].fillna(places["last_inspection"])
    return start + pd.to_timedelta(days, unit="D")


def due(places: pd.DataFrame, week: pd.Timestamp, settings: ListSettings) -> pd.DataFrame:
    """The active places of the register to list for the week starting `week` (a Monday), with due date and days
    overdue on that Monday (negative: not yet due)."""
    due_date = due_dates(places, settings.frequency_days)
    recent = places["last_visit"] >= week - pd.Timedelta(days=round(365.25 * settings.within_years))
    wanted = (places["status"] == ACTIVE) & recent
    if not settings.include_not_due:
        wanted &= due_date < week + pd.Timedelta(days=7)
    chosen = places[wanted.to_numpy(dtype=bool)].copy()
    chosen["due_date"] = due_date[wanted.to_numpy(dtype=bool)]
    chosen["days_overdue"] = (week - chosen["due_date"]).dt.days.astype("Int32")
    return chosen.reset_index(drop=True)


def planned(places: pd.DataFrame, day: pd.Timestamp | pd.Series) -> pd.DataFrame:
    """Planned canvass inspections of `places` (rows of the register) on `day`: rows shaped like clean inspections,
    with no outcome yet, for `own.build`. Their ids are negative, so they never meet a real inspection's."""
    n = len(places)
    when = (
        pd.Series(pd.to_datetime(day), index=range(n)) if not isinstance(day, pd.Series) else day.reset_index(drop=True)
    )
    when = pd.to_datetime(when).dt.normalize()
    return pd.DataFrame(
        {
            "inspection_id": -np.arange(1, n + 1, dtype=np.int64),
            "week": when - pd.to_timedelta(when.dt.weekday, unit="D"),
            "inspection_date": when,
            "establishment": places["establishment"].to_numpy(dtype=object),
            "license": places["license"].to_numpy(),
            "chain": places["chain"].to_numpy(dtype=object),
            "zip": places["zip"].to_numpy(dtype=object),
            "latitude": places["latitude"].to_numpy(dtype=float),
            "longitude": places["longitude"].to_numpy(dtype=float),
            "facility_type": places["facility_type"].to_numpy(dtype=object),
            "risk": places["risk"].array,
            "results": pd.Series(pd.NA, index=range(n), dtype=TEXT),
            "failed": False,
            "inspection_kind": pd.Series("canvass", index=range(n), dtype=TEXT),
            "reinspection": False,
            **{name: pd.Series(pd.NA, index=range(n), dtype="Int16") for name in COUNTS},
        }
    )


def planned_features(
    places: pd.DataFrame, day: pd.Timestamp | pd.Series, history: pd.DataFrame, citations: pd.DataFrame | None
) -> pd.DataFrame:
    """The features of planned canvass inspections of `places` on `day`, from the clean rows of `history` dated
    before it, by the same function as every inspection's features."""
    rows = planned(places, day)
    earlier = history[history["inspection_date"] < rows["inspection_date"].max()] if len(rows) else history
    return own.build(rows, own.history_needed(rows, earlier), citations)


# what a list reads of the clean inspections: the features' history and the register's attributes
HISTORY_COLUMNS = tuple(
    dict.fromkeys(
        (
            *own.HISTORY_COLUMNS,
            "license",
            "dba_name",
            "aka_name",
            "address",
            "latitude",
            "longitude",
            "facility_type",
            "risk",
            "reinspection",
        )
    )
)


def visit_list(
    week: pd.Timestamp,
    inspections: pd.DataFrame,
    visits: pd.DataFrame,
    citations: pd.DataFrame | None,
    model: "Selected",
    settings: ListSettings = ListSettings(),
) -> pd.DataFrame:
    """The list for the week starting `week` (a Monday), from rows dated before it only: the due places of the
    register, each scored as a canvass inspection on the Monday by `model` and ranked by its deployed policy."""
    week = pd.Timestamp(week).normalize()
    earlier = inspections[inspections["inspection_date"] < week]
    chosen = due(register(earlier, visits, before=week), week, settings)
    if chosen.empty:
        return VISIT_LIST.empty()
    table = planned_features(chosen, week, earlier, citations)
    score = model.score(table)
    ranked = scoring.score_table(
        table, score, model.version, model.window, reasons.explain(model, table), model.decision
    )
    out = chosen.assign(
        week=week,
        rank=ranked["rank"].to_numpy(),
        on_map=chosen["latitude"].notna().to_numpy() & chosen["longitude"].notna().to_numpy(),
        score=ranked["score"].to_numpy(),
        reasons=ranked["reasons"].to_numpy(),
        model_version=model.version,
        period=ranked["period"].to_numpy(),
    )
    out = out.sort_values("rank", kind="stable")
    if settings.max_length is not None:
        out = out.head(settings.max_length)
    return VISIT_LIST.conform(out.reset_index(drop=True)[list(VISIT_LIST.names)])


def newest_allowed(newest_week: pd.Timestamp | None) -> pd.Timestamp | None:
    """The latest week a list can be built for: the week after the newest week of stored inspections (whose rows
    are all it may read)."""
    return None if newest_week is None else pd.Timestamp(newest_week) + pd.Timedelta(days=7)


def refuse_future(week: pd.Timestamp, newest_week: pd.Timestamp | None, what: str = "list") -> None:
    """Raise `FutureWeekError` for a week the stored inspections cannot speak for yet (`what`: a list, a plan)."""
    allowed = newest_allowed(newest_week)
    if allowed is None:
        raise FutureWeekError(f"no inspections are stored: ingest weeks before building the {what} of {week:%Y-%m-%d}")
    if pd.Timestamp(week) > allowed:
        raise FutureWeekError(
            f"the {what} of {week:%Y-%m-%d} is too far in the future: the newest inspections stored are of the week "
            f"of {pd.Timestamp(newest_week):%Y-%m-%d}, so the latest {what} that can be built is {allowed:%Y-%m-%d}; "
            "ingest the weeks in between first"
        )
