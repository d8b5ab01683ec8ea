"""The IO managers on S3 (any S3-compatible store): raw weeks, and model artifacts. Their own module: boto3 takes
seconds to import, and only the `prod` deployment needs it, so local processes (the demo's runs, the UI's code
server, the sensors) never load it."""

from typing import Any

from dagster import InputContext
from dagster._utils.cached_method import cached_method  # what S3PickleIOManager caches with
from dagster_aws.s3 import S3PickleIOManager, S3Resource
from dagster_aws.s3.io_manager import PickledObjectS3IOManager
from pydantic import PrivateAttr
from upath import UPath

from chicago_food_assets.resources.storage import RawIOManager, unpickle


class S3RawIOManager(RawIOManager):
    """Objects in `s3://bucket/prefix/...` through dagster-aws's S3Resource (endpoint URL for MinIO or moto)."""

    s3: S3Resource
    bucket: str
    prefix: str = "chicago-food"

    _client: object = PrivateAttr(default=None)

    def _s3(self):
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{key}"

    def _put(self, key: str, data: bytes) -> None:
        self._s3().put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)

    def _get(self, key: str) -> bytes:
        client = self._s3()
        try:
            return client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()
        except client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(f"{self.uri(key)} does not exist: materialize that partition first") from error


class NamedS3PickleIOManager(S3PickleIOManager):
    """Dagster's `S3PickleIOManager`, whose unreadable objects are errors naming their bucket and key."""

    @cached_method
    def inner_io_manager(self) -> PickledObjectS3IOManager:
        return _NamedPickledObjectS3IOManager(
            s3_bucket=self.s3_bucket, s3_session=self.s3_resource.get_client(), s3_prefix=self.s3_prefix
        )


class _NamedPickledObjectS3IOManager(PickledObjectS3IOManager):
    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        try:
            data = self.s3.get_object(Bucket=self.bucket, Key=path.as_posix())["Body"].read()
        except self.s3.exceptions.NoSuchKey as error:
            raise FileNotFoundError(f"no object s3://{self.bucket}/{path.as_posix()}: run the training job") from error
        return unpickle(data, f"s3://{self.bucket}/{path.as_posix()}", context)
