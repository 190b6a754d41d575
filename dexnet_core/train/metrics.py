"""Binary classification metrics as plain numpy functions (labels in {0, 1}, scores in [0, 1]).

Conventions: precision of an empty prediction set is 1 (nothing predicted, nothing wrong), recall with no
positives is 1; average precision is the step-wise area sum_k (R_k - R_{k-1}) P_k over score thresholds
(no interpolation); ROC AUC is the probability that a random positive outscores a random negative (ties
count one half).
"""

from __future__ import annotations

import numpy as np


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1).astype(bool)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape[0]} vs {s.shape[0]}")
    return y, s


def confusion(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """Counts tp, fp, tn, fn of predictions ``scores >= threshold``."""
    y, s = _check(labels, scores)
    pred = s >= threshold
    return {"tp": int(np.sum(pred & y)), "fp": int(np.sum(pred & ~y)),
            "tn": int(np.sum(~pred & ~y)), "fn": int(np.sum(~pred & y))}


def classification_report(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1 at ``threshold`` plus the confusion counts."""
    c = confusion(labels, scores, threshold)
    n = sum(c.values())
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": (c["tp"] + c["tn"]) / n if n else float("nan"), "precision": precision,
            "recall": recall, "f1": f1, **c}


def precision_recall_curve(labels: np.ndarray, scores: np.ndarray,
                           counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of ``scores >= t`` for every distinct score t, highest t first.

    counts : optional (n,) non-negative integers, each datapoint counted that many times (a bootstrap draw).
    Returns (precision, recall, thresholds), each (k,) float64 for the k distinct scores.
    """
    y, s = _check(labels, scores)
    w = np.ones(len(s)) if counts is None else np.asarray(counts, dtype=np.float64).reshape(-1)
    if w.shape != s.shape:
        raise ValueError(f"counts and scores differ in length: {w.shape[0]} vs {s.shape[0]}")
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.zeros(0, int)
    tp = np.cumsum(w * y)[last]
    seen = np.cumsum(w)[last]
    npos = tp[-1] if len(tp) else 0.0
    precision = tp / np.maximum(seen, 1)
    recall = tp / npos if npos else np.ones_like(tp, dtype=np.float64)
    return precision.astype(np.float64), recall.astype(np.float64), s[last]


def average_precision(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray | None = None) -> float:
    """Area under the step-wise precision-recall curve; NaN when there are no positives."""
    precision, recall, _ = precision_recall_curve(labels, scores, counts)
    if not len(precision) or precision[-1] == 0:  # the last precision is the positive fraction
        return float("nan")
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision_interval(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray,
                               resamples: int = 1000, level: float = 0.95,
                               seed: int = 0) -> tuple[float, float]:
    """Bootstrap ``level`` interval of the average precision, resampling whole groups (objects).

    Datapoints of one object are correlated, so the interval draws objects with replacement (each drawn
    object brings all its datapoints) rather than datapoints.
    """
    y, s = _check(labels, scores)
    g = np.asarray(groups).reshape(-1)
    if g.shape != s.shape:
        raise ValueError(f"groups and scores differ in length: {g.shape[0]} vs {s.shape[0]}")
    _, member = np.unique(g, return_inverse=True)
    num_groups = int(member.max()) + 1 if len(member) else 0
    order = np.argsort(-s, kind="stable")  # sorted once: each draw's stable re-sort is then a linear pass
    y, s, member = y[order], s[order], member[order]
    rng = np.random.default_rng(seed)
    draws = [average_precision(y, s, np.bincount(rng.integers(0, num_groups, num_groups),
                                                 minlength=num_groups)[member])
             for _ in range(resamples)]
    tail = 50.0 * (1.0 - level)
    lo, hi = np.nanpercentile(draws, [tail, 100.0 - tail])
    return float(lo), float(hi)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (P N)); NaN when one class is absent."""
    y, s = _check(labels, scores)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks of ties (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - npos * (npos + 1) / 2.0
    return float(u / (npos * nneg))


def bce_loss(labels: np.ndarray, scores: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities ``scores`` (clipped to [eps, 1 - eps])."""
    y, s = _check(labels, scores)
    s = np.clip(s, eps, 1 - eps)
    return float(-np.mean(np.where(y, np.log(s), np.log1p(-s)))) if len(s) else float("nan")
