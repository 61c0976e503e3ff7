"""Training of :class:`hea_dvae.model.SSVAE` on labelled and unlabelled alloys.

Full-batch Adam: with about a thousand alloys and three small MLPs, one step
on all of them costs about 10-15 ms on one CPU core, much less than a pass
of 32-alloy mini-batches (the authors' setting, about 1 s per epoch). The
defaults (2,000 epochs at most, learning rate 3e-3) train on the paper split
in about 30 s. Model selection and early stopping read the
validation set only; the test set is never touched here.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch

from tqdm.auto import tqdm

from .config import show_progress
from .data import as_arrays
from .model import SSVAE, SSVAEConfig
from .scores import roc_auc


@dataclass
class TrainConfig:
    """Optimisation settings of :func:`fit`.

    Parameters
    ----------
    model : SSVAEConfig
        Architecture and loss of the model to train.
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam (L2) weight decay.
    epochs : int
        Maximum number of epochs (passes over the training pool).
    batch_size : int or None
        Mini-batch size; ``None`` trains full batch (one step per epoch).
    patience : int
        Stop when the validation score has not improved for this many epochs.
    min_epochs : int
        Never stop before this epoch.
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
    select : {"auc", "loss"}
        What picks the best epoch on the validation set: ``"auc"``, the ROC
        AUC of q(y|e) (ties broken by the lower loss), or ``"loss"``, the
        whole validation loss (reconstruction, KL and classification), which
        also rewards a sharper decoder.
    """

    model: SSVAEConfig = field(default_factory=SSVAEConfig)
    lr: float = 1e-2
    weight_decay: float = 0.0
    epochs: int = 2000
    batch_size: int | None = None
    patience: int = 400
    min_epochs: int = 200
    sample: bool = True
    device: str = "cpu"
    num_threads: int | None = 1
    select: str = "auc"

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = SSVAEConfig.from_dict(self.model)
        problems = []
        if not self.lr > 0:
            problems.append(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if self.min_epochs < 0:
            problems.append(f"min_epochs must be >= 0, got {self.min_epochs}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            problems.append(f"batch_size must be a positive integer or None, got {self.batch_size!r}")
        if self.select not in ("auc", "loss"):
            problems.append(f"select must be 'auc' or 'loss', got {self.select!r}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["model"] = self.model.to_dict()
        return out


def fit_scaler(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each feature; a constant feature gets std 1."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def fit(
    labelled,
    unlabelled,
    validation,
    config: TrainConfig | None = None,
    seed: int = 42,
    progress: bool | None = None,
) -> tuple[SSVAE, pd.DataFrame]:
    """Train an SSVAE on labelled plus unlabelled alloys; select it on validation.

    The feature scaler is fitted on the labelled and unlabelled features
    together. After every epoch the model is scored on the validation set by
    ROC AUC (ties broken by the lower validation loss); the best weights are
    restored at the end and training stops after ``config.patience`` epochs
    without improvement.

    Parameters
    ----------
    labelled, unlabelled, validation : DataFrame or tuple of arrays
        Parts of a split (see :func:`as_arrays`). Labels of ``unlabelled``
        are never read; ``unlabelled`` may be empty or ``None``.
    config : TrainConfig, optional
        Optimisation and model settings.
    seed : int
        Seeds initialisation, batching and the z noise; the same seed gives
        the same model.
    progress : bool, optional
        Show a tqdm progress bar; by default unless ``$HEA_DVAE_PROGRESS=0``.

    Returns
    -------
    model : SSVAE
        The best model on validation, in eval mode.
    history : DataFrame
        One row per epoch: ``epoch``, the training loss and its parts,
        ``val_loss``, ``val_bce``, ``val_auc``, ``val_accuracy``, ``seconds``.
    """
    config = config or TrainConfig()
    progress = show_progress(progress)
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        return _fit(labelled, unlabelled, validation, config, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _fit(labelled, unlabelled, validation, config: TrainConfig, seed: int, progress: bool):
    device = torch.device(config.device)
    sup_x, sup_e, sup_y = as_arrays(labelled)
    if unlabelled is None or (isinstance(unlabelled, pd.DataFrame) and unlabelled.empty):
        unsup_x = np.zeros((0, sup_x.shape[1]), np.float32)
        unsup_e = np.zeros((0, sup_e.shape[1]), np.float32)
    else:
        unsup_x, unsup_e, _ = as_arrays(unlabelled, require_labels=False)
    val_x, val_e, val_y = as_arrays(validation)

    xs = np.concatenate([sup_x, unsup_x])
    es = np.concatenate([sup_e, unsup_e])
    # NaN marks "unlabelled" for SSVAE.loss, so one call covers the whole pool.
    ys = np.concatenate([sup_y, np.full(len(unsup_x), np.nan, np.float32)])
    mean, std = fit_scaler(es)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = SSVAE(config.model, mean, std).to(device)
    # The fused kernel updates all parameters in one call: ~10 % per full-batch step.
    optimiser = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
        fused=device.type in ("cpu", "cuda"),
    )

    xs_t, es_t, ys_t = (torch.tensor(a, device=device) for a in (xs, es, ys))
    val_x_t, val_e_t, val_y_t = (torch.tensor(a, device=device) for a in (val_x, val_e, val_y))
    n = len(xs)
    batch_size = n if config.batch_size is None else min(config.batch_size, n)

    records = []
    best_key = (-math.inf, -math.inf)
    best_state = copy.deepcopy(model.state_dict())
    best_epoch = 0
    start = time.perf_counter()
    bar = tqdm(range(1, config.epochs + 1), disable=not progress, desc="training", unit="epoch")
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        totals = {"loss": 0.0, "reconstruction": 0.0, "kl_z": 0.0, "y_prior": 0.0, "classification": 0.0}
        for begin in range(0, n, batch_size):
            idx = order[begin:begin + batch_size].to(device)
            loss, parts = model.loss(xs_t[idx], es_t[idx], ys_t[idx], sample=config.sample, reduction="sum")
            optimiser.zero_grad(set_to_none=True)
            (loss / len(idx)).backward()
            optimiser.step()
            totals["loss"] += loss.item()
            for name, value in parts.items():
                totals[name] += value.item()

        model.eval()
        with torch.no_grad():
            val_loss, val_parts = model.loss(val_x_t, val_e_t, val_y_t, sample=False)
            val_prob = torch.sigmoid(model.classify_logits(val_e_t)).cpu().numpy()
        val_auc = roc_auc(val_y, val_prob)
        val_loss = val_loss.item()
        record = {"epoch": epoch, **{k: v / n for k, v in totals.items()}}
        record.update(
            val_loss=val_loss,
            val_bce=val_parts["classification"].item() / model.config.alpha if model.config.alpha else float("nan"),
            val_auc=val_auc,
            val_accuracy=float(((val_prob > 0.5) == (val_y == 1)).mean()),
            seconds=time.perf_counter() - start,
        )
        records.append(record)

        if config.select == "loss":
            key = (-val_loss, val_auc if not math.isnan(val_auc) else -math.inf)
        else:
            key = (val_auc if not math.isnan(val_auc) else -math.inf, -val_loss)
        if key > best_key:
            best_key, best_epoch = key, epoch
            best_state = copy.deepcopy(model.state_dict())
        if progress and epoch % 25 == 0:
            bar.set_postfix(loss=f"{record['loss']:.2f}", val_auc=f"{val_auc:.3f}", best=f"{best_epoch}")
        if epoch >= config.min_epochs and epoch - best_epoch >= config.patience:
            break
    bar.close()

    model.load_state_dict(best_state)
    model.eval()
    history = pd.DataFrame.from_records(records)
    history.attrs.update(best_epoch=best_epoch, seed=seed, train_config=config.to_dict())
    return model, history


def fit_seeds(split, config: TrainConfig | None = None, seeds=range(5), progress: bool | None = None):
    """Train one model per seed on a split; return the models and their histories.

    Parameters
    ----------
    split : mapping
        ``labelled``, ``unlabelled`` and ``validation`` parts (as from
        :func:`hea_dvae.data.paper_split`); the test part is not read.
    config : TrainConfig, optional
        Shared by every run.
    seeds : iterable of int
        One training run per seed.
    progress : bool, optional
        A progress bar over the seeds (each run's own bar is hidden).

    Returns
    -------
    models : dict
        seed -> trained :class:`SSVAE`.
    histories : dict
        seed -> history DataFrame (see :func:`fit`).
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    models, histories = {}, {}
    for seed in tqdm(seeds, desc="seeds", disable=not show_progress(progress)):
        models[seed], histories[seed] = fit(
            split["labelled"], split["unlabelled"], split["validation"],
            config=config, seed=seed, progress=False,
        )
    return models, histories
