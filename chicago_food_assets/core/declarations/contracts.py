"""Every table's declared contract: its columns, their types and nullability, its partition column.

The one place a table's shape is written down. From a contract come the column lists core and the checks use,
the pandas dtypes a frame is conformed to, the PostgreSQL DDL and COPY types of the IO manager, the dagster-pandas
type and the `dagster/column_schema` metadata (`assets/types.py`), and the columns the service and the
dashboard select. Types never come from data: an empty week, an all-null column or a first week without rejects
make the same table as a full week.
Tables that carry the same columns (ids, weeks, dates, scores) declare them again: each table's list is read top to
bottom as its declaration, so those repeated lines are declarations, not logic.
"""

from chicago_food_assets.core.declarations import catalog, targets
from chicago_food_assets.core.declarations.columns import Column, Contract, contract

SCHEMA = "food"  # the PostgreSQL schema every table lives in
# what the demo and the pages call a place in SQL: its legal name, else its public one (extracts dropped the legal)
PLACE_NAME = "coalesce(dba_name, aka_name)"
Measured = dict[str, str | int | float | None]  # a row of a backtest: a model, its cutoff or `pooled`, its numbers


# The declarations below look alike by design (one column a line, the same few kinds): they are data, not logic.
def _counts(*names: str, kind: str = "smallint") -> tuple[Column, ...]:
    return tuple(Column(name, kind, bounds=(0, None)) for name in names)


C = Column


def _whereabouts(located: bool = False) -> tuple[Column, ...]:
    """What a place is called and where it is (`located`: its coordinates are required)."""
    return (
        C("dba_name", "text"),
        C("aka_name", "text"),
        C("address", "text"),
        C("zip", "text"),
        C("latitude", "float", not located, bounds=(-90, 90)),
        C("longitude", "float", not located, bounds=(-180, 180)),
    )


VIOLATION_COUNTS = ("critical_count", "serious_count", "minor_count", "violation_count")

CLEAN_INSPECTIONS = contract(
    "clean_inspections",
    "One typed row per inspection with an outcome; violations counted by severity.",
    C("inspection_id", "bigint", False, bounds=(1, None), unique=True),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("license", "bigint", False, "0 is Chicago's 'none'", bounds=(0, None)),
    C("establishment", "text", False, "license:<n>, or name:<NAME>|<ADDRESS> when the license is 0"),
    C("chain", "text", description="the business across its licenses: the name without store numbers or suffixes"),
    *_whereabouts(located=True),
    C("outside_chicago", "boolean", False),
    C("facility_type", "text", False),
    C("facility_type_raw", "text"),
    C("risk", "smallint", bounds=(1, 3)),
    C("inspection_type", "text"),
    C("inspection_kind", "text", False),
    C("reinspection", "boolean", False),
    C("results", "text", False, values=frozenset({"Pass", "Pass w/ Conditions", "Fail"})),
    C("failed", "boolean", False),
    C("violations_recorded", "boolean", False),
    *_counts(*VIOLATION_COUNTS),
    indexes=("inspection_id", "establishment", "chain"),
)

INSPECTION_VIOLATIONS = contract(
    "inspection_violations",
    "Cited violation items, long: inspection_id, number, severity, scheme (old before 2018-07-01).",
    C("week", "date", False),
    C("inspection_id", "bigint", False),
    C("number", "smallint", False, bounds=(1, 99)),
    C(
        "severity",
        "text",
        False,
        values=frozenset({"critical", "serious", "minor", "priority", "priority_foundation", "core", "unknown"}),
    ),
    C("scheme", "text", False, "old before 2018-07-01, new from then", values=frozenset({"old", "new"})),
    indexes=("inspection_id",),  # a week's features read its establishments' earlier citations by id
)

INSPECTION_REJECTS = contract(
    "inspection_rejects",
    "Raw rows the cleaner could not parse, with the reason and the row as received (JSON).",
    C("week", "date", False, "the week of the row's date, else of the range it was fetched for"),
    C("inspection_id", "text", True, "as received"),
    C("reason", "text", False),
    C("row", "json", False, "the row as received"),
)

INSPECTION_FEATURES = contract(
    "inspection_features",
    "Identifiers, leakage-free features and the targets `failed` and `critical_found` (see core/features/own.py, "
    "core/declarations/targets.py).",
    C("inspection_id", "bigint", False, bounds=(1, None), unique=True),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("establishment", "text", False),
    C("license", "bigint", False),
    *(C(f.name, f.kind, f.nullable, f.description, bounds=f.bounds) for f in catalog.FEATURES),
    *(C(t.name, "boolean", t.nullable, f"target: {t.description}") for t in targets.TARGETS.values()),
)

INSPECTION_SCORES = contract(
    "inspection_scores",
    "The selected model's score of each inspection, its rank in the week (1 = riskiest), and the known outcome.",
    C("inspection_id", "bigint", False),
    C("license", "bigint", False),
    C("establishment", "text", False),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("facility_type", "text"),
    C("score", "float", False),
    C("rank", "integer", False),
    C("model_version", "text", False),
    C("period", "text", False, "training, holdout or prediction, for the model that scored it"),
    C("failed", "boolean", False),
    C("reasons", "json", description="the features raising the score most, in plain words (core/models/reasons.py)"),
    indexes=("inspection_id", "license"),
)

SCORE_MONITORING = contract(
    "score_monitoring",
    "Per week and facility type (and All): the score distribution against the training weeks', PSI, the fail rate.",
    C("week", "date", False),
    C("facility_type", "text", False),
    C("count", "bigint", False),
    C("mean", "float"),
    C("p10", "float"),
    C("p25", "float"),
    C("p50", "float"),
    C("p75", "float"),
    C("p90", "float"),
    C("histogram", "json", False),
    C("training_count", "bigint", False, "scores of the training weeks in the group", formerly="reference_count"),
    C("training_mean", "float", formerly="reference_mean"),
    C("training_histogram", "json", False, "the training weeks' score histogram", formerly="reference_histogram"),
    C("psi", "float"),
    C("fail_rate", "float"),
    C("model_version", "text", False),
)

ESTABLISHMENT_RISK = contract(
    "establishment_risk",
    "The latest score of each establishment, for lookups.",
    *INSPECTION_SCORES.columns,
    C("inspections_scored", "bigint", False),
    partition=None,
    indexes=("license",),
)

CURRENT_MODEL = contract(
    "current_model",
    "The published model: version, windows, holdout metrics, training score distribution, library versions.",
    C("model_version", "text", False),
    C("name", "text", False),
    C("selected_by", "text", False, "the holdout metric candidates were ranked by (SelectionConfig.metric)"),
    C("refit", "boolean", False, "refitted on the holdout weeks too after selection"),
    C("training_from", "date", False, "the first training week"),
    C("holdout_from", "date", False, "the first holdout week: training ends before it"),
    C("holdout_to", "date", False, "the end of the holdout (exclusive)"),
    C("train_rows", "bigint", False),
    C("holdout_rows", "bigint", False),
    C("metrics", "json", False, "every candidate's and baseline's holdout metrics", shape=dict[str, dict[str, float]]),
    C("features", "json", False, "the model's inputs (core/declarations/catalog.py)", shape=list[str]),
    C("training_scores", "json", False, "the training score distribution, for drift"),
    C("libraries", "json", False),
    C("published_at", "instant", False),
    C("selected_because", "text", description="why this candidate: the backtest's rule (core/selection.choice)"),
    C("target", "text", False, "what the model predicts (core/declarations/targets.py): failed or critical_found"),
    C("backtest", "json", False, "rolling-origin backtest: per model, per cutoff and pooled", shape=list[Measured]),
    C("chicago", "json", False, "the backtest's windows under the City of Chicago's protocol", shape=list[Measured]),
    C("calibration", "json", description="the Platt map, where it was fitted, and the holdout's reliability by decile"),
    C("ranking", "json", description="the deployed ranking policy, why, and its effect", shape=dict[str, object]),
    partition=None,
)

FAIRNESS_AUDIT = contract(
    "fairness_audit",
    "FPR/FDR and disparities by facility type against Restaurant, at the operating threshold (aequitas).",
    C("facility_type", "text", False),
    C("group_size", "bigint", False),
    C("prevalence", "float"),
    C("flagged", "bigint"),
    C("tpr", "float"),
    C("fpr", "float"),
    C("fdr", "float"),
    C("fnr", "float"),
    C("precision", "float"),
    C("fpr_disparity", "float"),
    C("fdr_disparity", "float"),
    C("fpr_parity", "boolean"),
    C("fdr_parity", "boolean"),
    C("reference", "boolean"),
    C("threshold", "float"),
    C("model_version", "text", False),
    partition=None,
)

AREA_AUDIT = contract(
    "area_audit",
    "Per area (ZIP code; small ones merged): its share of the flagged inspections against its share of the "
    "positives, and FPR/FDR disparities against the largest area, at the operating threshold (aequitas).",
    C("area", "text", False, "a ZIP code, 'Other (small areas)' or 'no ZIP code'"),
    C("group_size", "bigint", False),
    C("prevalence", "float"),
    C("flagged", "bigint", False),
    C("positives", "bigint", False),
    C("flagged_share", "float", description="the area's share of all flagged inspections"),
    C("positive_share", "float", description="the area's share of all positives (what the inspections found)"),
    C("flags_per_finding", "float", description="flagged_share / positive_share: above 1, flagged beyond findings"),
    C("fpr", "float"),
    C("fdr", "float"),
    C("fpr_disparity", "float"),
    C("fdr_disparity", "float"),
    C("reference", "boolean", False),
    C("threshold", "float"),
    C("model_version", "text", False),
    partition=None,
)

VISITS_WITHOUT_OUTCOME = contract(
    "visits_without_outcome",
    "Visits that found no inspection to do (out of business, not located, no entry, not ready): they say whether a "
    "place still exists.",
    C("inspection_id", "bigint", False, bounds=(1, None), unique=True),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("license", "bigint", False, "0 is Chicago's 'none'", bounds=(0, None)),
    C("establishment", "text", False, "license:<n>, or name:<NAME>|<ADDRESS> when the license is 0"),
    *_whereabouts(),
    C("risk", "smallint", bounds=(1, 3)),
    C("inspection_type", "text"),
    C("results", "text", False, values=frozenset({"Out of Business", "Business Not Located", "No Entry", "Not Ready"})),
    indexes=("establishment",),
)

ESTABLISHMENTS = contract(
    "establishments",
    "The register: one row per establishment, its latest names, address, coordinates, type and risk, when it was "
    "inspected and whether it still exists (core/lists/visits.py).",
    C("establishment", "text", False, unique=True),
    C("license", "bigint", False),
    *_whereabouts(),
    C("facility_type", "text"),
    C("risk", "smallint", bounds=(1, 3)),
    C("chain", "text"),
    C("first_inspection", "date", False),
    C("last_inspection", "date", False),
    C("last_canvass", "date", description="the last canvass inspection that was not a re-inspection"),
    C("last_result", "text"),
    C("last_visit", "date", False, "the last inspection or visit without an outcome"),
    C("last_visit_result", "text"),
    C("status", "text", False, values=frozenset({"active", "out_of_business", "not_located"})),
    partition=None,
    indexes=("establishment", "license"),
)

VISIT_LIST = contract(
    "visit_list",
    "The week's visit list: every active establishment due a canvass by the week's end, riskiest first, scored "
    "from everything dated before the week's Monday (core/lists/visits.py).",
    C("week", "date", False, "the Monday of the week the list is for"),
    C("rank", "integer", False, "the visiting order (1 = first), by the deployed ranking policy", bounds=(1, None)),
    C("establishment", "text", False),
    C("license", "bigint", False),
    *_whereabouts(),
    C("on_map", "boolean", False, "whether the place has coordinates"),
    C("facility_type", "text"),
    C("risk", "smallint", bounds=(1, 3)),
    C("last_inspection", "date", False),
    C("last_canvass", "date"),
    C("last_result", "text"),
    C("due_date", "date", False),
    C("days_overdue", "integer", False, "days from the due date to the week's Monday (negative: not yet due)"),
    C("score", "float", False, "the calibrated probability that a canvass inspection on the Monday fails"),
    C("reasons", "json", description="the features raising the score most, in plain words (core/models/reasons.py)"),
    C("model_version", "text", False),
    C("period", "text", False, "training, holdout or prediction: where the week sits for the model"),
    indexes=("establishment", "license"),
)

INSPECTION_PLAN = contract(
    "inspection_plan",
    "The week's plan: the places of its visit list a team can visit, chosen by a policy within the team's capacity, "
    "each given an inspector, a day and a stop of that day's route (core/lists/plans.py, core/lists/routes.py).",
    C("week", "date", False, "the Monday of the week the plan is for"),
    C(
        "line",
        "integer",
        False,
        "the row's line on the week's route sheet: by inspector, day and stop",
        bounds=(1, None),
    ),
    C("policy", "text", False, "how the places were chosen", values=frozenset({"due", "risk", "balanced"})),
    C("inspector", "smallint", False, "the inspector's number (1 = first)", bounds=(1, None)),
    C("inspector_name", "text", False, "the territory file's name for the inspector, else 'inspector N'"),
    C("day", "date", description="the day of the visit (null: to locate first)"),
    C("stop", "smallint", False, "the visit's place in its day's route (1 = first; 0: to locate)", bounds=(0, None)),
    C(
        "route",
        "text",
        False,
        "solved; time_limit (the best route found when the solver's time ran out); to_locate (no coordinates)",
        values=frozenset({"solved", "time_limit", "to_locate"}),
    ),
    C("order", "integer", False, "the order in which the policy chose the place (1 = first)", bounds=(1, None)),
    C(
        "why",
        "text",
        False,
        "floor: a risk 1 place overdue past the legal floor; score: among the highest scores; both; overdue (due)",
        values=frozenset({"floor", "score", "both", "overdue"}),
    ),
    C("rank", "integer", False, "its rank on the week's visit list", bounds=(1, None)),
    C("establishment", "text", False),
    C("license", "bigint", False),
    *_whereabouts(),
    C("facility_type", "text"),
    C("risk", "smallint", bounds=(1, 3)),
    C("days_overdue", "integer", False),
    C("score", "float", False, "the visit list's score: the probability that a canvass inspection fails"),
    C("reasons", "json", description="the features raising the score most, in plain words"),
    C("start_latitude", "float", description="where the inspector's days start and end", bounds=(-90, 90)),
    C("start_longitude", "float", bounds=(-180, 180)),
    C("km", "float", description="Manhattan km from the previous stop (the first: from the start)", bounds=(0, None)),
    C("day_km", "float", description="the day's km, back to the start included", bounds=(0, None)),
    C(
        "list_order_km",
        "float",
        description="the inspector's week with the same stops taken in list order, visits_per_day a day (no routing)",
        bounds=(0, None),
    ),
    C("model_version", "text", False),
    C("period", "text", False),
    indexes=("inspector",),
)

VISIT_LIST_OUTCOMES = contract(
    "visit_list_outcomes",
    "Each inspection of a week, and where that week's list had its place: what the list is judged on.",
    C("week", "date", False),
    C("inspection_id", "bigint", False),
    C("inspection_date", "date", False),
    C("establishment", "text", False),
    C("canvass", "boolean", False, "a canvass inspection, not a re-inspection"),
    C("failed", "boolean", False),
    C("listed", "boolean", False, "the place was on the week's list"),
    C("rank", "integer", description="its rank on the list"),
    C("score", "float", description="its score on the list"),
    C("list_length", "integer", False),
    C("model_version", "text"),
    C("period", "text"),
)

LIST_EVALUATION = contract(
    "list_evaluation",
    "The prospective evaluation of the visit lists: per week and pooled over the weeks outside each model's "
    "training (core/lists/prospective.py).",
    C("scope", "text", False, "a week's Monday, or `pooled`"),
    C("week", "date", description="the week (null for the pooled rows)"),
    C("model_version", "text", False),
    C("period", "text", False, "the week's period for the model; pooled rows: `outside_training`"),
    C("weeks", "integer", False),
    C("listed", "bigint", False, "places on the list(s)"),
    C("inspections", "bigint", False),
    C("canvass_inspections", "bigint", False),
    C("coverage", "float", description="share of the week's inspections whose place was on the list"),
    C("canvass_coverage", "float", description="the same, of canvass inspections"),
    C("inspected_on_list", "bigint", False, "listed places that had a canvass inspection (what is ranked below)"),
    C("fails_on_list", "bigint", False, "fails found by those canvass inspections"),
    C("fails", "bigint", False, "fails among all the week's inspections"),
    C("roc_auc", "float", description="of the list's scores, over the listed places' canvass inspections"),
    C("precision_top_10", "float"),
    C("precision_top_20", "float"),
    C("days_earlier", "float", description="fails found this many days earlier, visiting in the list's order"),
    C("first_half_real", "float", description="share of fails found in the first half of the week, real order"),
    C("first_half_list", "float", description="the same, in the list's order"),
    partition=None,
)

PLAN_EVALUATION = contract(
    "plan_evaluation",
    "The prospective evaluation of the weekly plans: among the canvass inspections that really happened in a planned "
    "week, the fail rate at the planned places against the others, per week and pooled over the weeks outside each "
    "model's training, with 95% intervals (core/lists/prospective.py).",
    C("scope", "text", False, "a week's Monday, or `pooled`"),
    C("week", "date", description="the week (null for the pooled rows)"),
    C("model_version", "text", False),
    C("period", "text", False, "the week's period for the model; pooled rows: `outside_training`"),
    C("policy", "text", False),
    C("weeks", "integer", False),
    C("planned", "bigint", False, "places on the plan(s)"),
    C("planned_inspected", "bigint", False, "planned places that had a canvass inspection in the week"),
    C("planned_fails", "bigint", False),
    C("planned_fail_rate", "float"),
    C("planned_low", "float", description="95% Wilson interval of the planned fail rate"),
    C("planned_high", "float"),
    C("other_inspected", "bigint", False, "the week's other canvass inspections"),
    C("other_fails", "bigint", False),
    C("other_fail_rate", "float"),
    C("other_low", "float"),
    C("other_high", "float"),
    C("difference", "float", description="planned minus other fail rate"),
    C("difference_low", "float", description="95% interval of the difference (Newcombe's, from the two Wilson's)"),
    C("difference_high", "float"),
    partition=None,
)

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        CLEAN_INSPECTIONS,
        INSPECTION_VIOLATIONS,
        INSPECTION_REJECTS,
        INSPECTION_FEATURES,
        INSPECTION_SCORES,
        SCORE_MONITORING,
        ESTABLISHMENT_RISK,
        CURRENT_MODEL,
        FAIRNESS_AUDIT,
        AREA_AUDIT,
        VISITS_WITHOUT_OUTCOME,
        ESTABLISHMENTS,
        VISIT_LIST,
        INSPECTION_PLAN,
        VISIT_LIST_OUTCOMES,
        LIST_EVALUATION,
        PLAN_EVALUATION,
    )
}
