"""Training of :class:`hea_dvae.model.SSVAE` on labelled and unlabelled alloys.

The recipe (the :class:`TrainConfig` defaults) was chosen on the validation
alloys of the paper split only; chapter 2 shows what was tried. In short:

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
  lowest validation reconstruction error (MAE in at.%). The parameters of the
  two parts are disjoint, so the returned model combines the two snapshots.

One run takes about 20 s on one core of a laptop CPU. The test set is never
read here.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .checks import integer, number
from .config import show_progress
from .data import as_arrays
from .model import SSVAE, SSVAEConfig
from .priors import resolve_prior
from .scores import reconstruction_errors, roc_auc

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
    together. Every ``config.eval_every`` epochs the model is scored on the
    validation alloys; the classifier and the encoder/decoder pair are each
    kept from their best evaluation (see :class:`TrainConfig`), and training
    stops after ``config.patience`` epochs in which neither improved.

    Parameters
    ----------
    labelled, unlabelled, validation : DataFrame or tuple of arrays
        Parts of a split (see :func:`hea_dvae.data.as_arrays`). Labels of
        ``unlabelled`` are never read; ``unlabelled`` may be empty or ``None``.
    config : TrainConfig, optional
        Optimisation and model settings.
    seed : int
        Seeds initialisation, batching and the z noise; the same seed gives
        the same model on the same machine.
    progress : bool, optional
        Show a tqdm progress bar; by default unless ``$HEA_DVAE_PROGRESS=0``.

    Returns
    -------
    model : SSVAE
        The selected model, in eval mode.
    history : DataFrame
        One row per evaluation: ``epoch``, the last epoch's training loss per
        alloy and its parts, ``val_loss``, ``val_bce``, ``val_auc``,
        ``val_accuracy``, ``val_mae_all``, ``val_element_set_recovered``,
        ``lr`` and ``seconds``. ``attrs`` holds ``best_epoch`` (classifier),
        ``best_vae_epoch``, ``epochs_run``, ``seed``, ``train_config`` and
        ``prior`` (the resolved prior's description).
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


def _pool(labelled, unlabelled):
    sup_x, sup_e, sup_y = as_arrays(labelled)
    if unlabelled is None or (isinstance(unlabelled, pd.DataFrame) and unlabelled.empty):
        unsup_x = np.zeros((0, sup_x.shape[1]), np.float32)
        unsup_e = np.zeros((0, sup_e.shape[1]), np.float32)
    else:
        unsup_x, unsup_e, _ = as_arrays(unlabelled, require_labels=False)
    return sup_x, sup_e, sup_y, unsup_x, unsup_e


def _learning_rate(config: TrainConfig, step: int, total: int) -> float:
    if config.lr_schedule == "constant":
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * step / total))


def _fit(labelled, unlabelled, validation, config: TrainConfig, seed: int, progress: bool):
    device = torch.device(config.device)
    sup_x, sup_e, sup_y, unsup_x, unsup_e = _pool(labelled, unlabelled)
    val_x, val_e, val_y = as_arrays(validation)

    xs = np.concatenate([sup_x, unsup_x])
    es = np.concatenate([sup_e, unsup_e])
    # NaN marks "unlabelled" for SSVAE.loss, so one call covers the whole pool.
    ys = np.concatenate([sup_y, np.full(len(unsup_x), np.nan, np.float32)])
    mean, std = fit_scaler(es)
    # The prior is fitted on this run's labelled alloys only; labelled alloys'
    # own prior term is a constant, so only the unlabelled values matter.
    prior = resolve_prior(config.prior, sup_e, sup_y)
    prior_all = np.asarray(prior.probability(es), dtype=np.float32).reshape(-1)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = SSVAE(config.model, mean, std).to(device)
    if config.log_scale_init is not None:
        with torch.no_grad():
            model.encoder_z.log_scale.bias.fill_(config.log_scale_init)
    decoder = list(model.decoder.parameters())
    others = [p for name, p in model.named_parameters() if not name.startswith("decoder.")]
    groups = [{"params": others, "scale": 1.0}, {"params": decoder, "scale": config.decoder_lr_scale}]
    # The fused kernel updates all parameters in one call (~10 % per step).
    optimiser = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay,
                                 fused=device.type in ("cpu", "cuda"))

    xs_t, es_t, ys_t, prior_t = (torch.tensor(a, device=device) for a in (xs, es, ys, prior_all))
    val_x_t, val_e_t, val_y_t = (torch.tensor(a, device=device) for a in (val_x, val_e, val_y))
    n = len(xs)
    batch_size = n if config.batch_size is None else min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = config.kl_warmup_epochs * steps_per_epoch

    records = []
    best = {
        "classifier": {"key": (-math.inf, -math.inf), "epoch": 0, "state": None},
        "vae": {"key": (-math.inf, -math.inf), "epoch": 0, "state": None},
    }
    step = 0
    start = time.perf_counter()
    bar = tqdm(range(1, config.epochs + 1), disable=not progress, desc="training", unit="epoch")
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        totals = dict.fromkeys(("loss", "reconstruction", "kl_z", "y_prior", "classification"), 0.0)
        for begin in range(0, n, batch_size):
            idx = order[begin:begin + batch_size].to(device)
            rate = _learning_rate(config, step, total_steps)
            for group in optimiser.param_groups:
                group["lr"] = rate * group["scale"]
            loss, parts = model.loss(xs_t[idx], es_t[idx], ys_t[idx], prior=prior_t[idx],
                                     sample=config.sample, reduction="sum")
            if warmup_steps and step < warmup_steps:
                # Anneal the KL of z in: the objective is the ELBO once warm.
                loss = loss - (1 - step / warmup_steps) * parts["kl_z"]
            optimiser.zero_grad(set_to_none=True)
            (loss / len(idx)).backward()
            optimiser.step()
            step += 1
            totals["loss"] += loss.item()
            for name, value in parts.items():
                totals[name] += value.item()

        if epoch % config.eval_every and epoch != config.epochs:
            continue
        record = {"epoch": epoch, **{k: v / n for k, v in totals.items()}}
        record.update(_validation_scores(model, val_x_t, val_e_t, val_y_t, val_x, val_y))
        record.update(lr=rate, seconds=time.perf_counter() - start)
        records.append(record)
        for part, key in (("classifier", _classifier_key(config, record)), ("vae", _vae_key(config, record))):
            if key > best[part]["key"]:
                best[part].update(key=key, epoch=epoch, state=_part_state(model, part))
        if progress:
            bar.set_postfix(loss=f"{record['loss']:.2f}", val_auc=f"{record['val_auc']:.3f}",
                            val_mae=f"{record['val_mae_all']:.2f}")
        last_improvement = max(best["classifier"]["epoch"], best["vae"]["epoch"])
        if epoch >= config.min_epochs and epoch - last_improvement >= config.patience:
            break
    bar.close()

    state = model.state_dict()
    for part in ("classifier", "vae"):
        state.update(best[part]["state"])
    model.load_state_dict(state)
    model.eval()
    history = pd.DataFrame.from_records(records)
    history.attrs.update(
        best_epoch=best["classifier"]["epoch"], best_vae_epoch=best["vae"]["epoch"],
        epochs_run=int(epoch), seed=seed, train_config=config.to_dict(), prior=prior.to_dict(),
    )
    return model, history


@torch.no_grad()
def _validation_scores(model, val_x_t, val_e_t, val_y_t, val_x, val_y) -> dict:
    model.eval()
    val_loss, val_parts = model.loss(val_x_t, val_e_t, val_y_t, sample=False)
    val_prob = torch.sigmoid(model.classify_logits(val_e_t)).cpu().numpy()
    mean, _ = model.encode(val_x_t, val_y_t)
    reconstructed = model.decode(mean, val_y_t).cpu().numpy()
    errors = reconstruction_errors(val_x, reconstructed)
    alpha = model.config.alpha
    return {
        "val_loss": val_loss.item(),
        "val_bce": val_parts["classification"].item() / alpha if alpha else float("nan"),
        "val_auc": roc_auc(val_y, val_prob),
        "val_accuracy": float(((val_prob > 0.5) == (val_y == 1)).mean()),
        "val_mae_all": errors["mae_all"],
        "val_element_set_recovered": errors["element_set_recovered"],
    }


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _classifier_key(config: TrainConfig, record: dict) -> tuple:
    if config.select_classifier == "loss":
        return (_finite(-record["val_bce"]), _finite(record["val_auc"]))
    return (_finite(record["val_auc"]), _finite(-record["val_bce"]))


def _vae_key(config: TrainConfig, record: dict) -> tuple:
    if config.select_vae == "last":
        return (record["epoch"], 0.0)
    if config.select_vae == "loss":
        return (_finite(-record["val_loss"]), 0.0)
    return (_finite(-record["val_mae_all"]), _finite(-record["val_loss"]))


def _part_state(model: SSVAE, part: str) -> dict:
    # encoder_y is the classifier; encoder_z and decoder are the VAE. The
    # scaler buffers never change during training.
    prefixes = ("encoder_y.",) if part == "classifier" else ("encoder_z.", "decoder.")
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(prefixes)}
