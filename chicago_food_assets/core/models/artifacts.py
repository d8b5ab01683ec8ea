"""What a stored model must be to be used: trained under the installed libraries, and carrying every field this
version of the project reads. The one place a model from elsewhere or from before is met, and refused clearly."""

from dataclasses import fields

# A pickled model is only as good as the libraries that read it back: the card records these, scoring compares them.
LIBRARIES = ("scikit-learn", "xgboost-cpu", "numpy", "pandas")


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    return versions


class LibraryMismatchError(RuntimeError):
    """The model was trained under other library versions than the ones installed."""


def check_libraries(trained_with: dict[str, str]) -> None:
    """Refuse to score with a model pickled under other versions: its answers could silently differ."""
    current = library_versions()
    differ = {name: (was, current.get(name)) for name, was in trained_with.items() if current.get(name) != was}
    if differ:
        listed = ", ".join(f"{name} {was} (installed: {now})" for name, (was, now) in differ.items())
        raise LibraryMismatchError(
            f"the model was trained with {listed}. Install the locked versions (./run setup installs uv.lock) "
            "or retrain it under the installed ones (materialize the `training` job)."
        )


class OutdatedModelError(RuntimeError):
    """A stored model saved by an older version of this project, without what this version reads."""


class Stored:
    """Models are pickled: one loaded from the store must have every field this version reads. The one place a
    model from an older version is met: it is refused, saying how to retrain, instead of defaults spread over
    the code that uses it."""

    def __setstate__(self, state: dict) -> None:
        missing = sorted(f.name for f in fields(self) if f.name not in state)  # type: ignore[arg-type]
        if missing:
            raise OutdatedModelError(
                f"the stored {type(self).__name__.lower()} model was saved by an older version of this project (it "
                f"has no {', '.join(missing)}): retrain it with the `training` job (Materialize it in the UI, or "
                "./run dagster job execute -m chicago_food_assets.definitions -j training)"
            )
        self.__dict__.update(state)
