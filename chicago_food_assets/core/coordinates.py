"""An inspection's coordinates: the latitude and longitude fields, else the `location` object (swapped pairs fixed)."""

import json

import pandas as pd

from chicago_food_assets.core.arrow import numbers, text

DECIMAL = r"^-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$"


def _object(value: str) -> dict:
    """A JSON object sent as a field (the raw store keeps it as text); anything else is no object."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def coordinates(
    latitude: pd.Series, longitude: pd.Series, location: pd.Series | None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Floats from the latitude/longitude fields; when both are absent, from `location` (swapped pairs fixed)."""
    lat = pd.Series(numbers(latitude, DECIMAL), index=latitude.index)
    lon = pd.Series(numbers(longitude, DECIMAL), index=longitude.index)
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
    return lat, lon, use & lat.notna()
