"""Bug (wrong loss): a bag-of-embeddings topic classifier (nn.EmbeddingBag mean over 12 token ids, an MLP, 10
topics) whose loss reads `cross_entropy(..., label_smoothing=0.9)`: "0.9" was meant as the confidence on the true
class, i.e. smoothing 0.1. With 0.9 the target is nearly uniform, its entropy (2.27) is almost ln 10 = 2.30, so the
loss cannot fall more than ~1.5% however well the model ranks the topics: the loss curve is flat. No setting of
gradscope's remedies can undo a loss typo, so compare leaves it out."""

import torch
import torch.nn.functional as F
from torch import nn

VOCAB = 500


class BagClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, 32, mode="mean")
        self.mlp = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, tokens):
        return self.mlp(self.embed(tokens))


def build_model() -> nn.Module:
    return BagClassifier()


def get_data():
    g = torch.Generator().manual_seed(224)
    y = torch.randint(0, 10, (1024,), generator=g)
    words = torch.randint(0, VOCAB, (1024, 12), generator=g)
    topical = torch.rand(1024, 12, generator=g) < 0.4  # 40% of the words come from the topic's own 20
    words[topical] = (y.unsqueeze(1).expand(-1, 12) * 20 + torch.randint(0, 20, (1024, 12), generator=g))[topical]
    return words, y


def loss_fn(output, target):
    return F.cross_entropy(output, target, label_smoothing=0.9)  # the bug: meant 0.1


FIXED_BELOW = 0.0  # a loss typo: the own check is the flat loss against the model's rising accuracy


def check(log) -> str:
    x, y = log.batch
    with torch.no_grad():
        accuracy = (log.model(x).argmax(1) == y).float().mean().item()
    assert log.finite and log.tail() > 0.98 * log.head(), f"the loss fell: {log.head():.3f} -> {log.tail():.3f}"
    plain = F.cross_entropy(log.model(x), y).item()
    return f"loss {log.head():.3f} -> {log.tail():.3f} (floor 2.27); accuracy {accuracy:.0%}, plain CE {plain:.2f}"
