"""Object storage: a local folder, or an S3 bucket (any S3-compatible store).

Raw pulls (`RawIOManager`): one object per week, plain gzip JSON lines with the values as received, so a
single-run backfill over a range writes every week of it and a downstream range read gets one frame back. Dagster's
stock `UPathIOManager`s refuse an output that covers several partitions, which is why this one exists.
Model artifacts: Dagster's stock pickle IO managers (`model_io_manager`), the local one made atomic.
Every object is replaced atomically: a failed write keeps the old one.
"""

import gzip
import io
import os
import pickle
import tempfile
import time
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetKey,
    ConfigurableIOManager,
    FilesystemIOManager,
    InitResourceContext,
    InputContext,
    OutputContext,
    TimeWindowPartitionsDefinition,
    UPathIOManager,
)
from pyarrow import json as pa_json
from pydantic import Field
from upath import UPath

from chicago_food_assets.core.arrow import text_frame
from chicago_food_assets.core.ingestion.raw import FIELDS
from chicago_food_assets.instance.processes import alive
from chicago_food_assets.resources import memory

FRAME_SUFFIX = ".jsonl.gz"


def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    """gzip JSON lines, one object per row, absent values left out: a file any JSON-lines tool reads."""
    if not len(frame):
        return gzip.compress(b"", mtime=0)
    records = frame.to_json(orient="records", lines=True, force_ascii=False)
    return gzip.compress(records.encode(), compresslevel=1, mtime=0)  # level 6: 2.4 times the time, 23% smaller


RAW_SCHEMA = pa.schema([(name, pa.string()) for name in FIELDS])


def table_from_bytes(data: bytes) -> pa.Table:
    """An object's rows, parsed by Arrow in C++ with every value a string, the raw fields first."""
    body = gzip.decompress(data)
    if not body.strip():
        return RAW_SCHEMA.empty_table()
    options = pa_json.ParseOptions(explicit_schema=RAW_SCHEMA, unexpected_field_behavior="infer")
    table = pa_json.read_json(io.BytesIO(body), parse_options=options)
    table = table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))  # extras: all text too
    return table.select([*FIELDS, *(c for c in table.column_names if c not in FIELDS)])


def frame_from_bytes(data: bytes) -> pd.DataFrame:
    """The frame back, every value a string (`string[pyarrow]`), the raw fields first."""
    return text_frame([table_from_bytes(data)])


def split_by_partition(
    frame: pd.DataFrame, column: str, partitions_def: TimeWindowPartitionsDefinition, keys: list[str]
) -> dict[str, pd.DataFrame]:
    """Rows of `frame` per partition key, by the time in `column`; every key gets a frame, empty or not."""
    windows = [partitions_def.time_window_for_partition_key(key) for key in keys]
    starts = np.array([w.start.replace(tzinfo=None) for w in windows], dtype="datetime64[ns]")
    end = np.datetime64(windows[-1].end.replace(tzinfo=None), "ns")
    times = (
        pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
        if len(frame)
        else pd.Series([], dtype="datetime64[ns]")
    )
    # a row whose time cannot be read, or lies outside the range, still belongs to the range it was fetched for:
    # it is kept in the first partition (before or unreadable) or the last (after), where cleaning rejects it
    values = times.fillna(pd.Timestamp(starts[0])).to_numpy(dtype="datetime64[ns]")
    position = np.searchsorted(starts, values, side="right") - 1
    position = np.clip(np.where(values >= end, len(keys) - 1, position), 0, len(keys) - 1)
    # one reordering by week, then a slice per week: a take per week would cost a pass over the frame each time
    order = np.argsort(position, kind="stable")
    ordered = frame.iloc[order]
    bounds = np.searchsorted(position[order], np.arange(len(keys) + 1))
    return {key: ordered.iloc[bounds[i] : bounds[i + 1]] for i, key in enumerate(keys)}


def stage(path: Path, data: bytes) -> Path:
    """`data` in a temporary file beside `path` (named for this process, so a later start can tell it is stale);
    on any failure (a full disk raises as the file is closed) the temporary file is removed before raising."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", delete=False)  # noqa: SIM115
    try:
        with handle:
            handle.write(data)
    except BaseException:
        os.unlink(handle.name)
        raise
    return Path(handle.name)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part: a temporary file beside it, then a rename."""
    os.replace(stage(path, data), path)


def sweep(folder: Path) -> int:
    """Remove temporary files left in `folder` by processes that died mid-write (killed, the machine lost); a live
    process's are its own. Returns how many were removed."""
    removed = 0
    for temporary in folder.glob(".*.*") if folder.is_dir() else ():
        pid = temporary.name.rsplit(".", 2)[-2]
        # a name without a pid was left by an older version of this code: stale once it is an hour old
        stale = not alive(int(pid)) if pid.isdigit() else time.time() - temporary.stat().st_mtime > 3600
        if stale:
            temporary.unlink(missing_ok=True)
            removed += 1
    return removed


# Where the modules of stored artifacts' classes moved when core/ was grouped by stage: an artifact pickled before
# still loads (the artifacts' own checks then judge it like any other).
MOVED = {
    f"chicago_food_assets.core.{old}": f"chicago_food_assets.core.{stage}.{new}"
    for stage, modules in {
        "declarations": ("catalog", "columns", "contracts", "kinds", "targets", "canvass"),
        "ingestion": ("cleaning", "coordinates", "establishments", "labels", "raw", "violations"),
        "features": ("peers", "repeats", "features:own"),
        "models": (
            *("artifacts", "card", "evaluation", "fairness", "preparation", "reasons", "scoring", "selection"),
            *("training", "window"),
        ),
        "lists": ("prospective", "visits"),
    }.items()
    for old, _, new in (module.partition(":") if ":" in module else (module, "", module) for module in modules)
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def unpickle(data: bytes, where: str, context: InputContext) -> Any:
    """A stored artifact read back; one that cannot be (cut, damaged, not a pickle) is an error naming it and the
    way out, not `pickle data was truncated` alone."""
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError) as error:
        name = context.asset_key.to_user_string() if context.has_asset_key else "artifact"
        raise ValueError(
            f"the stored {name} at {where} cannot be read ({type(error).__name__}: {error}; {len(data):,} bytes): "
            "the file is cut or damaged. Run the `training` job again to replace it (./run demo, or materialize "
            "the models group)"
        ) from error


class AtomicPickleIOManager(UPathIOManager):
    """What Dagster's local pickle IO manager does (a pickle at `base_dir/<asset key>`), except that a write that
    fails (an unpicklable value, a full disk, a killed process) leaves the previous artifact whole: the stock one
    opens the file before pickling and leaves it truncated."""

    extension = ""

    def dump_to_path(self, context: OutputContext, obj: Any, path: UPath) -> None:
        write_atomically(Path(str(path)), pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def load_from_path(self, context: InputContext, path: UPath) -> Any:
        local = Path(str(path))  # a local file: this is the local deployment's model store
        if not local.exists():
            name = context.asset_key.to_user_string() if context.has_asset_key else local.name
            raise FileNotFoundError(
                f"no {name} is stored yet ({path}): run the `training` job first (it trains, selects and publishes "
                "a model: ./run demo does, or materialize the models group in the UI)"
            )
        return unpickle(local.read_bytes(), str(local), context)


class ModelIOManager(FilesystemIOManager):
    """Dagster's `FilesystemIOManager` (same config, same paths) with atomic writes; in prod `S3PickleIOManager`."""

    # the stock class's return type is its own IO manager; this one returns the atomic one in its place
    def create_io_manager(self, context: InitResourceContext) -> AtomicPickleIOManager:  # type: ignore[override]
        base = self.base_dir or (context.instance.storage_directory() if context.instance is not None else None)
        if base is None:
            raise ValueError("the model store needs a base_dir or a Dagster instance (its storage directory)")
        return AtomicPickleIOManager(base_path=UPath(base))


class RawIOManager(ConfigurableIOManager):
    """Weekly frames as JSON-lines objects; subclasses say where bytes go (S3: `resources/s3.py`)."""

    @abstractmethod
    def _put(self, key: str, data: bytes) -> None: ...

    def _put_all(self, blobs: dict[str, bytes]) -> None:
        """Every object of a range (an object store replaces each one atomically; a folder does more)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda item: self._put(*item), blobs.items()))

    @abstractmethod
    def _get(self, key: str) -> bytes: ...

    @abstractmethod
    def uri(self, key: str) -> str: ...

    def _key(self, context: OutputContext | InputContext, partition: str) -> str:
        return self._object(context.asset_key, partition)

    @staticmethod
    def _object(asset: AssetKey, partition: str) -> str:
        return "/".join(asset.path) + f"/{partition}{FRAME_SUFFIX}"

    def stored_presence(self, asset: AssetKey, partitions: list[str]) -> pd.DataFrame:
        """For the partitions the store holds (the others left out): rows and, per raw field, the rows carrying it
        (`core.raw.presence`'s frame), from Arrow's null counts: what the raw field contract compares a pull with."""

        def read(partition: str) -> tuple[str, pa.Table | None]:
            try:
                return partition, table_from_bytes(self._get(self._object(asset, partition)))
            except FileNotFoundError:
                return partition, None

        with ThreadPoolExecutor(max_workers=8) as pool:
            tables = [(key, table) for key, table in pool.map(read, partitions) if table is not None]
        counts = [
            [table.num_rows, *(table.num_rows - table.column(name).null_count for name in FIELDS)]
            for _, table in tables
        ]
        index = pd.Index([key for key, _ in tables], name="week")
        return pd.DataFrame(counts, index=index, columns=["rows", *FIELDS], dtype="int64")

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        name = context.asset_key.to_user_string()
        if not context.has_asset_partitions or not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{name}: this IO manager stores weekly DataFrames (model artifacts: model_io_manager)")
        column = (context.definition_metadata or {}).get("partition_expr")
        if column is None:
            raise ValueError(f"partitioned asset {name} needs `partition_expr` metadata")
        keys = list(context.asset_partition_keys)
        parts = split_by_partition(obj, column, context.asset_partitions_def, keys)  # type: ignore[arg-type]
        blobs = {self._key(context, key): frame_to_bytes(part) for key, part in parts.items()}
        self._put_all(blobs)
        first = next(iter(blobs))
        context.add_output_metadata(
            {"objects": len(blobs), "stored_bytes": sum(map(len, blobs.values())), "uri": self.uri(first)}
        )

    def load_input(self, context: InputContext) -> pd.DataFrame:
        memory.release()  # what the steps before freed, before this one loads
        keys = list(context.asset_partition_keys)
        with ThreadPoolExecutor(max_workers=8) as pool:
            tables = list(pool.map(lambda key: table_from_bytes(self._get(self._key(context, key))), keys))
        return text_frame(tables)


class LocalRawIOManager(RawIOManager):
    """The S3 role on a laptop: objects are files under `base_dir`."""

    base_dir: str = Field(description="folder that plays the bucket")

    def uri(self, key: str) -> str:
        return (Path(self.base_dir) / key).resolve().as_uri()

    def _put(self, key: str, data: bytes) -> None:
        write_atomically(Path(self.base_dir) / key, data)

    def _put_all(self, blobs: dict[str, bytes]) -> None:
        """All of a range's weeks or none: each is staged beside its file first, and only when every one is on disk
        are they renamed into place. A full disk fails the range with nothing replaced and no temporary file left,
        so Dagster's status of each week (failed, its earlier version kept) is true to what is stored."""
        paths = {Path(self.base_dir) / key: data for key, data in blobs.items()}
        for folder in {path.parent for path in paths}:
            sweep(folder)
        staged: dict[Path, Path] = {}
        try:
            for path, data in paths.items():
                staged[path] = stage(path, data)
        except OSError as error:
            for temporary in staged.values():
                temporary.unlink(missing_ok=True)
            raise OSError(
                error.errno,
                f"cannot write {len(paths)} weeks under {self.base_dir} ({error.strerror}); nothing was replaced",
                str(error.filename or ""),
            ) from error
        for path, temporary in staged.items():
            os.replace(temporary, path)

    def _get(self, key: str) -> bytes:
        path = Path(self.base_dir) / key
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: materialize that partition first")
        return path.read_bytes()
