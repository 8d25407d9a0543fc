"""Evaluation of a trained image model (spec 6.5): IS test NLL, ELBOs, and latent statistics; and the
clustering of the validation latents that a run can score along training (images.clustering_every).

As the original, every model (MIM included) is scored with VAE importance weights, and the latent
embedding is concat(z1, z2) *samples* from q.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core.metrics import knn_accuracies, ksg_error_scale, ksg_mutual_information
from .data import ImageData
from ..core.device import numerics, step_autocast
from ..core.seeds import stream
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


def kmeans_nmi(z: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """NMI (max normalisation) between the labels and a k-means of z into as many clusters as labels,
    as the original: sklearn KMeans, n_init 10, random_state `seed`."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    clusters = KMeans(n_clusters=len(np.unique(labels)), random_state=seed, n_init=10).fit_predict(z)
    return float(normalized_mutual_info_score(labels, clusters, average_method="max"))


# Burda, Grosse and Salakhutdinov (2016): a latent unit is active when its posterior mean varies over the data
ACTIVE_UNIT_THRESHOLD = 0.01
CLUSTERING_NEIGHBORS = (1, 5, 10)


@torch.no_grad()
def active_units(model: HVAE2Level, x: torch.Tensor, batch: int, device: torch.device) -> tuple[int, int]:
    """Active units of q(z1|x, z2) and of q(z2|x) over the images x: dimensions whose posterior mean has a
    variance above 0.01 across images (z1's mean taken at z2's mean; no random draw)."""
    z1_means, z2_means = [], []
    for chunk in x.split(batch):
        z2_mean, _ = model.q_z2_params(chunk.to(device))
        z1_mean, _ = model.q_z1_params(chunk.to(device), z2_mean)
        z1_means.append(full_precision(z1_mean).cpu())
        z2_means.append(full_precision(z2_mean).cpu())
    return tuple(int((torch.cat(means).double().var(dim=0) > ACTIVE_UNIT_THRESHOLD).sum())
                 for means in (z1_means, z2_means))


@torch.no_grad()
def validation_clustering(model: HVAE2Level, data: ImageData, cfg: ImageRunConfig, device: torch.device,
                          kmeans_seed: int = 177) -> dict[str, float]:
    """How the validation latents cluster, scored as evaluation scores the test latents but without importance
    sampling: KNN accuracy (1, 5, 10) of concat(z1, z2) samples with the training images' samples as
    neighbours, NMI of their k-means, and the active units of each level. Every call draws the same noise
    (its own stream, on a generator of its own: the training streams are untouched), so a trajectory's
    epochs differ by the model only."""
    seed = stream(cfg.seed, "clustering")
    binarize = torch.Generator().manual_seed(seed)  # the training images' pixels: the same on CPU and GPU
    noise = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    with step_autocast(cfg.image_precision, device):  # the encoder only: the prior takes no part
        x_train = torch.bernoulli(data.x_train, generator=binarize)
        z_train = latent_samples(model, x_train, cfg.test_batch_size, device, noise).numpy()
        z_val = latent_samples(model, data.x_val, cfg.test_batch_size, device, noise).numpy()
        active_z1, active_z2 = active_units(model, data.x_val, cfg.test_batch_size, device)
    y_val = data.y_val.numpy()
    knn = knn_accuracies(z_train, data.y_train.numpy(), z_val, y_val, CLUSTERING_NEIGHBORS)
    return {**{f"val_KNN{k}": knn[f"clf_acc_KNN{k}"] for k in CLUSTERING_NEIGHBORS},
            "val_NMI": kmeans_nmi(z_val, y_val, kmeans_seed), "active_units_z1": active_z1,
            "active_units_z2": active_z2}


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
        "NMI": kmeans_nmi(z_test, y_test, ev.kmeans_seed),
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
