from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mtlrec.train.config import TrainConfig
from mtlrec.train.loss import MultiTaskLoss, build_loss
from mtlrec.train.weighting import FixedWeights, GradNorm, UncertaintyWeights

TASKS = ("click", "purchase")


def sample(rows: int = 6, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = {t: torch.randn(rows, generator=generator) for t in TASKS}
    labels = torch.randint(0, 2, (rows, 2), generator=generator).float()
    return logits, labels


def test_fixed_weighting_is_the_weighted_sum_of_per_task_bce() -> None:
    logits, labels = sample()

    total, per_task = build_loss(TrainConfig(task_weights=(1.0, 0.25)))(logits, labels)

    expected = {t: F.binary_cross_entropy_with_logits(logits[t], labels[:, i]) for i, t in enumerate(TASKS)}
    for t in TASKS:
        torch.testing.assert_close(per_task[t], expected[t])
    torch.testing.assert_close(total, expected["click"] + 0.25 * expected["purchase"])


def test_a_row_of_weight_two_counts_as_the_same_row_twice() -> None:
    logits, labels = sample(rows=4)
    loss = MultiTaskLoss(TASKS, FixedWeights((1.0, 1.0)))
    doubled = {t: torch.cat([v, v[:1]]) for t, v in logits.items()}

    weighted, weighted_tasks = loss(logits, labels, torch.tensor([2.0, 1.0, 1.0, 1.0]))
    repeated, repeated_tasks = loss(doubled, torch.cat([labels, labels[:1]]))

    torch.testing.assert_close(weighted, repeated)
    for t in TASKS:
        torch.testing.assert_close(weighted_tasks[t], repeated_tasks[t])


def test_uncertainty_weighting_follows_kendall_and_learns_its_log_variances() -> None:
    logits, labels = sample()
    weighting = UncertaintyWeights(2)
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor([0.5, -1.0]))

    total, per_task = MultiTaskLoss(TASKS, weighting)(logits, labels)
    total.backward()

    s = torch.tensor([0.5, -1.0])
    losses = torch.stack([per_task[t] for t in TASKS])
    torch.testing.assert_close(total, (torch.exp(-s) * losses + s / 2).sum())
    assert weighting.log_var.grad is not None and (weighting.log_var.grad != 0).all()


def test_gradnorm_lowers_the_weight_of_the_task_with_the_larger_gradient() -> None:
    shared = torch.randn(32, 4, requires_grad=True)  # the representation both tasks read
    weighting = GradNorm(2, alpha=1.5)
    optimizer = torch.optim.Adam(weighting.parameters(), lr=0.05)

    for _ in range(20):
        optimizer.zero_grad()
        per_task = torch.stack([(3.0 * shared).pow(2).mean(), (0.3 * shared).pow(2).mean()])  # [T]
        weighting(per_task, [shared]).backward()
        optimizer.step()

    weights = weighting.task_weights().detach()
    torch.testing.assert_close(weights.sum(), torch.tensor(2.0))
    assert weights[0] < 0.5 < 1.5 < weights[1]


def test_gradnorm_trains_the_model_on_the_weighted_sum_only() -> None:
    shared = torch.randn(8, 3, requires_grad=True)
    weighting = GradNorm(2, alpha=1.5)
    per_task = torch.stack([shared.pow(2).mean(), shared.abs().mean()])

    total = weighting(per_task, [shared])
    (grad,) = torch.autograd.grad(total, shared, retain_graph=True)

    (expected,) = torch.autograd.grad(per_task.sum(), shared)  # weights start at 1 each
    torch.testing.assert_close(grad, expected)


def test_funnel_penalty_charges_only_a_later_step_likelier_than_the_one_before() -> None:
    labels = torch.zeros(2, 2)
    ordered = {"click": torch.logit(torch.tensor([0.5, 0.4])), "purchase": torch.logit(torch.tensor([0.1, 0.4]))}
    inverted = {"click": torch.logit(torch.tensor([0.2, 0.4])), "purchase": torch.logit(torch.tensor([0.5, 0.4]))}
    plain = MultiTaskLoss(TASKS, FixedWeights((1.0, 1.0)))
    penalised = MultiTaskLoss(TASKS, FixedWeights((1.0, 1.0)), funnel_penalty=0.6)

    assert penalised(ordered, labels)[0].item() == pytest.approx(plain(ordered, labels)[0].item())
    extra = penalised(inverted, labels)[0] - plain(inverted, labels)[0]
    assert extra.item() == pytest.approx(0.6 * (0.3 + 0.0) / 2, rel=1e-5)


@pytest.mark.parametrize("weighting", ["fixed", "uncertainty", "gradnorm"])
def test_build_loss_uses_the_configured_task_weighting(weighting: str) -> None:
    kinds = {"fixed": FixedWeights, "uncertainty": UncertaintyWeights, "gradnorm": GradNorm}

    loss = build_loss(TrainConfig(task_weighting=weighting))

    assert isinstance(loss.weighting, kinds[weighting])


def test_build_loss_rejects_weight_count_mismatch() -> None:
    with pytest.raises(ValueError, match="weights"):
        build_loss(TrainConfig(task_weights=(1.0,)))
