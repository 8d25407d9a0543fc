"""Evaluation of a trained image model (spec 6.5): IS test NLL, ELBOs, and latent statistics.

As the original, every model (MIM included) is scored with VAE importance weights, and the latent
embedding is concat(z1, z2) *samples* from q.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.metrics import knn_accuracies, ksg_error_scale, ksg_mutual_information
from .data import ImageData
from ..core.device import numerics
from .layers import full_precision
from .losses import auto_pass_copies, importance_sampled_nll, vae_elbo_terms
from .model import HVAE2Level
from .settings import ImageEvaluationConfig, ImageRunConfig


@torch.no_grad()
def negative_elbo(model: HVAE2Level, x: torch.Tensor, batch: int, device: torch.device,
                  generator: torch.Generator | None) -> torch.Tensor:
    """Single-sample negative ELBO of every row of x (nats)."""
    return torch.cat([-vae_elbo_terms(model, chunk.to(device), generator)["elbo"].cpu()
                      for chunk in x.split(batch)])


@torch.no_grad()
def latent_samples(model: HVAE2Level, x: torch.Tensor, batch: int, device: torch.device,
                   generator: torch.Generator | None) -> torch.Tensor:
    """concat(z1, z2) sampled from q for every row of x."""
    out = []
    for chunk in x.split(batch):
        enc = model.encode(chunk.to(device), generator=generator)
        out.append(full_precision(torch.cat([enc["z1_q"], enc["z2_q"]], dim=1)).cpu())  # numpy has no bf16
    return torch.cat(out)


@torch.no_grad()
def evaluate_image(model: HVAE2Level, data: ImageData, cfg: ImageRunConfig, ev: ImageEvaluationConfig,
                   device: torch.device, generator: torch.Generator | None,
                   binarize_generator: torch.Generator, memory_share: float = 1.0) -> tuple[dict[str, float], np.ndarray]:
    """Metrics for metrics.json, and the per-image test NLL (for its histogram); at the run's precision.
    memory_share: the part of the GPU's memory this job may plan its importance-sampling passes for (1/N
    when N image jobs share the GPU)."""
    model.eval()
    with numerics(cfg.image_precision, device), model.fixed_prior():
        return _evaluate(model, data, cfg, ev, device, generator, binarize_generator, memory_share)


def _evaluate(model: HVAE2Level, data: ImageData, cfg: ImageRunConfig, ev: ImageEvaluationConfig,
              device: torch.device, generator: torch.Generator | None,
              binarize_generator: torch.Generator, memory_share: float = 1.0) -> tuple[dict[str, float], np.ndarray]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    pass_copies = ev.is_pass_copies or auto_pass_copies(model, ev.is_samples, device,
                                                          memory_fraction=0.5 * memory_share)
    images_per_call = max(1, pass_copies // ev.is_samples)  # whole passes per call: the plan stays the same
    nll = torch.cat([importance_sampled_nll(model, x.to(device), ev.is_samples, pass_copies, generator).cpu()
                     for x in data.x_test.split(images_per_call)])
    test_elbo = negative_elbo(model, data.x_test, cfg.test_batch_size, device, generator)
    x_train_binary = torch.bernoulli(data.x_train, generator=binarize_generator)
    train_elbo = negative_elbo(model, x_train_binary, cfg.test_batch_size, device, generator)

    z_test = latent_samples(model, data.x_test, cfg.test_batch_size, device, generator).numpy()
    z_train = latent_samples(model, x_train_binary, cfg.test_batch_size, device, generator).numpy()
    y_test, y_train = data.y_test.numpy(), data.y_train.numpy()
    n_mi = min(ev.ksg_points, len(z_test))
    n_classes = len(np.unique(y_test))
    clusters = KMeans(n_clusters=n_classes, random_state=ev.kmeans_seed, n_init=10).fit_predict(z_test)
    metrics = {
        "test_nll_is": float(nll.mean()),
        "test_nll_is_std": float(nll.std()),
        "is_samples": ev.is_samples,
        "is_pass_copies": pass_copies,
        "test_elbo": float(test_elbo.mean()),  # negative ELBO in nats, as the original prints it
        "train_elbo": float(train_elbo.mean()),
        "MI_ksg": ksg_mutual_information(data.x_test[:n_mi].numpy(), z_test[:n_mi], k=ev.ksg_k),
        # the original's heuristic error scale of that KSG estimate (its stats["MI_l2_err"])
        "MI_l2_err": ksg_error_scale(n_mi, data.x_test.shape[1], z_test.shape[1]),
        "NMI": float(normalized_mutual_info_score(y_test, clusters, average_method="max")),
        "n_test": int(len(z_test)),
        "n_train": int(len(z_train)),
    }
    metrics.update(knn_accuracies(z_train, y_train, z_test, y_test, ev.knn_neighbors))
    return metrics, nll.numpy()


def tsne_embedding(z: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE of latents (sklearn defaults, PCA init, perplexity capped below n), for the figure."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(2.0, (len(z) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(z)
