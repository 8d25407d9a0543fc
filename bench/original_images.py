#!/usr/bin/env python
"""Run the ORIGINAL MIM image code (vae-as-mim-image.py + cond_pixelcnn/) on mimflow's dataset split.

1. Extracts `src/vae-as-mim-image.py` and `src/cond_pixelcnn/` of one commit from a local git directory
   (--mim-git, via `git archive`) into `<out>/original/src`. Nothing is fetched from the network and
   nothing of the original is part of this repository: it only ever exists under --out.
2. Applies the named patches in PATCHES (monkeypatches, before the original modules import) so that
   the 2019 code runs under today's libraries, and replaces the original's `load_dataset` by
   `mimflow_loader`: loaders from mimflow's tensor file with the semantics of `load_dynamic_mnist`.
3. Runs the original's own `run(args, kwargs)` (runpy as `__main__`, CUDA off, always with
   --use_training_data_init, --dataset_name dynamic_mnist, batch 100, lr 5e-4, z1 = z2 = 40). Its
   output dir `<src>/../data/torch-generated/...` thereby lies under `<out>/original/data/`.
4. Writes `<out>/original_history.csv` (epoch,train_loss,val_loss from the saved `.train_loss` and
   `.val_loss`), `<out>/original_metrics.json` (the final test evaluation under mimflow's metric
   names, timings, provenance), `<out>/original_log.txt` (the original's stdout, each line prefixed
   by seconds since start) and copies the original's top-level figures into --out.

Example:
  python bench/original_images.py --mim-git <git dir of seraphlabs-ca/MIM> --commit HEAD \
    --data resources/datasets/mnist5k.pt --model convhvae_2level-smim --prior standard --seed 1 \
    --epochs 12 --warmup 4 --early-stopping-epochs 50 --S 100 --MB 100 --number-components 500 \
    --threads 1 --out bench/original_runs/smim-standard-seed1
"""
import argparse
import csv
import functools
import json
import os
import re
import runpy
import shutil
import sys
import time
import types
from pathlib import Path

from original_checkout import TimedTee, extract

ORIGINAL_FILES = ["src/vae-as-mim-image.py", "src/cond_pixelcnn"]
MODELS = ["convhvae_2level", "convhvae_2level-smim", "convhvae_2level-amim", "convhvae_2level-mim",
          "pixelhvae_2level", "pixelhvae_2level-amim", "pixelhvae_2level-mim"]  # pixel -smim crashes upstream
# (name, why); apply_patches() marks where each one is applied
PATCHES = [
    ("scipy_misc_logsumexp", "the models import scipy.misc.logsumexp, which now lives only in scipy.special"),
    ("cvxopt_stub", "utils/knnie.py imports cvxopt (matrix, solvers) without using it; cvxopt is not installed"),
    ("torch_load_weights_only_false", "torch>=2.6 loads weights only; the original pickles and reloads whole models"),
    ("plt_hist_normed_to_density", "plot_histogram passes plt.hist(normed=True); matplotlib>=3.1 calls it density"),
    ("nmi_average_method_keyword", "normalized_mutual_info_score(a, b, 'max'): average_method is keyword-only now"),
    ("kmeans_n_init_10", "sklearn>=1.4 defaults KMeans n_init='auto' (1 run); 2019 sklearn ran 10 (affects NMI)"),
    ("tsne_2019_defaults", "sklearn>=1.2 TSNE init='pca', learning_rate='auto'; 2019: 'random', 200 (z_embed.png)"),
    ("matplotlib_agg", "headless machine: the Agg backend (the figures are only saved)"),
    ("load_dataset_mimflow", "data hook: load_data.load_dataset -> mimflow_loader (mimflow's split, not torchvision)"),
    ("capture_final_evaluation", "instrumentation: keep evaluate_vae's full-precision test results (log: 2 decimals)"),
]


def fail(msg):
    sys.exit(f"original_images.py: error: {msg}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mim-git", required=True, help="git directory (no work tree) of the original MIM repository")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--data", required=True, help="mimflow image tensor file, e.g. resources/datasets/mnist5k.pt")
    p.add_argument("--model", required=True, choices=MODELS, help="the original's --model_name")
    p.add_argument("--prior", default="standard", choices=["standard", "vampprior"])
    p.add_argument("--out", required=True, help="output folder (the extracted original goes to <out>/original)")
    for flag, default in [("--seed", 1), ("--epochs", 2000), ("--warmup", 100), ("--early-stopping-epochs", 50),
                          ("--S", 5000), ("--MB", 100), ("--number-components", 500), ("--threads", 1)]:
        p.add_argument(flag, type=int, default=default, help=f"(default {default})")
    return p.parse_args(argv)


def mimflow_loader(data_path):
    """load_dataset replacement: the original's load_dynamic_mnist, step by step in meaning, on our file."""
    import numpy as np
    import torch
    import torch.utils.data as tud

    def load_dataset(args, **kwargs):
        if args.dataset_name != "dynamic_mnist":
            raise ValueError(f"mimflow_loader answers to dataset_name 'dynamic_mnist', not {args.dataset_name!r}")
        d = torch.load(data_path, weights_only=False)
        args.input_size = [int(s) for s in d["image_shape"]]
        args.input_type, args.dynamic_binarization = "binary", True
        # train: float32 grey levels in [0, 1] (the original: uint8 .float().numpy() / 255.), int64 labels
        x_train = d["x_train"].numpy().reshape(len(d["x_train"]), -1).astype(np.float32) / float(d["train_scale"])
        y_train, y_val, y_test = (d[k].numpy().astype(np.int64) for k in ("y_train", "y_val", "y_test"))
        # val/test: binarised once at build time by RandomState(777), val then test, as the original
        x_val, x_test = (d[k].numpy().astype(np.float32) for k in ("x_val", "x_test"))
        # the global numpy RNG as the original leaves it: seed(777), then the binomial draws, which
        # for n = 1 take exactly one double per pixel (p = 0 and p = 1 included)
        np.random.seed(777)
        for n in (x_val.size, x_test.size):
            for done in range(0, n, 1 << 22):
                np.random.random_sample(min(1 << 22, n - done))

        def loader(x, y, batch_size, shuffle):
            return tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                  batch_size=batch_size, shuffle=shuffle, **kwargs)
        loaders = (loader(x_train, y_train, args.batch_size, True), loader(x_val, y_val, args.test_batch_size, False),
                   loader(x_test, y_test, args.test_batch_size, False))
        if args.use_training_data_init == 1:  # the first K grey training images + 0.01 * randn, shape (784, K)
            args.pseudoinputs_std = 0.01
            noise = np.random.randn(int(np.prod(args.input_size)), args.number_components)
            args.pseudoinputs_mean = torch.from_numpy(
                x_train[0:args.number_components].T + args.pseudoinputs_std * noise).float()
        else:
            args.pseudoinputs_mean, args.pseudoinputs_std = 0.05, 0.01
        return (*loaders, args)

    return load_dataset


def apply_patches(src, data_path, captured):
    """Every entry of PATCHES (named in the comments); runs before the original modules import."""
    import matplotlib
    matplotlib.use("Agg")  # matplotlib_agg
    import matplotlib.pyplot as plt
    import scipy.misc
    import scipy.special
    import sklearn.metrics
    import torch

    scipy.misc.logsumexp = scipy.special.logsumexp  # scipy_misc_logsumexp
    sys.modules.setdefault("cvxopt", types.SimpleNamespace(matrix=None, solvers=None))  # cvxopt_stub
    torch.load = functools.partial(torch.load, weights_only=False)  # torch_load_weights_only_false
    hist = plt.hist  # plt_hist_normed_to_density
    plt.hist = lambda *a, normed=None, **k: hist(*a, **({"density": normed} if normed is not None else {}), **k)
    nmi = sklearn.metrics.normalized_mutual_info_score  # nmi_average_method_keyword
    sklearn.metrics.normalized_mutual_info_score = \
        lambda a, b, average_method="arithmetic": nmi(a, b, average_method=average_method)

    sys.path.insert(0, str(src))
    import cond_pixelcnn.utils.load_data as load_data
    load_data.load_dataset = mimflow_loader(data_path)  # load_dataset_mimflow
    import cond_pixelcnn.utils.evaluation as evaluation
    evaluation.KMeans = functools.partial(evaluation.KMeans, n_init=10)  # kmeans_n_init_10
    evaluation.TSNE = functools.partial(evaluation.TSNE, init="random", learning_rate=200.0)  # tsne_2019_defaults
    evaluate = evaluation.evaluate_vae  # capture_final_evaluation

    def evaluate_capture(*a, **k):
        result = evaluate(*a, **k)
        if k.get("mode") == "test":
            captured["test"] = result
        return result
    evaluation.evaluate_vae = evaluate_capture


def phase_times(lines):
    """Seconds per phase of the original's run: each phase ends at its marker line in the log."""
    markers = [("setup", r"^perform experiment"), ("training", r"^--> Early stopping"),
               ("test_loss_embed_ksg", r"^MI = "), ("kmeans_nmi", r"^NMI = "), ("knn", r"^KNN10 = "),
               ("tsne", r"^Done$"), ("figures_elbo_test", r"^Test lower-bound"), ("elbo_train", r"^Train lower-bound"),
               ("is_nll", r"^Test log_likelihood")]
    out, prev = {}, 0.0
    for name, rx in markers:
        hits = [t for t, line in lines if re.search(rx, line)]
        if hits:
            t = hits[-1] if name == "training" else hits[0]
            out[name], prev = round(t - prev, 2), t
    return out


def main(argv=None):
    a = parse_args(argv)
    os.environ.update({v: str(a.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    sha = extract(a.mim_git, a.commit, None, ORIGINAL_FILES, fail)  # one-line errors before anything is written
    data_path = Path(a.data).resolve()
    if not data_path.is_file():
        fail(f"no data file at {a.data}")
    out = Path(a.out).resolve()
    shutil.rmtree(out / "original", ignore_errors=True)  # this script's own extraction from an earlier run
    out.mkdir(parents=True, exist_ok=True)
    extract(a.mim_git, sha, out / "original", ORIGINAL_FILES, fail)
    script = out / "original" / "src" / "vae-as-mim-image.py"

    import torch
    torch.set_num_threads(a.threads)
    captured = {}
    apply_patches(script.parent, data_path, captured)
    orig_argv = [str(script), "--model_name", a.model, "--prior", a.prior, "--seed", str(a.seed),
                 "--epochs", str(a.epochs), "--warmup", str(a.warmup), "--early_stopping_epochs",
                 str(a.early_stopping_epochs), "--S", str(a.S), "--MB", str(a.MB), "--number_components",
                 str(a.number_components), "--use_training_data_init", "--dataset_name", "dynamic_mnist",
                 "--batch_size", "100", "--test_batch_size", "100", "--lr", "0.0005", "--z1_size", "40",
                 "--z2_size", "40", "--no-cuda"]
    tee = TimedTee(out / "original_log.txt", t0 := time.time())
    saved_argv, sys.argv, sys.stdout = sys.argv, orig_argv, tee
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.stdout, sys.argv = tee.console, saved_argv
        tee.log.close()
    wall = time.time() - t0

    runs = sorted((out / "original" / "data" / "torch-generated" / "vae-as-mim-image").glob("*/"))
    if not runs or "test" not in captured:
        fail(f"the original left no run directory or no final evaluation under {out / 'original'}")
    run_dir = runs[-1]
    train_hist, val_hist = (torch.load(run_dir / f"{a.model}.{k}") for k in ("train_loss", "val_loss"))
    with open(out / "original_history.csv", "w", newline="") as f:
        csv.writer(f).writerows([["epoch", "train_loss", "val_loss"]] +
                                [[i + 1, float(t), float(v)] for i, (t, v) in enumerate(zip(train_hist, val_hist))])
    finite = [(v, i + 1) for i, v in enumerate(val_hist) if v == v]  # the original keeps the first strict minimum
    test_loss, test_re, test_kl, ll_test, _, elbo_test, elbo_train, stats = captured["test"]
    epoch_times = [float(m.group(1)) for _, line in tee.lines
                   if (m := re.match(r"Epoch: \d+/\d+, Time elapsed: ([0-9.]+)s", line))]
    metrics = {
        "test_nll_is": float(ll_test),  # "LogL (TEST)": positive NLL in nats, IS with VAE weights, S samples
        "test_elbo": float(elbo_test),  # "ELBO (TEST)": mean negative ELBO (the VAE loss at beta 1), nats
        "train_elbo": float(elbo_train),  # the same on all training images, binarised once
        "MI_ksg": float(stats["MI"]), "MI_l2_err": float(stats["MI_l2_err"]), "NMI": float(stats["NMI"]),
        **{f"clf_acc_KNN{k}": float(stats[f"clf_acc_KNN{k}"]) for k in (1, 3, 5, 10)},
        "test_loss_own": float(test_loss), "test_re": float(test_re), "test_kl": float(test_kl),  # own loss, beta 1
        "best_epoch": min(finite)[1] if finite else None, "epochs_run": len(val_hist), "wall_time_s": round(wall, 2),
        "seconds_per_epoch": round(sum(epoch_times) / len(epoch_times), 2) if epoch_times else None,
        "epoch_times_s": epoch_times, "phase_times_s": phase_times(tee.lines),
        "provenance": {
            "original_repo": str(Path(a.mim_git).resolve()), "original_commit": sha, "original_files": ORIGINAL_FILES,
            "patches": [name for name, _ in PATCHES], "torch": torch.__version__, "python": sys.version.split()[0],
            "cli": vars(a), "argv": sys.argv[1:] if argv is None else list(argv), "original_argv": orig_argv[1:],
            "data": str(data_path), "original_run_dir": str(run_dir.relative_to(out)),
        },
    }
    (out / "original_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    for png in run_dir.glob("*.png"):  # real, real_recon, reconstructions, generations, z_embed, histogram_test, ...
        shutil.copy2(png, out / png.name)
    print(f"original_images.py: {a.model}/{a.prior} done in {wall:.1f}s, test_nll_is {metrics['test_nll_is']:.2f}, "
          f"{out / 'original_metrics.json'}")


if __name__ == "__main__":
    main()
