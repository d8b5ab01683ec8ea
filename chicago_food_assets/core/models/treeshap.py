"""XGBoost's exact per-feature contributions (`pred_contribs`, path-dependent TreeSHAP), the same numbers faster.

XGBoost computes a row's contributions tree by tree: each tree's vector over every column (here about 150, the
one-hot categories included) is computed and added to the row's total in float32. Its cost is trees x columns per
row: 22 s for 330,000 rows of the 300-tree model. But one tree's contributions depend on the row only through the
way it goes at each of the tree's splits (left or right, missing values the default way): a tree of depth 3 has at
most 7 splits, so at most 128 such patterns. `Contributions` computes each tree's contributions once per pattern
seen, with XGBoost itself (the tree alone, on one row of that pattern), and gives every row its pattern's values,
added tree by tree in XGBoost's order and precision. The result is bit for bit XGBoost's (a test compares them).

Models it does not cover (trees of more than `MOST_SPLITS` splits, categorical splits, dart, several outputs or
parallel trees) are computed by XGBoost directly.
"""

import json
from typing import Any

import numpy as np

MOST_SPLITS = 12  # splits of a tree: patterns are looked up in a table of 2**splits rows


class Contributions:
    """A booster's contributions, row batch after row batch; each tree's table of patterns fills as rows need it."""

    def __init__(self, booster: Any) -> None:  # an xgboost.Booster (untyped)
        self.booster = booster
        model = json.loads(booster.save_raw(raw_format="json"))
        learner = model["learner"]
        gradient = learner["gradient_booster"]
        trees = gradient.get("model", {}).get("trees", [])
        self.trees = [_Tree(tree) for tree in trees]
        self.columns = int(learner["learner_model_param"]["num_feature"])
        self.exact = (
            gradient.get("name") == "gbtree"
            and int(learner["learner_model_param"].get("num_class", "0")) <= 1
            and int(gradient["model"]["gbtree_model_param"].get("num_parallel_tree", "1")) == 1
            and all(tree.splits <= MOST_SPLITS and not tree.categorical for tree in self.trees)
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Rows x (columns + 1) float32, as `booster.predict(DMatrix(x), pred_contribs=True)` gives them."""
        from xgboost import DMatrix

        if not self.exact or not len(x):
            return self.booster.predict(DMatrix(x), pred_contribs=True)
        columns = np.ascontiguousarray(x.astype(np.float32).T)  # one feature's values contiguous
        missing = np.isnan(columns)
        total = np.zeros((self.columns + 1, len(x)), dtype=np.float32)
        for number, tree in enumerate(self.trees):
            pattern = tree.patterns(columns, missing)
            table = tree.table(self.booster, number, x, pattern)
            for position, column in enumerate(tree.features):
                total[column] += table[pattern, position]
        # the bias (the trees' expected values and the base score) is the same for every row
        total[-1] = self.booster.predict(DMatrix(x[:1]), pred_contribs=True)[0, -1]
        return total.T


class _Tree:
    def __init__(self, tree: dict) -> None:
        left = np.asarray(tree["left_children"])
        self.nodes = np.flatnonzero(left != -1)  # the splits
        self.splits = len(self.nodes)
        self.feature = np.asarray(tree["split_indices"], dtype=np.int64)[self.nodes]
        self.threshold = np.asarray(tree["split_conditions"], dtype=np.float32)[self.nodes]
        self.default_left = np.asarray(tree["default_left"], dtype=bool)[self.nodes]
        self.categorical = bool(np.any(np.asarray(tree.get("split_type", [0]))[self.nodes]))
        self.features = np.unique(self.feature)  # the only columns a tree's contributions can be non-zero in
        size = 1 << self.splits if self.splits <= MOST_SPLITS else 0
        self.values = np.zeros((size, len(self.features)), dtype=np.float32)  # per pattern, on those columns
        self.known = np.zeros(size, dtype=bool)
        self.alone: Any = None  # the booster of this tree alone

    def patterns(self, columns: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """Per row, which way it goes at each split, as bits (left = 1): XGBoost's rule, value < threshold, in
        float32; a missing value goes the split's default way."""
        pattern = np.zeros(columns.shape[1], dtype=np.int64)
        for bit, (feature, threshold, default_left) in enumerate(
            zip(self.feature, self.threshold, self.default_left, strict=True)
        ):
            left = columns[feature] < threshold
            if default_left:
                left |= missing[feature]
            pattern |= left.astype(np.int64) << bit
        return pattern

    def table(self, booster: Any, number: int, x: np.ndarray, pattern: np.ndarray) -> np.ndarray:
        """The tree's contributions per pattern on its split columns, computed by XGBoost (this tree alone) for the
        patterns not seen yet."""
        from xgboost import DMatrix

        size = len(self.known)
        new = np.flatnonzero((np.bincount(pattern, minlength=size) > 0) & ~self.known)
        if len(new):
            row = np.zeros(size, dtype=np.int64)
            row[pattern] = np.arange(len(pattern))  # a row of each pattern
            if self.alone is None:
                self.alone = booster[number : number + 1]
            self.values[new] = self.alone.predict(DMatrix(x[row[new]]), pred_contribs=True)[:, self.features]
            self.known[new] = True
        return self.values
