"""Training with an honest temporal holdout: fit on the weeks before a cutoff, judge on the weeks after it.

Three candidates, each a scikit-learn pipeline that carries its own imputation, scaling and encoding, so scoring
applies exactly the transforms training saw: gradient-boosted trees (xgboost), k-nearest neighbours, logistic
regression. Selection uses the pooled rolling-origin backtest (each cutoff's candidates fitted strictly before it),
never the training data (the seed picked by training accuracy); the selected model's probabilities are calibrated
on the backtest's earlier windows, and its ranking policy is decided by the fairness audit's numbers
(fairness.decide). Its model card is written by core/models/card.py.
"""

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations import catalog, targets
from chicago_food_assets.core.declarations.targets import OUTCOME
from chicago_food_assets.core.models import evaluation, fairness
from chicago_food_assets.core.models.artifacts import Stored, check_libraries, library_versions
from chicago_food_assets.core.models.window import ModelWindow

# scikit-learn and XGBoost are imported where models are built and scored: every Dagster process loads this module
# (its classes type the model assets), and only training and scoring need them (4 s of a 9 s process start).
if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from chicago_food_assets.core.models.preparation import Preparation


@dataclass(frozen=True)
class Settings:
    cutoff: date | None = None  # first holdout week; default: the last `holdout_weeks` weeks with data
    holdout_weeks: int = 12
    min_week_rows: int = 50  # a week with fewer rows is not "a week of data" (the sample has trailing scraps)
    seed: int = 0
    top_share: float = 0.1
    knn_sample: int = 20_000  # KNN is fit on a random sample of this many training rows (prediction cost)
    # rolling-origin backtest: up to `backtest_cutoffs` cutoffs (the holdout's and earlier ones, a step apart, each
    # with `holdout_weeks` weeks after it mostly with data and `min_train_weeks` of history before it)
    backtest_cutoffs: int = 5
    backtest_step_weeks: int = 52  # a year apart: every window covers the same season
    min_train_weeks: int = 26
    bootstrap: int = 200  # resamples of the bootstrap ROC AUC intervals
    calibration_weeks: int = 12  # without earlier backtest windows, calibration fits on the last training weeks
    xgboost: dict = field(
        default_factory=lambda: {
            "n_estimators": 300,
            "max_depth": 3,  # as good as 4-6 in the backtest; exact contributions (reasons) cost half of depth 4's
            "learning_rate": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 5,
        }
    )
    knn: dict = field(default_factory=lambda: {"n_neighbors": 100, "weights": "distance"})
    # Newton steps with a Cholesky solve: the optimum L-BFGS finds in about 4 iterations instead of 50-60 (rows far
    # outnumber the prepared columns), in half its time
    logistic: dict = field(default_factory=lambda: {"C": 0.5, "max_iter": 2000, "solver": "newton-cholesky"})
    target: str = (
        targets.DEFAULT
    )  # what the candidates predict (core/declarations/targets.py); rows where it is unknown sit out
    # the columns the models read; either left empty: the target's inputs of that kind (`catalog.inputs`)
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        numeric, categorical = catalog.inputs(self.target)
        if not self.numeric:
            object.__setattr__(self, "numeric", numeric)
        if not self.categorical:
            object.__setattr__(self, "categorical", categorical)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    window: ModelWindow


@dataclass
class Candidate:
    name: str
    pipeline: "Pipeline"
    fit_seconds: float
    fit_rows: int
    metrics: dict = field(default_factory=dict)
    holdout_score: np.ndarray = field(default_factory=lambda: np.zeros(0))  # predicted once, reused


def known(table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The rows whose target is known: the only ones fitted on or judged by (critical_found is unknown where the
    violations were not recorded)."""
    targets.check(settings.target)
    return table[table[settings.target].notna().to_numpy(dtype=bool)]


def outcome(table: pd.DataFrame, settings: Settings) -> np.ndarray:
    return table[settings.target].to_numpy(dtype=int)


def temporal_split(table: pd.DataFrame, settings: Settings) -> Split:
    """Train on weeks before the cutoff, hold out `holdout_weeks` weeks from it (rows with a known target)."""
    # row order is part of the result
    table = known(table, settings).sort_values(["inspection_date", "inspection_id"], kind="stable")
    weeks = table.groupby("week").size()
    if settings.cutoff is not None:
        cutoff = pd.Timestamp(settings.cutoff)
    else:
        full = weeks[weeks >= settings.min_week_rows].index
        if len(full) <= settings.holdout_weeks:
            raise ValueError(too_few_weeks(weeks, settings))
        last = full[-1]
        cutoff = last - pd.Timedelta(weeks=settings.holdout_weeks - 1)
    end = cutoff + pd.Timedelta(weeks=settings.holdout_weeks)
    train = table[table["week"] < cutoff]
    holdout = table[(table["week"] >= cutoff) & (table["week"] < end)].sort_values(["inspection_date", "inspection_id"])
    if train.empty or holdout.empty or train[settings.target].nunique() < 2:
        raise ValueError(f"cutoff {cutoff:%Y-%m-%d} leaves {len(train)} training and {len(holdout)} holdout rows")
    window = ModelWindow(train["week"].min().date(), cutoff.date(), end.date())
    return Split(train.reset_index(drop=True), holdout.reset_index(drop=True), window)


def too_few_weeks(weeks: pd.Series, settings: Settings) -> str:
    """Why the data cannot be split, naming the training settings and values that would split it (a small file)."""
    have = int((weeks >= settings.min_week_rows).sum())
    said = (
        f"training needs more than holdout_weeks={settings.holdout_weeks} weeks with at least "
        f"min_week_rows={settings.min_week_rows} inspections of known {settings.target}; the data has {have} such "
        f"weeks ({len(weeks)} weeks in all, the fullest with {int(weeks.max()) if len(weeks) else 0})"
    )
    if len(weeks) < 2 or settings.cutoff is not None:
        return f"{said}: it needs at least two weeks of inspections, one to learn from and one to judge on"
    holdout = max(1, min(settings.holdout_weeks, len(weeks) // 4))
    rows = int(weeks.sort_values(ascending=False).iloc[holdout])  # more than `holdout` weeks have at least this many
    return (
        f"{said}. Settings that would work on this data: holdout_weeks: {holdout}, min_week_rows: {rows} "
        "(under ops: trained_models: config: in a YAML file given to ./run demo --train-config, as in "
        "examples/training.yaml)"
    )


def model_frame(table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Inputs as the pipelines expect them: numbers as floats (nulls -> NaN), categories as strings (nulls kept)."""
    numbers = {name: table[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan) for name in settings.numeric}
    categories = {
        name: table[name].astype(object).where(table[name].notna(), None).to_numpy() for name in settings.categorical
    }
    return pd.DataFrame({**numbers, **categories}, index=table.index)


def _preprocess(settings: Settings, scale: bool) -> "Preparation":
    from chicago_food_assets.core.models.preparation import Preparation

    return Preparation(settings.numeric, settings.categorical, scale=scale, min_frequency=20)


def candidates(settings: Settings) -> dict[str, "Pipeline"]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    return {
        "xgboost": Pipeline(
            [
                ("prepare", _preprocess(settings, scale=False)),
                (
                    "model",
                    XGBClassifier(
                        **settings.xgboost,
                        tree_method="hist",
                        n_jobs=2,
                        random_state=settings.seed,
                        eval_metric="logloss",
                    ),
                ),
            ]
        ),
        "knn": Pipeline(
            [("prepare", _preprocess(settings, scale=True)), ("model", KNeighborsClassifier(**settings.knn, n_jobs=2))]
        ),
        "logistic": Pipeline(
            [
                ("prepare", _preprocess(settings, scale=True)),
                ("model", LogisticRegression(**settings.logistic, random_state=settings.seed)),
            ]
        ),
    }


def train(split: Split, settings: Settings) -> dict[str, Candidate]:
    """Fit every candidate on the training weeks and evaluate it on the holdout weeks."""
    x_train, y_train = model_frame(split.train, settings), outcome(split.train, settings)
    x_holdout, y_holdout = model_frame(split.holdout, settings), outcome(split.holdout, settings)
    dates = split.holdout["inspection_date"].to_numpy()
    fitted = {}
    for name, pipeline in candidates(settings).items():
        rows = np.arange(len(x_train))
        if name == "knn" and len(rows) > settings.knn_sample:
            rows = np.random.default_rng(settings.seed).choice(rows, settings.knn_sample, replace=False)
        if name == "knn" and len(rows) < settings.knn["n_neighbors"]:  # a small file: every neighbour there is
            pipeline.set_params(model__n_neighbors=len(rows))
        start = time.perf_counter()
        pipeline.fit(x_train.iloc[rows], y_train[rows])
        seconds = time.perf_counter() - start
        score = pipeline.predict_proba(x_holdout)[:, 1]
        metrics = evaluation.evaluate(y_holdout, score, dates, settings.top_share)
        fitted[name] = Candidate(name, pipeline, seconds, len(rows), metrics, score)
    return fitted


def backtest_cutoffs(table: pd.DataFrame, settings: Settings, final: pd.Timestamp) -> list[pd.Timestamp]:
    """The holdout's cutoff and up to `backtest_cutoffs - 1` earlier ones, `backtest_step_weeks` apart, skipping
    those whose window is mostly without data (at least 3/4 of its weeks must have `min_week_rows` rows)."""
    weeks = table.groupby("week").size()
    full = weeks[weeks >= settings.min_week_rows].index
    if full.empty:
        return [final]
    found, step = [final], 1
    while len(found) < settings.backtest_cutoffs:
        cutoff = final - pd.Timedelta(weeks=settings.backtest_step_weeks * step)
        step += 1
        if cutoff - full[0] < pd.Timedelta(weeks=settings.min_train_weeks):
            break
        window = full[(full >= cutoff) & (full < cutoff + pd.Timedelta(weeks=settings.holdout_weeks))]
        if len(window) >= 0.75 * settings.holdout_weeks:
            found.append(cutoff)
    return sorted(found)


def holdout_frame(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """What a model keeps of held-out rows: identifiers, what the City's protocol selects on, the outcome."""
    return rows[KEPT].assign(**{OUTCOME: rows[settings.target].to_numpy(dtype=bool)})


def window_scores(split: Split, fitted: dict[str, Candidate], settings: Settings) -> pd.DataFrame:
    """A window of the backtest: its holdout rows with every candidate's and every baseline's score."""
    rate = float(split.train[settings.target].mean())
    baselines = {f"baseline_{k}": v for k, v in evaluation.baselines(split.holdout, rate).items()}
    scores = {**{name: c.holdout_score for name, c in fitted.items()}, **baselines}
    return holdout_frame(split.holdout, settings).assign(
        cutoff=pd.Timestamp(split.window.cutoff), **{f"score_{name}": value for name, value in scores.items()}
    )


def baseline_metrics(split: Split, settings: Settings) -> dict[str, dict]:
    rate = float(split.train[settings.target].mean())
    dates, failed = split.holdout["inspection_date"].to_numpy(), outcome(split.holdout, settings)
    return {
        name: evaluation.evaluate(failed, score, dates, settings.top_share)
        for name, score in evaluation.baselines(split.holdout, rate).items()
    }


def fingerprint(table: pd.DataFrame, target: str = targets.DEFAULT) -> str:
    """What the model learnt from: the inspections and their outcomes, independent of row order."""
    rows = pd.util.hash_pandas_object(table[["inspection_id", target]], index=False).to_numpy()
    return hashlib.sha256(np.sort(rows).tobytes()).hexdigest()[:16]


def version(name: str, window: ModelWindow, settings: Settings, data: str) -> str:
    """A stable id: the same model trained on the same inspections, window and settings gets the same version."""
    fields = {"name": name, "cutoff": str(window.cutoff), "end": str(window.end), "data": data}
    identity = json.dumps({**fields, "settings": asdict(settings)}, sort_keys=True, default=str)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{name}-{window.cutoff:%Y%m%d}-{digest}" + ("-refit" if window.refit else "")


@dataclass
class Trained(Stored):
    """The candidates, fitted and judged on the same holdout, with what they were trained on."""

    candidates: dict[str, Candidate]
    baselines: dict[str, dict]
    settings: Settings
    window: ModelWindow
    train_rows: int
    holdout: pd.DataFrame  # HOLDOUT_COLUMNS and one score column per model
    data: str = ""  # fingerprint of the training inspections
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)  # evaluation.backtest: per cutoff and pooled
    # the backtest's earlier windows, row by row, with each scorer's out-of-time score (what calibration fits on)
    earlier_windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    chicago: pd.DataFrame = field(default_factory=pd.DataFrame)  # evaluation.chicago: the City's protocol

    @property
    def metrics(self) -> dict[str, dict]:
        return {name: candidate.metrics for name, candidate in self.candidates.items()}

    @property
    def pooled(self) -> pd.DataFrame:
        """The backtest's pooled row of every candidate and baseline, indexed by name."""
        return self.backtest[self.backtest["cutoff"] == evaluation.POOLED].set_index("model")


@dataclass
class Selected(Stored):
    """The model inspectors' scores come from, with everything needed to judge and reproduce it."""

    name: str
    version: str
    pipeline: "Pipeline"
    metric: str
    metrics: dict[str, dict]  # every candidate's and baseline's holdout metrics
    settings: Settings
    window: ModelWindow
    train_rows: int
    holdout: pd.DataFrame  # HOLDOUT_COLUMNS and score (held-out fit)
    training_scores: dict = field(default_factory=dict)  # the training score distribution (for drift)
    libraries: dict = field(default_factory=library_versions)  # versions it was trained (and pickled) with
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)  # evaluation.backtest of every candidate
    reason: str = ""  # why this candidate (`choice`)
    calibration: evaluation.Calibration = field(default_factory=evaluation.Calibration)  # identity by default
    reliability: pd.DataFrame = field(default_factory=pd.DataFrame)  # holdout: predicted against observed by decile
    holdout_raw: np.ndarray | None = None  # the holdout's uncalibrated scores
    decision: fairness.Decision | None = None  # how the week's list is ranked, and why (fairness.decide)
    chicago: pd.DataFrame = field(default_factory=pd.DataFrame)  # evaluation.chicago of every candidate

    @property
    def target(self) -> targets.Target:
        return targets.TARGETS[self.settings.target]

    @property
    def features(self) -> tuple[str, ...]:
        return self.settings.numeric + self.settings.categorical

    def raw_score(self, table: pd.DataFrame) -> np.ndarray:
        """The pipeline's own probability (what its feature contributions add up to, as log-odds)."""
        check_libraries(self.libraries)
        return self.pipeline.predict_proba(model_frame(table, self.settings))[:, 1]

    def score(self, table: pd.DataFrame) -> np.ndarray:
        """The calibrated probability of the target (that the inspection fails, by default)."""
        return self.calibration.apply(self.raw_score(table))


# what a model keeps of a held-out row (the City's protocol selects canvass inspections that are not re-inspections;
# the fairness audits group by facility type and by ZIP code)
KEPT = ["inspection_id", "week", "inspection_date", "facility_type", "zip", "inspection_kind", "reinspection"]
HOLDOUT_COLUMNS = [*KEPT, OUTCOME]


def fit(table: pd.DataFrame, settings: Settings) -> Trained:
    """The candidates fitted before the holdout's cutoff, and the rolling-origin backtest around it: the same
    candidates refitted before each earlier cutoff and judged on the weeks after it."""
    split = temporal_split(table, settings)
    fitted = train(split, settings)
    holdout = holdout_frame(split.holdout, settings).assign(
        **{f"score_{name}": candidate.holdout_score for name, candidate in fitted.items()}
    )
    windows = [window_scores(split, fitted, settings)]
    for cutoff in backtest_cutoffs(known(table, settings), settings, pd.Timestamp(split.window.cutoff))[:-1]:
        earlier = replace(settings, cutoff=cutoff.date())
        past = temporal_split(table, earlier)
        windows.append(window_scores(past, train(past, earlier), earlier))
    scorers = [*fitted, *(f"baseline_{name}" for name in evaluation.baselines(split.holdout, 0.0))]
    every = pd.concat(windows, ignore_index=True)
    backtest = evaluation.backtest(every, scorers, settings.bootstrap, settings.seed)
    return Trained(
        fitted,
        baseline_metrics(split, settings),
        settings,
        split.window,
        len(split.train),
        holdout.reset_index(drop=True),
        fingerprint(split.train, settings.target),
        backtest,
        pd.concat(windows[1:], ignore_index=True) if len(windows) > 1 else pd.DataFrame(),
        evaluation.chicago(every, scorers),
    )
