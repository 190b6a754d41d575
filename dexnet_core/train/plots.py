"""Evaluation figures (matplotlib, the [viz] extra, imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexnet_core.errors import MissingExtraError


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingExtraError("plots need matplotlib: pip install dexnet-core[viz]") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_pr_curve(path: str | Path, precision: np.ndarray, recall: np.ndarray, title: str,
                  average_precision: float, positive_fraction: float) -> Path:
    """Write a precision-recall curve PNG; the dashed line is the precision of a random classifier."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.step(np.r_[0.0, recall], np.r_[precision[:1] if len(precision) else [1.0], precision], where="post",
            label=f"AP = {average_precision:.3f}")
    ax.axhline(positive_fraction, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title, fontsize="medium", wrap=True)  # long dataset names wrap instead of leaving the figure
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
