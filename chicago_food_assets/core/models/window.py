"""A model's window: the weeks it learnt from and the weeks it was judged on. Used by training, selection,
scoring (which period a week is for a model) and the model card; written down once here."""

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ModelWindow:
    first: date  # the first training week
    cutoff: date  # the first holdout week: training is [first, cutoff)
    end: date  # the holdout is [cutoff, end)
    refit: bool = False  # refit on training + holdout after selection: the model then learnt from [first, end)

    @property
    def learnt_until(self) -> date:
        """The first week the model has not learnt from."""
        return self.end if self.refit else self.cutoff

    def refitted(self) -> "ModelWindow":
        return replace(self, refit=True)

    def learnt(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows (by `week`) the model learnt from."""
        return table[(table["week"] >= pd.Timestamp(self.first)) & (table["week"] < pd.Timestamp(self.learnt_until))]

    def period(self, weeks: pd.Series) -> np.ndarray:
        """Per week: `training` (learnt from: an in-sample score), `holdout` (judged on, never learnt from) or
        `prediction` (after both)."""
        learnt = (weeks >= pd.Timestamp(self.first)) & (weeks < pd.Timestamp(self.learnt_until))
        judged = (weeks >= pd.Timestamp(self.cutoff)) & (weeks < pd.Timestamp(self.end)) & ~learnt
        return np.select([learnt.to_numpy(), judged.to_numpy()], ["training", "holdout"], "prediction").astype(object)

    @property
    def trained_on(self) -> str:
        refit = ": refit on training + holdout after selection" if self.refit else ""
        return f"weeks {self.first} to {self.learnt_until} (exclusive){refit}"

    def describe(self) -> str:
        return f"trained on {self.trained_on}; holdout {self.cutoff} to {self.end} (exclusive)"
