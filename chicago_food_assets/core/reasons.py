"""Why this score: each feature's contribution to a row's log-odds, and the top ones in plain words.

XGBoost gives exact per-row contributions (`pred_contribs`, TreeSHAP) whose sum with its bias is the raw margin.
Logistic regression's are exact too: coefficient times the transformed value, plus the intercept. KNN has none
(its score is its neighbours' vote): its rows get no reasons. Transformed columns (missing indicators, one-hot
categories) are added back to the feature they come from, so a reason is a feature, not a column.
"""

import calendar
from collections.abc import Callable

import numpy as np
import pandas as pd

from chicago_food_assets.core import features

TOP = 3  # reasons kept per score: the features that raise it most
CHUNK_ROWS = 50_000  # contributions are rows x transformed columns of floats: computed this many rows at a time


def _count(words: str) -> Callable[[pd.Series], pd.Series]:
    return lambda v: v.astype("Int64").astype(str) + f" {words}"


def _share(before: str, after: str) -> Callable[[pd.Series], pd.Series]:
    return lambda v: before + (v * 100).round().astype("Int64").astype(str) + after


def _flag(yes: str, no: str) -> Callable[[pd.Series], pd.Series]:
    return lambda v: v.map({True: yes, False: no}).fillna("")  # 1 and 0 (floats too) hash as True and False


# One plain sentence per feature, built from the row's value (a missing value says so in MISSING).
WORDS = {
    "prior_inspections": _count("earlier inspections"),
    "prior_fails": _count("earlier fails"),
    "prior_fail_rate": _share("failed ", "% of earlier inspections"),
    "days_since_last": _count("days since the last inspection"),
    "last_failed": _flag("failed its last inspection", "passed its last inspection"),
    "last_critical": _count("critical violations at the last inspection"),
    "last_serious": _count("serious violations at the last inspection"),
    "last_minor": _count("minor violations at the last inspection"),
    "inspections_last_year": _count("inspections in the past year"),
    "critical_last_year": _count("critical violations in the past year"),
    "serious_last_year": _count("serious violations in the past year"),
    "minor_last_year": _count("minor violations in the past year"),
    "complaints_last_year": _count("complaint inspections in the past year"),
    "food_poisoning_last_year": _count("suspected food poisoning inspections in the past year"),
    "fails_in_a_row": _count("failed inspections in a row"),
    "days_since_critical": _count("days since a critical or serious violation"),
    "establishment_age": lambda v: "first inspected " + v.astype("Int64").astype(str) + " days before",
    "last_repeats": _count("violations at the last inspection already cited there in the 2 years before"),
    "repeats_last_2_years": _count("repeated violations in the past 2 years"),
    "chain_locations": _count("other locations of the same business"),
    "chain_fail_rate": _share("its business's other locations failed ", "% of inspections"),
    "zip_fail_rate": _share("", "% of inspections in its ZIP code failed in the past 90 days"),
    "reinspection": _flag("a re-inspection", "not a re-inspection"),
    "reinspection_after_failed_canvass": _flag("a re-inspection after a failed canvass", "not after a failed canvass"),
    "risk": lambda v: "risk category " + v.astype("Int64").astype(str),
    "latitude": lambda v: pd.Series("its location", index=v.index),
    "longitude": lambda v: pd.Series("its location", index=v.index),
    "month": lambda v: "inspected in " + v.map(dict(enumerate(calendar.month_name))).astype(str),
    "inspection_kind": lambda v: "a " + v.astype(str).str.replace("_", " ") + " inspection",
    "facility_type": lambda v: "facility type " + v.astype(str),
    "last_result": lambda v: "last result " + v.astype(str),
    "zip": lambda v: "ZIP code " + v.astype(str),
    "season": lambda v: "inspected in " + v.astype(str),
}
MISSING = {
    "days_since_last": "no earlier inspection",
    "last_failed": "no earlier inspection",
    "last_result": "no earlier inspection",
    "days_since_critical": "no critical or serious violation on record",
    "prior_fail_rate": "no earlier inspection",
    "last_repeats": "violations of the last inspection not on record",
    "repeats_last_2_years": "no violations on record in the past 2 years",
    "chain_locations": "no business name on record",
    "chain_fail_rate": "no other location of the same business inspected before",
    "zip_fail_rate": "no inspection in its ZIP code in the past 90 days",
}
assert set(WORDS) == set(features.FEATURES), "every feature has its words"


def feature_of(pipeline: object) -> np.ndarray:
    """For each column the pipeline's `prepare` step outputs, the index (in settings' feature order) of the
    feature it comes from: numeric columns and their missing indicators, one-hot columns of a category."""
    prepare = pipeline.named_steps["prepare"]
    names = list(prepare.feature_names_in_)
    owners = []
    for _, transformer, columns in prepare.transformers_:
        if transformer == "drop" or not len(columns):
            continue
        for out in transformer.get_feature_names_out(columns):
            bare = out.removeprefix("missingindicator_")
            owner = max((c for c in columns if bare == c or bare.startswith(f"{c}_")), key=len)
            owners.append(names.index(owner))
    return np.asarray(owners)


def contributions(pipeline: object, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row: each feature's contribution to the log-odds (rows x features), and the base value (bias or
    intercept); base + contributions summed = the model's raw log-odds. None for a model without them (KNN)."""
    model = pipeline.named_steps["model"]
    kind = type(model).__name__
    if kind not in ("XGBClassifier", "LogisticRegression"):
        return None
    prepare = pipeline.named_steps["prepare"]
    owners = feature_of(pipeline)
    grouping = np.zeros((len(owners), len(prepare.feature_names_in_)))
    grouping[np.arange(len(owners)), owners] = 1.0
    parts, bases = [], []
    for start in range(0, len(frame), CHUNK_ROWS):
        x = np.asarray(prepare.transform(frame.iloc[start : start + CHUNK_ROWS]), dtype=float)
        if kind == "XGBClassifier":
            from xgboost import DMatrix

            raw = model.get_booster().predict(DMatrix(x), pred_contribs=True)
            column, base = raw[:, :-1], raw[:, -1]
        else:
            column, base = x * model.coef_[0], np.full(len(x), model.intercept_[0])
        parts.append(column @ grouping)
        bases.append(base)
    if not parts:
        return np.zeros((0, len(prepare.feature_names_in_))), np.zeros(0)
    return np.vstack(parts), np.concatenate(bases)


def _json_text(text: pd.Series) -> pd.Series:
    return '"' + text.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False) + '"'


def reasons(table: pd.DataFrame, names: tuple[str, ...], contributed: np.ndarray, top: int = TOP) -> pd.Series:
    """Per row, a JSON list of its top `top` risk-raising features: [{"feature", "reason", "contribution"}],
    strongest first (contribution in log-odds). Built column by column: no Python loop over rows."""
    n = len(table)
    if n == 0:
        return pd.Series([], dtype=object)
    order = np.argsort(-contributed, axis=1, kind="stable")[:, :top]
    strength = np.take_along_axis(contributed, order, axis=1)
    items = []
    for slot in range(order.shape[1]):
        text = pd.Series("", index=range(n), dtype=object)
        for index, name in enumerate(names):
            rows = np.flatnonzero(order[:, slot] == index)
            if not len(rows):
                continue
            values = table[name].iloc[rows].reset_index(drop=True)
            words = WORDS[name](values).astype(object)
            missing = values.isna().to_numpy()
            words[missing] = MISSING.get(name, f"{name.replace('_', ' ')} unknown")
            text.iloc[rows] = words.to_numpy()
        item = (
            '{"feature":"'
            + pd.Series(np.asarray(names, dtype=object)[order[:, slot]])
            + '","reason":'
            + _json_text(text.astype(str))
            + ',"contribution":'
            + pd.Series(np.round(strength[:, slot], 4)).astype(str)
            + "}"
        )
        items.append(item.where(strength[:, slot] > 0, ""))
    joined = items[0]  # strongest first: a slot holds a reason only when every earlier slot does
    for item in items[1:]:
        joined = joined + np.where(item != "", ",", "") + item
    return "[" + joined + "]"


def explain(selected: object, table: pd.DataFrame, top: int = TOP) -> pd.Series | None:
    """The JSON reasons of each row of a feature table under a selected model (None when the model has none)."""
    from chicago_food_assets.core.training import model_frame

    found = contributions(selected.pipeline, model_frame(table, selected.settings))
    if found is None:
        return None
    return reasons(table.reset_index(drop=True), selected.features, found[0], top)
