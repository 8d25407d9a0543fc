"""Benchmark of the PCA Fashion-MNIST data stream and training epoch (not a test), 1 thread.

Measures, on the built resources/datasets/pca-fashion-mnist20-<fit>.pt (real Fashion-MNIST):
1. one training pass of the data stream (59,904 images: permutation, RandomAffine at p = 0.5 with the
   Pillow-exact resampler, dequantisation noise, projection), median of --passes;
2. a 3-seed stacked training of --epochs epochs at paper settings (default: bottleneck_fmnist20_trainfit, VAE,
   z_dim 6), as CPU seconds per seed-epoch, and the share spent in the data stream;
and prints a sha256 over the passes, the trained weights and the loss history: equal hashes mean the same
numbers. It uses only PCASource.train_pass and train_lowdim_runs, so it runs unchanged on older commits:

  PYTHONPATH=<checkout> python bench/pca_epoch.py --data resources/datasets/pca-fashion-mnist20-train.pt
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path

import torch
import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="resources/datasets/pca-fashion-mnist20-train.pt")
    parser.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "config.yaml"))
    parser.add_argument("--experiment", default="bottleneck_fmnist20_trainfit")
    parser.add_argument("--model", default="vae")
    parser.add_argument("--z-dim", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()

    import mimflow
    from mimflow.core.io import load_torch
    from mimflow.data import pca
    from mimflow.lowdim.data import lowdim_source
    from mimflow.lowdim.settings import LowdimRunConfig
    from mimflow.lowdim.train import train_lowdim_runs
    from mimflow.workflow import lowdim_group_settings

    torch.set_num_threads(1)
    digest = hashlib.sha256()
    data = load_torch(args.data)
    source = pca.PCASource(data, 128)
    generator = torch.Generator().manual_seed(1)
    times = []
    for _ in range(args.passes):
        start = time.process_time()
        x, labels = source.train_pass(generator)
        times.append(time.process_time() - start)
        digest.update(x.numpy().tobytes())
        digest.update(labels.numpy().tobytes())

    config = yaml.safe_load(Path(args.config).read_text())
    settings = lowdim_group_settings(config, args.experiment, "pca-fashion-mnist20", args.model, args.z_dim, 50)
    settings["epochs"] = args.epochs
    cfgs = [LowdimRunConfig.from_dict({**settings, "seed": seed}) for seed in (1, 2, 3)]
    stream = lowdim_source(cfgs[0], args.data)
    in_stream = [0.0]
    original_pass = type(stream).train_pass

    def timed_pass(self, gen):
        start = time.process_time()
        out = original_pass(self, gen)
        in_stream[0] += time.process_time() - start
        return out

    type(stream).train_pass = timed_pass
    start = time.process_time()
    outcomes = train_lowdim_runs(cfgs, stream)
    total = time.process_time() - start
    for outcome in outcomes:
        for _, value in sorted(outcome.model.state_dict().items()):
            digest.update(value.numpy().tobytes())
        digest.update(json.dumps([[r.train_loss, r.test_loss] for r in outcome.result.history]).encode())
    seed_epochs = args.epochs * len(cfgs)
    print(json.dumps({
        "code": str(Path(mimflow.__file__).resolve().parents[1]), "data": args.data,
        "train_pass_cpu_s": round(statistics.median(times), 3),
        "group": f"{args.experiment} {args.model} z{args.z_dim}, seeds 1-3, {args.epochs} epochs",
        "cpu_s_per_seed_epoch": round(total / seed_epochs, 3),
        "data_stream_share": round(in_stream[0] / total, 3),
        "sha256": digest.hexdigest()[:16],
    }))


if __name__ == "__main__":
    main()
