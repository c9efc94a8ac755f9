"""An offline feature network for image metrics: a small CNN classifier of scikit-learn's digits.

FID, KID, precision/recall and density/coverage compare samples in the feature space of a
network trained on real images (Inception-v3 in the literature). Inception needs a download and
expects 299×299 colour images; for the book's 8×8 digits gancore trains its own small classifier
instead, in a few seconds on a CPU, and uses its penultimate layer (``FEATURE_DIM`` values after a
ReLU) as the features. Numbers computed on these features are comparable with each other, never
with published Inception-based FIDs.

Training is deterministic on a given machine: seeded initialisation and batches, CPU, one thread,
a fixed number of steps, on a fixed 80 % of the 1797 images (the other 20 % measure held-out
accuracy). The weights are cached in ``$GANCORE_CACHE`` (default ``~/.cache/gancore``), written
atomically with ``gancore.checkpoint.save_checkpoint`` and read back with
``torch.load(weights_only=True)``; a missing, corrupt or foreign cache file is retrained and
rewritten.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError

__all__ = [
    "FEATURE_DIM",
    "DigitClassifier",
    "cache_dir",
    "cache_path",
    "digits_split",
    "train_digit_classifier",
    "accuracy",
    "feature_network",
    "digit_features",
    "image_metrics",
]

FEATURE_DIM = 64
SEED = 0
STEPS = 300
BATCH_SIZE = 64
LR = 2e-3
HELDOUT_FRACTION = 0.2
RECIPE = 1  # bump when the architecture or the training recipe changes: old cache files are ignored


class DigitClassifier(nn.Module):
    """Conv(16)–Conv(32)–pool–Conv(64)–pool–Linear(FEATURE_DIM)–ReLU → Linear(10), for 1×8×8 inputs in [−1, 1]."""

    def __init__(self, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 4×4
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 2×2
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer activations, Tensor[N, feature_dim]."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def cache_dir() -> Path:
    """``$GANCORE_CACHE`` if set, else ``~/.cache/gancore``."""
    env = os.environ.get("GANCORE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gancore"


def cache_path(directory: Path | str | None = None) -> Path:
    """The cache file of the feature network (in ``directory``, default :func:`cache_dir`)."""
    return Path(directory if directory is not None else cache_dir()) / f"digits-classifier-r{RECIPE}.pt"


def digits_split(seed: int = SEED) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, held-out images, held-out labels): a seeded 80/20 split of the digits."""
    from sklearn.datasets import load_digits

    from .data import digits

    images = digits()
    labels = torch.from_numpy(load_digits().target).long()
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_held = round(HELDOUT_FRACTION * len(images))
    held, train = perm[:n_held], perm[n_held:]
    return images[train], labels[train], images[held], labels[held]


class _threads:
    """Run a block with a fixed number of intra-op threads (bitwise-reproducible reductions)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


@torch.no_grad()
def accuracy(model: DigitClassifier, images: Tensor, labels: Tensor) -> float:
    """Fraction of ``images`` that ``model`` classifies as ``labels`` (eval mode, restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        return float((model(images).argmax(1) == labels).double().mean())
    finally:
        model.train(was_training)


def train_digit_classifier(*, seed: int = SEED, steps: int = STEPS) -> tuple[DigitClassifier, float]:
    """Train the classifier from scratch (CPU, one thread, seeded) and return (model, held-out accuracy)."""
    x_train, y_train, x_held, y_held = digits_split()
    with _threads(1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = DigitClassifier()
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        model.train()
        for _ in range(steps):
            idx = torch.randint(len(x_train), (BATCH_SIZE,), generator=gen)
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        return model, accuracy(model, x_held, y_held)


_LOADED: dict[Path, DigitClassifier] = {}


def _load(path: Path) -> DigitClassifier:
    state = load_checkpoint(path)
    if state.get("recipe") != RECIPE or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} holds no digit classifier of recipe {RECIPE}")
    model = DigitClassifier()
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: weights do not fit the classifier ({str(err).splitlines()[0][:160]})") from None
    return model.eval()


def feature_network(directory: Path | str | None = None, *, reload: bool = False) -> DigitClassifier:
    """The trained digit classifier, in eval mode: from memory, else from the cache file, else trained.

    ``directory`` overrides the cache directory; ``reload=True`` skips the in-memory copy and reads
    the file again. A cache file that cannot be loaded is retrained with a warning and rewritten.
    """
    path = cache_path(directory).expanduser().resolve()
    if not reload and path in _LOADED:
        return _LOADED[path]
    model = None
    if path.exists():
        try:
            model = _load(path)
        except CheckpointError as err:
            warnings.warn(f"retraining the digit feature network: {err}", RuntimeWarning, stacklevel=2)
    if model is None:
        start = time.perf_counter()
        model, acc = train_digit_classifier()
        state = {"recipe": RECIPE, "model": model.state_dict(), "heldout_accuracy": acc,
                 "train_seconds": time.perf_counter() - start}
        save_checkpoint(path, state)
    _LOADED[path] = model
    return model


@torch.no_grad()
def digit_features(images: Tensor, *, network: DigitClassifier | None = None, batch_size: int = 2048) -> Tensor:
    """Penultimate-layer features, Tensor[N, FEATURE_DIM] (float32, CPU), of N×1×H×W images in [−1, 1].

    8×8 images go in as they are. Larger images (MNIST's 28×28, say) are shrunk to 8×8 by adaptive
    average pooling first — a crude match for the digits' own 8×8 block averages, good enough to
    compare models with each other on the same data, not a calibrated measure. N×H×W input is
    read as one channel. ``network`` defaults to :func:`feature_network` (trained or loaded on first use).
    """
    x = torch.as_tensor(images).detach()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] < 8 or x.shape[3] < 8:
        raise ValueError(f"expected N×1×H×W grey images with H, W ≥ 8, got shape {tuple(x.shape)}")
    x = x.float().cpu()
    if x.shape[-2:] != (8, 8):
        x = F.adaptive_avg_pool2d(x, 8)
    net = network if network is not None else feature_network()
    was_training = net.training
    net.eval()
    try:
        if len(x) == 0:
            return torch.zeros(0, net.head.in_features)
        return torch.cat([net.features(block) for block in x.split(batch_size)])
    finally:
        net.train(was_training)


def image_metrics(real_images: Tensor, fake_images: Tensor, *, network: DigitClassifier | None = None, **kwargs):
    """FID, KID, precision/recall and density/coverage of two image sets (real first), on :func:`digit_features`.

    Images are N×1×H×W (or N×H×W) grey images in [−1, 1], as :func:`digit_features` takes them.
    ``kwargs`` go to :func:`gancore.metrics.feature_metrics` (``k_pr``, ``k_dc``, ``kid_subsets``,
    ``kid_subset_size``, ``seed``). Returns a :class:`gancore.metrics.ImageMetrics` named tuple;
    ``._asdict()`` makes it a table row. Compare models at equal numbers of fake images.
    """
    from .metrics import feature_metrics

    net = network if network is not None else feature_network()
    return feature_metrics(digit_features(real_images, network=net), digit_features(fake_images, network=net), **kwargs)
