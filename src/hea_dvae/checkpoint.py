"""Saving and loading trained models as self-describing, checked folders.

A checkpoint is a folder with two files:

``model.safetensors``
    Every tensor of the model's state (weights and the feature scaler).
``config.json``
    The model configuration, the feature scaler, the element order, the
    feature names, the element-table name and the package version, plus any
    ``extra`` information the caller adds (e.g. the training settings).

Loading checks all of these against the running package and refuses a
checkpoint that would silently give wrong predictions: features in another
order are not a small error, they are a different model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import package_version
from .elements import ELEMENTS, FEATURES, TABLES
from .model import SSVAE, SSVAEConfig
from .upstream import sha256

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "hea-dvae-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or does not match this package."""


def _major(version: str) -> str:
    return version.split(".")[0].split("+")[0]


def describe(model: SSVAE, extra: dict | None = None) -> dict:
    """The ``config.json`` content for ``model``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "model": model.config.to_dict(),
        "scaler": {
            "mean": model.feature_mean.detach().cpu().tolist(),
            "std": model.feature_std.detach().cpu().tolist(),
        },
        "elements": list(ELEMENTS),
        "features": list(FEATURES),
        "table": model.config.table,
        "extra": extra or {},
    }


def save(
    model: SSVAE,
    directory: str | os.PathLike,
    extra: dict | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write ``model`` to the folder ``directory``, atomically.

    Everything is written into a temporary sibling folder which is then
    renamed onto ``directory``: an interrupted save leaves either the previous
    checkpoint or nothing, never a half-written one. An existing checkpoint
    at ``directory`` is replaced.

    Parameters
    ----------
    model : SSVAE
        The model to save.
    directory : path-like
        Destination folder.
    extra : dict, optional
        JSON-serialisable information stored under ``"extra"``.
    files : dict, optional
        Further text files to write into the folder (name -> content), e.g.
        a training history; they are part of the same atomic write.

    Returns
    -------
    Path
        The checkpoint folder.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    description = describe(model, extra)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}

    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial", dir=directory.parent))
    try:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": FORMAT})
        # The digest of the weights is the model's identity, and lets load()
        # refuse a file that was damaged after it was written.
        description["weights_sha256"] = sha256(staging / WEIGHTS_FILE)
        text = json.dumps(description, indent=2, allow_nan=False)
        for name, content in (files or {}).items():
            if name in (WEIGHTS_FILE, CONFIG_FILE) or Path(name).name != name:
                raise ValueError(f"cannot write {name!r} into a checkpoint: reserved or not a plain file name")
            (staging / name).write_text(content, encoding="utf-8")
        with open(staging / CONFIG_FILE, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if directory.exists():
            # rename() cannot replace a non-empty folder: move the old one
            # aside first, so that a failure here still leaves it recoverable.
            retired = staging.with_name(staging.name + ".old")
            os.replace(directory, retired)
            try:
                os.replace(staging, directory)
            except BaseException:
                os.replace(retired, directory)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def read_config(directory: str | os.PathLike) -> dict:
    """The parsed ``config.json`` of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not a checkpoint: {CONFIG_FILE} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error


def check_config(description: dict) -> None:
    """Raise :class:`CheckpointError` naming the first field that does not match."""
    if description.get("format") != FORMAT:
        raise CheckpointError(f"not a {FORMAT} (format is {description.get('format')!r})")
    if description.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format version {description.get('format_version')!r} is not "
            f"supported (this package reads version {FORMAT_VERSION})"
        )
    if description.get("elements") != list(ELEMENTS):
        raise CheckpointError(
            "element order mismatch: the checkpoint has "
            f"{description.get('elements')}, this package uses {list(ELEMENTS)}"
        )
    if description.get("features") != list(FEATURES):
        raise CheckpointError(
            "feature names mismatch: the checkpoint has "
            f"{description.get('features')}, this package uses {list(FEATURES)}"
        )
    table = description.get("table")
    if table not in TABLES:
        raise CheckpointError(f"unknown element table {table!r}; known: {TABLES}")
    if description.get("model", {}).get("table", table) != table:
        raise CheckpointError("the model's table differs from the checkpoint's table")
    saved, running = str(description.get("package_version", "")), package_version()
    unknown = {"", "0+unknown"}
    if saved not in unknown and running not in unknown and _major(saved) != _major(running):
        raise CheckpointError(
            f"incompatible package version: checkpoint written by hea-dvae {saved}, "
            f"this is {running} (major versions differ)"
        )


def load(directory: str | os.PathLike, device="cpu") -> SSVAE:
    """Load and check a checkpoint written by :func:`save`.

    Raises
    ------
    CheckpointError
        Missing files; weights whose SHA-256 differs from the one recorded; different element order or feature names; unknown
        element table; a different major package version; missing,
        unexpected or mis-shaped tensors; a scaler in ``config.json`` that
        disagrees with the weights.
    """
    directory = Path(directory)
    description = read_config(directory)
    check_config(description)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory} is incomplete: {WEIGHTS_FILE} is missing")
    try:
        config = SSVAEConfig.from_dict(description["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"invalid model configuration in {directory}: {error}") from error
    recorded = description.get("weights_sha256")
    if recorded is not None and sha256(weights) != recorded:
        raise CheckpointError(
            f"{weights} does not match the SHA-256 recorded in {CONFIG_FILE} "
            "(the file was damaged or replaced)"
        )
    model = SSVAE(config)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"cannot read {weights}: {error}") from error

    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"tensor keys mismatch: missing {missing}, unexpected {unexpected}")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"shape mismatch for {key}: checkpoint {tuple(state[key].shape)}, "
                f"model {tuple(tensor.shape)}"
            )
    scaler = description.get("scaler", {})
    for name, key in (("mean", "feature_mean"), ("std", "feature_std")):
        values = np.asarray(scaler.get(name, []), dtype=np.float32).reshape(-1)
        stored = state[key].numpy()
        if values.shape != stored.shape or not np.allclose(values, stored, rtol=1e-6, atol=0):
            raise CheckpointError(f"feature scaler {name} in {CONFIG_FILE} disagrees with the weights")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def weights_digest(directory: str | os.PathLike) -> str:
    """SHA-256 of a checkpoint's weights (as recorded, else computed): the model's identity."""
    description = read_config(directory)
    return description.get("weights_sha256") or sha256(Path(directory) / WEIGHTS_FILE)
