#!/usr/bin/env python
"""Stream-matched check: mimflow's image model, loss and optimiser against the ORIGINAL MIM image code.

What it checks
  For each configuration (the original's --model_name and --prior) it trains
    (a) the original code itself: `run()` of src/vae-as-mim-image.py with src/cond_pixelcnn/, extracted from
        --mim-git under --out and run under today's libraries with bench/original_images.py's PATCHES, and
    (b) mimflow: mimflow.images.model.build_image_model, mimflow.images.losses.image_loss and
        mimflow.images.optim.AdamNormGrad, driven by the loop in `mimflow_side` below, which takes every random
        number from torch's and numpy's global generators in the original's order (listed below),
  each in its own fresh process, from the same seed and the same data, and compares the per-epoch train and
  validation losses as floats: equal means bit-equal (the same repr, every printed digit). It also compares,
  as diagnostics, SHA-1 digests of torch's and numpy's global RNG states and of all parameters and buffers
  (after building, after every training epoch, after every validation), the loss of every batch and the
  final tensors, so a difference is located at its first batch and classified as a different draw (RNG
  digests differ) or a different computation (RNG digests equal, losses or weights differ).
  Status per configuration: EXACT (every epoch loss and the final weights bit-equal), LOSSES-EQUAL (the losses
  bit-equal, the weights not), MISMATCH (some epoch loss differs, or a side failed). Exit status: 1 when any
  configuration is a MISMATCH, else 2 when any is LOSSES-EQUAL, else 0.

The original's random numbers, in order, as the mimflow side reproduces them
  1. torch.manual_seed(seed) (the original script, at import); numpy: np.random.seed(777), one double per
     validation and test pixel (the binarisation of mimflow_loader / load_dynamic_mnist), then
     np.random.randn(784, K) for the pseudo-inputs (drawn whenever --use_training_data_init, any prior).
  2. Model construction: module default inits and the He init (build_image_model: bit-identical and in the
     same order for both decoders, checked by the 'init' digests). VampPrior: the original's pseudo-input
     layer takes its default init (kaiming-uniform draws) and then the data init by assignment, whereas
     mimflow's constructor also draws N(0.05, 0.01^2) for it. The bench therefore rewinds torch's RNG to the
     original's state: seed, a standard-prior model's draws, one bias-free Linear(K, 784) default init
     (ASSUMPTION A1: the two priors' models share every other draw; checked because the 'init' RNG digests
     must then agree). The pseudo-input weight is then set to the original's numpy formula
     float32(x_train[:K].T + 0.01 * noise) (computed in float64 as the original; mimflow's own
     init_pseudoinputs draws from a torch generator instead, so it is not called: ASSUMPTION A2).
  3. Per epoch, training: the DataLoader iterator's base seed (one int64 random_), then, at the first batch,
     the RandomSampler's seed (one more int64 random_) for its private randperm; per batch one
     torch.bernoulli over the grey images (dynamic binarisation) and the model's normal draws (z2 then z1;
     SymMIM adds the prior path's z2, z1 once beta >= 1).
  4. Per epoch, validation (beta = 1, eval mode): the validation iterator's base seed; per batch the loss's
     draws; after the loss of the SECOND batch (batch_idx == 1) the original's plotting reconstruction
     model.reconstruct_x(x): encoder draws, and for the pixel decoder 784 Bernoulli draws of shape (B, 1)
     (mimflow's reconstruct_x; its windowed sampler consumes the same draws). So --val-images must exceed
     the batch size (100) for this step to happen; e.g. 110 makes that batch 10 images (cheap for PixelCNN).
  Not reproduced: the original's final test evaluation, which the bench stops before (patch
  stop_before_final_evaluation); it comes after all compared numbers.

Found with this bench and fixed in mimflow: the VampPrior's log p(z2) was torch.logsumexp over the K
  components minus log K; the original subtracts log K from each component and then forms a max-shifted
  log-sum-exp by hand. The same formula rounded differently (about 1 ulp in some samples' log p(z2)) and had
  a different backward, so VampPrior weights parted from the original's after the first step. mimflow now
  forms it as the original does (mimflow.images.model.HVAE2Level.log_p_z2).

Patches of the original (besides original_images.PATCHES, applied by original_images.apply_patches)
  record_epochs                 instrumentation: keep train_vae's and the validation evaluate_vae's returns
                                (full precision) and the digests after each
  record_batches                instrumentation: keep each calculate_loss value (the model's class method
                                wrapped at experiment_vae's entry, where the init digests are taken)
  stop_before_final_evaluation  raise at evaluate_vae(mode='test'): the training loop is over, and the test
                                evaluation (IS likelihood, KNN, t-SNE) is not compared here
Data: --data is mimflow's image file; the bench writes a copy with the first --train-images training and
  --val-images validation images (test split unchanged) under --out, which both sides read.
Other assumptions: CPU, one thread (--threads), batch 100 for training and validation, lr 5e-4, z1 = z2 = 40,
  K = --number-components (<= --train-images), original run flags --use_training_data_init --dataset_name
  dynamic_mnist (served by mimflow_loader). Pixel decoder with SymMIM is not offered: it crashes upstream.

Command (the results in bench/RESULTS.md):
  nice -n 5 env OMP_NUM_THREADS=1 .venv/bin/python bench/stream_matched_images.py \\
    --mim-git <git dir of seraphlabs-ca/MIM> --data resources/datasets/mnist5k.pt \\
    --out <scratch folder> --train-images 500 --val-images 110 --epochs 3 --warmup 2 --seed 1
"""
import argparse
import hashlib
import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from original_checkout import extract  # noqa: E402

ORIGINAL_FILES = ["src/vae-as-mim-image.py", "src/cond_pixelcnn"]
# the original's --model_name -> (mimflow arch, mimflow objective)
MODELS = {
    "convhvae_2level": ("convhvae_2level", "vae"),
    "convhvae_2level-amim": ("convhvae_2level", "amim"),
    "convhvae_2level-smim": ("convhvae_2level", "smim"),
    "pixelhvae_2level": ("pixelhvae_2level", "vae"),
    "pixelhvae_2level-amim": ("pixelhvae_2level", "amim"),
}
PRIORS = ("standard", "vampprior")
DEFAULT_CONFIGS = [f"{m}/{p}" for m in ("convhvae_2level", "convhvae_2level-smim", "pixelhvae_2level",
                                        "pixelhvae_2level-amim") for p in PRIORS]
BATCH, LR, Z = 100, 5e-4, 40
BENCH_PATCHES = [
    ("record_epochs", "instrumentation: per-epoch train/validation returns at full precision, with digests"),
    ("record_batches", "instrumentation: every calculate_loss value, and the init digests at experiment_vae"),
    ("stop_before_final_evaluation", "raise at evaluate_vae(mode='test'): only the training loop is compared"),
]


def fail(msg):
    sys.exit(f"stream_matched_images.py: error: {msg}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mim-git", required=True, help="git directory (no work tree) of the original MIM repository")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--data", required=True, help="mimflow image tensor file, e.g. resources/datasets/mnist5k.pt")
    p.add_argument("--out", required=True, help="output folder (outside the repository)")
    p.add_argument("--train-images", type=int, default=500, help="first N training images (default 500)")
    p.add_argument("--val-images", type=int, default=110,
                   help="first N validation images (default 110: two batches, the second one of 10)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="beta = min(1, epoch / warmup) (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--number-components", type=int, default=500, help="K pseudo-inputs (<= --train-images)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, metavar="MODEL/PRIOR",
                   help=f"original model name / prior; models {list(MODELS)}, priors {list(PRIORS)} "
                        f"(default: {' '.join(DEFAULT_CONFIGS)})")
    p.add_argument("--side", choices=["original", "mimflow"], help=argparse.SUPPRESS)  # internal: one side
    a = p.parse_args(argv)
    for c in a.configs:
        model, _, prior = c.partition("/")
        if model not in MODELS or prior not in PRIORS:
            p.error(f"configuration {c!r} is not MODEL/PRIOR with MODEL in {list(MODELS)}, PRIOR in {list(PRIORS)}")
    if a.number_components > a.train_images:
        p.error("--number-components must not exceed --train-images (the pseudo-inputs are the first K images)")
    return a


# ---------------------------------------------------------------------------------------------
# Digests (diagnostics shared by both sides)
# ---------------------------------------------------------------------------------------------

def _sha(chunks):
    h = hashlib.sha1()
    for c in chunks:
        h.update(c)
    return h.hexdigest()[:16]


def torch_rng_digest():
    import torch
    return _sha([torch.get_rng_state().numpy().tobytes()])


def numpy_rng_digest():
    import numpy as np
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return _sha([keys.tobytes(), repr((kind, int(pos), int(has_gauss), float(gauss))).encode()])


def state_digest(module):
    """All parameters, then all buffers, in registration order (the two models register alike)."""
    tensors = list(module.parameters()) + list(module.buffers())
    return _sha([t.detach().contiguous().cpu().numpy().tobytes() for t in tensors])


def probe(module):
    return {"torch_rng": torch_rng_digest(), "numpy_rng": numpy_rng_digest(), "state": state_digest(module)}


def save_state(module, path):
    """The final parameters and buffers (names and values), for the per-tensor report of a mismatch."""
    import torch
    named = list(module.named_parameters()) + list(module.named_buffers())
    torch.save([(name, t.detach().cpu().clone()) for name, t in named], path)


def state_differences(run_dir):
    """[(mimflow name, max |difference|) of every final tensor not bit-equal between the sides], tensor count."""
    import torch
    orig, mim = (torch.load(run_dir / f"{side}_state.pt") for side in ("original", "mimflow"))
    return [(nm, (tm.double() - to.double()).abs().max().item())
            for (_, to), (nm, tm) in zip(orig, mim) if not torch.equal(to, tm)], len(mim)


# ---------------------------------------------------------------------------------------------
# (a) the original
# ---------------------------------------------------------------------------------------------

class FinalEvaluationReached(Exception):
    pass


def instrument_original(record, run_dir):
    """BENCH_PATCHES, after original_images.apply_patches (which imported the modules)."""
    import cond_pixelcnn.utils.evaluation as evaluation
    import cond_pixelcnn.utils.perform_experiment as perform_experiment
    import cond_pixelcnn.utils.training as training

    experiment, train, evaluate = perform_experiment.experiment_vae, training.train_vae, evaluation.evaluate_vae
    holder = {"run_dir": run_dir}

    def experiment_probe(args, train_loader, val_loader, test_loader, model, optimizer, dir, model_name="vae"):
        record["init"] = probe(model)  # record_batches: after model, pseudo-inputs and optimiser
        holder["model"] = model
        cls = type(model)  # the class, not the instance: experiment_vae pickles the model
        calculate = cls.calculate_loss

        def calculate_probe(self, x, *a, **k):
            out = calculate(self, x, *a, **k)
            beta = a[0] if a else k.get("beta", 1.0)
            record["batches"].append(["train" if self.training else "val", float(beta), out[0].item()])
            return out
        cls.calculate_loss = calculate_probe
        return experiment(args, train_loader, val_loader, test_loader, model, optimizer, dir, model_name=model_name)

    def train_probe(epoch, *a, **k):  # record_epochs
        out = train(epoch, *a, **k)
        record["epochs"].append({"epoch": epoch, "train_loss": out[1], "after_train": probe(holder["model"])})
        return out

    def evaluate_probe(*a, **k):
        if k.get("mode") == "test":  # stop_before_final_evaluation
            save_state(holder["model"], holder["run_dir"] / "original_state.pt")
            raise FinalEvaluationReached
        out = evaluate(*a, **k)
        record["epochs"][-1].update(val_loss=out[0], after_val=probe(holder["model"]))  # record_epochs
        return out

    perform_experiment.experiment_vae = experiment_probe
    training.train_vae = train_probe
    evaluation.evaluate_vae = evaluate_probe


def original_side(a, model_name, prior, data_path, run_dir):
    from original_images import apply_patches
    import torch
    torch.set_num_threads(a.threads)
    extract(a.mim_git, a.commit, run_dir / "original", ORIGINAL_FILES, fail)
    script = run_dir / "original" / "src" / "vae-as-mim-image.py"
    apply_patches(script.parent, data_path, {})
    record = {"init": None, "epochs": [], "batches": []}
    instrument_original(record, run_dir)
    argv = [str(script), "--model_name", model_name, "--prior", prior, "--seed", str(a.seed),
            "--epochs", str(a.epochs), "--warmup", str(a.warmup), "--early_stopping_epochs", "50",
            "--S", "100", "--MB", "100", "--number_components", str(a.number_components),
            "--use_training_data_init", "--dataset_name", "dynamic_mnist", "--batch_size", str(BATCH),
            "--test_batch_size", str(BATCH), "--lr", str(LR), "--z1_size", str(Z), "--z2_size", str(Z), "--no-cuda"]
    saved, sys.argv = sys.argv, argv
    log = open(run_dir / "original_log.txt", "w")
    saved_out, sys.stdout = sys.stdout, log
    try:
        runpy.run_path(str(script), run_name="__main__")
        fail("the original finished without reaching its final evaluation")
    except FinalEvaluationReached:
        pass
    finally:
        sys.argv, sys.stdout = saved, saved_out
        log.close()
    record["original_argv"] = argv[1:]
    return record


# ---------------------------------------------------------------------------------------------
# (b) mimflow, with the original's random stream
# ---------------------------------------------------------------------------------------------

def dataloader_base_seed():
    """What creating a DataLoader iterator draws from torch's global RNG (its workers' base seed)."""
    import torch
    return torch.empty((), dtype=torch.int64).random_().item()


def random_sampler_order(n):
    """RandomSampler without a generator: a seed from torch's global RNG, then randperm on its own generator."""
    import torch
    seed = int(torch.empty((), dtype=torch.int64).random_().item())
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def mimflow_side(a, model_name, prior, data_path):
    import numpy as np
    import torch
    from torch import nn

    from mimflow.images.data import load_image_data
    from mimflow.images.losses import image_loss
    from mimflow.images.model import build_image_model
    from mimflow.images.optim import AdamNormGrad
    from mimflow.images.settings import ImageRunConfig

    torch.set_num_threads(a.threads)
    arch, objective = MODELS[model_name]
    data = load_image_data(data_path)
    k = a.number_components
    cfg = ImageRunConfig(dataset="mnist5k", arch=arch, objective=objective, prior=prior, seed=a.seed,
                         epochs=a.epochs, warmup=a.warmup, batch_size=BATCH, test_batch_size=BATCH, lr=LR,
                         z1_size=Z, z2_size=Z, number_components=k, use_training_data_init=True)

    # 1. the seeds, and numpy's draws of the original's loader
    torch.manual_seed(cfg.seed)
    np.random.seed(777)
    np.random.random_sample(data.x_val.numel() + data.x_test.numel())  # binarisation of val, then test
    noise = np.random.randn(data.x_train.shape[1], k)  # (784, K), drawn for every prior

    # 2. the model; VampPrior: rewind torch's RNG past mimflow's own pseudo-input draws (A1), data init (A2)
    model = build_image_model(cfg)
    if prior == "vampprior":
        torch.manual_seed(cfg.seed)
        build_image_model(ImageRunConfig.from_dict({**cfg.to_dict(), "prior": "standard"}))
        nn.Linear(k, data.x_train.shape[1], bias=False)  # the original's pseudo-input layer, default init
        with torch.no_grad():
            init = data.x_train[:k].numpy().T + 0.01 * noise  # float64, as the original's numpy expression
            model.pseudoinput_layer.weight.copy_(torch.from_numpy(init).float())
    optimizer = AdamNormGrad(model.parameters(), lr=cfg.lr)
    record = {"init": probe(model), "epochs": [], "batches": []}

    for epoch in range(1, cfg.epochs + 1):
        # 3. training
        beta = min(1.0, 1.0 * epoch / cfg.warmup)
        model.train()
        dataloader_base_seed()
        order = random_sampler_order(len(data.x_train))
        total = 0
        batches = order.split(cfg.batch_size)
        for index in batches:
            x = torch.bernoulli(data.x_train[index])
            optimizer.zero_grad()
            loss, _ = image_loss(model, x, cfg.objective, beta)
            loss.backward()
            optimizer.step()
            record["batches"].append(["train", beta, loss.item()])
            total += loss.item()
        train_loss = total / len(batches)
        record["epochs"].append({"epoch": epoch, "train_loss": train_loss, "after_train": probe(model)})

        # 4. validation
        model.eval()
        dataloader_base_seed()
        total = 0
        batches = data.x_val.split(cfg.test_batch_size)
        with torch.no_grad(), model.fixed_prior():
            for i, x in enumerate(batches):
                loss, _ = image_loss(model, x, cfg.objective, 1.0)
                record["batches"].append(["val", 1.0, loss.item()])
                total += loss.item()
                if i == 1:
                    model.reconstruct_x(x)  # the original's plotting reconstruction: its draws only
        record["epochs"][-1].update(val_loss=total / len(batches), after_val=probe(model))
    return record, model


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def reduced_data(a, out):
    import torch
    d = torch.load(a.data, weights_only=False)
    n_train, n_val = len(d["x_train"]), len(d["x_val"])
    if not (1 <= a.train_images <= n_train and 1 <= a.val_images <= n_val):
        fail(f"--train-images must lie in [1, {n_train}] and --val-images in [1, {n_val}]")
    d = {**d, "x_train": d["x_train"][:a.train_images].clone(), "y_train": d["y_train"][:a.train_images].clone(),
         "x_val": d["x_val"][:a.val_images].clone(), "y_val": d["y_val"][:a.val_images].clone()}
    path = out / f"data-train{a.train_images}-val{a.val_images}.pt"
    torch.save(d, path)
    return path


def slug(config):
    return config.replace("/", "__")


def run_side(a, config, side, data_path, argv):
    run_dir = Path(a.out) / slug(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--side", side, "--configs", config]
    env = {**os.environ, **{v: str(a.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                          "OPENBLAS_NUM_THREADS")}}
    env["MIMFLOW_STREAM_MATCHED_DATA"] = str(data_path)
    t0 = time.time()
    with open(run_dir / f"{side}_stderr.txt", "w") as err:
        rc = subprocess.run(cmd, env=env, stderr=err).returncode
    path = run_dir / f"{side}.json"
    if rc != 0 or not path.is_file():
        return None, time.time() - t0
    return json.loads(path.read_text()), time.time() - t0


def compare(config, orig, mim, seconds, run_dir):
    """Print the table of one configuration; its status: EXACT (losses and final weights bit-equal),
    LOSSES-EQUAL (every epoch's losses bit-equal, final weights not) or MISMATCH (some epoch loss differs)."""
    print(f"\n== {config}   (original {seconds[0]:.0f}s, mimflow {seconds[1]:.0f}s)")
    if orig is None or mim is None:
        print(f"   FAILED: the {'original' if orig is None else 'mimflow'} side did not finish "
              f"(see {slug(config)}/*_stderr.txt)")
        return "MISMATCH"
    init = {k: orig["init"][k] == mim["init"][k] for k in ("torch_rng", "numpy_rng", "state")}
    print("   after build: " + ", ".join(f"{k} {'equal' if v else 'DIFFERS'}" for k, v in init.items()))
    print(f"   {'epoch':>5}  {'original train':>22}  {'mimflow train':>22}  {'original val':>22}  "
          f"{'mimflow val':>22}  equal?  rng/state after train, after val")
    ok = len(orig["epochs"]) == len(mim["epochs"]) > 0
    for eo, em in zip(orig["epochs"], mim["epochs"]):
        same = eo["train_loss"] == em["train_loss"] and eo.get("val_loss") == em.get("val_loss")
        ok &= same
        digests = " ".join("".join("=" if eo[w][k] == em[w][k] else "x" for k in ("torch_rng", "state"))
                           for w in ("after_train", "after_val"))
        print(f"   {eo['epoch']:>5}  {eo['train_loss']!r:>22}  {em['train_loss']!r:>22}  {eo.get('val_loss')!r:>22}  "
              f"{em.get('val_loss')!r:>22}  {'yes' if same else 'NO':>6}  {digests}")
    bo, bm = orig["batches"], mim["batches"]
    first = next((i for i, (x, y) in enumerate(zip(bo, bm)) if x != y), None)
    if first is None and len(bo) == len(bm):
        print(f"   all {len(bo)} batch losses bit-equal (train and validation, with their betas)")
    elif first is None:
        print(f"   batch records differ in number: original {len(bo)}, mimflow {len(bm)}")
    else:
        print(f"   first differing batch #{first}: original {bo[first]}, mimflow {bm[first]} "
              f"(difference {bm[first][2] - bo[first][2]:.3e})")
    last = ok and orig["epochs"][-1]["after_val"]["state"] == mim["epochs"][-1]["after_val"]["state"]
    if not last:
        diffs, total = state_differences(run_dir)
        print(f"   final tensors not bit-equal: {len(diffs)} of {total}: " +
              ", ".join(f"{name} (max |diff| {d:.2e})" for name, d in diffs[:6]) + (" ..." if len(diffs) > 6 else ""))
    status = "EXACT" if last else "LOSSES-EQUAL" if ok else "MISMATCH"
    print(f"   {status}" + {"EXACT": ": every epoch loss, the final weights and the RNG states bit-equal",
                             "LOSSES-EQUAL": ": every epoch loss bit-equal, but the final weights differ",
                             "MISMATCH": ": some epoch loss differs"}[status])
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    a = parse_args(argv)
    if a.side:  # one side of one configuration, in this fresh process
        config = a.configs[0]
        model_name, _, prior = config.partition("/")
        run_dir = Path(a.out).resolve() / slug(config)
        data_path = Path(os.environ["MIMFLOW_STREAM_MATCHED_DATA"])
        if a.side == "original":
            record = original_side(a, model_name, prior, data_path, run_dir)
        else:
            sys.path.insert(0, str(HERE.parent))
            record, model = mimflow_side(a, model_name, prior, data_path)
            save_state(model, run_dir / "mimflow_state.pt")
        (run_dir / f"{a.side}.json").write_text(json.dumps(record, indent=1) + "\n")
        return 0

    sha = extract(a.mim_git, a.commit, None, ORIGINAL_FILES, fail)
    if not Path(a.data).is_file():
        fail(f"no data file at {a.data}")
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_path = reduced_data(a, out)
    import torch
    print(f"stream-matched check: original {sha[:12]} vs mimflow, torch {torch.__version__}, seed {a.seed}, "
          f"{a.train_images} train / {a.val_images} val images, {a.epochs} epochs, warm-up {a.warmup}, "
          f"K {a.number_components}, {a.threads} thread(s)")
    child = ["--mim-git", a.mim_git, "--commit", sha, "--data", a.data, "--out", str(out)]  # + one config each
    for flag in ("train_images", "val_images", "epochs", "warmup", "seed", "number_components", "threads"):
        child += ["--" + flag.replace("_", "-"), str(getattr(a, flag))]
    results = {}
    for config in a.configs:
        orig, t_orig = run_side(a, config, "original", data_path, child)
        mim, t_mim = run_side(a, config, "mimflow", data_path, child)
        results[config] = compare(config, orig, mim, (t_orig, t_mim), out / slug(config))
    print("\nsummary: " + ", ".join(f"{c} {status}" for c, status in results.items()))
    (out / "summary.json").write_text(json.dumps({"original_commit": sha, "cli": vars(a), "status": results},
                                                 indent=1) + "\n")
    statuses = set(results.values())
    return 1 if "MISMATCH" in statuses else 2 if "LOSSES-EQUAL" in statuses else 0


if __name__ == "__main__":
    sys.exit(main())
