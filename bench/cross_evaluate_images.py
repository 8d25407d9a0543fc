#!/usr/bin/env python
"""Cross-evaluation of image models: each side's trained model scored by both sides' final evaluation.

Separates training from evaluation when mimflow's and the original's image numbers differ. Inputs:
  --mimflow-run  a mimflow image run folder (its model.pt; e.g. results/runs/images/mnist5k/convhvae_2level-smim/
                 standard/seed1), trained by `snakemake`;
  --original-run the --out folder of `bench/original_images.py` for the same model and prior (the original's
                 pickled best model lies under original/data/torch-generated/vae-as-mim-image/*/<model>.model).
Both models are lists of tensors in registration order (all parameters, then all buffers): the two codes
register their modules alike, so one side's tensors load into the other side's model one to one (shapes
checked; bench/stream_matched_images.py shows the initial weights bit-identical by the same order).

Evaluations, each --draws times (draw k seeds everything with the mimflow run's evaluation seed + k):
  mimflow   mimflow.images.evaluate.evaluate_image with the run's evaluation settings (eval_provenance.json);
            draw 0 of mimflow's own model must reproduce the run's metrics.json exactly (checked: it proves the
            transfer path changes nothing);
  original  the original's own evaluate_vae(mode='test') (IS likelihood with --S samples, ELBOs, KSG MI on the
            first min(N, 3000) test images, KMeans NMI, KNN1-10, t-SNE and figures), in a fresh process with
            bench/original_images.py's PATCHES, on loaders of the same data file (mimflow_loader).
Writes <out>/cross_evaluation.json (every evaluation) and <out>/cross_evaluation.md (means and ranges per
trained-by x evaluated-by), and prints the table.

Example (the numbers in bench/RESULTS.md):
  .venv/bin/python bench/cross_evaluate_images.py --mim-git <git dir of seraphlabs-ca/MIM> \\
    --data resources/datasets/mnist5k.pt --mimflow-run results/runs/images/mnist5k/convhvae_2level-smim/standard/seed1 \\
    --original-run bench/original_runs/convhvae_2level-smim-standard-seed1 --draws 3 --out bench/original_runs/xeval
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from original_checkout import extract  # noqa: E402
from original_images import ORIGINAL_FILES, apply_patches  # noqa: E402
METRICS = ("MI_ksg", "NMI", "clf_acc_KNN1", "clf_acc_KNN3", "clf_acc_KNN5", "clf_acc_KNN10", "test_nll_is",
           "test_elbo", "train_elbo")


def fail(msg):
    sys.exit(f"cross_evaluate_images.py: error: {msg}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mim-git", required=True, help="git directory (no work tree) of the original MIM repository")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--data", required=True, help="the image tensor file both runs trained on")
    p.add_argument("--mimflow-run", required=True, help="mimflow image run folder (model.pt, eval_provenance.json)")
    p.add_argument("--original-run", required=True, help="--out folder of bench/original_images.py")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--draws", type=int, default=3, help="evaluation draws per model and side (default 3)")
    p.add_argument("--threads", type=int, default=1)
    # internal: one original-side evaluation (or the export of the original's tensors) in a fresh process
    p.add_argument("--side", choices=["original-export", "original-evaluate"], help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def tensors_of(module):
    """All parameters, then all buffers, in registration order (detached CPU copies)."""
    return [t.detach().cpu().clone() for t in list(module.parameters()) + list(module.buffers())]


def load_tensors(module, tensors, who):
    """Copy `tensors` into module's parameters and buffers, in registration order, shapes checked."""
    import torch

    own = list(module.parameters()) + list(module.buffers())
    if len(own) != len(tensors):
        fail(f"{who}: {len(tensors)} tensors for a model of {len(own)}")
    with torch.no_grad():
        for i, (mine, theirs) in enumerate(zip(own, tensors)):
            if mine.shape != theirs.shape:
                fail(f"{who}: tensor {i} has shape {tuple(theirs.shape)}, the model wants {tuple(mine.shape)}")
            mine.copy_(theirs.to(mine.dtype))


def original_model_file(original_run: Path) -> Path:
    found = sorted((original_run / "original/data/torch-generated/vae-as-mim-image").glob("*/*.model"))
    if len(found) != 1:
        fail(f"expected one <model>.model under {original_run}/original/data/torch-generated/vae-as-mim-image, "
             f"found {len(found)}")
    return found[0]


# ---------------------------------------------------------------------------------------------
# the original's side (a fresh process each: the patches and the global RNGs stay its own)
# ---------------------------------------------------------------------------------------------

def original_side(a):
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    src = Path(a.out) / "original" / "src"
    captured = {}
    apply_patches(src, Path(a.data).resolve(), captured)
    model = torch.load(original_model_file(Path(a.original_run)), map_location="cpu")
    if a.side == "original-export":
        torch.save(tensors_of(model), a.weights)
        Path(a.weights).with_suffix(".json").write_text(json.dumps({"S": int(model.args.S)}) + "\n")
        return
    load_tensors(model, torch.load(a.weights), "original side")
    import cond_pixelcnn.utils.evaluation as evaluation
    import cond_pixelcnn.utils.load_data as load_data

    args = model.args
    args.cuda = False
    train_loader, _, test_loader, args = load_data.load_dataset(args)  # mimflow_loader (the patch)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed % 2**32)
    out_dir = Path(a.result).with_suffix("")
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    _, _, _, ll_test, _, elbo_test, elbo_train, stats = evaluation.evaluate_vae(
        args, model, train_loader, test_loader, 9999, str(out_dir) + os.sep, mode="test")
    result = {"test_nll_is": float(ll_test), "test_elbo": float(elbo_test), "train_elbo": float(elbo_train),
              "MI_ksg": float(stats["MI"]), "NMI": float(stats["NMI"]),
              **{f"clf_acc_KNN{k}": float(stats[f"clf_acc_KNN{k}"]) for k in (1, 3, 5, 10)},
              "seconds": round(time.time() - t0, 1)}
    Path(a.result).write_text(json.dumps(result) + "\n")


def run_original(a, command_args):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--mim-git", a.mim_git, "--commit", a.commit,
           "--data", a.data, "--mimflow-run", a.mimflow_run, "--original-run", a.original_run, "--out", a.out,
           "--threads", str(a.threads)] + command_args
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"original side failed ({' '.join(command_args)}):\n{done.stderr[-3000:]}")


# ---------------------------------------------------------------------------------------------
# mimflow's side, and the comparison
# ---------------------------------------------------------------------------------------------

def mimflow_evaluate(model, data, cfg, ev, seed):
    import torch
    from mimflow.images.data import seeded_generators
    from mimflow.images.evaluate import evaluate_image

    device = torch.device("cpu")
    generator, noise = seeded_generators(seed, device)
    t0 = time.time()
    metrics, _ = evaluate_image(model, data, cfg, ev, device, noise, generator)
    return {**{k: float(metrics[k]) for k in METRICS}, "seconds": round(time.time() - t0, 1)}


def summary_table(rows):
    """Markdown: per (trained by, evaluated by) the mean [min, max] of each metric over the draws."""
    import numpy as np

    head = "| trained by | evaluated by | draws | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (3 + len(METRICS))]
    for trained in ("mimflow", "original"):
        for evaluated in ("mimflow", "original"):
            sel = [r for r in rows if r["trained_by"] == trained and r["evaluated_by"] == evaluated]
            cells = []
            for m in METRICS:
                v = np.array([r[m] for r in sel])
                digits = 3 if m.startswith(("MI", "NMI", "clf")) else 1
                cells.append(f"{v.mean():.{digits}f} [{v.min():.{digits}f}, {v.max():.{digits}f}]")
            lines.append(f"| {trained} | {evaluated} | {len(sel)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    os.environ.update({v: str(a.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    if a.side:
        return original_side(a)
    import torch
    from mimflow.core.seeds import stream
    from mimflow.images.model import load_run
    from mimflow.images.settings import ImageEvaluationConfig

    torch.set_num_threads(a.threads)
    run, original_run, out = Path(a.mimflow_run), Path(a.original_run), Path(a.out)
    for need in (run / "model.pt", run / "metrics.json", run / "eval_provenance.json"):
        if not need.is_file():
            fail(f"no {need.name} in {run}")
    original_model_file(original_run)
    out.mkdir(parents=True, exist_ok=True)
    sha = extract(a.mim_git, a.commit, out / "original", ORIGINAL_FILES, fail)

    model, cfg, _, data = load_run(run / "model.pt", a.data, torch.device("cpu"))
    ev = ImageEvaluationConfig.from_dict(json.loads((run / "eval_provenance.json").read_text())["settings"]["evaluation"])
    weights = {"mimflow": out / "mimflow_trained.pt", "original": out / "original_trained.pt"}
    torch.save(tensors_of(model), weights["mimflow"])
    run_original(a, ["--side", "original-export", "--weights", str(weights["original"])])
    original_S = json.loads(weights["original"].with_suffix(".json").read_text())["S"]
    n_test = len(data.x_test)
    # the original scores KSG on the first min(N, 3000) test images and IS with its run's --S samples
    if original_S != ev.is_samples or min(n_test, 3000) != min(ev.ksg_points, n_test):
        fail(f"the two evaluations differ in settings: IS samples {ev.is_samples} (mimflow run) against "
             f"{original_S} (original run), KSG points {min(ev.ksg_points, n_test)} against {min(n_test, 3000)}")
    base_seed = stream(cfg.seed, "evaluation")

    rows = []
    for trained in ("mimflow", "original"):
        load_tensors(model, torch.load(weights[trained]), f"{trained}-trained into mimflow")
        for k in range(a.draws):
            rows.append({"trained_by": trained, "evaluated_by": "mimflow", "draw": k,
                         **mimflow_evaluate(model, data, cfg, ev, base_seed + k)})
            print(json.dumps(rows[-1]), flush=True)
            result = out / f"original_eval_{trained}_draw{k}.json"
            run_original(a, ["--side", "original-evaluate", "--weights", str(weights[trained]),
                             "--seed", str(base_seed + k), "--result", str(result)])
            rows.append({"trained_by": trained, "evaluated_by": "original", "draw": k,
                         **json.loads(result.read_text())})
            print(json.dumps(rows[-1]), flush=True)

    own = json.loads((run / "metrics.json").read_text())
    first = next(r for r in rows if r["trained_by"] == r["evaluated_by"] == "mimflow" and r["draw"] == 0)
    reproduced = all(first[m] == float(own[m]) for m in METRICS)
    record = {"rows": rows, "mimflow_draw0_reproduces_metrics_json": reproduced,
              "original_own_final_evaluation": json.loads((original_run / "original_metrics.json").read_text()),
              "mimflow_run": str(run), "original_run": str(original_run), "original_commit": sha,
              "data": str(Path(a.data).resolve()), "evaluation": ev.to_dict(), "base_seed": base_seed}
    (out / "cross_evaluation.json").write_text(json.dumps(record, indent=2) + "\n")
    table = summary_table(rows)
    (out / "cross_evaluation.md").write_text(table + "\n")
    print(table)
    print(f"mimflow's evaluation, draw 0, of its own model reproduces its metrics.json: {reproduced}")
    if not reproduced:
        sys.exit(1)


if __name__ == "__main__":
    main()
