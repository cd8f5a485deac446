import pytest
import torch
from torch import nn

from edgecloud.models.siminet import SimiNet, siminet


def _expected_parameter_count(feature_dim: int, hidden_dim: int) -> int:
    """Weights and biases of Linear(2F, H), Linear(H, H), Linear(H, 1), counted by hand."""
    first = 2 * feature_dim * hidden_dim + hidden_dim
    second = hidden_dim * hidden_dim + hidden_dim
    output = hidden_dim + 1
    return first + second + output


@pytest.mark.parametrize(("feature_dim", "hidden_dim"), [(512, 1024), (2048, 1024), (7, 3)])
def test_parameter_count_matches_the_paper_architecture(feature_dim, hidden_dim):
    model = siminet(feature_dim=feature_dim, hidden_dim=hidden_dim)
    count = sum(p.numel() for p in model.parameters())
    assert count == _expected_parameter_count(feature_dim, hidden_dim)


def test_default_hidden_width_is_1024():
    model = SimiNet(feature_dim=512)
    assert model.hidden_dim == 1024
    # (2*512*1024 + 1024) + (1024*1024 + 1024) + (1024 + 1) for 512-d ResNet-18 features
    assert sum(p.numel() for p in model.parameters()) == 2_100_225


def test_logits_and_similarities_have_one_value_per_pair():
    torch.manual_seed(0)
    model = siminet(feature_dim=6, hidden_dim=16)
    previous, current = torch.randn(5, 6), torch.randn(5, 6)
    logits = model(previous, current)
    scores = model.similarity(previous, current)
    assert logits.shape == scores.shape == (5,)
    assert ((scores > 0) & (scores < 1)).all()
    torch.testing.assert_close(scores, torch.sigmoid(logits))
    assert model(previous[0], current[0]).shape == ()  # a single pair without a batch axis


def test_the_pair_order_is_the_concatenation_order():
    model = siminet(feature_dim=2, hidden_dim=4)
    previous, current = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]])
    expected = model.layers(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).squeeze(-1)
    torch.testing.assert_close(model(previous, current), expected)


def test_mismatched_features_are_rejected():
    model = siminet(feature_dim=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        model(torch.randn(2, 5), torch.randn(2, 5))
    with pytest.raises(ValueError, match="feature tensors"):
        model(torch.randn(2, 4), torch.randn(3, 4))
    with pytest.raises(ValueError, match="positive"):
        siminet(feature_dim=0)


def _context_pairs(generator: torch.Generator, count: int, prototypes: torch.Tensor):
    """Pairs of noisy feature vectors from the same (label 1) or different (label 0) contexts."""
    num_contexts = prototypes.shape[0]
    first = torch.randint(num_contexts, (count,), generator=generator)
    same = torch.rand(count, generator=generator) < 0.5
    offset = torch.randint(1, num_contexts, (count,), generator=generator)
    second = torch.where(same, first, (first + offset) % num_contexts)

    def noisy(index):
        return prototypes[index] + 0.3 * torch.randn(
            count, prototypes.shape[1], generator=generator
        )

    return noisy(first), noisy(second), same.float()


def test_learns_to_separate_same_and_different_contexts():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    prototypes = torch.randn(6, 16, generator=generator)
    train_pairs = _context_pairs(generator, 1024, prototypes)
    previous, current, labels = _context_pairs(generator, 512, prototypes)

    model = siminet(feature_dim=16, hidden_dim=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(150):
        optimizer.zero_grad()
        loss = loss_fn(model(*train_pairs[:2]), train_pairs[2])
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        accuracy = ((model.similarity(previous, current) > 0.5).float() == labels).float().mean()
    assert accuracy > 0.95
