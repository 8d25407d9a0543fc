"""Where a job runs: the device it asked for (images.device, lowdim_device), its numerics
(fidelity.image_precision), and, on a machine with several GPUs, a GPU of its own.

A job that asked for CUDA and cannot get it fails at start: on the CPU one paper-scale epoch takes about
half an hour and one importance-sampled test NLL days, far past any time limit.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from .settings import check_choice
from ..names import IMAGE_DEVICES, IMAGE_PRECISIONS

# Lock files of the GPU slots, relative to the working directory (the workflow's root).
GPU_SLOT_DIR = Path(".snakemake/gpu-slots")
SLOT_POLL_S = 5.0


class DeviceUnavailableError(RuntimeError):
    """A device setting (images.device, lowdim_device) asked for CUDA and CUDA cannot be used here."""


def cuda_unusable_reason() -> str | None:
    """None when CUDA works, else one line saying why not."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()  # warns when a driver is present but unusable
    if available:
        return None
    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    for warning in caught:
        return " ".join(str(warning.message).split())  # e.g. "The NVIDIA driver on your system is too old ..."
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return f"no CUDA device is visible (CUDA_VISIBLE_DEVICES={visible!r})"
    return "no CUDA device was found (no GPU, or no NVIDIA driver)"


def resolve_device(requested: str, reason: Callable[[], str | None] | None = None,
                   key: str = "images.device") -> torch.device:
    """cpu -> CPU; auto -> CUDA when usable, else CPU; cuda -> CUDA, or DeviceUnavailableError naming why not.
    reason: what says whether CUDA is usable (default cuda_unusable_reason); key: the config key asked."""
    check_choice(key, requested, IMAGE_DEVICES)
    if requested == "cpu":
        return torch.device("cpu")
    why = (reason or cuda_unusable_reason)()
    if why is None:
        return torch.device("cuda")
    if requested == "auto":
        return torch.device("cpu")
    raise DeviceUnavailableError(f"{key} is 'cuda' but CUDA is unusable: {why}; "
                                 f"allowed: run where CUDA works, or set {key} to 'cpu' or 'auto'")


def visible_gpu_ids() -> list[str]:
    """The GPUs this process may use, by the ids that name them machine-wide (CUDA_VISIBLE_DEVICES entries,
    which SLURM sets per job, else 0..n-1), so that two jobs lock the same file only for the same GPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [entry.strip() for entry in visible.split(",") if entry.strip()][:torch.cuda.device_count()]
    return [str(i) for i in range(torch.cuda.device_count())]


@dataclass
class GpuSlot:
    """An exclusive claim on one GPU, held until release() or process exit (the OS drops the flock)."""

    index: int  # index among the visible devices: cuda:<index>
    gpu_id: str
    handle: object

    def release(self) -> None:
        self.handle.close()


def claim_gpu_slot(gpu_ids: list[str], lock_dir: Path = GPU_SLOT_DIR, poll_s: float = SLOT_POLL_S,
                   log: Callable[[str], None] | None = None) -> GpuSlot:
    """The first free GPU among gpu_ids, by a non-blocking flock on <lock_dir>/<host>/gpu-<id>.lock; waits
    (polling) while every one is taken, so concurrent jobs never share a GPU."""
    if not gpu_ids:
        raise DeviceUnavailableError("no GPU to claim: the list of visible GPUs is empty")
    folder = Path(lock_dir) / socket.gethostname()
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for index, gpu_id in enumerate(gpu_ids):
            handle = open(folder / f"gpu-{gpu_id}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0), handle.truncate(), handle.write(f"{os.getpid()}\n"), handle.flush()
            return GpuSlot(index, gpu_id, handle)
        if log and not waited:
            log(f"all {len(gpu_ids)} GPUs are taken by other jobs; waiting for one")
        waited = True
        time.sleep(poll_s)


@dataclass
class JobDevice:
    """The device of one image job, and the GPU slot that keeps it to itself (None on the CPU)."""

    device: torch.device
    slot: GpuSlot | None = None


def claim_job_device(requested: str, lock_dir: Path = GPU_SLOT_DIR,
                     log: Callable[[str], None] | None = None, key: str = "images.device") -> JobDevice:
    """resolve_device, then on CUDA a GPU of this job's own (cuda:<slot>, made the current device): with one
    GPU, concurrent image jobs take turns on it, as they would on a cluster."""
    device = resolve_device(requested, key=key)
    if device.type != "cuda":
        return JobDevice(device)
    slot = claim_gpu_slot(visible_gpu_ids(), lock_dir, log=log)
    torch.cuda.set_device(slot.index)
    return JobDevice(torch.device("cuda", slot.index), slot)


def claim_job_device_or_exit(requested: str, log: logging.Logger, key: str = "images.device") -> JobDevice:
    """claim_job_device for a job script: on DeviceUnavailableError the job ends at once with that one line
    (in its log and on stderr) instead of a traceback. Keep the result alive: it holds the GPU slot."""
    try:
        return claim_job_device(requested, log=log.info, key=key)
    except DeviceUnavailableError as error:
        log.error("%s", error)
        raise SystemExit(f"error: {error}") from None


@contextlib.contextmanager
def numerics(precision: str, device: torch.device) -> Iterator[None]:
    """fidelity.image_precision for the code inside, restored on exit.

    fp32: no TF32 in cuDNN convolutions or CUDA matmuls (the original's FP32; torch's default lets cuDNN
    use TF32). tf32: TF32 allowed in both. bf16: TF32 allowed and autocast to bfloat16 (the fast path).
    On the CPU fp32 and tf32 are the same numbers.
    """
    check_choice("fidelity.image_precision", precision, IMAGE_PRECISIONS)
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    tf32 = precision != "fp32"
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        if precision == "bf16":
            with torch.autocast(device.type, dtype=torch.bfloat16):
                yield
        else:
            yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
