"""An inspection's coordinates: the latitude and longitude fields, else the `location` object (swapped pairs fixed).

A pair is swapped back only when that is unambiguous: as sent it lies outside Chicago and swapped it lies inside
(latitude -87.7, longitude 41.9). Any other point outside the city is the cleaner's reject, never a ranked place.
"""

import json

import pandas as pd

from chicago_food_assets.core.arrow import numbers, text

DECIMAL = r"^-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$"
CHICAGO = {"latitude": (41.60, 42.05), "longitude": (-87.95, -87.50)}  # the city's bounding box, with a margin


def in_chicago(latitude: pd.Series, longitude: pd.Series) -> pd.Series:
    """Whether each point lies in the city's box (False where a coordinate is missing)."""
    inside = latitude.between(*CHICAGO["latitude"]) & longitude.between(*CHICAGO["longitude"])
    return inside.fillna(False).astype(bool)


def _object(value: str) -> dict:
    """A JSON object sent as a field (the raw store keeps it as text); anything else is no object."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def coordinates(
    latitude: pd.Series, longitude: pd.Series, location: pd.Series | None
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Floats from the latitude/longitude fields; when both are absent, from `location`. Swapped pairs fixed.

    Returns latitude, longitude, whether each came from `location`, whether its fields were swapped back."""
    lat = pd.Series(numbers(latitude, DECIMAL), index=latitude.index)
    lon = pd.Series(numbers(longitude, DECIMAL), index=longitude.index)
    swapped_fields = ~in_chicago(lat, lon) & in_chicago(lon, lat)
    if swapped_fields.any():
        lat, lon = lat.where(~swapped_fields, lon), lon.where(~swapped_fields, lat)
    use = pd.Series(False, index=latitude.index)
    if location is not None:
        use = (location.notna() & latitude.isna() & longitude.isna()).to_numpy(dtype=bool)
        if use.any():  # rare: only rows whose own coordinates are absent
            found = location[use]
            pairs = pd.DataFrame([_object(v) for v in found], index=found.index)
            a = pd.Series(
                numbers(text(pairs.get("latitude", pd.Series(pd.NA, index=found.index))), DECIMAL), index=found.index
            )
            b = pd.Series(
                numbers(text(pairs.get("longitude", pd.Series(pd.NA, index=found.index))), DECIMAL), index=found.index
            )
            swapped = a < 0  # the portal has served some points as (longitude, latitude)
            lat[use] = a.where(~swapped, b)
            lon[use] = b.where(~swapped, a)
        use = pd.Series(use, index=latitude.index)
    return lat, lon, use & lat.notna(), swapped_fields
