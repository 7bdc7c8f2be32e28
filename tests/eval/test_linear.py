"""Fast linear probe vs scikit-learn; standard probe and the frozen-encoder check."""

from __future__ import annotations

import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch.utils.data import TensorDataset

from mcr_eval.probes.frozen_check import EncoderChangedError, frozen_encoder
from mcr_eval.probes.linear import fast_linear_probe, standard_linear_probe, standardize
from mcr_eval.probes.logistic import fit_multinomial


def test_fast_probe_matches_sklearn(digits_features):
    train_x, train_y, test_x, test_y = digits_features
    result = fast_linear_probe(train_x, train_y, test_x, test_y, num_classes=10, device="cpu")
    train_z, test_z = standardize(train_x, test_x)
    ref = LogisticRegression(C=result["sklearn_C"], solver="lbfgs", max_iter=5000, tol=1e-8)
    ref.fit(train_z.double().numpy(), train_y.numpy())
    ref_acc = ref.score(test_z.double().numpy(), test_y.numpy())
    assert abs(result["top1"] - ref_acc) * 100 <= 0.3, (result, ref_acc)
    assert result["top1"] > 0.6 and result["l2"] in result["val_top1"]


def test_logistic_objective_matches_sklearn_solution(digits_features):
    """Same objective: at sklearn's C = 1/(l2 n) the two solutions (and predictions) agree."""
    train_x, train_y, test_x, _ = digits_features
    train_z, test_z = standardize(train_x.double(), test_x.double())
    l2 = 1e-2
    fit = fit_multinomial(train_z, train_y, 10, l2, max_iter=2000, tol=1e-7)
    weight, bias = fit.weight, fit.bias
    ref = LogisticRegression(C=1 / (l2 * len(train_y)), max_iter=5000, tol=1e-7).fit(train_z.numpy(), train_y.numpy())
    ours = (test_z @ weight.T + bias).argmax(1).numpy()
    assert (ours == ref.predict(test_z.numpy())).mean() >= 0.995
    centered = weight - weight.mean(0, keepdim=True)  # softmax is invariant to a shared shift
    ref_w = torch.tensor(ref.coef_) - torch.tensor(ref.coef_).mean(0, keepdim=True)
    assert torch.allclose(centered, ref_w, atol=2e-3)


def test_standard_probe_learns_and_keeps_encoder_frozen(digits_images, make_encoder):
    train_x, train_y, test_x, test_y = digits_images
    encoder = make_encoder(seed=1, width=16)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    train_set, test_set = TensorDataset(train_x[:600], train_y[:600]), TensorDataset(test_x, test_y)
    result = standard_linear_probe(
        encoder, train_set, test_set, 10, epochs=5, batch_size=64, lr=0.5, device="cpu", progress=False
    )
    assert result["top1"] > 0.5 and result["epochs"] == 5  # chance is 0.1
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.requires_grad for p in encoder.parameters())  # flags restored after the probe


def test_frozen_check_catches_encoder_left_in_train_mode(make_encoder):
    encoder = make_encoder(seed=0, width=8)
    x = torch.randn(8, 3, 16, 16)
    with pytest.raises(EncoderChangedError, match="running_mean"), frozen_encoder(encoder):
        encoder.train()  # the deliberate mistake: BN now updates its running statistics
        with torch.no_grad():
            encoder(x)
    with frozen_encoder(encoder), torch.no_grad():  # the correct probe: eval mode, nothing moves
        encoder(x)


def test_frozen_check_catches_weight_update(make_encoder):
    encoder = make_encoder(seed=0, width=8)
    with pytest.raises(EncoderChangedError, match="conv1.weight"), frozen_encoder(encoder), torch.no_grad():
        encoder.conv1.weight.add_(1e-3)


def test_the_l2_grid_in_every_linear_protocol_is_the_exact_decimal_powers_of_ten():
    """Records pool only under identical protocols, so the grid must not depend on how numpy rounds."""
    import json

    from mcr_eval.probes.linear import L2_GRID

    assert json.dumps(list(L2_GRID)) == "[0.1, 0.01, 0.001, 0.0001, 1e-05, 1e-06, 1e-07]"
