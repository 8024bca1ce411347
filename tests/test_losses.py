"""EMD loss against a direct numpy implementation and hand-computed cases
(on every backend)."""

import keras
import numpy as np
import pytest

from keras_resize.losses import EarthMoversDistance, earth_movers_distance


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def emd_numpy(p, q, r):
    p = p / p.sum(-1, keepdims=True)
    cdf = np.abs(np.cumsum(p, -1) - np.cumsum(q, -1))
    return (np.mean(cdf**r, -1)) ** (1 / r)


@pytest.mark.parametrize("r", [1, 2])
def test_matches_numpy(r):
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 50, (16, 10)).astype("float32") + 1
    logits = rng.normal(size=(16, 10))
    pred = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    got = to_numpy(earth_movers_distance(votes, pred, r=r))
    np.testing.assert_allclose(got, emd_numpy(votes, pred, r), atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(EarthMoversDistance(r=r)(votes, pred)),
        emd_numpy(votes, pred, r).mean(),
        atol=1e-5,
    )


def test_hand_computed_cases():
    # identical distributions: 0
    p = np.full((1, 10), 0.1, "float32")
    assert float(EarthMoversDistance()(p, p)) == pytest.approx(0.0, abs=1e-5)
    # all mass on score 1 vs all on score 10: CDF differs by 1 in 9 of 10 buckets
    a = np.eye(10, dtype="float32")[[0]]
    b = np.eye(10, dtype="float32")[[9]]
    assert float(EarthMoversDistance(r=1)(a, b)) == pytest.approx(0.9, abs=1e-6)
    assert float(EarthMoversDistance(r=2)(a, b)) == pytest.approx(0.9**0.5, abs=1e-5)
    # one bucket apart: CDF differs by 1 in one bucket
    c = np.eye(10, dtype="float32")[[1]]
    assert float(EarthMoversDistance(r=1)(a, c)) == pytest.approx(0.1, abs=1e-6)


def test_unnormalised_votes_are_normalised():
    votes = np.array([[2.0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0]], "float32")
    pred = np.array([[0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]], "float32")
    assert float(EarthMoversDistance()(votes, pred)) == pytest.approx(0.0, abs=1e-5)


def test_trains_a_softmax_and_serializes(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.random((64, 4)).astype("float32")
    votes = rng.integers(1, 20, (64, 10)).astype("float32")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile("adam", EarthMoversDistance(r=1))
    before = model.evaluate(x, votes, verbose=0)
    history = model.fit(x, votes, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = model.evaluate(x, votes, verbose=0)
    assert after < before
    prediction = to_numpy(model.predict(x, verbose=0))
    np.testing.assert_allclose(after, emd_numpy(votes, prediction, 1).mean(), rtol=1e-4)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, EarthMoversDistance) and loaded.loss.r == 1
    np.testing.assert_allclose(
        to_numpy(loaded.predict(x, verbose=0)), prediction, atol=1e-6
    )
    np.testing.assert_allclose(loaded.evaluate(x, votes, verbose=0), after, rtol=1e-5)


def test_bad_r():
    with pytest.raises(ValueError, match="r=3"):
        EarthMoversDistance(r=3)
