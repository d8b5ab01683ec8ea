"""The prospective evaluation of the visit lists: once a week's inspections have arrived, how had that week's list,
published before it with the model of the time, ranked the places that were actually inspected?

`outcomes` matches a week's inspections to its list (one row per inspection); `evaluate` turns matched rows into the
numbers a city would judge a list by, for one week or pooled over many:
- coverage: the share of the week's inspections (and of its canvass inspections) whose place was on the list;
- over the listed places that had a canvass inspection that week (the list plans canvass inspections: a
  re-inspection after a fail or a complaint is another question, with answers the list cannot know on Monday): ROC
  AUC of the list's scores, and the share failed among the top 10% and 20% in the list's order;
- the re-ordering simulation: those places visited in the list's order on the week's real canvass days; how many
  days earlier each fail is found, and the share of fails found in the first half of the week.

`plan_table` judges the weekly plans the same way: among the canvass inspections that really happened in a planned
week (each place's first), the fail rate at the planned places against the others', with 95% intervals (Wilson's
for each rate, Newcombe's for their difference), per week and pooled over the weeks outside the model's training.
A plan holds a few hundred places of thousands listed, and the City's inspectors visited only some of them: the
counts are in every row, so a week resting on five inspections reads as such.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.contracts import LIST_EVALUATION, PLAN_EVALUATION, VISIT_LIST_OUTCOMES
from chicago_food_assets.core.models import evaluation

COLUMNS = VISIT_LIST_OUTCOMES.names
POOLED = "pooled"
OUTSIDE_TRAINING = "outside_training"


def outcomes(inspections: pd.DataFrame, visit_list: pd.DataFrame) -> pd.DataFrame:
    """One row per inspection of the weeks of `inspections` (clean rows), with its place's rank and score on the list
    of its week (`listed` false when the place was not on it)."""
    listed = visit_list[["week", "establishment", "rank", "score", "model_version", "period"]]
    lengths = visit_list.groupby("week").size().rename("list_length")
    out = inspections[["week", "inspection_id", "inspection_date", "establishment", "failed"]].merge(
        listed, on=["week", "establishment"], how="left"
    )
    out["canvass"] = (inspections["inspection_kind"] == "canvass").to_numpy(dtype=bool) & ~inspections[
        "reinspection"
    ].to_numpy(dtype=bool)
    out["listed"] = out["rank"].notna()
    out["list_length"] = lengths.reindex(out["week"]).fillna(0).to_numpy(dtype=int)
    versions = visit_list.drop_duplicates("week").set_index("week")
    for name in ("model_version", "period"):  # the list's, also for the rows not on it
        out[name] = versions[name].reindex(out["week"]).to_numpy(dtype=object)
    return out[list(COLUMNS)]


def evaluate(rows: pd.DataFrame, listed: int) -> dict[str, float | int | None]:
    """The numbers of matched rows (`outcomes`) of one list or many; `listed` is how many places the lists held.

    Ranked metrics read each listed place's first canvass inspection in its week; the re-ordering is per week, on
    that week's own days, pooled weighted by fails."""
    canvass = rows[rows["canvass"]]
    first = canvass[canvass["listed"]].sort_values(["week", "inspection_date", "inspection_id"], kind="stable")
    first = first.drop_duplicates(["week", "establishment"])
    failed = first["failed"].to_numpy(dtype=bool)
    score = first["score"].to_numpy(dtype=float)
    two_classes = failed.any() and not failed.all()
    earlier, real_half, list_half, fails = 0.0, 0.0, 0.0, 0
    for _, week in first.groupby("week", sort=True):  # one small block per week: the simulation is per week
        week_failed = week["failed"].to_numpy(dtype=bool)
        if not week_failed.any():
            continue
        dates = week["inspection_date"].to_numpy(dtype="datetime64[D]")
        order = evaluation.reorder(dates, week_failed, -week["rank"].to_numpy(dtype=float))
        real = evaluation.reorder(dates, week_failed, -dates.astype(np.int64).astype(float))
        n = int(week_failed.sum())
        earlier += order["days_earlier"] * n
        list_half += order["fails_in_first_half"] * n
        real_half += real["fails_in_first_half"] * n
        fails += n
    return {
        "listed": int(listed),
        "inspections": len(rows),
        "canvass_inspections": len(canvass),
        "coverage": float(rows["listed"].mean()) if len(rows) else None,
        "canvass_coverage": float(canvass["listed"].mean()) if len(canvass) else None,
        "inspected_on_list": len(first),
        "fails_on_list": int(failed.sum()),
        "fails": int(rows["failed"].sum()),
        "roc_auc": _auc(failed, score) if two_classes else None,
        "precision_top_10": _top(first, 0.1),
        "precision_top_20": _top(first, 0.2),
        "days_earlier": earlier / fails if fails else None,
        "first_half_real": real_half / fails if fails else None,
        "first_half_list": list_half / fails if fails else None,
    }


def _auc(failed: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(failed.astype(int), score))


def _top(first: pd.DataFrame, share: float) -> float | None:
    """The share failed among the `share` of each week's inspected listed places ranked highest, over all weeks."""
    if first.empty:
        return None
    position = first.groupby("week")["rank"].rank(method="first")
    size = first.groupby("week")["rank"].transform("size")
    top = position <= np.maximum(np.round(share * size), 1)
    return float(first.loc[top, "failed"].mean())


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per week, and pooled per model over the weeks outside its training (holdout and prediction): the evaluation
    table of matched rows (`outcomes`, which carry each week's list length, model and period)."""
    weeks = rows.drop_duplicates("week")[["week", "model_version", "period", "list_length"]].sort_values("week")
    weeks = weeks[weeks["model_version"].notna()]  # a week without a list has nothing to judge
    records = []
    for info in weeks.itertuples(index=False):  # one row per week of a report table
        part = rows[rows["week"] == info.week]
        scope = {"scope": f"{pd.Timestamp(info.week):%Y-%m-%d}", "week": info.week, "weeks": 1}
        records.append(
            {
                **scope,
                "model_version": info.model_version,
                "period": info.period,
                **evaluate(part, int(info.list_length)),
            }
        )
    outside = weeks[weeks["period"] != "training"]
    for version, chosen in outside.groupby("model_version", sort=True):
        part = rows[rows["week"].isin(chosen["week"])]
        records.append(
            {
                "scope": POOLED,
                "week": pd.NaT,
                "weeks": len(chosen),
                "model_version": version,
                "period": OUTSIDE_TRAINING,
                **evaluate(part, int(chosen["list_length"].sum())),
            }
        )
    if not records:
        return LIST_EVALUATION.empty()
    return LIST_EVALUATION.conform(pd.DataFrame(records)[list(LIST_EVALUATION.names)])


Z95 = 1.959963984540054


def wilson(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate and 95% Wilson score interval per (successes, trials); NaN where there are no trials."""
    n = trials.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = successes / n
        centre = (rate + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * np.sqrt(rate * (1 - rate) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return rate, centre - half, centre + half


def plan_table(outcomes: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Per planned week, and pooled per model and policy over the weeks outside its training: the fail rate of the
    canvass inspections at planned places against the week's other canvass inspections (`outcomes` rows)."""
    if plan.empty or outcomes.empty:
        return PLAN_EVALUATION.empty()
    weeks = plan.groupby("week").agg(
        planned=("establishment", "size"), policy=("policy", "first"), model_version=("model_version", "first"),
        period=("period", "first"),
    )  # fmt: skip
    canvass = outcomes[outcomes["canvass"].to_numpy(dtype=bool) & outcomes["week"].isin(weeks.index).to_numpy()]
    first = canvass.sort_values(["week", "inspection_date", "inspection_id"], kind="stable")
    first = first.drop_duplicates(["week", "establishment"])
    keys = pd.MultiIndex.from_frame(plan[["week", "establishment"]])
    on_plan = first.assign(on_plan=pd.MultiIndex.from_frame(first[["week", "establishment"]]).isin(keys))
    on_plan["failed"] = on_plan["failed"].astype(bool)
    counts = on_plan.groupby(["week", "on_plan"])["failed"].agg(["size", "sum"]).unstack("on_plan", fill_value=0)
    counts = counts.reindex(columns=pd.MultiIndex.from_product([["size", "sum"], [False, True]]), fill_value=0)
    per_week = weeks.join(
        pd.DataFrame(
            {
                "planned_inspected": counts[("size", True)],
                "planned_fails": counts[("sum", True)],
                "other_inspected": counts[("size", False)],
                "other_fails": counts[("sum", False)],
            }
        ),
        how="inner",
    ).reset_index()
    per_week = per_week.assign(scope=per_week["week"].dt.strftime("%Y-%m-%d"), weeks=1)
    outside = per_week[per_week["period"] != "training"]
    pooled = (
        outside.groupby(["model_version", "policy"], as_index=False)
        .agg(
            weeks=("weeks", "sum"),
            planned=("planned", "sum"),
            planned_inspected=("planned_inspected", "sum"),
            planned_fails=("planned_fails", "sum"),
            other_inspected=("other_inspected", "sum"),
            other_fails=("other_fails", "sum"),
        )
        .assign(scope=POOLED, week=pd.NaT, period=OUTSIDE_TRAINING)
    )
    table = pd.concat([per_week, pooled], ignore_index=True)
    rate, low, high = wilson(table["planned_fails"].to_numpy(float), table["planned_inspected"].to_numpy(float))
    other, other_low, other_high = wilson(
        table["other_fails"].to_numpy(float), table["other_inspected"].to_numpy(float)
    )
    difference = rate - other
    table = table.assign(
        planned_fail_rate=rate, planned_low=low, planned_high=high,
        other_fail_rate=other, other_low=other_low, other_high=other_high,
        difference=difference,
        difference_low=difference - np.sqrt((rate - low) ** 2 + (other_high - other) ** 2),
        difference_high=difference + np.sqrt((high - rate) ** 2 + (other - other_low) ** 2),
    )  # fmt: skip
    return PLAN_EVALUATION.conform(table[list(PLAN_EVALUATION.names)])
