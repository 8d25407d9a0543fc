"""Training images per second of image models, one job alone and N jobs sharing one GPU (issue 40): not a test.

Each measurement runs the real training step (mimflow.images.train.prepare_training and ImageTraining.step: the
epoch binarised in one draw, the forward and loss under the run's precision, AdamNormGrad) on a built dataset
file at the seed README's settings (batch 100, z1 = z2 = 40, VampPrior with K = 500 pseudo-inputs from the
training images), beta = 1 (the SMIM sampling path runs). It warms up for --warmup-steps, then counts the
steps finished in --seconds of wall time, synchronising with the GPU at both ends.

One job is measured in this process; with --jobs N > 1 the measurement runs in N processes at once, started together (each waits for a common start
time after its warm-up), and the table gives images/s per job and their sum per GPU: what N image jobs
sharing one GPU (images.jobs_per_gpu) train together.

Usage:
    python bench/image_throughput.py resources/datasets/dynamic_fashion_mnist.pt --device cuda \\
        [--models pixelhvae_2level-amim-vampprior,pixelhvae_2level-vae-vampprior] [--precisions fp32,tf32,bf16] \\
        [--jobs 1,2,4,8] [--seconds 20] [--warmup-steps 10] [--optimizer foreach|per-tensor] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

SEED_PAIR = "pixelhvae_2level-amim-vampprior,pixelhvae_2level-vae-vampprior"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_one(dataset_file: Path, model: str, precision: str, device_name: str, seconds: float,
                warmup_steps: int, optimizer: str, start_at: float | None) -> dict:
    """One job's steady training rate; start_at (epoch seconds): when to start counting, shared by the jobs."""
    from mimflow.core.device import numerics, resolve_device
    from mimflow.images.data import load_image_data
    from mimflow.images.settings import ImageRunConfig
    from mimflow.images.train import prepare_training

    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.cuda.reset_peak_memory_stats(device)
    arch, objective, prior = model.split("-")
    data = load_image_data(dataset_file)
    cfg = ImageRunConfig(dataset=dataset_file.stem, arch=arch, objective=objective, prior=prior, seed=1,
                         warmup=1, image_precision=precision)
    run = prepare_training(cfg, data, device)
    run.optimizer.foreach = optimizer == "foreach"
    run.model.train()
    with numerics(precision, device, autocast=False):
        batches = iter(())

        def next_batch():
            nonlocal batches
            for x in batches:
                return x
            batches = iter(run.binarize.epoch().split(cfg.batch_size))
            return next(batches)

        for _ in range(warmup_steps):
            run.step(next_batch(), cfg, 1.0, device)
        synchronize(device)
        started_late = start_at is not None and time.time() > start_at  # the common start is then not common
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(5):  # a few steps between clock reads: the host runs ahead of the GPU
                loss = run.step(next_batch(), cfg, 1.0, device)
                steps += 1
            synchronize(device)
        elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    return {"model": model, "precision": precision, "optimizer": optimizer, "steps": steps,
            "seconds": elapsed, "images_per_s": steps * cfg.batch_size / elapsed, "peak_mib": peak,
            "last_loss": float(loss), "started_late": started_late}


def measure_together(args, model: str, precision: str, jobs: int) -> list[dict]:
    """`jobs` processes measuring at once; each prints its result as one JSON line."""
    start_at = time.time() + args.start_delay
    command = [sys.executable, __file__, str(args.dataset_file), "--device", args.device, "--child",
               "--models", model, "--precisions", precision, "--seconds", str(args.seconds),
               "--warmup-steps", str(args.warmup_steps), "--optimizer", args.optimizer, "--start-at", str(start_at)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a measuring process failed (rc {child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    late = [r for r in results if r.get("started_late")]
    if late:
        print(f"warning: {len(late)} of {jobs} jobs finished their warm-up after the common start "
              f"(raise --start-delay)", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_file", type=Path)
    parser.add_argument("--device", default="cuda", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--models", default=SEED_PAIR, help="comma-separated <arch>-<objective>-<prior>")
    parser.add_argument("--precisions", default="fp32")
    parser.add_argument("--jobs", default="1", help="comma-separated numbers of jobs sharing the device")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--optimizer", default="foreach", choices=["foreach", "per-tensor"])
    parser.add_argument("--start-delay", type=float, default=60.0, help="seconds from spawn to the common start")
    parser.add_argument("--json", type=Path, help="append every row to this JSON-lines file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure_one(args.dataset_file, args.models, args.precisions, args.device, args.seconds,
                             args.warmup_steps, args.optimizer, args.start_at)
        print(json.dumps(result))
        return
    name = torch.cuda.get_device_name(0) if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    print(f"{args.dataset_file.stem}: device {args.device} ({name}), torch {torch.__version__}, optimizer "
          f"{args.optimizer}, {args.seconds:.0f} s counted after {args.warmup_steps} warm-up steps")
    print()
    print("| model | precision | jobs on the GPU | images/s per job (each) | images/s per GPU | peak MiB per job |")
    print("|---|---|---|---|---|---|")
    for precision in args.precisions.split(","):
        for model in args.models.split(","):
            for jobs in map(int, args.jobs.split(",")):
                if jobs == 1:  # in this process: no process start or CUDA context to pay per row
                    results = [measure_one(args.dataset_file, model, precision, args.device, args.seconds,
                                           args.warmup_steps, args.optimizer, None)]
                else:
                    results = measure_together(args, model, precision, jobs)
                rates = [r["images_per_s"] for r in results]
                print(f"| {model} | {precision} | {jobs} | {', '.join(f'{r:.0f}' for r in rates)} | {sum(rates):.0f} | "
                      f"{max(r['peak_mib'] for r in results):.0f} |", flush=True)
                if args.json:
                    with args.json.open("a") as handle:
                        handle.write(json.dumps({"jobs": jobs, "per_gpu": sum(rates), "runs": results}) + "\n")


if __name__ == "__main__":
    main()
