"""Bias audit of the selected model by facility type and by area (ZIP code), with aequitas.

Why FPR and FDR: the intervention is punitive. Being flagged sends an inspector who can fine or close the place, so
the harm falls on establishments flagged that would have passed. FPR (of the places that would pass, the share we
flag) and FDR (of the places we flag, the share that pass) measure that harm; a group whose FPR or FDR is far above
the reference group's (Restaurant) bears more unwarranted inspections. Disparity = group metric / reference metric;
within [0.8, 1.25] counts as fair.

By area: a model of public data finds what inspectors found, and proxies of area (ZIP rates, coordinates) can carry
what made the City's inspector feature strong: places in a strict inspector's area flagged for the inspector's
strictness. `area_audit` sets each area's share of the flags beside its share of the positives (what inspections
found), with its FPR and FDR disparities against the largest area.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.contracts import FAIRNESS_AUDIT
from chicago_food_assets.core.declarations.targets import OUTCOME

REFERENCE = "Restaurant"
FAIR_BAND = (0.8, 1.25)
SMALL = "Other (small groups)"
SMALL_AREAS = "Other (small areas)"
NO_AREA = "no ZIP code"
FLAGGED_SHARE = 0.2  # the inspectors' list: the top fifth of a week's scores (the policy's default)
MIN_GROUP = 50  # facility types with fewer holdout inspections are merged into SMALL
COLUMNS = tuple(name for name in FAIRNESS_AUDIT.names if name != "model_version")  # the audit's own
# the audit's columns -> aequitas' names for them
AEQUITAS_NAMES = {
    "facility_type": "attribute_value",
    "group_size": "group_size",
    "prevalence": "prev",
    "flagged": "pp",
    **{rate: rate for rate in ("tpr", "fpr", "fdr", "fnr", "precision", "fpr_disparity", "fdr_disparity")},
    "fpr_parity": "FPR Parity",
    "fdr_parity": "FDR Parity",
}


def merge_small_groups(groups: pd.Series, min_size: int, keep: str = REFERENCE, into: str = SMALL) -> pd.Series:
    """Groups with fewer than `min_size` rows become one group, `into` (their rates would be noise)."""
    sizes = groups.value_counts()
    small = sizes[(sizes < min_size) & (sizes.index != keep)].index
    return groups.where(~groups.isin(small), into)


def operating_threshold(score: np.ndarray, flagged_share: float) -> float:
    """The score above which the top `flagged_share` of inspections fall: the inspectors' list."""
    return float(np.quantile(score, 1 - flagged_share)) if len(score) else 1.0


def audit(frame: pd.DataFrame, threshold: float, min_size: int = 50, reference: str = REFERENCE) -> pd.DataFrame:
    """`frame` has facility_type, score and outcome. One row per facility type group with rates and disparities."""
    from aequitas.bias import Bias
    from aequitas.fairness import Fairness
    from aequitas.group import Group

    data = pd.DataFrame(
        {
            "score": (frame["score"].to_numpy(dtype=float) >= threshold).astype(int),
            "label_value": frame[OUTCOME].to_numpy(dtype=int),
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
    out = pd.DataFrame({ours: fairness[theirs] for ours, theirs in AEQUITAS_NAMES.items()})
    out = out.astype({c: FAIRNESS_AUDIT.column(c).dtype for c in AEQUITAS_NAMES}).astype({"facility_type": str})
    out["reference"] = out["facility_type"] == reference
    out["threshold"] = float(threshold)
    return out.sort_values("group_size", ascending=False).reset_index(drop=True)[list(COLUMNS)]


def outside_band(table: pd.DataFrame, min_size: int, band: tuple[float, float] = FAIR_BAND) -> pd.DataFrame:
    """Groups of meaningful size whose FPR or FDR disparity leaves the fair band."""
    low, high = band
    sized = table[(table["group_size"] >= min_size) & (table["facility_type"] != SMALL)]
    out = ~sized["fpr_disparity"].between(low, high) | ~sized["fdr_disparity"].between(low, high)
    return sized[out.fillna(False).to_numpy(dtype=bool)]


def within_group_order(score: np.ndarray, groups: pd.Series, key: np.ndarray | None = None) -> np.ndarray:
    """The per-group policy's key, lowest visited first: a place's rank within its group as a share of the group
    (1/n for its group's riskiest, 1 for its least risky). Lists interleave the groups by it, ties by score.

    Equal scores are ordered by `key` (the inspection id), never by the order rows happened to arrive in, so a
    re-run of the same week gives the same list."""
    score = np.asarray(score, dtype=float)
    key = np.arange(len(score)) if key is None else np.asarray(key)
    codes = pd.factorize(groups.to_numpy(), use_na_sentinel=False)[0]
    order = np.lexsort((key, -score, codes))  # by group, riskiest first, then by key
    sizes = np.bincount(codes, minlength=codes.max() + 1 if len(codes) else 0)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(codes) else np.array([], dtype=int)
    ranked = np.empty(len(score))
    ranked[order] = np.arange(len(order)) - starts[codes[order]] + 1
    return ranked / sizes[codes] if len(codes) else ranked


def group_flags(score: np.ndarray, groups: pd.Series, flagged_share: float) -> np.ndarray:
    """The mitigation: each group's own top `flagged_share` of scores is flagged (a per-group threshold), so every
    kind of place gets the same share of the list instead of the riskiest places overall."""
    return within_group_order(score, groups) <= flagged_share


SINGLE = "single threshold"
PER_GROUP = "per-group thresholds"


def policy_groups(facility_type: pd.Series, groups: list[str]) -> pd.Series:
    """Facility types as the policy groups them: the holdout's sizeable types, every other one SMALL."""
    return facility_type.astype(object).where(facility_type.isin(groups), SMALL).fillna(SMALL)


@dataclass(frozen=True)
class Decision:
    table: pd.DataFrame  # per group: base rates, flag rates, disparities under both policies
    days_earlier: dict[str, float]  # single threshold and per-group thresholds
    deployed: str  # SINGLE or PER_GROUP: how the week's list is ranked (core/scoring.score_table)
    why: str
    groups: tuple[str, ...] = ()  # the sizeable facility types the per-group policy keeps apart
    flagged_share: float = FLAGGED_SHARE  # the list the decision judged: the audit judges the same one
    min_size: int = MIN_GROUP


def _visits(score: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Each place's position in the per-group list (0 = visited first), as `scoring.score_table` ranks a week."""
    order = np.lexsort((-score, within))
    position = np.empty(len(order))
    position[order] = np.arange(len(order))
    return position


def _widest(table: pd.DataFrame, *columns: str) -> tuple[float, str]:
    """The disparity farthest from 1 in `columns`, as a factor >= 1, and the group that has it."""
    values = table.set_index("facility_type")[list(columns)].stack()
    values = values[np.isfinite(values.to_numpy(dtype=float)) & (values.to_numpy(dtype=float) > 0)]
    if values.empty:
        return 1.0, "none"
    factor = np.maximum(values, 1 / values.astype(float))
    return float(factor.max()), str(factor.idxmax()[0])


def decide(
    frame: pd.DataFrame,
    flagged_share: float = FLAGGED_SHARE,
    min_size: int = MIN_GROUP,
    reference: str = REFERENCE,
    cost: float = 0.2,
) -> Decision:
    """Compare the deployed single threshold with per-group thresholds on the holdout (`frame`: facility_type,
    score, failed, inspection_date). A group's gap is *explained by base rates* when the model flags it in
    proportion to how often it fails: its flag-rate ratio to the reference over its fail-rate ratio lies in the
    fair band. Per-group thresholds are deployed only when some sizeable group's gap is not explained by base rates,
    they narrow the largest disparity of any sizeable group (fixing one group must not open a wider gap for
    another), and they cost at most `cost` (a fifth) of the days earlier; otherwise the single threshold stays,
    and why."""
    from chicago_food_assets.core.models.evaluation import reorder

    groups = merge_small_groups(frame["facility_type"].astype(object), min_size).fillna(SMALL)
    kept = tuple(sorted(set(groups) - {SMALL}))
    score = frame["score"].to_numpy(dtype=float)
    threshold = operating_threshold(score, flagged_share)
    single = audit(frame, threshold, min_size, reference)
    mitigated_flags = group_flags(score, groups, flagged_share).astype(float)
    mitigated = audit(frame.assign(score=mitigated_flags), 0.5, min_size, reference).set_index("facility_type")
    table = single.set_index("facility_type")
    flag_rate = table["flagged"] / table["group_size"]
    base_ratio = table["prevalence"] / table.at[reference, "prevalence"] if reference in table.index else np.nan
    flag_ratio = flag_rate / flag_rate.get(reference, np.nan)
    out = pd.DataFrame(
        {
            "group_size": table["group_size"],
            "fail_rate_ratio": base_ratio,
            "flag_rate_ratio": flag_ratio,
            "explained_by_base_rate": (flag_ratio / base_ratio).between(*FAIR_BAND),
            "fpr_disparity": table["fpr_disparity"],
            "fdr_disparity": table["fdr_disparity"],
            "mitigated_fpr_disparity": mitigated["fpr_disparity"].reindex(table.index),
            "mitigated_fdr_disparity": mitigated["fdr_disparity"].reindex(table.index),
        }
    ).reset_index()
    dates, failed = frame["inspection_date"].to_numpy(), frame[OUTCOME].to_numpy(dtype=int)
    days = {
        SINGLE: reorder(dates, failed, score)["days_earlier"],
        PER_GROUP: reorder(dates, failed, -_visits(score, within_group_order(score, groups)))["days_earlier"],
    }
    outside = outside_band(single, min_size)
    unexplained = out[out["facility_type"].isin(outside["facility_type"]) & ~out["explained_by_base_rate"]]
    loss = 1 - days[PER_GROUP] / days[SINGLE] if days[SINGLE] > 0 else 1.0
    policy = (kept, flagged_share, min_size)
    if outside.empty:
        return Decision(out, days, SINGLE, "every sizeable group is inside the fair band", *policy)
    if unexplained.empty:
        why = (
            f"{', '.join(outside['facility_type'])} leave the band, but in proportion to how often they fail: the "
            "flags follow real failures, and per-group thresholds would send inspectors to places that fail less"
            f" ({days[PER_GROUP]:.1f} days earlier instead of {days[SINGLE]:.1f})"
        )
        return Decision(out, days, SINGLE, why, *policy)
    sizeable = out[out["group_size"] >= min_size]
    before = _widest(sizeable, "fpr_disparity", "fdr_disparity")
    after = _widest(sizeable, "mitigated_fpr_disparity", "mitigated_fdr_disparity")
    if after[0] >= before[0]:
        why = (
            f"{', '.join(unexplained['facility_type'])} are flagged beyond their fail rate, but per-group thresholds "
            f"would widen the largest disparity of a sizeable group ({after[1]}: {after[0]:.2f}x, against "
            f"{before[1]}: {before[0]:.2f}x now): the single threshold stays, reviewed with the audit each retraining"
        )
        return Decision(out, days, SINGLE, why, *policy)
    if loss <= cost:
        price = f"cost {loss:.0%} of the days earlier" if loss > 0 else "cost nothing in days earlier"
        why = (
            f"{', '.join(unexplained['facility_type'])} are flagged beyond their fail rate; per-group thresholds "
            f"{price} ({days[PER_GROUP]:.1f} instead of {days[SINGLE]:.1f}; we accept up to {cost:.0%})"
        )
        return Decision(out, days, PER_GROUP, why, *policy)
    why = (
        f"{', '.join(unexplained['facility_type'])} are flagged beyond their fail rate, but per-group thresholds cost "
        f"{loss:.0%} of the days earlier, more than the {cost:.0%} we accept: the single threshold stays, reviewed "
        "with the audit each retraining"
    )
    return Decision(out, days, SINGLE, why, *policy)


def area_audit(frame: pd.DataFrame, threshold: float, min_size: int = MIN_GROUP) -> pd.DataFrame:
    """`frame` has zip, score and outcome. One row per area (ZIP codes with fewer than `min_size` rows merged): its
    size, its share of the flagged inspections (score >= `threshold`) against its share of the positives, their
    ratio (1: flagged as often as its findings warrant; above 1: flagged beyond them), and FPR and FDR with their
    disparities against the largest area (aequitas)."""
    from aequitas.bias import Bias
    from aequitas.group import Group

    area = frame["zip"].astype(object).where(frame["zip"].notna(), NO_AREA)
    flagged = (frame["score"].to_numpy(dtype=float) >= threshold).astype(int)
    data = pd.DataFrame(
        {
            "score": flagged,
            "label_value": frame[OUTCOME].to_numpy(dtype=int),
            "area": merge_small_groups(area, min_size, keep="", into=SMALL_AREAS).astype(object).to_numpy(),
        }
    )
    sizes = data["area"].value_counts()
    named = sizes.drop([SMALL_AREAS, NO_AREA], errors="ignore")
    reference = str(named.index[0] if len(named) else sizes.index[0])
    crosstab, _ = Group().get_crosstabs(data, attr_cols=["area"])
    disparity = Bias().get_disparity_predefined_groups(
        crosstab, original_df=data, ref_groups_dict={"area": reference}, check_significance=False
    )
    totals = data.groupby("area").agg(flagged=("score", "sum"), positives=("label_value", "sum"))
    out = pd.DataFrame(
        {
            "area": disparity["attribute_value"].astype(str).to_numpy(),
            "group_size": disparity["group_size"].astype("int64").to_numpy(),
            "prevalence": disparity["prev"].astype(float).to_numpy(),
            "fpr": disparity["fpr"].astype(float).to_numpy(),
            "fdr": disparity["fdr"].astype(float).to_numpy(),
            "fpr_disparity": disparity["fpr_disparity"].astype(float).to_numpy(),
            "fdr_disparity": disparity["fdr_disparity"].astype(float).to_numpy(),
        }
    )
    counts = totals.reindex(out["area"])
    out["flagged"] = counts["flagged"].to_numpy(dtype=np.int64)
    out["positives"] = counts["positives"].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["flagged_share"] = out["flagged"] / max(int(flagged.sum()), 1)
        out["positive_share"] = out["positives"] / max(int(data["label_value"].sum()), 1)
        out["flags_per_finding"] = np.where(
            out["positive_share"] > 0, out["flagged_share"] / out["positive_share"], np.nan
        )
    out["reference"] = out["area"] == reference
    out["threshold"] = float(threshold)
    return out.sort_values("group_size", ascending=False).reset_index(drop=True)


def areas_outside_band(table: pd.DataFrame, band: tuple[float, float] = FAIR_BAND) -> pd.DataFrame:
    """Named areas flagged beyond (or below) their findings, or whose FPR or FDR disparity leaves the fair band."""
    low, high = band
    named = table[~table["area"].isin([SMALL_AREAS, NO_AREA])]
    out = (
        ~named["flags_per_finding"].between(low, high)
        | ~named["fpr_disparity"].between(low, high)
        | ~named["fdr_disparity"].between(low, high)
    )
    return named[out.fillna(False).to_numpy(dtype=bool)]


def as_deployed(holdout: pd.DataFrame, decision: "Decision | None") -> tuple[pd.DataFrame, float, float, int]:
    """The holdout as inspectors get it under the deployed policy (per-group thresholds: each type's own top share
    flagged, as a score of 1), with the operating threshold, the flagged share and the smallest group audited alone."""
    score = holdout["score"].to_numpy(dtype=float)
    share = decision.flagged_share if decision else FLAGGED_SHARE
    min_size = decision.min_size if decision else MIN_GROUP
    threshold = operating_threshold(score, share)
    if decision is not None and decision.deployed == PER_GROUP:
        groups = policy_groups(holdout["facility_type"], list(decision.groups))
        holdout = holdout.assign(score=group_flags(score, groups, share).astype(float))
        threshold = 0.5
    return holdout, threshold, share, min_size
