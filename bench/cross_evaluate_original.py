#!/usr/bin/env python
"""mimflow's evaluation of a model the ORIGINAL code trained: separates training from evaluation.

Reads the best checkpoint that `bench/original_lowdim.py --out RUN` left under
`RUN/original/data/torch-generated/vae-as-mim-dataset/<dataset>/z<Z>/*/best.<seed>.model` (a pickled
`models.MIM` of the original, unpickled with its source under `RUN/original/src`, the same import stubs
as the runner), maps its weights one to one onto mimflow's LowdimModel (the original's `q_z_given_x.0`,
`.2.fc_loc`, `.2.fc_logscale` are the encoder's hidden, loc and log-scale layers; `p_x_given_z` the
decoder's) and runs `mimflow.lowdim.evaluate.evaluate_lowdim` on mimflow's PCA file with the evaluation
stream of the same seed. Prints one JSON line beside the original's own final evaluation
(`RUN/original_metrics.json`).

Example:
  .venv/bin/python bench/cross_evaluate_original.py bench/original_runs/pca/vae-z2-seed2 \
    --data resources/datasets/pca-fashion-mnist20-per_split.pt
"""
import argparse
import json
import sys
import types
from pathlib import Path

METRICS = ("MI_ksg", "H_q_x", "x_recon_err", "clf_acc_KNN5")
LAYERS = {"hidden.0": "0", "fc_loc": "2.fc_loc", "fc_logscale": "2.fc_logscale"}  # mimflow -> original, per side


def load_original_model(run: Path):
    """The original's best checkpoint of a runner's --out folder (its source on sys.path, import stubs)."""
    import numpy as np
    import torch

    found = sorted((run / "original/data/torch-generated").glob("*/*/z*/*/best.*.model"))
    if len(found) != 1:
        sys.exit(f"cross_evaluate_original: expected one best.<seed>.model under {run}, found {len(found)}")
    for name in ("cvxopt", "circlify", "wrapt"):  # the runner's stub_unused_imports
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["cvxopt"].matrix = sys.modules["cvxopt"].solvers = None
    np.float = float  # the runner's np_float_removed (auxiliary.py refers to it)
    sys.path.insert(0, str(run / "original/src"))
    return torch.load(found[0], weights_only=False, map_location="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a bench/original_lowdim.py --out folder")
    parser.add_argument("--data", required=True, help="mimflow's PCA dataset file (per_split: the original's fit)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    original = load_original_model(args.run)
    flags = original.metadata["args"]
    from mimflow.core.seeds import stream
    from mimflow.lowdim.data import lowdim_source
    from mimflow.lowdim.evaluate import evaluate_lowdim
    from mimflow.lowdim.model import LowdimModel, LowdimModelConfig
    from mimflow.lowdim.settings import EvaluationConfig, LowdimRunConfig
    from mimflow.plugins import configure

    configure({})
    cfg = LowdimRunConfig(dataset=flags.dataset, model="mim" if flags.mim_loss else "vae", z_dim=flags.z_dim,
                          mid_dim=flags.mid_dim, seed=flags.seed, layers=flags.layers, act=flags.act,
                          min_logvar=flags.min_logvar, warmup_steps=flags.warmup_steps, epochs=flags.epochs)
    if cfg.layers != 2:
        sys.exit(f"cross_evaluate_original: layers={cfg.layers}; the weight map covers the README's 2 layers only")
    weights = original.state_dict()
    model = LowdimModel(LowdimModelConfig(x_dim=weights["q_z_given_x.0.weight"].shape[1], z_dim=cfg.z_dim,
                                          mid_dim=cfg.mid_dim, layers=cfg.layers, act=cfg.act,
                                          min_logvar=cfg.min_logvar, delta_encoder=False))
    model.load_state_dict({f"{side}.{ours}.{kind}": weights[f"{theirs_side}.{theirs}.{kind}"]
                           for side, theirs_side in (("encoder", "q_z_given_x"), ("decoder", "p_x_given_z"))
                           for ours, theirs in LAYERS.items() for kind in ("weight", "bias")})
    generator = torch.Generator().manual_seed(stream(cfg.seed, "evaluation"))
    ours = evaluate_lowdim(model, lowdim_source(cfg, args.data), cfg, EvaluationConfig(), generator)
    theirs = json.loads((args.run / "original_metrics.json").read_text())
    print(json.dumps({"run": str(args.run), "model": cfg.model, "z_dim": cfg.z_dim, "seed": cfg.seed,
                      "original_evaluation": {k: theirs[k] for k in METRICS},
                      "mimflow_evaluation": {k: ours[k] for k in METRICS}}))


if __name__ == "__main__":
    main()
