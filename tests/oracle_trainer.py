"""The one-at-a-time training loop, kept as a test oracle for the batched trainer.

This is the loop :func:`hea_dvae.train.fit` ran before training moved to
:mod:`hea_dvae.batched`: readable, one model, torch's own Adam. The tests
check that the batched trainer, on a batch of one, follows it (same seeded
draws, other rounding). It is not part of the package.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

from hea_dvae.data import as_arrays
from hea_dvae.model import SSVAE
from hea_dvae.priors import prior_of_run
from hea_dvae.recipe import TrainConfig, classifier_key, fit_scaler, learning_rate, pool_arrays, vae_key
from hea_dvae.scores import reconstruction_errors, roc_auc


def fit_one_at_a_time(labelled, unlabelled, validation, config: TrainConfig | None = None, seed: int = 42):
    config = config or TrainConfig()
    device = torch.device(config.device)
    sup_x, sup_e, sup_y, unsup_x, unsup_e = pool_arrays(labelled, unlabelled)
    val_x, val_e, val_y = as_arrays(validation)

    xs = np.concatenate([sup_x, unsup_x])
    es = np.concatenate([sup_e, unsup_e])
    # NaN marks "unlabelled" for SSVAE.loss, so one call covers the whole pool.
    ys = np.concatenate([sup_y, np.full(len(unsup_x), np.nan, np.float32)])
    mean, std = fit_scaler(es)
    # The prior is fitted on this run's labelled alloys only; labelled alloys'
    # own prior term is a constant, so only the unlabelled values matter.
    prior, prior_all = prior_of_run(config.prior, sup_x, sup_y, xs)

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
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator) if batch_size < n else torch.arange(n)
        totals = dict.fromkeys(("loss", "reconstruction", "kl_z", "y_prior", "classification"), 0.0)
        for begin in range(0, n, batch_size):
            idx = order[begin:begin + batch_size].to(device)
            rate = learning_rate(config, step, total_steps)
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
        for part, key in (("classifier", classifier_key(config, record)), ("vae", vae_key(config, record))):
            if key > best[part]["key"]:
                best[part].update(key=key, epoch=epoch, state=_part_state(model, part))
        last_improvement = max(best["classifier"]["epoch"], best["vae"]["epoch"])
        if epoch >= config.min_epochs and epoch - last_improvement >= config.patience:
            break

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


def _part_state(model: SSVAE, part: str) -> dict:
    # encoder_y is the classifier; encoder_z and decoder are the VAE. The
    # scaler buffers never change during training.
    prefixes = ("encoder_y.",) if part == "classifier" else ("encoder_z.", "decoder.")
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(prefixes)}
