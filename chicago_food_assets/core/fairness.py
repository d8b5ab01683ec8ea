"""Bias audit of the selected model by facility type, with aequitas.

Why FPR and FDR: the intervention is punitive. Being flagged sends an inspector who can fine or close the place, so
the harm falls on establishments flagged that would have passed. FPR (of the places that would pass, the share we
flag) and FDR (of the places we flag, the share that pass) measure that harm; a group whose FPR or FDR is far above
the reference group's (Restaurant) bears more unwarranted inspections. Disparity = group metric / reference metric;
within [0.8, 1.25] counts as fair.
"""

import numpy as np
import pandas as pd

REFERENCE = "Restaurant"
FAIR_BAND = (0.8, 1.25)
SMALL = "Other (small groups)"
COLUMNS = (
    "facility_type",
    "group_size",
    "prevalence",
    "flagged",
    "tpr",
    "fpr",
    "fdr",
    "fnr",
    "precision",
    "fpr_disparity",
    "fdr_disparity",
    "fpr_parity",
    "fdr_parity",
    "reference",
    "threshold",
)


def merge_small_groups(groups: pd.Series, min_size: int, keep: str = REFERENCE) -> pd.Series:
    """Facility types with fewer than `min_size` rows become one group (their rates would be noise)."""
    sizes = groups.value_counts()
    small = sizes[(sizes < min_size) & (sizes.index != keep)].index
    return groups.where(~groups.isin(small), SMALL)


def operating_threshold(score: np.ndarray, flagged_share: float) -> float:
    """The score above which the top `flagged_share` of inspections fall: the inspectors' list."""
    return float(np.quantile(score, 1 - flagged_share)) if len(score) else 1.0


def audit(frame: pd.DataFrame, threshold: float, min_size: int = 50, reference: str = REFERENCE) -> pd.DataFrame:
    """`frame` has facility_type, score and failed. One row per facility type group with rates and disparities."""
    from aequitas.bias import Bias
    from aequitas.fairness import Fairness
    from aequitas.group import Group

    data = pd.DataFrame(
        {
            "score": (frame["score"].to_numpy(dtype=float) >= threshold).astype(int),
            "label_value": frame["failed"].to_numpy(dtype=int),
            # aequitas needs plain object columns for attributes (not category or string dtypes)
            "facility_type": merge_small_groups(frame["facility_type"].astype(object), min_size)
            .astype(object)
            .to_numpy(),
        }
    )
    crosstab, _ = Group().get_crosstabs(data, attr_cols=["facility_type"])
    disparity = Bias().get_disparity_predefined_groups(
        crosstab, original_df=data, ref_groups_dict={"facility_type": reference}, check_significance=False
    )
    fairness = Fairness().get_group_value_fairness(disparity)
    out = pd.DataFrame(
        {
            "facility_type": fairness["attribute_value"].astype(str),
            "group_size": fairness["group_size"].astype(int),
            "prevalence": fairness["prev"].astype(float),
            "flagged": fairness["pp"].astype(int),
            "tpr": fairness["tpr"].astype(float),
            "fpr": fairness["fpr"].astype(float),
            "fdr": fairness["fdr"].astype(float),
            "fnr": fairness["fnr"].astype(float),
            "precision": fairness["precision"].astype(float),
            "fpr_disparity": fairness["fpr_disparity"].astype(float),
            "fdr_disparity": fairness["fdr_disparity"].astype(float),
            "fpr_parity": fairness["FPR Parity"].astype(bool),
            "fdr_parity": fairness["FDR Parity"].astype(bool),
        }
    )
    out["reference"] = out["facility_type"] == reference
    out["threshold"] = float(threshold)
    return out.sort_values("group_size", ascending=False).reset_index(drop=True)[list(COLUMNS)]


def outside_band(table: pd.DataFrame, min_size: int, band: tuple[float, float] = FAIR_BAND) -> pd.DataFrame:
    """Groups of meaningful size whose FPR or FDR disparity leaves the fair band."""
    low, high = band
    sized = table[(table["group_size"] >= min_size) & (table["facility_type"] != SMALL)]
    out = ~sized["fpr_disparity"].between(low, high) | ~sized["fdr_disparity"].between(low, high)
    return sized[out.fillna(False).to_numpy(dtype=bool)]
