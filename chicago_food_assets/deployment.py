"""Which resources run where, chosen once by CHICAGO_FOOD_DEPLOYMENT: `local` (default, zero set-up) or `prod`.

local: raw pulls and models in folders under the state folder (CHICAGO_FOOD_STATE_DIR).
prod:  raw pulls and models in S3 (CHICAGO_FOOD_S3_BUCKET, CHICAGO_FOOD_S3_PREFIX, AWS_REGION, optional
       AWS_ENDPOINT_URL for MinIO).
Both: tables in the PostgreSQL at CHICAGO_FOOD_POSTGRES_URL (locally the launcher starts the embedded server and
      sets it: `./run env` prints it). Secrets come from the environment through dagster.EnvVar.
Both: Socrata at SOCRATA_DOMAIN / SOCRATA_SCHEME / SOCRATA_DATASET_ID, token SOCRATA_APP_TOKEN (optional).
Both: alerts (each channel off when unset) by email through CHICAGO_FOOD_ALERT_SMTP_HOST (_SMTP_PORT, _SMTP_USER,
      _SMTP_PASSWORD, _SMTP_STARTTLS, _EMAIL_FROM, _EMAIL_TO) and to CHICAGO_FOOD_ALERT_WEBHOOK_URL; links to the UI at
      CHICAGO_FOOD_UI_URL.
"""

import os

from dagster import Backoff, EnvVar, ExecutorDefinition, Jitter, RetryPolicy, in_process_executor, multiprocess_executor

from chicago_food_assets.data import state_dir
from chicago_food_assets.resources.alerts import AlertResource
from chicago_food_assets.resources.postgres import PostgresResource
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.storage import LocalRawIOManager, ModelIOManager
from chicago_food_assets.resources.tables import PostgresIOManager

DEPLOYMENTS = ("local", "prod")


def _optional(name: str) -> EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else None


def socrata() -> SocrataResource:
    return SocrataResource(
        domain=os.environ.get("SOCRATA_DOMAIN", "data.cityofchicago.org"),
        scheme=os.environ.get("SOCRATA_SCHEME", "https"),
        dataset_id=os.environ.get("SOCRATA_DATASET_ID", "4ijn-s7e5"),
        app_token=_optional("SOCRATA_APP_TOKEN"),
    )


def socrata_retry_policy() -> RetryPolicy:
    """The steps that talk to Socrata retry an outage longer than the resource's own retries (seconds): by default
    twice, after about 1 and 2 minutes (CHICAGO_FOOD_SOCRATA_STEP_RETRIES, CHICAGO_FOOD_SOCRATA_STEP_RETRY_SECONDS).
    A step retry stays in its run: the Socrata sensor counts the run, not its steps."""
    return RetryPolicy(
        max_retries=int(os.environ.get("CHICAGO_FOOD_SOCRATA_STEP_RETRIES", "2")),
        delay=float(os.environ.get("CHICAGO_FOOD_SOCRATA_STEP_RETRY_SECONDS", "60")),
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


def alerting() -> AlertResource:
    """Where alerts go, from the environment: the password and the webhook URL (a secret of its own) by EnvVar."""
    settings: dict = {
        "smtp_host": os.environ.get("CHICAGO_FOOD_ALERT_SMTP_HOST") or None,
        "smtp_port": int(os.environ.get("CHICAGO_FOOD_ALERT_SMTP_PORT", "587")),
        "smtp_user": os.environ.get("CHICAGO_FOOD_ALERT_SMTP_USER") or None,
        "smtp_password": _optional("CHICAGO_FOOD_ALERT_SMTP_PASSWORD"),
        "smtp_starttls": os.environ.get("CHICAGO_FOOD_ALERT_SMTP_STARTTLS", "true").lower() in ("1", "true", "yes"),
        "email_from": os.environ.get("CHICAGO_FOOD_ALERT_EMAIL_FROM", "chicago-food@localhost"),
        "email_to": os.environ.get("CHICAGO_FOOD_ALERT_EMAIL_TO", ""),
        "webhook_url": _optional("CHICAGO_FOOD_ALERT_WEBHOOK_URL"),
        "ui_url": os.environ.get("CHICAGO_FOOD_UI_URL", "http://127.0.0.1:3000"),
    }
    return AlertResource(**settings)


def executor(deployment: str | None = None) -> ExecutorDefinition:
    """Locally every step runs inside the run's own process: no step process to pay Python and Dagster imports
    for, and none left behind writing to a dead pipe when a run is killed. In production, steps in processes."""
    deployment = deployment or os.environ.get("CHICAGO_FOOD_DEPLOYMENT", "local")
    return in_process_executor if deployment == "local" else multiprocess_executor


# Measured peaks (docs/performance.md): the 300,000-row range run peaks at 1.9 GB, training at about 1 GB.
STEP_PODS = {
    "max_concurrent": 4,
    "env_secrets": ["chicago-food-pipeline"],
    "step_k8s_config": {
        "container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "3Gi"}}}
    },
}


def fanout_executor() -> ExecutorDefinition | None:
    """The executor of the jobs that fan out (weekly ranges, training): with CHICAGO_FOOD_EXECUTOR=k8s (production on
    Kubernetes, set by infra/helm) Dagster's k8s_job_executor, each step a pod of its own; otherwise None (the
    code location's executor above)."""
    if os.environ.get("CHICAGO_FOOD_EXECUTOR") != "k8s":
        return None
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(STEP_PODS, name="k8s_step_pods")


def resources(deployment: str | None = None) -> dict[str, object]:
    deployment = deployment or os.environ.get("CHICAGO_FOOD_DEPLOYMENT", "local")
    postgres = PostgresResource(url=EnvVar("CHICAGO_FOOD_POSTGRES_URL"))
    if deployment == "local":
        raw: object = LocalRawIOManager(base_dir=str(state_dir() / "objects"))
        models: object = ModelIOManager(base_dir=str(state_dir() / "models"))
    elif deployment == "prod":
        from dagster_aws.s3 import S3Resource

        from chicago_food_assets.resources.s3 import NamedS3PickleIOManager, S3RawIOManager

        region = os.environ.get("AWS_REGION", "us-east-1")
        s3 = S3Resource(region_name=region, endpoint_url=_optional("AWS_ENDPOINT_URL"))
        prefix = os.environ.get("CHICAGO_FOOD_S3_PREFIX", "chicago-food")
        raw = S3RawIOManager(s3=s3, bucket=EnvVar("CHICAGO_FOOD_S3_BUCKET"), prefix=prefix)
        models = NamedS3PickleIOManager(s3_resource=s3, s3_bucket=EnvVar("CHICAGO_FOOD_S3_BUCKET"), s3_prefix=prefix)
    else:
        raise ValueError(f"CHICAGO_FOOD_DEPLOYMENT must be one of {DEPLOYMENTS}, got {deployment!r}")
    return {
        "socrata": socrata(),
        "alerting": alerting(),
        "postgres": postgres,
        "raw_io_manager": raw,
        "model_io_manager": models,
        "table_io_manager": PostgresIOManager(postgres=postgres),
    }
