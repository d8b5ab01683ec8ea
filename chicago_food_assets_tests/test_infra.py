"""Production deployment, checked offline: no container engine, cluster or AWS account here (infra/README.md).

The prod Dagster instance loads with Dagster's own config validation; the jobs on the k8s executor load with their
executor config validated; the Kubernetes manifests validate against the Kubernetes schemas; the chart values carry
the keys the official chart documents; Terraform parses and passes checkov, as does the Dockerfile.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import kubernetes_validate
import pytest
import yaml

from chicago_food_assets_tests.helpers import new_database

PROJECT = Path(__file__).resolve().parent.parent
INFRA = PROJECT / "infra"
KUBERNETES = "1.31.0"  # the version the manifests target (EKS standard support in 2026)
CHECKOV = "checkov==3.3.30"  # run in an environment of its own: its pins would downgrade boto3 and pytest here

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: offline, user: {token: not-a-token}}]
contexts: [{name: offline, context: {cluster: offline, user: offline, namespace: chicago-food}}]
current-context: offline
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return path


INSTANCE = """
import json, sys
from dagster import DagsterInstance
from dagster_k8s import K8sRunLauncher
instance = DagsterInstance.from_config(sys.argv[1])
print(json.dumps({
    "launcher": type(instance.run_launcher).__name__,
    "namespace": instance.run_launcher.job_namespace,
    "runs": len(instance.get_runs()),
    "retries": instance.run_retries_enabled,
    "monitoring": instance.run_monitoring_enabled,
}))
instance.dispose()
"""


def test_the_production_instance_loads_with_dagsters_config_validation(server_url, kubeconfig, tmp_path):
    """In a process of its own: the Kubernetes client reads KUBECONFIG when it is imported."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(INFRA / "dagster" / "dagster.yaml", home / "dagster.yaml")
    with new_database(server_url) as url:
        env = {
            **os.environ,
            "DAGSTER_POSTGRES_URL": url,
            "KUBECONFIG": str(kubeconfig),
            "DAGSTER_K8S_NAMESPACE": "chicago-food",
            "DAGSTER_K8S_IMAGE": "registry.example.com/chicago-food-assets:0.1.0",
        }

        def load() -> subprocess.CompletedProcess:
            command = [sys.executable, "-c", INSTANCE, str(home)]
            return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

        done = load()
        assert done.returncode == 0, done.stderr[-3000:]
        loaded = json.loads(done.stdout.strip().splitlines()[-1])
        assert loaded["launcher"] == "K8sRunLauncher" and loaded["namespace"] == "chicago-food"
        assert loaded["runs"] == 0  # the storage answered, on the real PostgreSQL
        assert loaded["retries"] and loaded["monitoring"]

        # the same validation refuses a wrong setting (it is a check that can fail)
        broken = yaml.safe_load((home / "dagster.yaml").read_text())
        broken["run_launcher"]["config"]["job_namespaces"] = "typo"
        (home / "dagster.yaml").write_text(yaml.safe_dump(broken))
        refused = load()
        assert refused.returncode != 0 and "job_namespaces" in refused.stderr


def test_fanning_out_jobs_load_on_the_k8s_executor_with_their_config_validated(kubeconfig):
    env = {
        **os.environ,
        "CHICAGO_FOOD_DEPLOYMENT": "prod",
        "CHICAGO_FOOD_EXECUTOR": "k8s",
        "CHICAGO_FOOD_S3_BUCKET": "offline-bucket",
        "CHICAGO_FOOD_POSTGRES_URL": "postgresql://dagster@db.invalid/chicago_food",
        "KUBECONFIG": str(kubeconfig),
    }
    script = """
import json
from dagster import Definitions
from dagster._config import process_config
from dagster_k8s import k8s_job_executor
from chicago_food_assets.definitions import defs
from chicago_food_assets.deployment import STEP_PODS
Definitions.validate_loadable(defs)
schema = k8s_job_executor.config_schema.config_type
print(json.dumps({
    "executors": {name: defs.resolve_job_def(name).executor_def.name for name in ("weekly", "training", "ingest")},
    "valid": process_config(schema, STEP_PODS).success,
    "invalid": process_config(schema, {**STEP_PODS, "max_concurrent": "four"}).success,
}))
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["executors"] == {"weekly": "k8s_step_pods", "training": "k8s_step_pods", "ingest": "multiprocess"}
    assert result["valid"] and not result["invalid"]


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("manifest", sorted((INFRA / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_validate_against_the_kubernetes_schemas(manifest):
    found = documents(manifest)
    for document in found:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    kinds = {d["kind"] for d in found}
    assert {"Deployment", "Service"} <= kinds
    for deployment in (d for d in found if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert {"livenessProbe", "readinessProbe", "resources"} <= set(container)
            assert "secretRef" in container["envFrom"][0]  # the database URL comes from a Secret, not the manifest


def test_the_api_runs_two_replicas_with_a_disruption_budget_and_probes_on_health_and_ready():
    found = {d["kind"]: d for d in documents(INFRA / "k8s" / "api.yaml")}
    assert found["Deployment"]["spec"]["replicas"] >= 2 and found["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    container = found["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_the_dagster_chart_values_carry_the_documented_keys():
    """Weaker than the chart's values.schema.json (not obtainable offline): the keys that matter, checked against
    the structure the official chart documents, and the Kubernetes objects inside validated as such."""
    values = yaml.safe_load((INFRA / "helm" / "dagster-values.yaml").read_text())
    assert "--version 1.13.27" in (INFRA / "helm" / "dagster-values.yaml").read_text()  # the chart matches the pin
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert set(deployment["image"]) == {"repository", "tag", "pullPolicy"} and isinstance(deployment["port"], int)
    module = deployment["dagsterApiGrpcArgs"][deployment["dagsterApiGrpcArgs"].index("-m") + 1]
    assert module == "chicago_food_assets.definitions"
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["CHICAGO_FOOD_DEPLOYMENT"] == "prod" and env["CHICAGO_FOOD_EXECUTOR"] == "k8s"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(launcher) <= {
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "resources",
        "runK8sConfig",
        "securityContext",
        "schedulerName",
        "failPodOnRunFailure",
    }
    postgres = values["postgresql"]
    assert postgres["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert {"postgresqlHost", "postgresqlUsername", "postgresqlDatabase"} <= set(postgres)
    assert isinstance(postgres["service"]["port"], int) and "postgresqlPassword" not in postgres  # no secret here
    # the Kubernetes objects inside the values, validated as the containers the chart renders them into
    for name, resources in {
        "user-code": deployment["resources"],
        "run": launcher["runK8sConfig"]["containerConfig"]["resources"],
        "daemon": values["dagsterDaemon"]["resources"],
    }.items():
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": name, "image": "image:tag", "resources": resources}]},
        }
        kubernetes_validate.validate(pod, KUBERNETES, strict=True)


def checkov(*arguments: str) -> dict:
    uv = PROJECT / ".tools" / "bin" / "uv"
    command = [str(uv if uv.exists() else "uv"), "tool", "run", "--from", CHECKOV, "checkov", *arguments]
    done = subprocess.run(
        [*command, "--skip-download", "-o", "json", "--quiet"], capture_output=True, text=True, timeout=600, cwd=PROJECT
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout)
    return report if isinstance(report, dict) else report[0]


def plain(value: object) -> object:
    """python-hcl2 8 keeps HCL's quotes on names and strings, and wraps blocks in lists: without them."""
    if isinstance(value, dict):
        return {k.strip('"'): plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value[1:-1] if isinstance(value, str) and value[:1] == value[-1:] == '"' else value


def block(body: dict, name: str) -> dict:
    inner = body[name]
    return inner[0] if isinstance(inner, list) else inner


def test_terraform_parses_and_states_the_storage_and_access_rules():
    resources: dict[str, dict] = {}
    for path in sorted((INFRA / "terraform").glob("*.tf")):
        with path.open() as handle:
            parsed = plain(hcl2.load(handle))  # raises on a syntax error
        for declared in parsed.get("resource", []):
            for kind, named in declared.items():
                for name, body in named.items():
                    resources[f"{kind}.{name}"] = body
    versioning = block(resources["aws_s3_bucket_versioning.data"], "versioning_configuration")
    assert versioning["status"] == "Enabled"
    public = resources["aws_s3_bucket_public_access_block.data"]
    assert all(
        public[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert "aws_s3_bucket_server_side_encryption_configuration.data" in resources
    database = resources["aws_db_instance.data"]
    assert database["storage_encrypted"] is True and database["deletion_protection"] is True
    assert database["backup_retention_period"] >= 7 and database["publicly_accessible"] is False
    assert database["manage_master_user_password"] is True and "password" not in database
    text = "\n".join(p.read_text() for p in (INFRA / "terraform").glob("*.tf"))
    assert not re.search(r"(?i)(password|token|secret_string)\s*=\s*\"", text), "a secret value in Terraform"
    assert not list((INFRA / "terraform").glob("*.tfvars")), "no variables files with values in the repository"


def test_terraform_and_the_dockerfile_pass_checkov_with_every_skip_justified():
    terraform = checkov("-d", "infra/terraform", "--framework", "terraform")
    assert terraform["summary"]["failed"] == 0, [c["check_id"] for c in terraform["results"]["failed_checks"]]
    assert terraform["summary"]["passed"] > 50 and terraform["summary"]["parsing_errors"] == 0
    for path in (INFRA / "terraform").glob("*.tf"):  # each skip says why, in words
        for skip in re.findall(r"#checkov:skip=([A-Z0-9_]+)(.*)", path.read_text()):
            assert len(skip[1].lstrip(":").strip()) > 20, f"{skip[0]} in {path.name} is skipped without a reason"
    docker = checkov("-f", "infra/docker/Dockerfile", "--framework", "dockerfile")
    assert docker["summary"]["failed"] == 0, [c["check_id"] for c in docker["results"]["failed_checks"]]
    assert docker["summary"]["passed"] > 10


def test_the_image_runs_as_a_user_without_build_tools_and_has_a_healthcheck():
    text = (INFRA / "docker" / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM ") :]  # the last stage is the image
    assert re.search(r"^USER 10001", final, re.M) and "HEALTHCHECK" in final
    assert "uv sync --locked" in text and "--no-dev" in text  # the locked dependencies, without the test tools
    assert not re.search(r"apt-get install|gcc|build-essential|/uv ", final), "build tools in the final stage"
