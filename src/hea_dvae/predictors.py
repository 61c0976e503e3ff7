"""What scores alloys: one protocol for every predictor, and the ensemble users design with.

Every tool that scores alloys (``predict``, the design routes, the screen,
the evidence columns) takes a :class:`Predictor`, whatever it is: the
authors' released model, one trained :class:`~hea_dvae.model.SSVAE`, an
:class:`Ensemble` of seed models, or the screen's fast
:class:`~hea_dvae.design.screen.scorer.Scorer`. A predictor has

- ``featurize(x)``: the 8 features of fractions, with its element table;
- ``member_probabilities(e)``: each member's probability, (n_members, n);
- ``predict_proba(e)``: their mean; ``predict_spread(e)``: their standard
  deviation (NaN with one member: no spread, not a spread of 0);
- ``member(i)``: member ``i`` alone, as a predictor of the same kind;
- ``name``, ``table``, ``n_members``, ``temperature`` and ``identity``:
  :func:`~hea_dvae.model.predictor_identity` of the members' digests and
  the temperature, so the same models give the same identity in every
  kind of predictor (a screen's state file and a design table agree).

Routes that decode or take gradients need more (:class:`Differentiable`):
the members as SSVAEs (``members``; latent work decodes with ``members[0]``,
as latent spaces of different seeds are not aligned) and differentiable
logits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

import numpy as np

from .features import featurize
from .identity import predictor_identity, state_digest

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import SSVAE

# torch is imported inside the methods that run a network: scoring with the
# screen's numpy scorer, or reading a predictor's identity, never loads it.


@runtime_checkable
class Predictor(Protocol):
    """Anything that scores alloys (see the module docstring)."""

    name: str
    identity: str
    table: str
    n_members: int
    temperature: float

    def featurize(self, x) -> np.ndarray: ...

    def member_probabilities(self, e) -> np.ndarray: ...

    def predict_proba(self, e) -> np.ndarray: ...

    def predict_spread(self, e) -> np.ndarray: ...

    def member(self, index: int) -> "Predictor": ...


@runtime_checkable
class Differentiable(Predictor, Protocol):
    """A predictor made of SSVAEs: it decodes latent vectors and has gradients."""

    members: Sequence["SSVAE"]

    def member_logits(self, e) -> "torch.Tensor": ...


def spread_of(member_probabilities: np.ndarray) -> np.ndarray:
    """Standard deviation over members (ddof 0) per alloy; NaN with one member (not available)."""
    members = np.atleast_2d(member_probabilities)
    if len(members) == 1:
        return np.full(members.shape[1], np.nan)
    return members.std(axis=0)


def differentiable(predictor) -> Differentiable:
    """``predictor`` if it decodes and has gradients, else a TypeError saying what to pass."""
    if not isinstance(predictor, Differentiable):
        raise TypeError(f"{getattr(predictor, 'name', type(predictor).__name__)} cannot decode or take "
                        "gradients (the screen's scorer has only its classifiers): pass an Ensemble or an SSVAE")
    return predictor


def score(predictor: Predictor, fractions) -> tuple[np.ndarray, np.ndarray]:
    """Mean probability of a single phase and the members' spread, for fractions (n, 30)."""
    x = np.atleast_2d(np.asarray(fractions, dtype=float))
    if not len(x):
        return np.zeros(0), np.zeros(0)
    members = np.asarray(predictor.member_probabilities(np.asarray(predictor.featurize(x), dtype=float)),
                         dtype=float)
    return members.mean(axis=0), spread_of(members)


@dataclass
class Ensemble:
    """Several SSVAE classifiers averaged: the probability users screen and design with.

    The probability of an alloy is the mean over members of
    ``sigmoid(logit / temperature)``; its spread is the members' standard
    deviation. A temperature above 1 softens over-confident members
    (temperature scaling, fitted on validation alloys).

    Attributes
    ----------
    members : list of SSVAE
        Trained models; latent-space work uses ``members[0]`` (the latent
        spaces of different seeds are not aligned).
    temperature : float
        Divides every member's logit before the sigmoid.
    name : str
        What it is, for tables and output files.
    """

    members: Sequence["SSVAE"]
    temperature: float = 1.0
    name: str = "ensemble"
    identity: str = field(init=False)

    def __post_init__(self):
        from .model import model_digest

        self.members = list(self.members)
        if not self.members:
            raise ValueError("an Ensemble needs at least one member")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature}")
        tables = {m.config.table for m in self.members}
        if len(tables) > 1:
            raise ValueError(f"members use different element tables: {sorted(tables)}")
        self.identity = predictor_identity([model_digest(m) for m in self.members], self.temperature)

    @property
    def table(self) -> str:
        """Element table of the members' features."""
        return self.members[0].config.table

    @property
    def n_members(self) -> int:
        return len(self.members)

    def member(self, index: int) -> "Ensemble":
        """Member ``index`` alone, with the same temperature."""
        return Ensemble([self.members[index]], temperature=self.temperature, name=f"{self.name}, member {index}")

    def featurize(self, x) -> np.ndarray:
        """Features of fractions (n, 30) with the members' element table."""
        return np.asarray(featurize(np.asarray(x, dtype=float), table=self.table))

    def member_logits(self, e) -> "torch.Tensor":
        """Tempered logits of every member, shape (n_members, n); differentiable in ``e``."""
        import torch

        if not isinstance(e, torch.Tensor):
            e = torch.from_numpy(np.array(e, dtype=np.float32))  # a copy: inputs may be read-only
        e = e.reshape(-1, self.members[0].config.n_features).float()
        return torch.stack([m.classify_logits(e) for m in self.members]) / self.temperature

    def member_probabilities(self, e) -> np.ndarray:
        """Each member's probability, shape (n_members, n)."""
        import torch

        with torch.no_grad():
            return torch.sigmoid(self.member_logits(e)).numpy().astype(float)

    def predict_proba(self, e) -> np.ndarray:
        """Mean of the members' probabilities, shape (n,)."""
        return self.member_probabilities(e).mean(axis=0)

    def predict_spread(self, e) -> np.ndarray:
        """Standard deviation of the members' probabilities; NaN (not available) with one member."""
        return spread_of(self.member_probabilities(e))

    def classify_logits(self, e: "torch.Tensor") -> "torch.Tensor":
        """Logit of :meth:`predict_proba`, differentiable (for gradient inversion)."""
        import torch

        probability = torch.sigmoid(self.member_logits(e)).mean(0)
        eps = torch.finfo(probability.dtype).eps
        probability = probability.clamp(eps, 1 - eps)
        return torch.log(probability) - torch.log1p(-probability)


@dataclass
class ForestPredictor:
    """A random forest on the 31 descriptors: the model with the highest mean AUC on unseen alloy systems.

    Chapter 7 compares predictors on folds that hold whole alloy systems out
    of training; a forest on the descriptors of :mod:`hea_dvae.descriptors`
    has the highest mean ROC AUC there. It scores alloys like any
    :class:`Predictor` (``predict``), but has no decoder and no gradient, so
    the design routes that decode or invert keep the SSVAE ensemble.

    Its members are its trees: ``member_probabilities`` are each tree's
    probability (the forest's is their mean) and the spread their standard
    deviation. For fully grown trees that spread is close to
    :math:`\\sqrt{p(1-p)}`, a function of the probability itself (chapter 7).

    Attributes
    ----------
    forest : sklearn.ensemble.RandomForestClassifier
        Fitted on :func:`hea_dvae.descriptors.model_inputs` of ``table``.
    table : str
        Element table of the descriptors.
    name : str
    identity : str
        SHA-256 of the training inputs and labels, the forest's settings and
        the scikit-learn version: the same training gives the same identity.
    """

    forest: object
    table: str
    name: str = "random forest, 31 descriptors"
    identity: str = ""
    temperature: float = 1.0

    @property
    def n_members(self) -> int:
        return len(self.forest.estimators_)

    @property
    def features(self) -> tuple[str, ...]:
        """Names of what :meth:`featurize` returns: the descriptors, ``log10_`` before those read as logarithms."""
        from .descriptors import DESCRIPTORS, LOG_SCALED

        return tuple(f"log10_{name}" if name in LOG_SCALED else name for name in DESCRIPTORS)

    def featurize(self, x) -> np.ndarray:
        """The 31 descriptors of fractions (n, 30) as the forest reads them."""
        from .descriptors import model_inputs

        return model_inputs(np.atleast_2d(np.asarray(x, dtype=float)), table=self.table).to_numpy(dtype=float)

    def member_probabilities(self, e) -> np.ndarray:
        """Each tree's probability of single phase, shape (n_trees, n)."""
        e = np.atleast_2d(np.asarray(e, dtype=float))
        return np.array([tree.predict_proba(e)[:, 1] for tree in self.forest.estimators_])

    def predict_proba(self, e) -> np.ndarray:
        """The forest's probability (the mean of its trees'), shape (n,)."""
        return self.forest.predict_proba(np.atleast_2d(np.asarray(e, dtype=float)))[:, 1]

    def predict_spread(self, e) -> np.ndarray:
        """Standard deviation of the trees' probabilities."""
        return spread_of(self.member_probabilities(e))

    def member(self, index: int) -> "ForestPredictor":
        """Not available: one tree of a forest is not a predictor users should design with."""
        raise TypeError(f"{self.name} has trees, not members that predict alone; "
                        "routes that need members (design latent, invert) take an SSVAE ensemble")


def forest_identity(inputs: np.ndarray, labels: np.ndarray, forest) -> str:
    """What names a fitted forest: a digest of its training data, its settings and scikit-learn's version.

    The data's :func:`~hea_dvae.identity.state_digest` and the settings make
    a :func:`~hea_dvae.identity.predictor_identity`, as any predictor's.
    """
    import sklearn

    data = state_digest([("inputs", np.asarray(inputs, dtype=float)), ("labels", np.asarray(labels, dtype=np.int64))])
    settings = f"sklearn {sklearn.__version__}: {sorted(forest.get_params().items())!r}"
    return predictor_identity([data, settings])


def released_predictor() -> Ensemble:
    """The authors' released model as a one-member :class:`Ensemble` (paper table)."""
    from .model import load_released_model

    return Ensemble([load_released_model()], name="released (authors)")
