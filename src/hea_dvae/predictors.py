"""What scores alloys: one protocol for every predictor, and the ensemble users design with.

Every tool that scores alloys (``predict``, the design routes, the screen,
the evidence columns) takes a :class:`Predictor`, whatever it is: the
authors' released model, one trained :class:`~hea_dvae.model.SSVAE`, an
:class:`Ensemble` of seed models, or the screen's fast
:class:`~hea_dvae.design.screen.scorer.Scorer`. A predictor has

- ``featurize(x)``: what it reads of fractions, with its element table
  (the 8 features; the forest's 31 descriptors), and ``features`` their names;
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

from .features import FEATURES, featurize
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
    features: tuple[str, ...]
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
    def features(self) -> tuple[str, ...]:
        """Names of the columns :meth:`featurize` returns: the 8 features."""
        return FEATURES

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


#: The forest of ``hea-dvae predict --model forest``: the element table chapter 7
#: compared the models on, and the seed of its trees.
FOREST_TABLE = "corrected"
FOREST_SEED = 0


@dataclass(frozen=True)
class Trees:
    """A fitted random forest's trees as flat arrays: the same probabilities as scikit-learn, without it.

    scikit-learn reads inputs as float32 and sends an alloy left at a node
    when ``x[feature] <= threshold``; a leaf's value is the fraction of
    single-phase training alloys in it, and the forest's probability the
    mean over trees. These arrays do the same in numpy (tested equal to the
    bit), so a fitted forest is stored as plain arrays (no pickle) and
    scores without importing scikit-learn.

    Attributes
    ----------
    feature, threshold, left, right, value : ndarray (nodes,)
        Every tree's nodes one after another: the input a node tests, its
        threshold, its children (as indices into these arrays) and the
        single-phase fraction. A leaf is its own child with threshold +inf.
    roots : ndarray (trees,)
        Index of each tree's first node.
    depth : int
        Depth of the deepest tree: the steps from a root to any leaf.
    n_inputs : int
        Number of inputs the trees read.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int
    n_inputs: int

    def __post_init__(self):
        nodes = len(self.feature)
        if not (len(self.threshold) == len(self.left) == len(self.right) == len(self.value) == nodes) or nodes == 0:
            raise ValueError("trees: node arrays of different lengths")
        for name in ("left", "right", "roots"):
            indices = getattr(self, name)
            if indices.ndim != 1 or len(indices) == 0 or indices.min() < 0 or indices.max() >= nodes:
                raise ValueError(f"trees: {name} points outside the nodes")
        if self.feature.min() < 0 or self.feature.max() >= self.n_inputs or self.depth < 0:
            raise ValueError("trees: a node reads an input the trees do not have")

    @classmethod
    def from_forest(cls, forest) -> "Trees":
        """The trees of a fitted scikit-learn forest of single-phase (1) against multi-phase (0)."""
        if list(forest.classes_) != [0, 1] or forest.n_outputs_ != 1:
            raise ValueError("trees: a forest of labels 0 and 1 (one output) expected")
        parts, offset = [], 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            own = np.arange(tree.node_count)
            leaf = tree.children_left < 0
            parts.append((np.where(leaf, 0, tree.feature), np.where(leaf, np.inf, tree.threshold),
                          np.where(leaf, own, tree.children_left) + offset,
                          np.where(leaf, own, tree.children_right) + offset, tree.value[:, 0, 1], offset))
            offset += tree.node_count
        feature, threshold, left, right, value, roots = zip(*parts)
        return cls(np.concatenate(feature).astype(np.int64), np.concatenate(threshold).astype(float),
                   np.concatenate(left).astype(np.int64), np.concatenate(right).astype(np.int64),
                   np.concatenate(value).astype(float), np.asarray(roots, dtype=np.int64),
                   int(max(estimator.tree_.max_depth for estimator in forest.estimators_)),
                   int(forest.n_features_in_))

    def probabilities(self, inputs, chunk: int = 2048) -> np.ndarray:
        """Each tree's probability of single phase, shape (trees, n), for inputs (n, n_inputs)."""
        x = np.atleast_2d(np.asarray(inputs, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"the trees read {self.n_inputs} inputs per alloy; got shape {np.shape(inputs)}")
        if not np.isfinite(x).all():
            raise ValueError("the trees cannot score inputs that are not finite")
        out = np.empty((len(self.roots), len(x)))
        for start in range(0, len(x), chunk):
            part = x[start:start + chunk]
            alloy = np.arange(len(part))
            node = np.repeat(self.roots[:, None], len(part), axis=1)
            for _ in range(self.depth):
                node = np.where(part[alloy, self.feature[node]] <= self.threshold[node],
                                self.left[node], self.right[node])
            out[:, start:start + chunk] = self.value[node]
        return out

    def arrays(self) -> dict:
        """The trees as named arrays (:meth:`from_arrays` reads them back)."""
        return {"feature": self.feature, "threshold": self.threshold, "left": self.left, "right": self.right,
                "value": self.value, "roots": self.roots, "depth": np.array(self.depth),
                "n_inputs": np.array(self.n_inputs)}

    @classmethod
    def from_arrays(cls, arrays) -> "Trees":
        """Trees from :meth:`arrays`; ValueError or KeyError if they are not whole."""
        integers = {name: np.asarray(arrays[name], dtype=np.int64) for name in ("feature", "left", "right", "roots")}
        return cls(threshold=np.asarray(arrays["threshold"], dtype=float),
                   value=np.asarray(arrays["value"], dtype=float), depth=int(arrays["depth"]),
                   n_inputs=int(arrays["n_inputs"]), **integers)


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
    trees : Trees
        The fitted forest (:func:`hea_dvae.zoo.forest_predictor`), reading
        :func:`hea_dvae.descriptors.model_inputs` of ``table``.
    table : str
        Element table of the descriptors.
    name : str
    identity : str
        SHA-256 of the training inputs and labels, the forest's settings and
        the scikit-learn version: the same training gives the same identity.
    """

    trees: Trees
    table: str
    name: str = "random forest, 31 descriptors"
    identity: str = ""
    temperature: float = 1.0

    @property
    def n_members(self) -> int:
        return len(self.trees.roots)

    @property
    def features(self) -> tuple[str, ...]:
        """Names of what :meth:`featurize` returns: the descriptors, ``log10_`` before those read as logarithms."""
        from .descriptors import MODEL_INPUTS

        return MODEL_INPUTS

    def featurize(self, x) -> np.ndarray:
        """The 31 descriptors of fractions (n, 30) as the forest reads them."""
        from .descriptors import model_inputs

        return model_inputs(np.atleast_2d(np.asarray(x, dtype=float)), table=self.table).to_numpy(dtype=float)

    def member_probabilities(self, e) -> np.ndarray:
        """Each tree's probability of single phase, shape (n_trees, n)."""
        return self.trees.probabilities(e)

    def predict_proba(self, e) -> np.ndarray:
        """The forest's probability (the mean of its trees'), shape (n,)."""
        return self.member_probabilities(e).mean(axis=0)

    def predict_spread(self, e) -> np.ndarray:
        """Standard deviation of the trees' probabilities."""
        return spread_of(self.member_probabilities(e))

    def member(self, index: int) -> "ForestPredictor":
        """Not available: one tree of a forest is not a predictor users should design with."""
        raise TypeError(f"{self.name} has trees, not members that predict alone; "
                        "routes that need members (design latent, invert) take an SSVAE ensemble")


def _forest_cache(seed: int, table: str) -> tuple[str, str]:
    """Name and extra key of a forest in the cache (another scikit-learn grows other trees)."""
    from importlib.metadata import version

    return f"forest-{table}-seed{seed}", f"scikit-learn {version('scikit-learn')}"


def cached_forest(seed: int = FOREST_SEED, table: str = FOREST_TABLE) -> ForestPredictor | None:
    """The forest :func:`hea_dvae.zoo.forest_predictor` fitted and kept, if current; None to fit it.

    Reads plain arrays from the model cache without scikit-learn or torch,
    so ``predict --model forest`` answers in about a second once the forest
    is fitted. A stale or damaged file is None.
    """
    from .cache import read_arrays

    arrays = read_arrays(*_forest_cache(seed, table))
    if arrays is None:
        return None
    try:
        trees = Trees.from_arrays(arrays)
        return ForestPredictor(trees, str(arrays["table"]), name=str(arrays["name"]),
                               identity=str(arrays["identity"]))
    except (KeyError, ValueError, TypeError, IndexError):
        return None


def keep_forest(predictor: ForestPredictor, seed: int) -> None:
    """Keep a fitted forest in the model cache for :func:`cached_forest`."""
    from .cache import write_arrays

    name, extra_key = _forest_cache(seed, predictor.table)
    write_arrays(name, {**predictor.trees.arrays(), "table": np.array(predictor.table),
                        "name": np.array(predictor.name), "identity": np.array(predictor.identity)},
                 extra_key=extra_key)


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
