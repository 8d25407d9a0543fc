#!/usr/bin/env python
"""Run the ORIGINAL MIM image code (vae-as-mim-image.py + cond_pixelcnn/) on mimflow's dataset split.

What it does, in order:
1. Extracts `src/vae-as-mim-image.py` and `src/cond_pixelcnn/` of one commit from a local git
   directory (--mim-git, read with `git archive`) into `<out>/original/src`. Nothing is fetched from
   the network and nothing of the original is part of this repository: it exists only in --out.
2. Applies the named compatibility patches in PATCHES (monkeypatches, before the original modules
   import) so that the 2019 code runs under today's numpy/scipy/sklearn/matplotlib/torch, and
   replaces the original's `load_dataset` by `mimflow_loader`, which builds the loaders from
   mimflow's tensor file with the semantics of the original's `load_dynamic_mnist`.
3. Runs the original's own `run(args, kwargs)` (runpy, `__main__`, CUDA off). Its output dir
   `<src>/../data/torch-generated/...` thereby lies under `<out>/original/data/`.
4. Writes `<out>/original_history.csv` (epoch,train_loss,val_loss from the original's saved
   `.train_loss` / `.val_loss`), `<out>/original_metrics.json` (final test evaluation under
   mimflow's metric names, with provenance) and copies the original's top-level figures into --out.
   `<out>/original_log.txt` is the original's stdout, each line prefixed by seconds since start.

Example:
  python bench/original_images.py --mim-git /work/.mirror/seraphlabs-ca+MIM/repo --commit HEAD \
    --data resources/datasets/mnist5k.pt --model convhvae_2level-smim --prior standard --seed 1 \
    --epochs 12 --warmup 4 --early-stopping-epochs 50 --S 100 --MB 100 --number-components 500 \
    --threads 1 --out bench/original_runs/smim-standard-seed1
"""
import argparse
import csv
import io
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tarfile
import time
import types
from pathlib import Path

ORIGINAL_FILES = ["src/vae-as-mim-image.py", "src/cond_pixelcnn"]
MODELS = ["convhvae_2level", "convhvae_2level-smim", "convhvae_2level-amim", "convhvae_2level-mim",
          "pixelhvae_2level", "pixelhvae_2level-amim", "pixelhvae_2level-mim"]
# (name, why); each is applied by the function of the same name in apply_patches()
PATCHES = [
    ("scipy_misc_logsumexp", "models import scipy.misc.logsumexp, moved to scipy.special (gone from scipy.misc)"),
    ("cvxopt_stub", "utils/knnie.py imports cvxopt.matrix/solvers but never uses them; cvxopt is not installed"),
    ("torch_load_weights_only_false", "torch>=2.6 defaults weights_only=True; the original torch.save's and "
                                      "reloads whole model objects (best .model, histories)"),
    ("plt_hist_normed_to_density", "plot_histogram calls plt.hist(normed=True); matplotlib>=3.1 renamed it density"),
    ("nmi_average_method_keyword", "normalized_mutual_info_score(a, b, 'max'): average_method is keyword-only now"),
    ("matplotlib_agg", "headless machine: MPLBACKEND=Agg (figures are only saved)"),
    ("load_dataset_mimflow", "data hook, not a compatibility fix: cond_pixelcnn.utils.load_data.load_dataset -> "
                             "mimflow_loader (mimflow's split instead of torchvision MNIST)"),
    ("capture_final_evaluation", "instrumentation only: wraps evaluation.evaluate_vae to keep the full-precision "
                                 "return values of the final test evaluation (the log prints 2 decimals)"),
]


def fail(msg):
    sys.exit(f"original_images.py: error: {msg}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mim-git", required=True, help="git directory of the original MIM repository")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--data", required=True, help="mimflow image tensor file, e.g. resources/datasets/mnist5k.pt")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--prior", default="standard", choices=["standard", "vampprior"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--early-stopping-epochs", type=int, default=50)
    p.add_argument("--S", type=int, default=5000, help="importance samples per test image")
    p.add_argument("--MB", type=int, default=100, help="copies per IS minibatch (and embedding batch)")
    p.add_argument("--number-components", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    return p.parse_args(argv)


def resolve(git_dir, commit):
    """The 40-hex commit of `commit` in git_dir, or a one-line error."""
    if not (Path(git_dir) / "HEAD").is_file():
        fail(f"no git directory at {git_dir}")
    rev = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "--verify", "--quiet", commit + "^{commit}"],
                         capture_output=True, text=True)
    if rev.returncode != 0:
        fail(f"commit {commit!r} not found in {git_dir}")
    return rev.stdout.strip()


def extract(git_dir, sha, dest):
    """Unpack the original's image code of commit sha under dest (git archive, tar filter 'data')."""
    tar = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "--format=tar", sha] + ORIGINAL_FILES,
                         capture_output=True)
    if tar.returncode != 0:
        fail(f"git archive {sha} failed: {tar.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
        t.extractall(dest, filter="data")


class TimedTee:
    """stdout to the console and to a log whose lines carry the seconds since start."""

    def __init__(self, path, t0):
        self.console, self.log, self.t0, self.buf, self.lines = sys.stdout, open(path, "w"), t0, "", []

    def write(self, s):
        self.console.write(s)
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            t = time.time() - self.t0
            self.lines.append((t, line))
            self.log.write(f"{t:9.2f} | {line}\n")
        return len(s)

    def flush(self):
        self.console.flush()
        self.log.flush()


def mimflow_loader(data_path):
    """load_dataset replacement: the original's load_dynamic_mnist, line by line in meaning, on our file."""
    import numpy as np
    import torch
    import torch.utils.data as tud

    def load_dataset(args, **kwargs):
        if args.dataset_name != "dynamic_mnist":
            raise ValueError(f"mimflow_loader answers to dataset_name 'dynamic_mnist', not {args.dataset_name!r}")
        d = torch.load(data_path, weights_only=False)
        args.input_size = [int(s) for s in d["image_shape"]]
        args.input_type, args.dynamic_binarization = "binary", True
        # train: float32 grey levels (the original: uint8 -> .float().numpy() / 255.)
        x_train = d["x_train"].numpy().reshape(len(d["x_train"]), -1).astype(np.float32) / float(d["train_scale"])
        y_train = d["y_train"].numpy().astype(int)
        # val/test were binarised once at build time (RandomState(777): val, then test); the original's
        # np.random.binomial returns int64, turned .float() in the TensorDataset
        x_val, y_val = d["x_val"].numpy().astype(np.int64), d["y_val"].numpy().astype(int)
        x_test, y_test = d["x_test"].numpy().astype(np.int64), d["y_test"].numpy().astype(int)
        # the global numpy RNG as the original leaves it: seed(777), then one double per binomial draw
        # (legacy binomial with n=1 draws exactly one uniform per element, p = 0 or 1 included)
        np.random.seed(777)
        for n in (x_val.size, x_test.size):
            for chunk in range(0, n, 1 << 22):
                np.random.random_sample(min(1 << 22, n - chunk))
        train = tud.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
        train_loader = tud.DataLoader(train, batch_size=args.batch_size, shuffle=True, **kwargs)
        val = tud.TensorDataset(torch.from_numpy(x_val).float(), torch.from_numpy(y_val))
        val_loader = tud.DataLoader(val, batch_size=args.test_batch_size, shuffle=False, **kwargs)
        test = tud.TensorDataset(torch.from_numpy(x_test).float(), torch.from_numpy(y_test))
        test_loader = tud.DataLoader(test, batch_size=args.test_batch_size, shuffle=False, **kwargs)
        if args.use_training_data_init == 1:  # first K grey training images + N(0, 0.01^2) noise, (784, K)
            args.pseudoinputs_std = 0.01
            init = x_train[0:args.number_components].T
            noise = np.random.randn(int(np.prod(args.input_size)), args.number_components)
            args.pseudoinputs_mean = torch.from_numpy(init + args.pseudoinputs_std * noise).float()
        else:
            args.pseudoinputs_mean, args.pseudoinputs_std = 0.05, 0.01
        return train_loader, val_loader, test_loader, args

    return load_dataset


def apply_patches(src, data_path, captured):
    """Every entry of PATCHES, in order; must run before the original modules import."""
    import matplotlib
    matplotlib.use("Agg")  # matplotlib_agg
    import matplotlib.pyplot as plt
    import scipy.misc
    import scipy.special
    import sklearn.metrics
    import torch

    scipy.misc.logsumexp = scipy.special.logsumexp  # scipy_misc_logsumexp
    cvxopt = types.ModuleType("cvxopt")  # cvxopt_stub
    cvxopt.matrix = cvxopt.solvers = None
    sys.modules.setdefault("cvxopt", cvxopt)
    torch_load = torch.load  # torch_load_weights_only_false

    def load(*a, **k):
        k.setdefault("weights_only", False)
        return torch_load(*a, **k)
    torch.load = load
    hist = plt.hist  # plt_hist_normed_to_density

    def hist_density(*a, normed=None, **k):
        if normed is not None:
            k.setdefault("density", normed)
        return hist(*a, **k)
    plt.hist = hist_density
    nmi = sklearn.metrics.normalized_mutual_info_score  # nmi_average_method_keyword
    sklearn.metrics.normalized_mutual_info_score = \
        lambda a, b, average_method="arithmetic": nmi(a, b, average_method=average_method)

    sys.path.insert(0, str(src))
    import cond_pixelcnn.utils.load_data as load_data  # load_dataset_mimflow
    load_data.load_dataset = mimflow_loader(data_path)
    import cond_pixelcnn.utils.evaluation as evaluation  # capture_final_evaluation
    evaluate = evaluation.evaluate_vae

    def evaluate_capture(*a, **k):
        result = evaluate(*a, **k)
        if k.get("mode") == "test":
            captured["test"] = result
        return result
    evaluation.evaluate_vae = evaluate_capture


def phase_times(lines):
    """Seconds between marker lines of the original's log: each phase ends at its marker."""
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
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    os.environ["MPLBACKEND"] = "Agg"
    sha = resolve(a.mim_git, a.commit)
    data_path = Path(a.data).resolve()
    if not data_path.is_file():
        fail(f"no data file at {a.data}")
    out = Path(a.out).resolve()
    shutil.rmtree(out / "original", ignore_errors=True)  # this script's own extraction of an earlier run
    out.mkdir(parents=True, exist_ok=True)
    extract(a.mim_git, sha, out / "original")
    src = out / "original" / "src"
    script = src / "vae-as-mim-image.py"

    import torch
    torch.set_num_threads(a.threads)
    captured = {}
    apply_patches(src, data_path, captured)
    orig_argv = [str(script), "--model_name", a.model, "--prior", a.prior, "--seed", str(a.seed),
                 "--epochs", str(a.epochs), "--warmup", str(a.warmup),
                 "--early_stopping_epochs", str(a.early_stopping_epochs), "--S", str(a.S), "--MB", str(a.MB),
                 "--number_components", str(a.number_components), "--use_training_data_init",
                 "--dataset_name", "dynamic_mnist", "--batch_size", "100", "--test_batch_size", "100",
                 "--lr", "0.0005", "--z1_size", "40", "--z2_size", "40", "--no-cuda"]
    t0 = time.time()
    tee = TimedTee(out / "original_log.txt", t0)
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
    train_hist = torch.load(run_dir / f"{a.model}.train_loss", weights_only=False)
    val_hist = torch.load(run_dir / f"{a.model}.val_loss", weights_only=False)
    with open(out / "original_history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "val_loss"])
        w.writerows([i + 1, float(t), float(v)] for i, (t, v) in enumerate(zip(train_hist, val_hist)))
    finite = [(v, i + 1) for i, v in enumerate(val_hist) if v == v]
    test_loss, test_re, test_kl, ll_test, ll_train, elbo_test, elbo_train, stats = captured["test"]
    epoch_times = [float(m.group(1)) for _, line in tee.lines
                   if (m := re.match(r"Epoch: \d+/\d+, Time elapsed: ([0-9.]+)s", line))]
    metrics = {
        "test_nll_is": float(ll_test),  # the original's "LogL (TEST)": positive NLL in nats, VAE IS weights
        "test_elbo": float(elbo_test),  # mean negative ELBO (the VAE loss at beta 1), as the original prints it
        "train_elbo": float(elbo_train),
        "MI_ksg": float(stats["MI"]), "MI_l2_err": float(stats["MI_l2_err"]), "NMI": float(stats["NMI"]),
        **{f"clf_acc_KNN{k}": float(stats[f"clf_acc_KNN{k}"]) for k in (1, 3, 5, 10)},
        "test_loss_own": float(test_loss),  # the model's own calculate_loss at beta 1 on the test set
        "test_re": float(test_re), "test_kl": float(test_kl),
        "best_epoch": min(finite)[1] if finite else None, "epochs_run": len(val_hist),
        "wall_time_s": round(wall, 2), "epoch_times_s": epoch_times,
        "seconds_per_epoch": round(sum(epoch_times) / len(epoch_times), 2) if epoch_times else None,
        "phase_times_s": phase_times(tee.lines),
        "provenance": {
            "original_repo": str(Path(a.mim_git).resolve()), "original_commit": sha,
            "original_files": ORIGINAL_FILES, "patches": [name for name, _ in PATCHES],
            "torch": torch.__version__, "python": sys.version.split()[0],
            "cli": vars(a), "argv": sys.argv[1:] if argv is None else argv, "original_argv": orig_argv[1:],
            "data": str(data_path), "original_run_dir": str(run_dir.relative_to(out)),
        },
    }
    (out / "original_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    for png in run_dir.glob("*.png"):
        shutil.copy2(png, out / png.name)
    print(f"original_images.py: {a.model}/{a.prior} done in {wall:.1f}s: test_nll_is={metrics['test_nll_is']:.2f} "
          f"-> {out / 'original_metrics.json'}")


if __name__ == "__main__":
    main()
