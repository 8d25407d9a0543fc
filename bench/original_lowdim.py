#!/usr/bin/env python
"""Run the ORIGINAL MIM low-dimensional script (vae-as-mim-dataset.py) on pca-fashion-mnist20.

1. Extracts `src/` of one commit (default d36b649, the commit of the published figures) from a local git
   directory (--mim-git, via `git archive`) into `<out>/original/src`. Nothing is fetched from the network
   and nothing of the original is part of this repository: it only ever exists under --out.
2. Puts the real Fashion-MNIST where the original looks for it: the four IDX files of --fashion-dir
   (Debian's dataset-fashion-mnist, gzipped) are decompressed into
   `<out>/original/data/assets/datasets/fashion-mnist/PCAFashionMNIST/raw/` (torchvision's raw_folder is
   `<root>/<class name>/raw`, and the original's class is PCAFashionMNIST), so torchvision finds them and
   downloads nothing.
3. Applies the named patches in PATCHES: edits of the extracted source (each edited line ends in
   `# PATCH(<name>)`) and monkeypatches (marked `# <name>` in apply_patches), so that the 2019 code runs
   under today's libraries; two more only record what the original computes.
4. Runs the original's script (runpy as `__main__`, CPU) with the README's pca-fashion-mnist20 command:
   `--dataset pca-fashion-mnist20 --z-dim Z --mid-dim 50 --seed S --epochs 200 --min-logvar 6
   --warmup-steps 3` plus `--mim-loss --mim-samp` for MIM (defaults: --layers 2, --batch-size 128,
   --lr 1e-3, --act tanh).
5. Writes `<out>/original_metrics.json` (the final `aux.test_model` stats at full precision, best epoch,
   epochs trained, wall seconds, the PCA fits, patches, commit), `<out>/original_history.csv` (per epoch:
   beta, lr, train and test loss at full precision, the test-set KSG MI the original prints), the
   original's `results.<seed>.csv` as `<out>/original_results.csv` and `<out>/original_log.txt` (its stdout,
   each line prefixed by seconds since start). The decompressed IDX files are removed at the end
   (--keep-data keeps them).

Example:
  nice -n 10 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/original_lowdim.py \
    --mim-git <git dir of seraphlabs-ca/MIM> --model mim --z-dim 2 --seed 1 --threads 1 \
    --out bench/original_runs/pca/mim-z2-seed1
"""
import argparse
import csv
import gzip
import hashlib
import json
import os
import re
import runpy
import shutil
import sys
import time
import types
import warnings
from pathlib import Path

from original_checkout import TimedTee, extract

ORIGINAL_FILES = ["src"]
DATASET = "pca-fashion-mnist20"
MODEL_FLAGS = {"mim": ["--mim-loss", "--mim-samp"], "vae": []}  # as the README's pca-fashion-mnist20 loop
IDX_FILES = {  # decompressed name: (decompressed size, IDX magic)
    "train-images-idx3-ubyte": (47040016, 2051), "train-labels-idx1-ubyte": (60008, 2049),
    "t10k-images-idx3-ubyte": (7840016, 2051), "t10k-labels-idx1-ubyte": (10008, 2049),
}
# (name, why); source edits are in SOURCE_EDITS, monkeypatches are marked in apply_patches()
PATCHES = [
    ("np_float_removed", "auxiliary.py uses np.float (removed in numpy 1.24; only the toy datasets reach it)"),
    ("torch_load_weights_only_false", "torch>=2.6 loads weights only; without it a bare except silently keeps "
                                      "the LAST model instead of the best checkpoint"),
    ("random_affine_resample_removed", "torchvision>=0.13 dropped RandomAffine(resample=); resample=False was "
                                       "PIL NEAREST, now interpolation=InterpolationMode.NEAREST"),
    ("stub_unused_imports", "cvxopt (knnie.py), circlify (only --p-z prior GMMs) and wrapt (models.py) are "
                            "imported but unused here and not installed"),
    ("matplotlib_agg", "headless machine: the Agg backend"),
    ("pca_sklearn021", "sklearn 0.21 PCA(svd_solver='auto') chose 'randomized' for 60000x784 and 10000x784 and "
                       "flipped signs on U, and transform centred then projected; sklearn>=1.5 chooses "
                       "'covariance_eigh' and flips signs on the components (off with --pca current)"),
    ("pca_transform_unvalidated", "speed only: PCA.transform runs once per image (70000 per epoch) and today's input "
                                  "validation costs ~0.5 ms a call; the same arithmetic without it"),
    ("quiet_renamed_attribute_warnings", "torchvision warns 'train_data has been renamed data' (and labels) at every "
                                         "item; the attributes still work"),
    ("record_epoch_losses", "instrumentation: one hook call per epoch with the train/test losses and lr "
                            "(the log prints 4 digits)"),
    ("capture_final_stats", "instrumentation: keep aux.test_model's stats dict at full precision"),
]
# name -> [(file under src, exact old text, new text, expected count)]
SOURCE_EDITS = {
    "np_float_removed": [
        ("auxiliary.py", "i = np.arange(abs(k), dtype=np.float)\n",
         "i = np.arange(abs(k), dtype=float)  # PATCH(np_float_removed)\n", 1),
        ("auxiliary.py", "shape = np.array(mask.shape[0:2]).astype(np.float)\n",
         "shape = np.array(mask.shape[0:2]).astype(float)  # PATCH(np_float_removed)\n", 1),
    ],
    "torch_load_weights_only_false": [
        ("vae-as-mim-dataset.py", "model = torch.load(model_fname)\n",
         "model = torch.load(model_fname, weights_only=False)  # PATCH(torch_load_weights_only_false)\n", 1),
    ],
    "random_affine_resample_removed": [
        ("datasets.py", "resample=False\n",
         "interpolation=transforms.InterpolationMode.NEAREST  # PATCH(random_affine_resample_removed)\n", 1),
    ],
    "record_epoch_losses": [
        ("vae-as-mim-dataset.py", "            cur_test_loss = test(epoch)\n",
         "            cur_test_loss = test(epoch)\n"
         "            _bench_epoch_hook(epoch, cur_train_loss, cur_test_loss, "
         "optimizer.param_groups[0]['lr'])  # PATCH(record_epoch_losses)\n", 1),
    ],
}


def fail(msg):
    sys.exit(f"original_lowdim.py: error: {msg}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mim-git", required=True, help="git directory (no work tree) of the original MIM repository")
    p.add_argument("--commit", default="d36b649", help="(default d36b649, the commit of the published figures)")
    p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist",
                   help="folder with the four gzipped Fashion-MNIST IDX files (default %(default)s)")
    p.add_argument("--model", required=True, choices=sorted(MODEL_FLAGS), help="mim: --mim-loss --mim-samp; vae: none")
    p.add_argument("--z-dim", type=int, required=True)
    p.add_argument("--seed", type=int, default=1, help="(default 1)")
    p.add_argument("--epochs", type=int, default=200, help="the original's --epochs (default 200, the paper's)")
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (default 1)")
    p.add_argument("--pca", choices=["sklearn0.21", "current"], default="sklearn0.21",
                   help="PCA as sklearn 0.21 fitted it (default) or today's sklearn defaults")
    p.add_argument("--keep-data", action="store_true", help="keep the decompressed IDX files under --out")
    p.add_argument("--out", required=True, help="output folder (the extracted original goes to <out>/original)")
    return p.parse_args(argv)


def edit_sources(src):
    """Apply SOURCE_EDITS to the extracted files; every edit must match exactly its expected count."""
    for name, edits in SOURCE_EDITS.items():
        for fname, old, new, count in edits:
            path = src / fname
            text = path.read_text()
            if text.count(old) != count:
                fail(f"patch {name}: expected {count} x {old.strip()!r} in {fname}, found {text.count(old)}")
            path.write_text(text.replace(old, new))


def place_fashion_mnist(fashion_dir, root):
    """Decompress the IDX files into <root>/PCAFashionMNIST/raw (torchvision's raw_folder); return their sha256."""
    raw = root / "PCAFashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, (size, magic) in IDX_FILES.items():
        gz = Path(fashion_dir) / f"{name}.gz"
        if not gz.is_file():
            fail(f"no {gz}")
        data = gzip.decompress(gz.read_bytes())
        if len(data) != size or int.from_bytes(data[:4], "big") != magic:
            fail(f"{gz} does not decompress to a Fashion-MNIST IDX file ({len(data)} bytes)")
        (raw / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def pca_sklearn021(base):
    """sklearn.decomposition.PCA subclass that fits as scikit-learn 0.21 did for svd_solver='auto'."""
    import numpy as np

    class PCA021(base):
        def fit(self, X, y=None):
            X = np.asarray(X)
            if self.svd_solver == "auto":  # sklearn 0.21 PCA._fit: no 'covariance_eigh' branch
                n = self.n_components
                small = max(X.shape) <= 500 or n == "mle"
                self.svd_solver = "randomized" if not small and n is not None and 1 <= n < .8 * min(X.shape) \
                    else "full"
            super().fit(X)
            # 0.21: svd_flip(U, V) with u_based_decision=True (full and randomized alike)
            U = (X.astype(np.float64) - self.mean_) @ self.components_.T.astype(np.float64)
            signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(U.shape[1])]).astype(self.components_.dtype)
            self.components_ *= signs[:, None]
            return self

        def transform(self, X):  # 0.21 _BasePCA.transform, after check_array (no copy, dtype kept)
            X = np.asarray(X)
            return np.dot(X - self.mean_, self.components_.T)
    return PCA021


def pca_unvalidated(base):
    """PCA whose transform is today's arithmetic (base._transform) without validate_data: same result."""
    import numpy as np

    class PCAUnvalidated(base):
        def transform(self, X):
            return self._transform(np.asarray(X), xp=np, x_is_centered=False)
    return PCAUnvalidated


def apply_patches(src, pca_mode, record):
    """The monkeypatches of PATCHES (named in the comments); runs before the original modules import."""
    import matplotlib
    matplotlib.use("Agg")  # matplotlib_agg
    for mod in ("cvxopt", "circlify", "wrapt"):  # stub_unused_imports
        sys.modules.setdefault(mod, types.ModuleType(mod))
    sys.modules["cvxopt"].matrix = sys.modules["cvxopt"].solvers = None
    sys.path.insert(0, str(src))
    import auxiliary
    import datasets

    warnings.filterwarnings("ignore", message="(train|test)_(data|labels) has been renamed")  # quiet_renamed_...
    if pca_mode == "sklearn0.21":
        pca_class = pca_sklearn021(datasets.PCA)  # pca_sklearn021 (its transform skips validation too)
    else:
        pca_class = pca_unvalidated(datasets.PCA)  # pca_transform_unvalidated

    class RecordedPCA(pca_class):  # (records every fit for original_metrics.json)
        def fit(self, X, y=None):
            super().fit(X)
            record["pca"].append(self)
            return self
    datasets.PCA = RecordedPCA

    test_model = auxiliary.test_model  # capture_final_stats

    def test_model_capture(*a, **k):
        record["stats"] = test_model(*a, **k)
        return record["stats"]
    auxiliary.test_model = test_model_capture


def pca_summary(pcas):
    """Solver, explained variance and train-vs-test basis agreement of the two PCA fits (train, then test)."""
    import numpy as np
    out = [{"solver": p._fit_svd_solver, "n_samples": int(p.n_samples_),
            "explained_variance_ratio_sum": float(p.explained_variance_ratio_.sum())} for p in pcas]
    if len(pcas) == 2:
        cos = (pcas[0].components_.astype(np.float64) @ pcas[1].components_.T.astype(np.float64)).diagonal()
        out.append({"cos_train_test_components": [round(float(c), 4) for c in cos],
                    "sign_mismatches": int((cos < 0).sum())})
    return out


def main(argv=None):
    a = parse_args(argv)
    os.environ.update({v: str(a.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    sha = extract(a.mim_git, a.commit, None, ORIGINAL_FILES, fail)  # one-line errors before anything is written
    out = Path(a.out).resolve()
    shutil.rmtree(out / "original", ignore_errors=True)  # this script's own extraction from an earlier run
    out.mkdir(parents=True, exist_ok=True)
    extract(a.mim_git, sha, out / "original", ORIGINAL_FILES, fail)
    src = out / "original" / "src"
    edit_sources(src)
    data_root = out / "original" / "data" / "assets" / "datasets" / "fashion-mnist"  # where the original looks
    idx_sha256 = place_fashion_mnist(a.fashion_dir, data_root)

    import torch
    torch.set_num_threads(a.threads)
    record = {"pca": [], "epochs": []}
    apply_patches(src, a.pca, record)
    script = src / "vae-as-mim-dataset.py"
    orig_argv = [str(script), "--dataset", DATASET, "--z-dim", str(a.z_dim), "--mid-dim", "50", "--seed",
                 str(a.seed), "--epochs", str(a.epochs), "--min-logvar", "6", "--warmup-steps", "3",
                 *MODEL_FLAGS[a.model], "--no-cuda"]
    tee = TimedTee(out / "original_log.txt", t0 := time.time())
    last = [None]  # end of the previous epoch; before epoch 1: the original's "press CTRL-C" line (setup done)

    def epoch_hook(epoch, train_loss, test_loss, lr):  # record_epoch_losses
        now = time.time()
        if last[0] is None:
            last[0] = t0 + next((t for t, line in tee.lines if line.startswith("press CTRL-C")), 0.0)
        mi = [m for _, line in tee.lines[-50:] if (m := re.match(r"====> Test set loss: .* MI: (\S+) ", line))]
        record["epochs"].append({"epoch": epoch, "beta": min(1.0, epoch / 3), "lr": lr,  # --warmup-steps 3
                                 "train_loss": float(train_loss), "test_loss": float(test_loss),
                                 "test_MI_ksg_4g": float(mi[-1].group(1)) if mi else None,
                                 "seconds": round(now - last[0], 2)})
        last[0] = now

    saved_argv, sys.argv, sys.stdout = sys.argv, orig_argv, tee
    try:
        runpy.run_path(str(script), run_name="__main__", init_globals={"_bench_epoch_hook": epoch_hook})
    finally:
        sys.stdout, sys.argv = tee.console, saved_argv
        tee.log.close()
    wall = time.time() - t0
    if "stats" not in record:
        fail("the original finished without a final evaluation (aux.test_model)")

    with open(out / "original_history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(record["epochs"][0]))
        w.writeheader()
        w.writerows(record["epochs"])
    results = sorted((out / "original" / "data" / "torch-generated").rglob(f"results.{a.seed}.csv"))
    if results:
        shutil.copy2(results[0], out / "original_results.csv")
    stats = {k: float(v) for k, v in record["stats"].items()}
    train_seconds = sum(e["seconds"] for e in record["epochs"])
    metrics = {
        **{k: stats.pop(k) for k in ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN1", "clf_acc_KNN3",
                                     "clf_acc_KNN5", "clf_acc_KNN10")},
        "best_epoch": int(stats.pop("epoch")), "best_test_loss": stats.pop("loss"),
        "epochs_trained": len(record["epochs"]), "early_stopped": len(record["epochs"]) < a.epochs,
        "wall_time_s": round(wall, 2), "train_time_s": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / len(record["epochs"]), 2),
        "original_other_stats": stats,  # MI (rate), H_p_z, H_enc, H_dec, H_Msamp, H_mean, Dkl*, MI_ksg_l2_err, H_P_z
        "pca": pca_summary(record["pca"]),
        "provenance": {
            "original_repo": str(Path(a.mim_git).resolve()), "original_commit": sha, "original_files": ORIGINAL_FILES,
            "patches": [{"name": n, "why": w} for n, w in PATCHES if n != {"sklearn0.21": "pca_transform_unvalidated",
                                                                             "current": "pca_sklearn021"}[a.pca]],
            "torch": torch.__version__, "python": sys.version.split()[0],
            "sklearn": __import__("sklearn").__version__, "torchvision": __import__("torchvision").__version__,
            "cli": vars(a), "argv": sys.argv[1:] if argv is None else list(argv), "original_argv": orig_argv[1:],
            "fashion_mnist_idx_sha256": idx_sha256,
        },
    }
    (out / "original_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if not a.keep_data:
        shutil.rmtree(data_root / "PCAFashionMNIST")
    print(f"original_lowdim.py: {a.model} z{a.z_dim} seed {a.seed} done in {wall:.1f}s "
          f"({metrics['epochs_trained']} epochs, best {metrics['best_epoch']}), MI_ksg {metrics['MI_ksg']:.4g}, "
          f"H_q_x {metrics['H_q_x']:.4g}, KNN5 {metrics['clf_acc_KNN5']:.4g} -> {out / 'original_metrics.json'}")


if __name__ == "__main__":
    main()
