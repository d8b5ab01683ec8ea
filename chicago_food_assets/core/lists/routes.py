"""The weekly plan's routes: who visits each chosen place, on which day, in which order, and how far it is.

- **Distances** are Manhattan kilometres on a local flat projection (Chicago's streets are a north-south grid; no
  map service is reachable offline): east-west degrees scaled by the cosine of the latitude.
- **Territories** come from the city when it has them (a table of inspector and ZIP code: `territories_from`
  refuses unknown and shared ZIP codes), else from the week's planned places: recursive bisection along the longer
  side of the area at the share of inspectors on each side, so each inspector gets a compact area of balanced
  workload (`split`).
- **Routes**: each inspector's week is a capacitated vehicle routing problem with the working days as vehicles
  (at most `visits_per_day` stops a day), starting and ending at the inspector's start point, solved by OR-Tools'
  routing library within a time limit (`route`). A solve that stops at the limit before its local search finished
  keeps the best plan found so far and says so (`time_limit`); one that found nothing falls back to the nearest
  neighbour order (also `time_limit`). A place without coordinates is planned but not routed: `to_locate`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

KM_PER_DEGREE = 111.2  # of latitude; of longitude times the cosine of the latitude
Search = Literal["descent", "guided"]
SOLVED, TIME_LIMIT, TO_LOCATE = "solved", "time_limit", "to_locate"


class TerritoryError(ValueError):
    """A territory table the plan cannot use (an unknown or a shared ZIP code, no inspector)."""


@dataclass(frozen=True)
class RouteSettings:
    visits_per_day: int = 4
    days: int = 5
    time_limit_seconds: float = 1.0  # per inspector's week
    search: Search = "descent"  # descent: stops at a local optimum; guided: guided local search to the time limit
    start: tuple[float, float] | None = None  # (latitude, longitude) every inspector starts from; None: the
    # centre of the inspector's own stops (a home base in the territory)


def kilometres(lat_a: np.ndarray, lon_a: np.ndarray, lat_b: np.ndarray, lon_b: np.ndarray) -> np.ndarray:
    """Manhattan distance in km between points a and b (broadcast), on a flat projection at their mean latitude."""
    scale = np.cos(np.radians((lat_a + lat_b) / 2.0))
    return KM_PER_DEGREE * (np.abs(lat_a - lat_b) + np.abs(lon_a - lon_b) * scale)


def matrix(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """All pairwise distances (km) between the points."""
    return kilometres(latitude[:, None], longitude[:, None], latitude[None, :], longitude[None, :])


def tour_km(latitude: np.ndarray, longitude: np.ndarray, start: tuple[float, float]) -> np.ndarray:
    """Per stop of a tour in the given order, the km from the previous stop (the first: from the start)."""
    lat = np.concatenate([[start[0]], latitude])
    lon = np.concatenate([[start[1]], longitude])
    return kilometres(lat[:-1], lon[:-1], lat[1:], lon[1:])


def day_km(latitude: np.ndarray, longitude: np.ndarray, start: tuple[float, float]) -> float:
    """A day's travel: from the start through the stops in order and back."""
    if len(latitude) == 0:
        return 0.0
    back = kilometres(np.array([latitude[-1]]), np.array([longitude[-1]]), np.array([start[0]]), np.array([start[1]]))
    return float(tour_km(latitude, longitude, start).sum() + back[0])


def territories_from(table: pd.DataFrame, known_zips: Sequence[str]) -> pd.DataFrame:
    """A city's territories (columns inspector, zip), checked: every ZIP known to the data, none given twice."""
    missing = {"inspector", "zip"} - set(table.columns)
    if missing:
        raise TerritoryError(
            f"the territory table needs columns inspector and zip; missing {', '.join(sorted(missing))}"
        )
    rows = table[["inspector", "zip"]].dropna().astype(str).apply(lambda column: column.str.strip())
    if rows.empty:
        raise TerritoryError("the territory table names no inspector and ZIP code")
    unknown = sorted(set(rows["zip"]) - {str(z) for z in known_zips})
    if unknown:
        raise TerritoryError(
            f"the territory table names ZIP codes the data does not know: {', '.join(unknown[:10])}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        )
    shared = rows[rows.duplicated("zip", keep=False)].groupby("zip")["inspector"].unique()
    if len(shared):
        detail = "; ".join(f"{z}: {', '.join(sorted(names))}" for z, names in shared.head(10).items())
        raise TerritoryError(f"the territory table gives a ZIP code to more than one inspector ({detail})")
    return rows.drop_duplicates().reset_index(drop=True)


def split(latitude: np.ndarray, longitude: np.ndarray, parts: int) -> np.ndarray:
    """A part number (0..parts-1) per point: compact areas of balanced size by recursive bisection (each cut along
    the longer side, at the share of parts on each side). Sizes differ by at most one per cut."""
    label = np.zeros(len(latitude), dtype=np.int64)
    pending = [(np.arange(len(latitude)), 0, parts)]
    while pending:  # one entry per cut: at most `parts` of them, each vectorised over its points
        members, first, count = pending.pop()
        if count <= 1 or len(members) == 0:
            label[members] = first
            continue
        lat, lon = latitude[members], longitude[members]
        scale = np.cos(np.radians(np.mean(lat)))
        along = lat if np.ptp(lat) >= np.ptp(lon) * scale else lon
        order = members[np.lexsort((members, along))]
        left = count // 2
        cut = round(len(members) * left / count)
        pending.append((order[:cut], first, left))
        pending.append((order[cut:], first + left, count - left))
    return label


def assign(stops: pd.DataFrame, inspectors: int, territories: pd.DataFrame | None) -> pd.Series:
    """The inspector (1..n, in the order of the territories' sorted names) of each stop: by its ZIP code's territory
    when there are territories, else by the compact split of the located stops (a stop without coordinates goes to
    the inspector most present in its ZIP). A stop left without one (its ZIP in no territory, or unknown) goes to the
    inspectors with the fewest stops, in turn."""
    located = stops["latitude"].notna().to_numpy() & stops["longitude"].notna().to_numpy()
    who = pd.Series(0, index=stops.index, dtype=np.int64)
    if territories is not None:
        names = sorted(territories["inspector"].unique())
        number = {name: i + 1 for i, name in enumerate(names)}
        by_zip = territories.set_index("zip")["inspector"].map(number)
        who[:] = stops["zip"].astype(object).map(by_zip).fillna(0).to_numpy(dtype=np.int64)
    elif located.any():
        who[located] = (
            split(
                stops.loc[located, "latitude"].to_numpy(float),
                stops.loc[located, "longitude"].to_numpy(float),
                inspectors,
            )
            + 1
        )
        pairs = pd.DataFrame({"zip": stops["zip"], "who": who})[located].value_counts()  # most present first
        zip_owner = pairs.reset_index().drop_duplicates("zip").set_index("zip")["who"]
        who[~located] = stops.loc[~located, "zip"].astype(object).map(zip_owner).fillna(0).to_numpy(dtype=np.int64)
    leftover = np.flatnonzero(who.to_numpy() == 0)
    if len(leftover):  # few (no ZIP known to a territory): dealt to the least loaded inspectors in turn
        load = np.bincount(who.to_numpy(), minlength=inspectors + 1)[1:]
        dealt = np.argsort(load, kind="stable")
        who.iloc[leftover] = dealt[np.arange(len(leftover)) % inspectors] + 1
    return who


def route(
    latitude: np.ndarray, longitude: np.ndarray, settings: RouteSettings, start: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, str]:
    """One inspector's week: per stop its day (0-based) and its position in the day (1-based), and the solve's
    status (`solved` or `time_limit`). At most `visits_per_day` stops a day; len(stops) <= days x visits_per_day."""
    n = len(latitude)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), SOLVED
    if n > settings.days * settings.visits_per_day:
        raise ValueError(f"{n} stops do not fit {settings.days} days of {settings.visits_per_day} visits")
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    lat = np.concatenate([[start[0]], latitude])
    lon = np.concatenate([[start[1]], longitude])
    metres = np.rint(matrix(lat, lon) * 1000).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n + 1, settings.days, 0)
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(metres.tolist()))
    visits = model.RegisterUnaryTransitVector([0] + [1] * n)
    model.AddDimensionWithVehicleCapacity(visits, 0, [settings.visits_per_day] * settings.days, True, "visits")
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        if settings.search == "guided"
        else routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    )
    parameters.time_limit.FromMilliseconds(max(1, int(settings.time_limit_seconds * 1000)))
    solution = model.SolveWithParameters(parameters)
    success = routing_enums_pb2.RoutingSearchStatus.ROUTING_SUCCESS
    optimal = routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL
    if solution is None:
        return (*_nearest(metres, settings.visits_per_day), TIME_LIMIT)
    day = np.zeros(n, dtype=np.int64)
    position = np.zeros(n, dtype=np.int64)
    for vehicle in range(settings.days):  # a few days of a few stops: the solver's own walk, not a data path
        index, step = model.Start(vehicle), 0
        while not model.IsEnd(index := solution.Value(model.NextVar(index))):
            step += 1
            node = manager.IndexToNode(index) - 1
            day[node], position[node] = vehicle, step
    day = np.unique(day, return_inverse=True)[1].astype(np.int64)  # the days used are the first ones (same start)
    # guided local search only ever stops at the time limit: its plan is the best found by then
    complete = model.status() in (success, optimal) and settings.search == "descent"
    return day, position, SOLVED if complete else TIME_LIMIT


def _nearest(metres: np.ndarray, per_day: int) -> tuple[np.ndarray, np.ndarray]:
    """The fallback when the solver found nothing in time: nearest neighbour from the start, `per_day` a day."""
    n = len(metres) - 1
    left = np.ones(n + 1, dtype=bool)
    left[0] = False
    order, here = [], 0
    for _ in range(n):  # at most a week's stops of one inspector
        distance = np.where(left, metres[here], np.iinfo(np.int64).max)
        here = int(np.argmin(distance))
        left[here] = False
        order.append(here - 1)
    sequence = np.arange(n)
    day, position = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    day[order] = sequence // per_day
    position[order] = sequence % per_day + 1
    return day, position
