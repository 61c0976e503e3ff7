"""A screen's progress on disk: batches done, the running top-N and the histograms.

A long screen writes its state atomically to a state file; rerunning the
same call continues where it stopped. A state file of another screen, or a
file that is not a state file, is refused with :class:`ScreenStateError`,
and every field of a state file is checked before anything is allocated.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...elements import ELEMENTS, FEATURES
from ...files import write_file
from .space import FAMILY_NAMES

#: Format of the state file; bump when its content changes.
STATE_FORMAT = 2

#: The integer counts a state adds up over batches, in the order of the state's fields.
COUNTS = ("hist_size", "hist_family", "hist_element", "member_size", "member_family", "above")


class ScreenStateError(ValueError):
    """A state file that belongs to another screen, or is not a state file."""


@dataclass
class _Top:
    """Running top-N: by p (highest first), mean logit (highest first), alloy number (lowest first)."""

    ids: np.ndarray
    p: np.ndarray
    logit: np.ndarray  # mean scaled logit: orders alloys whose p rounds to 1 (or 0)
    members: np.ndarray  # (n, n_members)
    x: np.ndarray  # (n, 30)
    e: np.ndarray  # (n, 8)

    @classmethod
    def empty(cls, n_members: int) -> "_Top":
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros((0, n_members)),
                   np.zeros((0, len(ELEMENTS))), np.zeros((0, len(FEATURES))))

    def merged(self, other: "_Top", n: int) -> "_Top":
        joined = [np.concatenate([a, b]) for a, b in zip(self.arrays(), other.arrays())]
        order = np.lexsort((joined[0], -joined[2], -joined[1]))[:n]
        return _Top(*(a[order] for a in joined))

    def arrays(self) -> tuple:
        return self.ids, self.p, self.logit, self.members, self.x, self.e


@dataclass
class _State:
    identity: dict
    n_members: int
    bins: int
    done: set = field(default_factory=set)
    rows: int = 0
    seconds: float = 0.0
    largest_batch: int = 0
    complete: bool = False
    top: _Top = None
    hist_size: np.ndarray = None
    hist_family: np.ndarray = None
    hist_element: np.ndarray = None
    member_size: np.ndarray = None
    member_family: np.ndarray = None
    above: np.ndarray = None

    def __post_init__(self):
        if self.top is None:
            self.top = _Top.empty(self.n_members)
            shapes = _state_shapes(self.n_members, self.bins, 0)
            for name in COUNTS:
                setattr(self, name, np.zeros(shapes[name][0], dtype=np.int64))

    def add(self, result, top: int) -> None:
        """Merge one batch's result (:class:`~hea_dvae.design.screen.runners._BatchResult`)."""
        self.done.add(result.index)
        self.rows += result.rows
        self.largest_batch = max(self.largest_batch, result.rows)
        self.top = self.top.merged(result.top, top)
        for name in COUNTS:
            getattr(self, name).__iadd__(getattr(result, name))

    def save(self, path: Path) -> None:
        """Write atomically (:func:`hea_dvae.files.write_file`)."""
        done = sorted(self.done)
        # Batches finish roughly in order: store runs [first, last].
        runs = []
        for index in done:
            if runs and index == runs[-1][1] + 1:
                runs[-1][1] = index
            else:
                runs.append([index, index])
        meta = {"format": STATE_FORMAT, "identity": self.identity, "done": runs, "rows": self.rows,
                "seconds": self.seconds, "largest_batch": self.largest_batch, "complete": self.complete}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **self._arrays())
        write_file(path, buffer.getvalue())

    def _arrays(self) -> dict:
        return {"ids": self.top.ids, "p": self.top.p, "logit": self.top.logit, "members": self.top.members,
                "x": self.top.x, "e": self.top.e, **{name: getattr(self, name) for name in COUNTS}}

    @classmethod
    def load(cls, path: Path, identity: dict, n_members: int, bins: int, max_rows: int) -> "_State":
        """Read a state file, checking every field before anything is allocated.

        ``max_rows`` is the size of the space: no count, batch number or
        array in a state file of this screen can exceed what it implies.
        """
        meta, arrays = _read_state(path, identity, n_members, bins, max_rows)
        done = {i for first, last in meta["done"] for i in range(first, last + 1)}
        top = _Top(*(arrays[name] for name in ("ids", "p", "logit", "members", "x", "e")))
        return cls(identity, n_members, bins, done, meta["rows"], meta["seconds"], meta["largest_batch"],
                   meta["complete"], top, *(arrays[name] for name in COUNTS))


def _state_shapes(n_members: int, bins: int, top: int) -> dict:
    """Expected (shape, kind) of every array of a state file; ``None`` marks the top-N length (<= top)."""
    return {
        "ids": ((None,), "i"), "p": ((None,), "f"), "logit": ((None,), "f"),
        "members": ((None, n_members), "f"), "x": ((None, len(ELEMENTS)), "f"), "e": ((None, len(FEATURES)), "f"),
        "hist_size": ((len(ELEMENTS) + 1, bins), "i"), "hist_family": ((len(FAMILY_NAMES), bins), "i"),
        "hist_element": ((len(ELEMENTS), bins), "i"),
        "member_size": ((n_members, len(ELEMENTS) + 1), "i"), "member_family": ((n_members, len(FAMILY_NAMES)), "i"),
        "above": ((n_members + 1, 2), "i"),
    }


def _read_state(path: Path, identity: dict, n_members: int, bins: int, max_rows: int) -> tuple[dict, dict]:
    def bad(problem: str) -> ScreenStateError:
        return ScreenStateError(f"{path} is not a screen state file: {problem}")

    if not zipfile.is_zipfile(path):
        raise bad("it is not a NumPy .npz archive (was it written by --resume?)")
    expected = _state_shapes(n_members, bins, identity["top"])
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
            missing = sorted({"meta", *expected} - names)
            if missing:
                raise bad(f"it lacks {', '.join(missing)}")
            with archive.open("meta.npy") as stream:
                shape, dtype = _npy_header(stream)
                if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * _MAX_META_CHARACTERS:
                    raise bad("its metadata is not a short text")
            with np.load(path, allow_pickle=False) as stored:
                try:
                    meta = json.loads(str(stored["meta"]))
                except json.JSONDecodeError as error:
                    raise bad(f"its metadata is not JSON ({error})") from None
                # The identity first: a state of another screen is named as such.
                _check_state_meta(path, meta, identity, max_rows, bad)
                for name, (want, kind) in expected.items():
                    with archive.open(name + ".npy") as stream:
                        shape, dtype = _npy_header(stream)
                    length_ok = len(shape) == len(want) and all(
                        (w is None and 0 <= d <= identity["top"]) or d == w for d, w in zip(shape, want))
                    if not length_ok or dtype.kind != kind:
                        raise bad(f"array {name} has shape {shape} and type {dtype}, expected {want} of kind {kind!r}")
                    arrays[name] = stored[name]
    except ScreenStateError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise bad(f"{type(error).__name__}: {str(error)[:200]}") from None
    lengths = {len(arrays[name]) for name in ("ids", "p", "logit", "members", "x", "e")}
    if len(lengths) != 1:
        raise bad("its top-N arrays differ in length")
    return meta, arrays


def _npy_header(stream) -> tuple[tuple, np.dtype]:
    """Shape and dtype of an ``.npy`` stream, read from its header alone."""
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(stream)
    return shape, dtype


#: Longest metadata text of a state file (it holds the constraints and a few numbers).
_MAX_META_CHARACTERS = 1 << 20


def _check_state_meta(path: Path, meta, identity: dict, max_rows: int, bad) -> None:
    if not isinstance(meta, dict):
        raise bad("its metadata is not a JSON object")
    if meta.get("format") != STATE_FORMAT:
        raise ScreenStateError(f"{path}: state format {meta.get('format')!r}, this version writes {STATE_FORMAT}")
    stored_identity = meta.get("identity")
    if not isinstance(stored_identity, dict):
        raise bad("its metadata has no screen identity")
    if stored_identity != identity:
        keys = set(stored_identity) | set(identity)
        differ = sorted(k for k in keys if stored_identity.get(k) != identity.get(k))
        details = "; ".join(f"{k}: file {stored_identity.get(k)!r}, now {identity.get(k)!r}" for k in differ)
        raise ScreenStateError(
            f"{path} holds the state of a different screen ({details}); "
            f"delete it or choose another state file"
        )
    batches = max_rows // identity["batch_size"] + 2
    runs = meta.get("done")

    def count(value, limit) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit

    if not isinstance(runs, list) or not all(
            isinstance(r, list) and len(r) == 2 and count(r[0], batches) and count(r[1], batches) and r[0] <= r[1]
            for r in runs):
        raise bad(f"its list of finished batches is not pairs of batch numbers below {batches}")
    if not (count(meta.get("rows"), max_rows) and count(meta.get("largest_batch"), identity["batch_size"])):
        raise bad("its counts of alloys are not numbers within the size of the space")
    seconds = meta.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) \
            or seconds < 0:
        raise bad("its time is not a non-negative number")
    if not isinstance(meta.get("complete"), bool):
        raise bad("its completion flag is not true or false")
