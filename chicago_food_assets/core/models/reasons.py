"""Why this score: each feature's contribution to a row's log-odds, and the top ones in plain words.

XGBoost gives exact per-row contributions (`pred_contribs`, TreeSHAP) whose sum with its bias is the raw margin
(computed by `treeshap`, bit for bit the same, faster).
Logistic regression's are exact too: coefficient times the transformed value, plus the intercept. KNN has none
(its score is its neighbours' vote): its rows get no reasons. Transformed columns (missing indicators, one-hot
categories) are added back to the feature they come from, so a reason is a feature, not a column.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chicago_food_assets.core.declarations import catalog
from chicago_food_assets.core.models import treeshap

if TYPE_CHECKING:
    from chicago_food_assets.core.models.training import Selected

TOP = 3  # reasons kept per score: the features that raise it most
CHUNK_ROWS = 50_000  # contributions are rows x transformed columns of floats: computed this many rows at a time


# One plain sentence per feature, built from the row's value; a missing value says what it means.
WORDS = {feature.name: feature.words for feature in catalog.FEATURES}
MISSING = {feature.name: feature.missing for feature in catalog.FEATURES if feature.missing}


def feature_of(pipeline: Any) -> np.ndarray:  # a scikit-learn Pipeline (untyped)
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


def contributions(pipeline: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
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
    trees = treeshap.Contributions(model.get_booster()) if kind == "XGBClassifier" else None
    parts, bases = [], []
    for start in range(0, len(frame), CHUNK_ROWS):
        x = np.asarray(prepare.transform(frame.iloc[start : start + CHUNK_ROWS]), dtype=float)
        if trees is not None:
            raw = trees(x)
            column, base = raw[:, :-1], raw[:, -1]
        else:
            column, base = x * model.coef_[0], np.full(len(x), model.intercept_[0])
        parts.append(column @ grouping)
        bases.append(base)
    if not parts:
        return np.zeros((0, len(prepare.feature_names_in_))), np.zeros(0)
    return np.vstack(parts), np.concatenate(bases)


def _json_text(text: pa.Array) -> pa.Array:
    return pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')


def reasons(table: pd.DataFrame, names: tuple[str, ...], contributed: np.ndarray, top: int = TOP) -> pd.Series:
    """Per row, a JSON list of its top `top` risk-raising features: [{"feature", "reason", "contribution"}],
    strongest first (contribution in log-odds). Built column by column (Arrow's string kernels join the pieces): no
    Python loop over rows."""
    n = len(table)
    if n == 0:
        return pd.Series([], dtype=object)
    order = np.argsort(-contributed, axis=1, kind="stable")[:, :top]
    strength = np.take_along_axis(contributed, order, axis=1)
    features = pa.array(names, type=pa.string())
    texts: list[np.ndarray] = []
    joined: pa.Array | None = None
    for slot in range(order.shape[1]):
        text = np.full(n, "", dtype=object)
        for index, name in enumerate(names):
            rows = np.flatnonzero(order[:, slot] == index)
            if not len(rows):
                continue
            values = table[name].iloc[rows].reset_index(drop=True)
            words = WORDS[name](values).astype(object)
            missing = values.isna().to_numpy()
            words[missing] = MISSING.get(name, f"{name.replace('_', ' ')} unknown")
            text[rows] = words.to_numpy()
        text = text.astype(str).astype(object)
        # a reason is shown when it raises the score, says something, and was not said by a stronger one (latitude
        # and longitude both say "its area")
        shown = (strength[:, slot] > 0) & (text != "")
        for earlier in texts:
            shown &= text != earlier
        texts.append(text)
        contribution = pd.Series(np.round(strength[:, slot], 4)).astype(str).to_numpy(dtype=object)
        item = pc.binary_join_element_wise(
            '{"feature":"',
            pc.take(features, pa.array(order[:, slot])),
            '","reason":"',
            _json_text(pa.array(text, type=pa.string())),
            '","contribution":',
            pa.array(contribution, type=pa.string()),
            "}",
            "",
        )
        item = pc.if_else(pa.array(shown), item, "")
        if joined is None:
            joined = item
        else:
            both = pc.and_(pc.not_equal(joined, ""), pc.not_equal(item, ""))
            joined = pc.binary_join_element_wise(joined, pc.if_else(both, ",", ""), item, "")
    listed = pc.binary_join_element_wise("[", joined, "]", "")
    return pd.Series(listed.to_numpy(zero_copy_only=False), dtype=object)


def explain(selected: "Selected", table: pd.DataFrame, top: int = TOP) -> pd.Series | None:
    """The JSON reasons of each row of a feature table under a selected model (None when the model has none)."""
    from chicago_food_assets.core.models.training import model_frame

    found = contributions(selected.pipeline, model_frame(table, selected.settings))
    if found is None:
        return None
    return reasons(table.reset_index(drop=True), selected.features, found[0], top)
