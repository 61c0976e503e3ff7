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

from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError, safe_open

from .config import package_version
from .elements import ELEMENTS, FEATURES, TABLES
from .files import umask
from .upstream import sha256

if TYPE_CHECKING:  # pragma: no cover
    from .model import SSVAE

# torch (and the model) are imported inside save() and load(): read_state()
# reads a checkpoint's arrays with numpy alone, for the fast scoring path.

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "hea-dvae-checkpoint"
FORMAT_VERSION = 1
#: A checkpoint's config.json is a few kB; anything far larger is not one.
MAX_CONFIG_BYTES = 1 << 20


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or does not match this package."""


def _major(version: str) -> str:
    return version.split(".")[0].split("+")[0]


def describe(model: "SSVAE", extra: dict | None = None) -> dict:
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
        "features": list(model.features),
        "table": model.config.table,
        "extra": extra or {},
    }


def is_checkpoint(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a checkpoint of this package (its ``config.json`` says so)."""
    try:
        return read_config(directory).get("format") == FORMAT
    except CheckpointError:
        return False


def check_destination(directory: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse a destination :func:`save` must not write; return where it would land.

    A new or empty folder is fine. A folder holding a checkpoint of this
    package is replaced only with ``overwrite``; a folder holding anything
    else, or a file, is never replaced (its content would be lost).

    Raises
    ------
    CheckpointError
        The destination is a file, a non-empty folder that is not a
        checkpoint, a checkpoint without ``overwrite``, or its parent folder
        cannot be written.
    """
    given = Path(directory)
    target = Path(os.path.realpath(given))
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"{given} is a file, not a checkpoint folder")
    if target.is_dir() and any(target.iterdir()):
        if not is_checkpoint(target):
            shown = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
            listed = ", ".join(shown[:5]) + (", ..." if len(shown) > 5 else "")
            raise CheckpointError(
                f"{given} is not empty and is not a checkpoint ({listed}); refusing to replace it: "
                "choose a new or empty folder"
            )
        if not overwrite:
            raise CheckpointError(f"{given} already holds a checkpoint; replace it with --force (overwrite=True)")
    # save() creates missing parent folders: the nearest existing one must be writable.
    existing = next(p for p in (target.parent, *target.parent.parents) if p.is_dir())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CheckpointError(f"cannot write {given}: no permission in {existing}")
    return target


def save(
    model: "SSVAE",
    directory: str | os.PathLike,
    extra: dict | None = None,
    files: dict[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` to the folder ``directory``, atomically.

    Everything is written into a temporary sibling folder which is then
    renamed onto ``directory``: an interrupted save leaves either the previous
    checkpoint or nothing, never a half-written one. A symbolic link to a
    folder is written through.

    Parameters
    ----------
    model : SSVAE
        The model to save.
    directory : path-like
        Destination folder: new, empty, or (with ``overwrite``) a checkpoint
        to replace (see :func:`check_destination`).
    extra : dict, optional
        JSON-serialisable information stored under ``"extra"``.
    files : dict, optional
        Further text files to write into the folder (name -> content), e.g.
        a training history; they are part of the same atomic write.
    overwrite : bool
        Replace an existing checkpoint.

    Returns
    -------
    Path
        The checkpoint folder.

    Raises
    ------
    CheckpointError
        The destination must not be replaced (see :func:`check_destination`).
    """
    from safetensors.torch import save_file

    given = Path(directory)
    directory = check_destination(given, overwrite)
    directory.parent.mkdir(parents=True, exist_ok=True)
    description = describe(model, extra)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}

    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial", dir=directory.parent))
    try:
        # mkdtemp makes a private folder; a checkpoint is as readable as any file the user makes.
        os.chmod(staging, 0o777 & ~umask())
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
    return given


def read_config(directory: str | os.PathLike) -> dict:
    """The parsed ``config.json`` of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not a checkpoint: {CONFIG_FILE} is missing")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{path} is {path.stat().st_size:,} bytes: too large for a checkpoint's {CONFIG_FILE}")
        description = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error.strerror or error}") from None
    if not isinstance(description, dict):
        raise CheckpointError(f"{path} holds a JSON {type(description).__name__}, not an object: not a checkpoint")
    return description


def check_config(description: dict) -> None:
    """Raise :class:`CheckpointError` naming the first field that does not match."""
    if not isinstance(description, dict):
        raise CheckpointError(f"a checkpoint description is a JSON object, got {type(description).__name__}")
    if description.get("format") != FORMAT:
        raise CheckpointError(f"not a {FORMAT} (format is {_short(description.get('format'))})")
    if description.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format version {_short(description.get('format_version'))} is not "
            f"supported (this package reads version {FORMAT_VERSION})"
        )
    if description.get("elements") != list(ELEMENTS):
        raise CheckpointError(
            "element order mismatch: the checkpoint has "
            f"{_short(description.get('elements'))}, this package uses {list(ELEMENTS)}"
        )
    # What a stored classifier may read: the 8 features, or the 31 descriptors (chapter 7).
    from .descriptors import MODEL_INPUTS

    if description.get("features") not in (list(FEATURES), list(MODEL_INPUTS)):
        raise CheckpointError(
            "feature names mismatch: the checkpoint has "
            f"{_short(description.get('features'))}, this package uses {list(FEATURES)} "
            "(or the 31 descriptors of hea_dvae.descriptors.MODEL_INPUTS)"
        )
    table = description.get("table")
    if not isinstance(table, str) or table not in TABLES:
        raise CheckpointError(f"unknown element table {_short(table)}; known: {TABLES}")
    for field in ("model", "scaler"):
        if not isinstance(description.get(field), dict):
            raise CheckpointError(f"'{field}' must be a JSON object, got {_short(description.get(field))}")
    if description["model"].get("table", table) != table:
        raise CheckpointError("the model's table differs from the checkpoint's table")
    saved, running = str(description.get("package_version", "")), package_version()
    unknown = {"", "0+unknown"}
    if saved not in unknown and running not in unknown and _major(saved) != _major(running):
        raise CheckpointError(
            f"incompatible package version: checkpoint written by hea-dvae {saved}, "
            f"this is {running} (major versions differ)"
        )


def _short(value, limit: int = 80) -> str:
    """``repr`` of a value read from a file, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _stored_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes of a safetensors file, read from its header (no tensor is loaded)."""
    try:
        with safe_open(str(weights), framework="numpy") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"cannot read {weights}: {error}") from None



def _checked_files(directory) -> tuple[dict, Path]:
    """A checkpoint folder's checked description and the path of its weights file (which must exist)."""
    directory = Path(directory)
    description = read_config(directory)
    check_config(description)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory} is incomplete: {WEIGHTS_FILE} is missing")
    return description, weights


def _check_weights_digest(weights: Path, description: dict) -> None:
    """The weights file must match the SHA-256 its description recorded (when it recorded one)."""
    recorded = description.get("weights_sha256")
    if recorded is not None and sha256(weights) != recorded:
        raise CheckpointError(f"{weights} does not match the SHA-256 recorded in {CONFIG_FILE} "
                              "(the file was damaged or replaced)")


def load(directory: str | os.PathLike, device="cpu") -> "SSVAE":
    """Load and check a checkpoint written by :func:`save`.

    Everything is checked before a tensor is allocated: the description, the
    weights' digest, and every tensor's name and shape against the model
    the configuration describes, so a damaged or crafted folder is refused
    with one message and never allocates more than its own weights.

    Raises
    ------
    CheckpointError
        Missing files; a ``config.json`` that is not a checkpoint's; weights
        whose SHA-256 differs from the one recorded; different element order
        or feature names; unknown element table; a different major package
        version; missing, unexpected or mis-shaped tensors; a scaler in
        ``config.json`` that disagrees with the weights.
    """
    import torch
    from safetensors.torch import load_file

    from .model import SSVAE, SSVAEConfig

    description, weights = _checked_files(directory)
    try:
        config = SSVAEConfig.from_dict(description["model"])
        if (config.n_elements, config.n_features) != (len(ELEMENTS), len(description["features"])):
            raise ValueError(f"the model reads {config.n_elements} elements and {config.n_features} features, "
                             f"its description names {len(ELEMENTS)} and {len(description['features'])}")
        # The meta device builds the model's shapes without allocating them.
        with torch.device("meta"):
            expected = {key: tuple(t.shape) for key, t in SSVAE(config).state_dict().items()}
    except (KeyError, TypeError, ValueError, OverflowError, RuntimeError) as error:
        raise CheckpointError(f"invalid model configuration in {directory}: {_short(str(error), 200)}") from None
    _check_weights_digest(weights, description)
    stored = _stored_shapes(weights)
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"tensor keys mismatch: missing {missing}, unexpected {_short(unexpected)}")
    for key, shape in expected.items():
        if stored[key] != shape:
            raise CheckpointError(f"shape mismatch for {key}: checkpoint {stored[key]}, model {shape}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"cannot read {weights}: {error}") from None
    scaler = description["scaler"]
    for name, key in (("mean", "feature_mean"), ("std", "feature_std")):
        try:
            values = np.asarray(scaler.get(name, []), dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            values = np.zeros(0, dtype=np.float32)
        stored_values = state[key].float().numpy()
        if values.shape != stored_values.shape or not np.allclose(values, stored_values, rtol=1e-6, atol=0):
            raise CheckpointError(f"feature scaler {name} in {CONFIG_FILE} disagrees with the weights")
    model = SSVAE(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"cannot load the weights of {directory}: {_short(str(error), 200)}") from None
    return model.to(device).eval()


def read_state(directory: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """A checkpoint's tensors as numpy arrays, and its description, without torch.

    For scoring with numpy alone (the screen's scorer): the description is
    checked as :func:`load` checks it, the weights against their recorded
    SHA-256, and the classifier and scaler arrays must be there. The full
    shape check against the model's architecture is :func:`load`'s.

    Raises
    ------
    CheckpointError
        As :func:`load`.
    """
    from safetensors.numpy import load_file

    description, weights = _checked_files(directory)
    _check_weights_digest(weights, description)
    shapes = _stored_shapes(weights)
    if shapes.get("feature_mean") != (len(FEATURES),) or shapes.get("feature_std") != (len(FEATURES),):
        raise CheckpointError(f"{weights} lacks a feature scaler of {len(FEATURES)} values")
    if "encoder_y.layers.0.weight" not in shapes:
        raise CheckpointError(f"{weights} holds no classifier (encoder_y)")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"cannot read {weights}: {error}") from None
    return state, description
