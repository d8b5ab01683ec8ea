"""The raw IO manager on S3 (any S3-compatible store). Its own module: boto3 takes seconds to import, and only the
`prod` deployment needs it, so local processes (the demo's runs, the UI's code server, the sensors) never load it."""

from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from chicago_food_assets.resources.storage import RawIOManager


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
