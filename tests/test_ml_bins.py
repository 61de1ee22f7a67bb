import numpy as np
import pytest

from ml import bins


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    ab = np.concatenate([rng.normal(0, 8, (20000, 2)), rng.normal([40, 50], 5, (500, 2))])
    centres, prior = bins.fit_bins(bins.grid_histogram(ab))
    return centres, prior


def test_grid_has_23_by_23_points_ten_apart():
    g = bins.grid_centres()
    assert g.shape == (529, 2)
    assert g.min() == -110
    assert g.max() == 110
    assert set(np.unique(np.diff(np.unique(g[:, 0])))) == {10.0}


def test_only_bins_seen_in_training_are_kept(table):
    centres, prior = table
    assert 0 < len(centres) < 529
    assert prior.min() > 0
    assert prior.sum() == pytest.approx(1.0)


def test_rebalancing_weights_have_expectation_one_under_the_smoothed_prior(table):
    centres, prior = table
    w = bins.rebalance_weights(centres, prior)
    d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1)
    smoothed = np.exp(-d2 / (2 * 5.0**2)) @ prior
    smoothed /= smoothed.sum()
    assert w.shape == (len(centres),)
    assert (smoothed * w).sum() == pytest.approx(1.0, rel=1e-5)
    common, rare = np.argmax(prior), np.argmin(prior)
    assert w[rare] > w[common]


def test_lambda_one_gives_uniform_weights(table):
    assert np.allclose(bins.rebalance_weights(*table, lam=1.0), 1.0)
    with pytest.raises(ValueError):
        bins.rebalance_weights(*table, lam=1.5)


def test_soft_encoding_spreads_over_the_five_nearest_bins(table):
    centres, _ = table
    ab = np.array([[3.0, -4.0], [12.0, 7.0]], np.float32)
    q = bins.soft_encode(ab, centres)
    assert q.shape == (2, len(centres))
    assert np.allclose(q.sum(-1), 1.0)
    assert ((q > 0).sum(-1) == 5).all()
    nearest = np.argmin(((ab[:, None] - centres) ** 2).sum(-1), axis=-1)
    assert np.array_equal(q.argmax(-1), nearest)


def test_keras_soft_encoding_matches_numpy(table):
    from keras import ops

    centres, _ = table
    ab = np.random.default_rng(1).normal(0, 20, (2, 3, 4, 2)).astype(np.float32)
    got = ops.convert_to_numpy(bins.soft_encode_ops(ops.convert_to_tensor(ab), centres))
    assert np.allclose(got, bins.soft_encode(ab, centres), atol=1e-5)


def test_annealed_mean_interpolates_between_mode_and_mean():
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 80.0]], np.float32)
    probs = np.array([0.5, 0.3, 0.2], np.float32)
    mean = probs @ centres
    assert np.allclose(bins.annealed_mean(probs, centres, temperature=1.0, logits=False), mean, atol=1e-4)
    assert np.allclose(bins.annealed_mean(probs, centres, temperature=0.01, logits=False), centres[0], atol=1e-3)
    t38 = bins.annealed_mean(probs, centres, temperature=0.38, logits=False)
    assert np.linalg.norm(t38 - centres[0]) < np.linalg.norm(mean - centres[0])
    logits = np.log(probs) + 7.0  # logits differ from log-probabilities by a constant
    assert np.allclose(bins.annealed_mean(logits, centres, temperature=0.38), t38, atol=1e-4)
    with pytest.raises(ValueError):
        bins.annealed_mean(probs, centres, temperature=0)


def test_full_rebalancing_correction_recovers_the_calibrated_distribution():
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 80.0]], np.float32)
    p = np.array([0.6, 0.3, 0.1], np.float32)
    w = np.array([0.5, 1.0, 4.0], np.float32)
    learned = p * w / (p * w).sum()  # what a network trained with weights w converges to
    calibrated = bins.annealed_mean(learned, centres, temperature=1.0, logits=False, weights=w, correction=1.0)
    assert np.allclose(calibrated, p @ centres, atol=1e-3)
    vivid = bins.annealed_mean(learned, centres, temperature=1.0, logits=False)
    assert np.linalg.norm(vivid) > np.linalg.norm(calibrated)  # the rebalanced mean is more colourful
    with pytest.raises(ValueError):
        bins.annealed_mean(learned, centres, correction=0.5)  # no weights given


def test_confidence_is_the_top_bins_probability_once_the_rebalancing_is_undone():
    p = np.array([0.6, 0.3, 0.1], np.float32)
    w = np.array([0.5, 1.0, 4.0], np.float32)
    learned = np.log(p * w)  # logits of a network trained with weights w
    assert bins.confidence(learned[None, None], w) == pytest.approx(0.6, abs=1e-5)


def test_a_network_that_cannot_choose_has_confidence_one_over_the_number_of_bins():
    w = np.array([0.5, 1.0, 4.0, 2.0], np.float32)
    assert bins.confidence(np.log(w)[None].repeat(5, 0), w) == pytest.approx(0.25, abs=1e-6)


def test_confidence_is_the_mean_over_the_cells():
    w = np.ones(2, np.float32)
    cells = np.log(np.array([[0.9, 0.1], [0.5, 0.5]], np.float32))
    assert bins.confidence(cells, w) == pytest.approx(0.7, abs=1e-5)
