"""Training one SSVAE: :func:`fit`, the default recipe's trainer for one run.

The recipe is :class:`hea_dvae.recipe.TrainConfig` (re-exported here, where
users look for it); the trainer is :mod:`hea_dvae.batched`, which trains one
run or many at once with the same results for each run. The test set is
never read.
"""

from __future__ import annotations

import pandas as pd

from .batched import Run, fit_many
from .model import SSVAE
from .recipe import TrainConfig  # noqa: F401  (re-exported: where users look)


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
    (model, history), = fit_many([Run(labelled, unlabelled, validation, config or TrainConfig(), seed)],
                                 progress=progress)
    return model, history
