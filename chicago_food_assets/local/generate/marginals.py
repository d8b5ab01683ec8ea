"""The distributions the generator draws from: fitted from the bundled real sample, or assumed (and said so).

`fit(sample)` computes the fitted part from the sample's rows; `marginals.json` holds its result next to the
assumptions, and a test checks that the file is what `fit` gives on the bundled sample.
"""

import json
from pathlib import Path

import pandas as pd

PATH = Path(__file__).with_name("marginals.json")
MIN_ROWS = 5  # categories rarer than this in the sample are left out (the dirt adds odd values of its own)
REINSPECTION = "Re-"  # an inspection type that names a re-inspection contains this (any case)


def shares(values: pd.Series) -> dict[str, float]:
    """Each value's share of the rows, rarer values than MIN_ROWS left out and the rest renormalised."""
    counts = values.fillna("(missing)").value_counts()
    counts = counts[counts >= MIN_ROWS]
    return {str(k): round(float(v), 5) for k, v in (counts / counts.sum()).items()}


def fit(sample: pd.DataFrame) -> dict[str, object]:
    """The sample's marginals of facility type, risk, inspection type and results (results separately for
    re-inspections and other inspections, since the generator makes re-inspections follow fails)."""
    again = sample["inspection_type"].str.contains(REINSPECTION, case=False, na=False, regex=False)
    return {
        "rows": len(sample),
        "facility_type": shares(sample["facility_type"]),
        "risk": shares(sample["risk"]),
        "inspection_type": shares(sample["inspection_type"]),
        "results": shares(sample["results"]),
        "results_first": shares(sample.loc[~again, "results"]),
        "results_again": shares(sample.loc[again, "results"]),
        "missing": {
            field: round(float(sample[field].isna().mean()), 5)
            for field in ("aka_name", "latitude")  # facility type and risk: "(missing)" in their shares
        },
    }


def load() -> dict[str, dict]:
    return json.loads(PATH.read_text())


def refit(sample: pd.DataFrame) -> None:
    """Rewrites the fitted part of marginals.json from `sample`, keeping the assumptions."""
    PATH.write_text(json.dumps({"fitted": fit(sample), "assumed": load()["assumed"]}, indent=1) + "\n")


if __name__ == "__main__":  # python -m chicago_food_assets.local.generate.marginals: refit from the bundled sample
    from chicago_food_assets.local.generate import read_sample

    refit(read_sample())
