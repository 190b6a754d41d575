import math

import numpy as np
import pytest

from dexnet_core.train import metrics

Y = np.array([1, 0, 1, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.1])


def test_classification_report_by_hand():
    r = metrics.classification_report(Y, S, 0.5)
    assert (r["tp"], r["fp"], r["tn"], r["fn"]) == (2, 1, 2, 1)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    none = metrics.classification_report(Y, np.zeros(6), 0.5)
    assert none["precision"] == 1.0 and none["recall"] == 0.0


def test_pr_curve_and_average_precision_by_hand():
    p, r, t = metrics.precision_recall_curve(Y, S)
    np.testing.assert_allclose(p, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5, 1 / 2])
    np.testing.assert_allclose(r, [1 / 3, 1 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(t, S)
    assert metrics.average_precision(Y, S) == pytest.approx(1 / 3 + 2 / 9 + 1 / 4)
    # tied scores collapse into one threshold
    p, r, t = metrics.precision_recall_curve([1, 0, 1], [0.5, 0.5, 0.2])
    np.testing.assert_allclose(p, [1 / 2, 2 / 3]) and np.testing.assert_allclose(t, [0.5, 0.2])
    assert math.isnan(metrics.average_precision([0, 0], [0.1, 0.2]))


def test_roc_auc_by_hand():
    assert metrics.roc_auc(Y, S) == pytest.approx(7 / 9)
    assert metrics.roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.roc_auc([1, 1, 0], [0.2, 0.9, 0.2]) == pytest.approx(0.75)
    assert math.isnan(metrics.roc_auc([1, 1], [0.2, 0.3]))


def test_bce_by_hand_and_shape_check():
    assert metrics.bce_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    with pytest.raises(ValueError, match="length"):
        metrics.roc_auc([1, 0, 1], [0.2, 0.3])


def test_counts_weigh_like_repeated_datapoints():
    rng = np.random.default_rng(3)
    y, s = rng.random(200) < 0.3, np.round(rng.random(200), 2)  # rounding makes ties
    counts = rng.integers(0, 4, 200)
    repeated = np.repeat(np.arange(200), counts)
    assert metrics.average_precision(y, s, counts) == pytest.approx(
        metrics.average_precision(y[repeated], s[repeated]), abs=1e-12)
    assert math.isnan(metrics.average_precision(y, s, np.where(y, 0, counts)))
    with pytest.raises(ValueError, match="counts"):
        metrics.average_precision(y, s, counts[:10])


def test_average_precision_interval_resamples_objects():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(40), 50)
    easy = groups < 20  # half the objects are scored well, half at random
    y = rng.random(2000) < 0.3
    s = np.where(easy, 0.5 * y + 0.5 * rng.random(2000), rng.random(2000))
    ap = metrics.average_precision(y, s)
    lo, hi = metrics.average_precision_interval(y, s, groups, resamples=300)
    assert lo < ap < hi and hi - lo > 0.05  # the easy / hard mix of objects dominates the spread
    lo1, hi1 = metrics.average_precision_interval(y, s, np.arange(2000), resamples=300)
    assert hi1 - lo1 < hi - lo  # independent datapoints vary less than whole objects
    assert metrics.average_precision_interval(y, s, np.zeros(2000), resamples=20) == (ap, ap)
