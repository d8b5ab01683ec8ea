"""The candidates' input preparation: numbers imputed (with missing indicators) and optionally scaled, categories
one-hot encoded with rare and unseen values in one column.

They compute what scikit-learn's `SimpleImputer(strategy="median", add_indicator=True)` + `StandardScaler` and
`SimpleImputer(strategy="constant", fill_value="missing")` + `OneHotEncoder(handle_unknown="infrequent_if_exist",
min_frequency=...)` compute (a test holds them to it), with the same output column names, but in array operations:
scikit-learn's median imputer sorts masked arrays and its encoder maps object arrays value by value in Python,
which was a third of training's time on 300,000 rows (the backtest fits 15 pipelines). Unlike `SimpleImputer`, a
numeric column that is empty in the training rows is kept (imputed with 0) instead of dropped.

Imported only where models are built (scikit-learn's import is most of a process start).
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING = "missing"  # the value a missing category is encoded as
INFREQUENT = "infrequent_sklearn"  # the column suffix of rare and unseen categories (scikit-learn's name)


def _names(columns: Sequence[str] | None, fitted: list[str]) -> list[str]:
    return [str(name) for name in (fitted if columns is None else columns)]


class Numbers(TransformerMixin, BaseEstimator):
    """Median imputation, a missing indicator for each column that had missing values in fit, then (when
    `scale`) every output column standardised to mean 0 and variance 1 (a constant column is only centred)."""

    def __init__(self, scale: bool = False) -> None:
        self.scale = scale

    def fit(self, x: pd.DataFrame, y: object = None) -> "Numbers":
        values = np.asarray(x, dtype=float)
        self.feature_names_in_ = np.asarray([str(c) for c in x.columns], dtype=object)
        missing = np.isnan(values)
        counts = (~missing).sum(axis=0)
        medians = np.zeros(values.shape[1])
        if (counts > 0).any():
            medians[counts > 0] = np.nanmedian(values[:, counts > 0], axis=0)
        self.medians_ = medians
        self.indicated_ = np.flatnonzero(missing.any(axis=0))
        if self.scale:
            out = np.empty((len(values), self.width()), order="F")  # column by column: the means' summation order
            self._impute(values, out)
            self.mean_ = out.mean(axis=0)
            spread = out.std(axis=0)
            self.scale_ = np.where(spread > 0, spread, 1.0)
        return self

    def _impute(self, values: np.ndarray, out: np.ndarray) -> None:
        """The medians where values are missing, then a missing indicator per indicated column, written into `out`."""
        missing = np.isnan(values)
        np.copyto(out[:, : values.shape[1]], np.where(missing, self.medians_, values))
        out[:, values.shape[1] :] = missing[:, self.indicated_]

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(x), self.width()))
        self.fill(x, out)
        return out

    def width(self) -> int:
        return len(self.medians_) + len(self.indicated_)

    def fill(self, x: pd.DataFrame, out: np.ndarray) -> None:
        """Write the output columns into `out` (rows x `width()`, a view of a wider array): no block is copied
        twice."""
        self._impute(np.asarray(x, dtype=float), out)
        if self.scale:
            out -= self.mean_
            out /= self.scale_

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = _names(input_features, list(self.feature_names_in_))
        indicators = [f"missingindicator_{names[i]}" for i in self.indicated_]
        return np.asarray(names + indicators, dtype=object)


class Categories(TransformerMixin, BaseEstimator):
    """One-hot columns of each category seen at least `min_frequency` times in fit (sorted, a missing value being
    the category "missing"), and per column with rarer values one more column for them and for values not seen."""

    def __init__(self, min_frequency: int = 20) -> None:
        self.min_frequency = min_frequency

    @staticmethod
    def _text(column: pd.Series) -> pd.Series:
        return column.astype(object).where(column.notna(), MISSING).astype(str)

    def fit(self, x: pd.DataFrame, y: object = None) -> "Categories":
        self.feature_names_in_ = np.asarray([str(c) for c in x.columns], dtype=object)
        self.categories_, self.infrequent_ = [], []
        for name in x.columns:
            counts = self._text(x[name]).value_counts(sort=False)
            self.categories_.append(np.sort(counts.index[counts >= self.min_frequency].to_numpy(dtype=object)))
            self.infrequent_.append(bool((counts < self.min_frequency).any()))
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(x), self.width()))
        self.fill(x, out)
        return out

    def width(self) -> int:
        return sum(len(kept) + int(rare) for kept, rare in zip(self.categories_, self.infrequent_, strict=True))

    def fill(self, x: pd.DataFrame, out: np.ndarray) -> None:
        """Set the ones of the output columns in `out` (rows x `width()` of zeros, a view of a wider array)."""
        widths = [len(kept) + int(rare) for kept, rare in zip(self.categories_, self.infrequent_, strict=True)]
        start = 0
        for name, kept, rare, width in zip(x.columns, self.categories_, self.infrequent_, widths, strict=True):
            codes = pd.Categorical(self._text(x[name]), categories=kept).codes.astype(np.int64)
            if rare:
                codes = np.where(codes < 0, len(kept), codes)
            known = np.flatnonzero(codes >= 0)
            out[known, start + codes[known]] = 1.0
            start += width

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = _names(input_features, list(self.feature_names_in_))
        out = []
        for name, kept, rare in zip(names, self.categories_, self.infrequent_, strict=True):
            out += [f"{name}_{value}" for value in kept] + ([f"{name}_{INFREQUENT}"] if rare else [])
        return np.asarray(out, dtype=object)


class Preparation(TransformerMixin, BaseEstimator):
    """The numbers' and the categories' columns side by side, in that order: what a `ColumnTransformer` of the
    two would output, without its per-call copies and checks of the frame (most of its time here). Like a fitted
    `ColumnTransformer`, it lists its parts in `transformers_` as (name, transformer, columns)."""

    def __init__(
        self,
        numeric: tuple[str, ...] = (),
        categorical: tuple[str, ...] = (),
        scale: bool = False,
        min_frequency: int = 20,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.scale = scale
        self.min_frequency = min_frequency

    def fit(self, x: pd.DataFrame, y: object = None) -> "Preparation":
        self.feature_names_in_ = np.asarray([str(c) for c in x.columns], dtype=object)
        numbers = Numbers(scale=self.scale).fit(x[list(self.numeric)])
        categories = Categories(min_frequency=self.min_frequency).fit(x[list(self.categorical)])
        self.transformers_: list[tuple[str, Numbers | Categories, list[str]]] = [
            ("numeric", numbers, list(self.numeric)),
            ("categorical", categories, list(self.categorical)),
        ]
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        """The parts written side by side into one array (stacking separate blocks would copy every row again)."""
        widths = [transformer.width() for _, transformer, _ in self.transformers_]
        out = np.zeros((len(x), sum(widths)))
        start = 0
        for (_, transformer, columns), width in zip(self.transformers_, widths, strict=True):
            transformer.fill(x[columns], out[:, start : start + width])
            start += width
        return out

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = [transformer.get_feature_names_out(columns) for _, transformer, columns in self.transformers_]
        return np.concatenate(names)
