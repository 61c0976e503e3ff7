"""The training recipe: its settings, checked, and the small pieces every trainer shares.

:class:`TrainConfig` holds everything that decides how a model is trained
(chosen on the validation alloys of the paper split only; chapter 2 shows
what was tried):

- mini-batches of 128 alloys drawn from the whole pool (labelled and
  unlabelled mixed), Adam with a cosine learning-rate decay from 3e-3 to 0
  over 800 epochs, the decoder's learning rate three times the others';
- ``encoder_z`` reads compositions in at.% (as the authors' model did) and
  its log-standard-deviation head starts at -3, i.e. with narrow posteriors,
  which the authors' model reached only after hours of training (their
  released weights have posterior standard deviations of about 0.03);
- two selections on validation, each of its own networks: the classifier
  ``encoder_y`` is kept from the evaluation with the best validation ROC AUC
  (ties: lower cross-entropy), the encoder and decoder from the one with the
  lowest validation reconstruction error (MAE in at.%).

The trainer is :mod:`hea_dvae.batched` (:func:`hea_dvae.train.fit` trains
one model with it). The test set is never read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .checks import integer, number
from .data import as_arrays
from .model import SSVAEConfig
from .priors import resolve_prior

SCHEDULES = ("cosine", "constant")
SELECT_CLASSIFIER = ("auc", "loss")
SELECT_VAE = ("mae", "loss", "last")


@dataclass
class TrainConfig:
    """Optimisation settings of :func:`fit`.

    Parameters
    ----------
    model : SSVAEConfig
        Architecture and loss of the model to train.
    lr : float
        Peak Adam learning rate.
    decoder_lr_scale : float
        The decoder's learning rate is ``lr * decoder_lr_scale``.
    lr_schedule : {"cosine", "constant"}
        Cosine decay from ``lr`` to 0 over ``epochs``, or constant.
    weight_decay : float
        Adam (L2) weight decay.
    epochs : int
        Number of epochs (passes over the training pool) at most.
    batch_size : int or None
        Mini-batch size; ``None`` trains full batch (one step per epoch).
    log_scale_init : float or None
        Initial bias of the log standard deviation of q(z|x,y); ``None``
        keeps PyTorch's initialisation (posterior standard deviations near 1).
    kl_warmup_epochs : int
        The KL term of z is weighted from 0 up to 1 over these epochs.
    eval_every : int
        Evaluate on the validation alloys every this many epochs (and after
        the last).
    patience : int
        Stop when neither selection has improved for this many epochs.
    min_epochs : int
        Never stop before this epoch.
    select_classifier : {"auc", "loss"}
        What picks the classifier's weights on validation: ROC AUC (ties
        broken by the lower cross-entropy) or the cross-entropy alone.
    select_vae : {"mae", "loss", "last"}
        What picks the encoder's and decoder's weights: the validation
        reconstruction MAE (at.%), the whole validation loss, or the last
        epoch's.
    prior : {"flat", "expert"} or float
        p(y=1) of the unlabelled alloys: 0.5, the expert-informed prior of
        :mod:`hea_dvae.priors` fitted on this run's labelled alloys, or a
        constant in (0, 1).
    sample : bool
        Reparameterised z sample in the training loss (``False`` uses the mean;
        only meant for experiments).
    device : str
        Torch device.
    num_threads : int or None
        Torch intra-op threads while training (restored afterwards); ``None``
        keeps torch's setting. One thread is as fast as two for these small
        matrices and is not slowed down several-fold when another process
        shares the cores.
    """

    model: SSVAEConfig = field(default_factory=SSVAEConfig)
    lr: float = 3e-3
    decoder_lr_scale: float = 3.0
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    epochs: int = 800
    batch_size: int | None = 128
    log_scale_init: float | None = -3.0
    kl_warmup_epochs: int = 0
    eval_every: int = 10
    patience: int = 800
    min_epochs: int = 0
    select_classifier: str = "auc"
    select_vae: str = "mae"
    prior: str | float = "flat"
    sample: bool = True
    device: str = "cpu"
    num_threads: int | None = 1

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = SSVAEConfig.from_dict(self.model)
        problems = []
        checks = [lambda: number("lr", self.lr, 0, low_open=True),
                  lambda: number("decoder_lr_scale", self.decoder_lr_scale, 0, low_open=True),
                  lambda: number("weight_decay", self.weight_decay, 0),
                  *(lambda n=n: integer(n, getattr(self, n), 1) for n in ("epochs", "patience", "eval_every")),
                  *(lambda n=n: integer(n, getattr(self, n), 0) for n in ("min_epochs", "kl_warmup_epochs"))]
        if self.batch_size is not None:
            checks.append(lambda: integer("batch_size (or None: full batch)", self.batch_size, 1))
        for check in checks:
            try:
                check()
            except (TypeError, ValueError) as error:
                problems.append(str(error))
        for name, allowed in (("lr_schedule", SCHEDULES), ("select_classifier", SELECT_CLASSIFIER),
                              ("select_vae", SELECT_VAE)):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.log_scale_init is not None and not math.isfinite(self.log_scale_init):
            problems.append(f"log_scale_init must be a finite number or None, got {self.log_scale_init!r}")
        try:
            resolve_prior(self.prior)
        except (TypeError, ValueError) as error:
            problems.append(f"prior: {error}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    @classmethod
    def with_table(cls, table: str, **changes) -> "TrainConfig":
        """The default recipe for features computed with element ``table``."""
        defaults = cls()
        model = SSVAEConfig.from_dict({**defaults.model.to_dict(), "table": table})
        return cls(model=model, **changes)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["model"] = self.model.to_dict()
        return out


def fit_scaler(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each feature; a constant feature gets std 1."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def pool_arrays(labelled, unlabelled):
    sup_x, sup_e, sup_y = as_arrays(labelled)
    if unlabelled is None or (isinstance(unlabelled, pd.DataFrame) and unlabelled.empty):
        unsup_x = np.zeros((0, sup_x.shape[1]), np.float32)
        unsup_e = np.zeros((0, sup_e.shape[1]), np.float32)
    else:
        unsup_x, unsup_e, _ = as_arrays(unlabelled, require_labels=False)
    return sup_x, sup_e, sup_y, unsup_x, unsup_e


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    if config.lr_schedule == "constant":
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * step / total))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def classifier_key(config: TrainConfig, record: dict) -> tuple:
    if config.select_classifier == "loss":
        return (_finite(-record["val_bce"]), _finite(record["val_auc"]))
    return (_finite(record["val_auc"]), _finite(-record["val_bce"]))


def vae_key(config: TrainConfig, record: dict) -> tuple:
    if config.select_vae == "last":
        return (record["epoch"], 0.0)
    if config.select_vae == "loss":
        return (_finite(-record["val_loss"]), 0.0)
    return (_finite(-record["val_mae_all"]), _finite(-record["val_loss"]))
