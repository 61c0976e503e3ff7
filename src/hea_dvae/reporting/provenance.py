"""What produced a chapter's outputs: package, commit, data and model digests, run time, CPU.

Every chapter ends with :func:`provenance`, a small table that says which
code, data and models made the page and on what machine, so that a reader
who gets other numbers knows what to compare first.
"""

from __future__ import annotations

import html
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config, upstream
from .records import elapsed_seconds


def _git_commit() -> str:
    root = config.project_root()
    if root is None:
        return "not a source checkout"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return commit + (" + uncommitted changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _model_digest(model) -> str:
    if isinstance(model, str):
        return model
    identity = getattr(model, "identity", None)
    if isinstance(identity, str):
        return identity
    # Imported here: the digest needs torch, which a page without models never loads.
    from ..model import model_digest

    return model_digest(model)


@dataclass
class Provenance:
    """What produced a chapter's outputs; shown as a small table at its end.

    Build it with :func:`provenance`. Notebooks display its HTML; ``str()``
    gives the same as plain text.
    """

    rows: dict

    def __str__(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.rows.items())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"
            for name, value in self.rows.items()
        )
        return (f'<div class="hea-provenance"><p><strong>Provenance of this page</strong></p>'
                f"<table>{cells}</table></div>")


def provenance(models=None, digests=None) -> Provenance:
    """Package version, commit, data and model digests, run time and CPU of this run.

    Parameters
    ----------
    models : iterable or dict, optional
        Models the chapter used: SSVAEs, Ensembles (their ``identity``) or
        digests; a dict's values are used.
    digests : iterable of str, optional
        Further checkpoint digests (e.g. from ``hea_dvae.checkpoint``).

    Returns
    -------
    Provenance
        Digests are shortened to 12 hex digits. A data file is marked
        "verified" when its digest is the pinned one.
    """
    import torch  # the kernels and threads of this run; imported when a page asks

    if isinstance(models, dict):
        models = models.values()
    used = [_model_digest(m) for m in (models or [])] + list(digests or [])
    files = []
    for name, (_, pinned) in config.DATA_FILES.items():
        path = config.data_dir() / name
        if path.is_file():
            digest = upstream.sha256(path)
            files.append(f"{name} {digest[:12]}" + (" (verified)" if digest == pinned else " (NOT the pinned file)"))
    elapsed = elapsed_seconds()
    rows = {
        "hea-dvae": f"{config.package_version()}, commit {_git_commit()}",
        "data files": "; ".join(files) or "none read",
        "models": ", ".join(d[:12] for d in used) or "none",
        "run time": "unknown (reporting.chapter not called)" if elapsed is None else f"{elapsed:.0f} s",
        "CPU": f"{_cpu_model()}, torch kernels {torch.backends.cpu.get_cpu_capability()}, "
               f"{torch.get_num_threads()} thread(s)",
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, "
                    f"numpy {np.__version__}, {platform.system()} {platform.machine()}",
    }
    return Provenance(rows)
