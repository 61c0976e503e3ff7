"""Checkpoints: exact round trip, refusal of mismatches, atomic writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from hea_dvae import checkpoint
from hea_dvae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError
from hea_dvae.model import SSVAE, SSVAEConfig


@pytest.fixture
def model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    return SSVAE(SSVAEConfig(hidden=(12, 12), alpha=3.0), rng.normal(size=8) * 100, rng.uniform(1, 5, size=8))


@pytest.fixture
def inputs():
    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.ones(30), size=6).astype(np.float32)
    e = (rng.normal(size=(6, 8)) * 100).astype(np.float32)
    return x, e


def _tamper(directory, **changes):
    path = directory / CONFIG_FILE
    description = json.loads(path.read_text())
    description.update(changes)
    path.write_text(json.dumps(description))


def test_round_trip_gives_identical_predictions(model, inputs, tmp_path):
    x, e = inputs
    directory = checkpoint.save(model, tmp_path / "ckpt", extra={"seed": 7})
    assert sorted(p.name for p in directory.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = checkpoint.load(directory)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.predict_proba(e), model.predict_proba(e))
    with torch.no_grad():
        mean, std = model.encode(x, 1.0)
        loaded_mean, loaded_std = loaded.encode(x, 1.0)
        torch.testing.assert_close(loaded_mean, mean, rtol=0, atol=0)
        torch.testing.assert_close(loaded_std, std, rtol=0, atol=0)
        torch.testing.assert_close(loaded.decode(mean, 0.0), model.decode(mean, 0.0), rtol=0, atol=0)
    description = checkpoint.read_config(directory)
    assert description["extra"] == {"seed": 7}
    assert description["table"] == "paper"
    assert len(description["elements"]) == 30 and len(description["features"]) == 8
    np.testing.assert_allclose(description["scaler"]["std"], model.feature_std.numpy())
    assert description["package_version"]


def test_save_replaces_an_existing_checkpoint_only_when_asked(model, tmp_path):
    checkpoint.save(SSVAE(SSVAEConfig(hidden=(4,))), tmp_path / "ckpt")
    with pytest.raises(checkpoint.CheckpointError, match="already holds a checkpoint"):
        checkpoint.save(model, tmp_path / "ckpt")
    assert checkpoint.load(tmp_path / "ckpt").config.hidden == (4,)
    checkpoint.save(model, tmp_path / "ckpt", overwrite=True)
    assert checkpoint.load(tmp_path / "ckpt").config.hidden == (12, 12)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"elements": list(reversed(checkpoint.describe(SSVAE())["elements"]))}, "element order"),
        ({"features": ["k", "vm", "tm", "vac", "delta", "delta_chi", "delta_h_mix", "delta_s_mix"]},
         "feature names"),
        ({"table": "my-own-table"}, "unknown element table"),
        ({"package_version": "999.0.0"}, "major versions differ"),
        ({"format": "something-else"}, "not a hea-dvae-checkpoint"),
        ({"format_version": 99}, "format version"),
    ],
)
def test_refuses_a_mismatched_config(model, tmp_path, changes, message):
    directory = checkpoint.save(model, tmp_path / "ckpt")
    _tamper(directory, **changes)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(directory)


def test_refuses_replaced_weights(model, tmp_path):
    directory = checkpoint.save(model, tmp_path / "ckpt")
    weights = load_file(str(directory / WEIGHTS_FILE))
    weights["decoder.layers.0.bias"] = weights["decoder.layers.0.bias"] + 1.0
    save_file(weights, str(directory / WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        checkpoint.load(directory)


def test_refuses_mismatched_tensors(model, tmp_path):
    directory = checkpoint.save(model, tmp_path / "ckpt")
    weights = load_file(str(directory / WEIGHTS_FILE))
    # Older checkpoints carry no digest; the tensor checks still guard them.
    description = checkpoint.read_config(directory)
    description.pop("weights_sha256")
    (directory / "config.json").write_text(json.dumps(description))

    missing = dict(weights)
    del missing["decoder.layers.0.bias"]
    save_file(missing, str(directory / WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match=r"missing \['decoder.layers.0.bias'\]"):
        checkpoint.load(directory)

    save_file({**weights, "decoder.extra": torch.zeros(2)}, str(directory / WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match=r"unexpected \['decoder.extra'\]"):
        checkpoint.load(directory)

    save_file(weights, str(directory / WEIGHTS_FILE))
    description = checkpoint.read_config(directory)
    _tamper(directory, model={**description["model"], "hidden": [13, 12]})
    with pytest.raises(CheckpointError, match="shape mismatch"):
        checkpoint.load(directory)

    _tamper(directory, model=description["model"], scaler={**description["scaler"], "mean": [0.0] * 8})
    with pytest.raises(CheckpointError, match="scaler mean"):
        checkpoint.load(directory)


def test_refuses_an_incomplete_folder(model, tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        checkpoint.load(tmp_path)
    directory = checkpoint.save(model, tmp_path / "ckpt")
    (directory / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        checkpoint.load(directory)


def _fail_on_rename(monkeypatch, call=1):
    """Interrupt the ``call``-th rename of a save; earlier and later renames run."""
    real_replace, calls = os.replace, []

    def replace(*args, **kwargs):
        calls.append(args)
        if len(calls) == call:
            raise KeyboardInterrupt("simulated interruption")
        return real_replace(*args, **kwargs)

    monkeypatch.setattr(checkpoint.os, "replace", replace)


def test_interrupted_save_leaves_nothing_loadable(model, tmp_path, monkeypatch):
    # Both files are fully written when the rename is interrupted: the worst moment.
    _fail_on_rename(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(model, tmp_path / "ckpt")
    monkeypatch.undo()
    assert not (tmp_path / "ckpt").exists()
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_interrupted_weights_write_leaves_nothing_loadable(model, tmp_path, monkeypatch):
    def half_write(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\x00" * 16)
        raise OSError("disk full")

    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", half_write)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(model, tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [1, 2])  # moving the old one aside; moving the new one in
def test_interrupted_overwrite_keeps_the_old_checkpoint(model, inputs, tmp_path, monkeypatch, call):
    _, e = inputs
    checkpoint.save(model, tmp_path / "ckpt")
    other = SSVAE(SSVAEConfig(hidden=(12, 12), alpha=3.0), model.feature_mean, model.feature_std)
    _fail_on_rename(monkeypatch, call)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(other, tmp_path / "ckpt", overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "ckpt").predict_proba(e), model.predict_proba(e))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_a_model_of_the_31_descriptors_round_trips_and_reads_them():
    from hea_dvae.descriptors import MODEL_INPUTS, model_inputs

    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    wide = SSVAE(SSVAEConfig(hidden=(12, 12), n_features=31, table="corrected"), rng.normal(size=31),
                 rng.uniform(1, 2, size=31))
    assert wide.features == MODEL_INPUTS and len(MODEL_INPUTS) == 31
    x = rng.dirichlet(np.ones(5), size=4)
    x = np.concatenate([x, np.zeros((4, 25))], axis=1)
    np.testing.assert_array_equal(wide.featurize(x), model_inputs(x, table="corrected").to_numpy(dtype=float))
    odd = SSVAE(SSVAEConfig(hidden=(4,), n_features=9))
    assert odd.features[-1] == "input_8"
    with pytest.raises(ValueError, match="neither"):
        odd.featurize(x)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        directory = checkpoint.save(wide, Path(folder) / "wide")
        assert json.loads((directory / CONFIG_FILE).read_text())["features"] == list(MODEL_INPUTS)
        loaded = checkpoint.load(directory)
        e = wide.featurize(x).astype(np.float32)
        np.testing.assert_array_equal(loaded.predict_proba(e), wide.predict_proba(e))
        # The screen's scorer reads the 8 features only: it refuses this model by name.
        with pytest.raises(CheckpointError, match="feature scaler of 8"):
            checkpoint.read_state(directory)
        # A description whose names and width disagree is refused.
        _tamper(directory, features=list(MODEL_INPUTS[:8]))
        with pytest.raises(CheckpointError, match="31 features"):
            checkpoint.load(directory)
