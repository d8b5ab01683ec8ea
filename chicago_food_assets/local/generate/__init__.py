"""A realistic Socrata-shaped inspections feed at any size, seeded: `python -m chicago_food_assets.local.generate`.

What it draws (the numbers are in `marginals.json`: fitted from the bundled sample, or assumed and marked so):
- Establishments, one drawn per 7.6 rows (the few never visited do not appear), each with a license, a name, an
  address and coordinates taken from a real row of the sample (coordinates jittered), a facility type and a risk
  category in the sample's shares, an active period inside the range, and a **persistent latent risk** (normal).
- Inspections spread over the establishments in proportion to their active days and risk category (risk 1 places
  are visited twice as often as risk 2, four times as often as risk 3), on weekdays, with the sample's marginals of
  inspection type. Results follow the latent risk: each inspection's propensity is latent + noise, and the highest
  propensities get Fail, the next Pass w/ Conditions, the rest Pass, in the sample's shares (the non-inspection
  results, such as Out of Business, at random in theirs).
- Re-inspections after fails, 3-30 days later, typed after the inspection they follow ("Canvass Re-Inspection"),
  with the sample's re-inspection results; as many as the sample's share of re-inspection types asks for.
- Violations text in both numbering schemes: items of real sample texts of the inspection's era (old numbering
  before 2018-07-01), more items and more critical ones for fails and risky places, joined by " | ".
- Dirt: missing fields, odd spellings, double entries (the same visit under a second id), corrections (an id
  repeated later in the file with a changed result: the portal's edit, which the replay server applies), bad
  coordinates, late rows (written after everything else, with ids from the end of the range) and malformed values.
Rows are written as the SODA API returns them: every value a string, absent keys for missing values, `location` an
object. Same seed, same arguments: the same bytes.
"""

import gzip
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chicago_food_assets.core.dates import FIRST_WEEK
from chicago_food_assets.core.ingestion.raw import FIELDS, NOT_RECORDED, OUTCOMES
from chicago_food_assets.core.ingestion.violations import NEW_SCHEME_FROM
from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.local.generate.marginals import REINSPECTION, load

FIRST = date.fromisoformat(FIRST_WEEK)
MISSING = "(missing)"
_ITEM = re.compile(r"^\s*(\d{1,2})\.\s")
_AGAIN = {  # a re-inspection type, and the types of the inspections it follows (Canvass: every other type too)
    "License Re-Inspection": ("License",),
    "Complaint Re-Inspection": ("Complaint", "Short Form Complaint"),
    "Suspected Food Poisoning Re-inspection": ("Suspected Food Poisoning",),
    "Complaint-Fire Re-inspection": ("Complaint-Fire",),
}
_VISITS = {"Risk 1 (High)": 2.0, "Risk 2 (Medium)": 1.0, "Risk 3 (Low)": 0.5}


@dataclass(frozen=True)
class Pools:
    """What the generator borrows from real rows: places (name, address, coordinates) and violation items."""

    places: pd.DataFrame
    items: pd.DataFrame  # text, scheme (old/new), grade (0 minor .. 2 critical)


def pools(sample: pd.DataFrame) -> Pools:
    places = sample.dropna(subset=["address", "latitude", "longitude"]).drop_duplicates("license_")
    places = places.assign(dba_name=places["dba_name"].fillna(places["aka_name"]))
    places = places.dropna(subset=["dba_name"])[["dba_name", "aka_name", "address", "zip", "latitude", "longitude"]]
    recorded = sample[sample["violations"].notna().to_numpy() & (sample["violations"] != NOT_RECORDED).to_numpy()]
    text = recorded["violations"].str.replace(r"\n(\s*\d{1,2}\.\s+[A-Z])", r" | \1", regex=True)
    items = text.str.split(r"\s*\|\s*", regex=True).explode().str.strip()
    new = (pd.to_datetime(recorded["inspection_date"]) >= NEW_SCHEME_FROM).reindex(items.index).to_numpy()
    number = pd.to_numeric(items.str.extract(_ITEM, expand=False), errors="coerce").to_numpy()
    grade = np.where(new, np.select([number <= 29], [2], 0), np.select([number <= 14, number <= 29], [2, 1], 0))
    table = pd.DataFrame({"text": items.to_numpy(), "scheme": np.where(new, "new", "old"), "grade": grade})
    table = table[~np.isnan(number) & (table["text"].str.len() > 3)].drop_duplicates("text")
    return Pools(places.reset_index(drop=True), table.reset_index(drop=True))


def read_sample(path: Path = SAMPLE_PATH) -> pd.DataFrame:
    with gzip.open(path, "rt") as handle:
        return pd.read_json(handle, lines=True, dtype=False)


def _choice(rng: np.random.Generator, distribution: dict[str, float], size: int) -> np.ndarray:
    names = np.array(list(distribution), dtype=object)
    p = np.array(list(distribution.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _allot(rng: np.random.Generator, distribution: dict[str, float], size: int) -> np.ndarray:
    """Exactly the shares (largest remainders), in random order: a few thousand places keep the marginals."""
    names = np.array(list(distribution), dtype=object)
    p = np.array(list(distribution.values()), dtype=float)
    exact = p / p.sum() * size
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: size - counts.sum()]] += 1
    return rng.permutation(np.repeat(names, counts))


def _weekday(days: np.ndarray) -> np.ndarray:
    """Saturdays move to Friday, Sundays to Monday (inspections happen on weekdays)."""
    weekday = (days + 3) % 7  # day 0 of the epoch, 1970-01-01, was a Thursday (3)
    return days - (weekday == 5) + (weekday == 6)


def establishments(rng: np.random.Generator, count: int, first: date, last: date, pool: Pools, m: dict) -> pd.DataFrame:
    start, end = np.datetime64(first, "D").astype(int), np.datetime64(last, "D").astype(int)
    opened = rng.integers(start - 8 * 365, end, 3 * count)
    closed = opened + rng.exponential(9 * 365, 3 * count).astype(int) + 60
    opened, closed = np.maximum(opened, start), np.minimum(closed, end)
    active = np.flatnonzero(closed - opened > 30)[:count]  # open for at least a month inside the range
    opened, closed = opened[active], closed[active]
    # risk is drawn per place, rows come per visit: places of a category visited twice as often are half as many
    place = pool.places.iloc[rng.integers(0, len(pool.places), count)].reset_index(drop=True)
    frame = place.assign(
        license_=(rng.permutation(count) + 1_000_000 + rng.integers(0, 1_000_000)).astype(str),
        facility_type=_allot(rng, m["fitted"]["facility_type"], count),
        risk=_allot(rng, {k: v / _VISITS.get(k, 1.0) for k, v in m["fitted"]["risk"].items()}, count),
        latent=rng.standard_normal(count),
        opened=opened,
        closed=closed,
        latitude=(place["latitude"].astype(float) + rng.normal(0, 4e-4, count)).round(14).astype(str),
        longitude=(place["longitude"].astype(float) + rng.normal(0, 4e-4, count)).round(14).astype(str),
    )
    return frame


def _propensity(rng: np.random.Generator, latent: np.ndarray, weight: float) -> np.ndarray:
    return weight * latent + rng.standard_normal(len(latent))


def _results(rng: np.random.Generator, propensity: np.ndarray, distribution: dict[str, float]) -> np.ndarray:
    """Non-inspection results at random in their shares; among inspections, the highest propensities fail."""
    results = _choice(rng, distribution, len(propensity))
    inspected = np.isin(results, list(OUTCOMES))
    shares = {k: v for k, v in distribution.items() if k in OUTCOMES}
    total = sum(shares.values())
    order = np.argsort(-propensity[inspected], kind="stable")
    n = int(inspected.sum())
    fail, conditions = round(n * shares.get("Fail", 0) / total), round(n * shares.get("Pass w/ Conditions", 0) / total)
    graded = np.full(n, "Pass", dtype=object)
    graded[order[:fail]] = "Fail"
    graded[order[fail : fail + conditions]] = "Pass w/ Conditions"
    results[np.flatnonzero(inspected)] = graded
    return results


def inspections(rng: np.random.Generator, rows: int, places: pd.DataFrame, m: dict) -> pd.DataFrame:
    fitted = m["fitted"]
    types = fitted["inspection_type"]
    again_share = sum(v for k, v in types.items() if REINSPECTION.lower() in k.lower())
    first_types = {k: v for k, v in types.items() if REINSPECTION.lower() not in k.lower()}
    base = round(rows * (1 - again_share))
    weight = (places["closed"] - places["opened"]).to_numpy() * places["risk"].map(_VISITS).fillna(1.0).to_numpy()
    owner = rng.choice(len(places), size=base, p=weight / weight.sum())
    span = (places["closed"] - places["opened"]).to_numpy()[owner]
    day = _weekday(places["opened"].to_numpy()[owner] + (rng.random(base) * span).astype(int))
    latent = places["latent"].to_numpy()[owner]
    visits = pd.DataFrame(
        {
            "owner": owner,
            "day": day,
            "inspection_type": _choice(rng, first_types, base),
            "results": _results(rng, _propensity(rng, latent, m["assumed"]["latent_weight"]), fitted["results_first"]),
        }
    )
    # each re-inspection type in its share, following fails first, then other results that call for a visit again
    urgency = visits["results"].map({"Fail": 2.0, "Pass w/ Conditions": 1.0, "Not Ready": 1.0, "No Entry": 1.0})
    urgency = urgency.fillna(0.0).to_numpy() + rng.random(base)
    mapped = np.isin(visits["inspection_type"].to_numpy(), [t for group in _AGAIN.values() for t in group])
    follow, kinds = [], []
    for kind, share in types.items():
        if REINSPECTION.lower() not in kind.lower():
            continue
        group = np.isin(visits["inspection_type"].to_numpy(), _AGAIN[kind]) if kind in _AGAIN else ~mapped
        candidates = np.flatnonzero(group)
        chosen = candidates[np.argsort(-urgency[candidates], kind="stable")[: round(rows * share)]]
        follow.append(chosen)
        kinds.append(np.full(len(chosen), kind, dtype=object))
    again = visits.iloc[np.concatenate(follow)].copy()
    again["inspection_type"] = np.concatenate(kinds)
    again["day"] = _weekday(again["day"].to_numpy() + rng.integers(3, 31, len(again)))
    again["results"] = _results(
        rng, _propensity(rng, places["latent"].to_numpy()[again["owner"]], 1.0), fitted["results_again"]
    )
    return pd.concat([visits, again], ignore_index=True)


def violations(rng: np.random.Generator, visits: pd.DataFrame, latent: np.ndarray, pool: Pools, m: dict) -> pd.Series:
    """A violations text per visit: items of the visit's era, more and graver for fails and risky places; None
    (the key absent: nothing cited) for the visits without citations, as the live feed sends them; and for a share
    of visits `NOT_RECORDED` (sent as an explicit null), as the bundled sample marks its extracts without the column.
    """
    assumed = m["assumed"]
    result = visits["results"].where(visits["results"].isin(list(OUTCOMES)), "other").to_numpy()
    with_items = rng.random(len(visits)) < pd.Series(result).map(assumed["violations_cited"]).to_numpy()
    mean = pd.Series(result).map(assumed["violation_items_mean"]).to_numpy() * np.exp(0.3 * latent)
    count = np.where(with_items, np.maximum(rng.poisson(mean), 1), 0)
    parent = np.repeat(np.arange(len(visits)), count)
    new = (visits["day"].to_numpy() >= np.datetime64(NEW_SCHEME_FROM, "D").astype(int))[parent]
    grave = (result == "Fail")[parent] * 0.5 + 0.15 * latent[parent] + rng.standard_normal(len(parent)) * 0.5
    grade = np.select([grave > 0.8, grave > 0.3], [2, 1], 0)
    item = np.empty(len(parent), dtype=object)
    for scheme in ("old", "new"):  # a handful of (scheme, grade) cells, each filled in one vectorised draw
        for level in (0, 1, 2):
            cell = pool.items[(pool.items["scheme"] == scheme) & (pool.items["grade"] == level)]
            if not len(cell):
                cell = pool.items[pool.items["scheme"] == scheme]
            where = np.flatnonzero((new == (scheme == "new")) & (grade == level))
            item[where] = cell["text"].to_numpy()[rng.integers(0, len(cell), len(where))]
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)  # items come in visit order (np.repeat)
    text = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), pa.array(item, pa.string())), " | ")
    cited = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object).where(with_items, None)
    return cited.where(rng.random(len(visits)) >= assumed["violations_not_recorded"], NOT_RECORDED)


def dirt(rng: np.random.Generator, rows: pd.DataFrame, m: dict) -> pd.DataFrame:
    """The feed's flaws, in the declared shares; returns the rows in the order the portal published them."""
    shares, n = m["assumed"]["dirt"], len(rows)

    def pick(share: float) -> np.ndarray:
        return rng.random(n) < share

    odd = pick(shares["odd_spelling"])
    rows.loc[odd, "facility_type"] = rows.loc[odd, "facility_type"].str.upper() + " "
    rows.loc[pick(shares["odd_spelling"]), "city"] = "CHicago"
    bad = pick(shares["bad_coordinates"])
    rows.loc[bad, ["latitude", "longitude"]] = rows.loc[bad, ["longitude", "latitude"]].to_numpy()  # swapped
    malformed = np.flatnonzero(pick(shares["malformed"]))
    field = rng.choice(["inspection_date", "license_", "zip"], len(malformed))
    for name, broken in (("inspection_date", "2015-02-30T00:00:00.000"), ("license_", "N/A"), ("zip", "6061")):
        rows.loc[rows.index[malformed[field == name]], name] = broken
    # when each row reaches the portal: the day of the visit, or later for late rows, double entries and edits
    day = pd.to_datetime(rows["inspection_date"], errors="coerce").fillna(pd.Timestamp(FIRST)).to_numpy()
    rows["_published"] = day + pd.to_timedelta(np.where(pick(shares["late"]), rng.integers(14, 141, n), 0), "D")
    rows["_origin"] = np.arange(n)
    double = rows[pick(shares["double_entry"])].assign(_origin=-1)
    corrected = rows[pick(shares["correction"]) & rows["results"].isin(["Fail", "Pass"]).to_numpy()].copy()
    corrected["results"] = corrected["results"].map({"Fail": "Pass w/ Conditions", "Pass": "Fail"})
    for later in (double, corrected):
        later["_published"] += pd.to_timedelta(rng.integers(1, 60, len(later)), "D")
    feed = pd.concat([rows, double], ignore_index=True).sort_values("_published", kind="stable", ignore_index=True)
    # ids grow with publication, so a late row has a newer id than rows of later dates; an edit keeps its id
    feed["inspection_id"] = (60_000 + np.cumsum(rng.integers(1, 8, len(feed)))).astype(str)
    ids = feed.loc[feed["_origin"] >= 0].set_index("_origin")["inspection_id"]
    corrected["inspection_id"] = ids.reindex(corrected["_origin"]).to_numpy()
    feed = pd.concat([feed, corrected], ignore_index=True).sort_values("_published", kind="stable", ignore_index=True)
    return feed.drop(columns=["_published", "_origin"])


def generate(rows: int = 300_000, seed: int = 0, first: date = FIRST, last: date | None = None) -> pd.DataFrame:
    """The feed's rows in file order, as strings (None where the field is absent)."""
    m = load()
    last = last or date.today()
    rng = np.random.default_rng(seed)
    sample = read_sample()
    pool = pools(sample)
    places = establishments(rng, max(1, round(rows / m["assumed"]["rows_per_establishment"])), first, last, pool, m)
    visits = inspections(rng, rows, places, m)
    visits = visits[(visits["day"] <= np.datetime64(last, "D").astype(int))].sort_values("day", kind="stable")
    visits = visits.reset_index(drop=True)
    owner = places.iloc[visits["owner"].to_numpy()].reset_index(drop=True)
    missing = {**m["fitted"]["missing"], **m["assumed"]["missing"]}
    dates = pd.to_datetime(visits["day"].to_numpy(), unit="D").strftime("%Y-%m-%dT00:00:00.000")
    frame = pd.DataFrame(
        {
            "inspection_id": None,  # given in order of publication (`dirt`)
            "dba_name": owner["dba_name"],
            "aka_name": owner["aka_name"],
            "license_": owner["license_"],
            "facility_type": owner["facility_type"].replace(MISSING, None),
            "risk": owner["risk"].replace(MISSING, None),
            "address": owner["address"],
            "city": "CHICAGO",
            "state": "IL",
            "zip": owner["zip"],
            "inspection_date": dates,
            "inspection_type": visits["inspection_type"],
            "results": visits["results"],
            "violations": violations(rng, visits, owner["latent"].to_numpy(), pool, m),
            "latitude": owner["latitude"],
            "longitude": owner["longitude"],
        }
    ).astype(object)
    for field, share in missing.items():
        if field != "location_only":
            frame.loc[rng.random(len(frame)) < share, field] = None
    frame.loc[frame["latitude"].isna(), "longitude"] = None
    frame = dirt(rng, frame, m)
    return frame.assign(_location=rng.random(len(frame)) >= missing["location_only"])


def to_jsonl(frame: pd.DataFrame) -> str:
    """JSON lines as SODA writes them: absent keys for missing values, `location` an object of the coordinates."""
    fields = [f for f in FIELDS if f != "location"]
    text = frame[fields].where(frame[fields].notna(), None).to_json(orient="records", lines=True, force_ascii=False)
    lines = pd.Series(text.rstrip("\n").split("\n"), index=frame.index).str.replace(r',"[a-z_]+":null', "", regex=True)
    lines = lines.str.replace(f'"violations":"{NOT_RECORDED}"', '"violations":null', regex=False)
    located = frame["_location"].to_numpy() & frame["latitude"].notna().to_numpy()
    location = ',"location":{"latitude":"' + frame["latitude"] + '","longitude":"' + frame["longitude"] + '"}}'
    lines = lines.where(~located, lines.str[:-1] + location.where(located, ""))
    return "\n".join(lines) + "\n"


def write(frame: pd.DataFrame, out: Path, chunk: int = 50_000) -> int:
    """Writes the rows (gzip when the name ends in .gz), a chunk at a time; returns the bytes written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw:
        zipped = out.suffix == ".gz"
        handle = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=1, mtime=0) if zipped else raw
        with handle:
            for begin in range(0, len(frame), chunk):
                handle.write(to_jsonl(frame.iloc[begin : begin + chunk]).encode())
    return out.stat().st_size


def describe(frame: pd.DataFrame) -> dict[str, object]:
    dates = pd.to_datetime(frame["inspection_date"], errors="coerce")
    return {
        "rows": len(frame),
        "establishments": int(frame["license_"].nunique()),
        "first": str(dates.min().date()),
        "last": str(dates.max().date()),
        "fail_share": round(float((frame["results"] == "Fail").mean()), 4),
        "violations_cited": round(
            float((frame["violations"].notna() & (frame["violations"] != NOT_RECORDED)).mean()), 4
        ),
        "violations_not_recorded": round(float((frame["violations"] == NOT_RECORDED).mean()), 4),
    }
