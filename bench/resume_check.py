"""A training job killed mid-epoch resumes to the numbers of an uninterrupted one (issue 40, on a GPU): not a test.

Three runs of one image model on a built dataset file (a prefix of --train-images training images, --epochs
epochs), each in its own process, as a job runs it (mimflow.images.train.train_image with a resume.pt):
  A and B: uninterrupted (A against B is the device's own run-to-run difference: cuDNN's backward kernels
  are not all deterministic);
  C: killed with SIGKILL in the middle of epoch --kill-epoch (half an epoch after resume.pt records the
  epoch before), then started again, resuming from resume.pt.
It prints each run's validation losses and the largest weight difference of C and of B against A.

Usage: python bench/resume_check.py resources/datasets/dynamic_fashion_mnist.pt --device cuda \\
           [--model pixelhvae_2level-amim-vampprior] [--train-images 5000] [--epochs 4] [--kill-epoch 3]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch


def train(args, resume: Path | None, out: Path) -> None:
    """One run in this process; writes its history and final weights to `out`."""
    from mimflow.core.device import resolve_device
    from mimflow.images.data import load_image_data
    from mimflow.images.settings import ImageRunConfig
    from mimflow.images.train import train_image

    arch, objective, prior = args.model.split("-")
    cfg = ImageRunConfig(dataset=args.dataset_file.stem, arch=arch, objective=objective, prior=prior, seed=1,
                         epochs=args.epochs, warmup=2, max_train_images=args.train_images)
    model, result = train_image(cfg, load_image_data(args.dataset_file, args.train_images),
                                resolve_device(args.device), resume)
    torch.save({"history": [r.val_loss for r in result.history], "state": model.state_dict()}, out)


def run_child(args, name: str, resume: Path | None) -> subprocess.Popen:
    command = [sys.executable, __file__, str(args.dataset_file), "--device", args.device, "--model", args.model,
               "--train-images", str(args.train_images), "--epochs", str(args.epochs), "--workdir", str(args.workdir),
               "--child", name]
    if resume is not None:
        command += ["--resume", str(resume)]
    return subprocess.Popen(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_file", type=Path)
    parser.add_argument("--device", default="cuda", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--model", default="pixelhvae_2level-amim-vampprior")
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--kill-epoch", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("resume-check"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--resume", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.child:
        train(args, args.resume, args.workdir / f"{args.child}.pt")
        return
    for name in ("A", "B"):
        if run_child(args, name, None).wait() != 0:
            raise SystemExit(f"run {name} failed")
    resume = args.workdir / "resume.pt"
    resume.unlink(missing_ok=True)
    child = run_child(args, "C", resume)
    seen, started = {}, time.monotonic()
    while child.poll() is None:  # epoch boundaries, from the resume checkpoint's modification times
        if resume.exists():
            mtime = resume.stat().st_mtime
            if mtime not in seen.values():
                seen[len(seen) + 1] = mtime
        if len(seen) == args.kill_epoch - 1:
            epoch_s = (seen[len(seen)] - seen[len(seen) - 1]) if len(seen) > 1 else (time.monotonic() - started)
            time.sleep(epoch_s / 2)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            print(f"killed run C {epoch_s / 2:.1f} s into epoch {args.kill_epoch}")
            break
        time.sleep(0.05)
    if run_child(args, "C", resume).wait() != 0:
        raise SystemExit("the resumed run C failed")
    runs = {name: torch.load(args.workdir / f"{name}.pt", weights_only=False) for name in "ABC"}
    for name, run in runs.items():
        print(f"run {name}: validation losses {json.dumps([round(v, 4) for v in run['history']])}")
    for name in "BC":
        diff = max((runs[name]["state"][k].float() - v.float()).abs().max().item() for k, v in runs["A"]["state"].items())
        same = runs[name]["history"] == runs["A"]["history"]
        print(f"run {name} against A: histories {'identical' if same else 'differ'}, largest weight difference {diff:.3g}")


if __name__ == "__main__":
    main()
