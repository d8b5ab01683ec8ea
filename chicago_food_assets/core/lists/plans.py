"""The weekly plan's choice: which places of a week's visit list a team can visit, within its capacity.

A week's list holds every place due (thousands); a team makes a few hundred canvass visits. The capacity is the
team's (inspectors x visits per inspector-day x working days), or, when the team is not given, what the data says the
City's team does: the median weekly count of canvass inspections over the last complete weeks before the plan's week.
A **policy** fills it from the list's candidates:
- `due`: the most overdue first, as the frequency rule alone would schedule (the business-as-usual baseline);
- `risk`: the highest score first (the list's own order);
- `balanced` (the default): first the **legal floor** (risk 1 places overdue by more than `floor_days`, the most
  overdue first, up to `floor_share` of the week), then the highest scores (the most fails expected per visit),
  with no area (ZIP code) taking more than `area_cap` of the week: a cluster of high scores in one ZIP does not
  empty the rest of the city.
Each chosen place says why (`floor`, `score`, `both`: on the floor and among the scores chosen; `overdue` for `due`).
The choice is one sort and a few group counts over the candidates (no loop over places); routes.py then splits the
chosen places over inspectors and days and orders each day.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.contracts import INSPECTION_PLAN
from chicago_food_assets.core.lists import routes

Policy = Literal["due", "risk", "balanced"]
POLICIES: tuple[Policy, ...] = ("due", "risk", "balanced")
UNKNOWN_AREA = "(no zip)"  # the area of places without a ZIP code: one area, capped like the others


@dataclass(frozen=True)
class Team:
    """Who visits: `inspectors` each making `visits_per_day` visits on `days` working days (Monday on)."""

    inspectors: int
    visits_per_day: int
    days: int = 5

    def __post_init__(self) -> None:
        for name in ("inspectors", "visits_per_day", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"a team needs at least one of {name}, got {getattr(self, name)}")
        if self.days > 7:
            raise ValueError(f"a week has 7 days at most, got {self.days} working days")

    @property
    def slots(self) -> int:
        """The visits the team can make in the week."""
        return self.inspectors * self.visits_per_day * self.days


@dataclass(frozen=True)
class PlanSettings:
    """How a week's plan is made. `capacity` None: the team's slots, or, without a team, the data's median."""

    policy: Policy = "balanced"
    inspectors: int | None = None  # None: as many as the capacity needs at `visits_per_day` x `days`
    visits_per_day: int = 4
    days: int = 5
    capacity: int | None = None  # at most the team's slots; None: the team's slots, else the data's median
    recent_weeks: int = 12  # the complete weeks before the plan's week the data's capacity is the median of
    floor_days: int = 120  # balanced: a risk 1 place overdue by more than this goes first...
    floor_share: float = 0.55  # ... the most overdue of them, up to this share of the week's capacity
    area_cap: float = 0.15  # balanced: the largest share of a week's capacity one ZIP code may take (1: no cap)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}: choose one of {', '.join(POLICIES)}")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError(f"a capacity cannot be negative, got {self.capacity}")
        if not 0 < self.area_cap <= 1:
            raise ValueError(f"area_cap is a share of the week's capacity in (0, 1], got {self.area_cap}")
        if not 0 <= self.floor_share <= 1:
            raise ValueError(f"floor_share is a share of the week's capacity in [0, 1], got {self.floor_share}")
        if self.floor_days < 0:
            raise ValueError(f"floor_days cannot be negative, got {self.floor_days}")
        if self.recent_weeks < 1:
            raise ValueError(f"recent_weeks must be at least 1, got {self.recent_weeks}")
        Team(self.inspectors or 1, self.visits_per_day, self.days)  # the same checks as a team's


def canvass_counts(inspections: pd.DataFrame) -> pd.Series:
    """Per week that has any inspection (a week missing from the data says nothing about the team), its count of
    canvass inspections (not re-inspections), weeks in order: counted once for any number of plans."""
    return pd.Series(canvass.is_canvass(inspections)).groupby(inspections["week"].to_numpy()).sum().sort_index()


def weekly_canvass(counts: pd.Series, before: pd.Timestamp, weeks: int) -> int | None:
    """The median of `counts` (`canvass_counts`) over the last `weeks` weeks before `before`: None without any."""
    earlier = counts[counts.index < before].tail(weeks)
    return round(float(earlier.median())) if len(earlier) else None


def team(settings: PlanSettings, data_capacity: int | None) -> tuple[Team, int]:
    """The team and the week's capacity (how many places the plan holds at most) for `settings`."""
    if settings.inspectors is not None:
        crew = Team(settings.inspectors, settings.visits_per_day, settings.days)
        return crew, crew.slots if settings.capacity is None else min(settings.capacity, crew.slots)
    wanted = settings.capacity if settings.capacity is not None else data_capacity
    if wanted is None:
        raise ValueError("no capacity: give the team (inspectors) or a capacity, or store weeks of inspections first")
    per_inspector = settings.visits_per_day * settings.days
    return Team(max(1, -(-wanted // per_inspector)), settings.visits_per_day, settings.days), wanted


def areas(candidates: pd.DataFrame) -> pd.Series:
    """The area a place counts against for the cap: its ZIP code."""
    return candidates["zip"].astype(object).where(candidates["zip"].notna(), UNKNOWN_AREA)


def choose(
    candidates: pd.DataFrame,
    capacity: int,
    settings: PlanSettings,
    limits: Mapping[int, int] | None = None,
    owner: pd.Series | None = None,
) -> pd.DataFrame:
    """The places of `candidates` (rows of a visit list: rank, score, risk, days_overdue, zip) the policy plans, in
    the order it chose them, with `why` and `order` (1 = chosen first). `owner` and `limits` optionally say whose
    territory each candidate is in and how many visits each owner can make (territories from a file)."""
    if capacity <= 0 or candidates.empty:
        return candidates.iloc[:0].assign(why=pd.Series(dtype=object), order=pd.Series(dtype="int64"))
    rank = candidates["rank"].to_numpy(dtype=np.int64)
    overdue = candidates["days_overdue"].to_numpy(dtype=np.int64)
    score = candidates["score"].to_numpy(dtype=float)
    floor = np.zeros(len(candidates), dtype=bool)
    if settings.policy == "due":
        order = np.lexsort((rank, -overdue))
    elif settings.policy == "risk":
        order = np.lexsort((rank, -score))
    else:
        risk = candidates["risk"].astype("Int64").fillna(1).to_numpy(dtype=np.int64)  # unknown: as risk 1
        floor = (risk == 1) & (overdue > settings.floor_days)
        if floor.any():  # at most `floor_share` of the week: the most overdue of them
            most = np.flatnonzero(floor)[np.lexsort((rank[floor], -overdue[floor]))]
            floor[most[int(np.floor(settings.floor_share * capacity)) :]] = False
        # the floor first (most overdue first), then the rest by score; ties by the list's rank
        order = np.lexsort((rank, np.where(floor, 0.0, -score), np.where(floor, -overdue, 0), ~floor))
    kept = np.ones(len(order), dtype=bool)
    if settings.policy == "balanced" and settings.area_cap < 1:
        cap = max(1, int(np.floor(settings.area_cap * capacity)))
        area = areas(candidates).to_numpy(dtype=object)[order]
        position = pd.Series(np.arange(len(order))).groupby(area).cumcount().to_numpy()
        # the floor is the law: its places are never capped, but they use up their area's share
        kept = floor[order] | (position < cap)
    if owner is not None and limits is not None:
        who = owner.to_numpy(dtype=object)[order]
        taken = pd.Series(kept.astype(np.int64)).groupby(who).cumsum().to_numpy()
        limit = pd.Series(who).map(dict(limits)).fillna(0).to_numpy(dtype=np.int64)
        kept &= taken <= limit
    chosen = order[kept][:capacity]
    out = candidates.iloc[chosen].copy()
    on_floor = floor[chosen]
    if settings.policy == "due":
        why = np.full(len(chosen), "overdue", dtype=object)
    elif settings.policy == "risk":
        why = np.full(len(chosen), "score", dtype=object)
    else:
        # a floor place is also a score choice when the scores alone (with the same cap) would have taken it
        also = np.zeros(len(chosen), dtype=bool)
        if on_floor.any():
            by_score = choose(candidates, capacity, _without_floor(settings), limits, owner)
            also = np.isin(out.index.to_numpy(), by_score.index.to_numpy())
        why = np.where(on_floor, np.where(also, "both", "floor"), "score").astype(object)
    return out.assign(why=why, order=np.arange(1, len(chosen) + 1))


def _without_floor(settings: PlanSettings) -> PlanSettings:
    return PlanSettings(**{**settings.__dict__, "floor_days": 1_000_000})


def build(
    candidates: pd.DataFrame,
    capacity: int,
    crew: Team,
    settings: PlanSettings,
    route_settings: routes.RouteSettings,
    territories: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A week's plan from its visit list (`candidates`, one week): the places the policy chooses within `capacity`,
    each given an inspector, a day and a stop number, with the km from the previous stop, the day's km and the
    inspector's week in list order (the same stops by rank, no routing: what routing saves). As INSPECTION_PLAN."""
    if capacity > crew.slots:
        raise ValueError(f"a capacity of {capacity} is more than the team's {crew.slots} visits")
    owner, limits = None, None
    names = {i: f"inspector {i}" for i in range(1, crew.inspectors + 1)}
    if territories is not None:
        labels = sorted(territories["inspector"].unique())
        if len(labels) != crew.inspectors:
            raise routes.TerritoryError(
                f"the territory table names {len(labels)} inspectors; the team has {crew.inspectors}"
            )
        names = {i + 1: str(name) for i, name in enumerate(labels)}
        owner = routes.assign(candidates, crew.inspectors, territories)
        limits = {i: crew.visits_per_day * crew.days for i in names}
    chosen = choose(candidates, capacity, settings, limits, owner)
    if chosen.empty:
        return INSPECTION_PLAN.empty()
    inspector = (
        owner.loc[chosen.index] if owner is not None else routes.assign(chosen, crew.inspectors, None)
    ).to_numpy(dtype=np.int64)
    located = chosen["latitude"].notna().to_numpy() & chosen["longitude"].notna().to_numpy()
    lat, lon = chosen["latitude"].to_numpy(dtype=float), chosen["longitude"].to_numpy(dtype=float)
    day = np.full(len(chosen), -1, dtype=np.int64)
    stop = np.zeros(len(chosen), dtype=np.int64)
    status = np.full(len(chosen), routes.TO_LOCATE, dtype=object)
    start_lat = np.full(len(chosen), np.nan)
    start_lon = np.full(len(chosen), np.nan)
    plan_route = routes.RouteSettings(
        crew.visits_per_day, crew.days, route_settings.time_limit_seconds, route_settings.search, route_settings.start
    )
    for number in range(1, crew.inspectors + 1):  # one solve per inspector's week (a handful)
        mine = np.flatnonzero((inspector == number) & located)
        if not len(mine):
            continue
        start = plan_route.start or (float(np.median(lat[mine])), float(np.median(lon[mine])))
        day[mine], stop[mine], status[mine] = routes.route(lat[mine], lon[mine], plan_route, start)
        start_lat[mine], start_lon[mine] = start
    out = chosen.assign(
        policy=settings.policy,
        inspector=inspector,
        inspector_name=pd.Series(inspector).map(names).to_numpy(dtype=object),
        day=pd.Series(pd.NaT, index=chosen.index, dtype="datetime64[ns]"),
        stop=stop,
        route=status,
        start_latitude=start_lat,
        start_longitude=start_lon,
    )
    week = pd.Timestamp(chosen["week"].iloc[0])
    out.loc[located, "day"] = week + pd.to_timedelta(day[located], unit="D")
    return INSPECTION_PLAN.conform(
        _distances(out, crew.visits_per_day).reset_index(drop=True)[list(INSPECTION_PLAN.names)]
    )


def _legs(days: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For stops in visiting order (sorted by inspector, `day`, then the order walked): per stop the km from the
    previous stop (the first of a day: from its start), and the km back to the start after it (0 but for a day's
    last stop)."""
    first = ~days.duplicated(["inspector", "day"]).to_numpy()
    last = np.roll(first, -1)
    lat, lon = days["latitude"].to_numpy(float), days["longitude"].to_numpy(float)
    home_lat, home_lon = days["start_latitude"].to_numpy(float), days["start_longitude"].to_numpy(float)
    km = routes.kilometres(
        np.where(first, home_lat, np.roll(lat, 1)), np.where(first, home_lon, np.roll(lon, 1)), lat, lon
    )
    return km, np.where(last, routes.kilometres(lat, lon, home_lat, home_lon), 0.0)


def _distances(plan: pd.DataFrame, per_day: int) -> pd.DataFrame:
    """km from the previous stop, the day's km (back to the start included), and what the inspector's week would
    travel with the same stops taken in the list's order, `per_day` a day (no routing: the baseline)."""
    plan = plan.assign(km=np.nan, day_km=np.nan, list_order_km=np.nan)
    routed = plan[plan["day"].notna()].sort_values(["inspector", "day", "stop"])
    if len(routed):
        km, back = _legs(routed)
        plan.loc[routed.index, "km"] = km
        keys = [routed["inspector"].to_numpy(), routed["day"].to_numpy()]
        plan.loc[routed.index, "day_km"] = pd.Series(km + back).groupby(keys).transform("sum").to_numpy()
        by_rank = routed.sort_values(["inspector", "rank"])
        by_rank = by_rank.assign(day=by_rank.groupby("inspector").cumcount().to_numpy() // per_day)
        km, back = _legs(by_rank)
        week = pd.Series(km + back).groupby(by_rank["inspector"].to_numpy()).transform("sum").to_numpy()
        plan.loc[by_rank.index, "list_order_km"] = week
    plan = plan.sort_values(["inspector", "day", "stop", "rank"], na_position="last", kind="stable")
    return plan.assign(line=np.arange(1, len(plan) + 1))


def totals(plan: pd.DataFrame, candidates: int) -> dict[str, int | float]:
    """A week's plan (one week's rows) in numbers: what it holds against its list of `candidates` places, who
    visits, and how far it travels routed and with the same stops in list order."""
    routed = plan[plan["day"].notna()]
    return {
        "candidates": int(candidates),
        "planned": len(plan),
        "backlog": int(candidates) - len(plan),
        "inspectors": int(plan["inspector"].nunique()),
        "floor": int(plan["why"].isin(["floor", "both"]).sum()),
        "to_locate": int((plan["route"] == routes.TO_LOCATE).sum()),
        "time_limit_routes": int((plan["route"] == routes.TIME_LIMIT).sum()),
        "routed": len(routed),
        "km": float(routed.drop_duplicates(["inspector", "day"])["day_km"].sum()),
        "list_order_km": float(routed.drop_duplicates("inspector")["list_order_km"].sum()),
    }
