"""Where a job runs: the device it asked for (images.device, lowdim_device), its numerics
(fidelity.image_precision), and a job slot on a GPU: a GPU of its own, or one of images.jobs_per_gpu
image jobs sharing one (a job that runs out of memory there retries alone).

A job that asked for CUDA and cannot get it fails at start: on the CPU one paper-scale epoch takes about
half an hour and one importance-sampled test NLL days, far past any time limit.
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
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


# Image jobs per GPU (images.jobs_per_gpu): "auto" is at most AUTO_JOBS_PER_GPU, and any number is bounded by
# the GPU's memory at JOB_GPU_MEMORY_BYTES a job. Measured on one H200 (bench/RESULTS.md, issue 28): four
# showcase jobs sharing it took 38-47 s an epoch against 30 s alone, about 2.8x one job's throughput, at
# 1.6-3.1 GiB of GPU memory each; 6 GiB a job leaves room for the full-size training set on the device.
AUTO_JOBS_PER_GPU = 4
JOB_GPU_MEMORY_BYTES = 6 * 2**30


def jobs_per_gpu(requested: int | str, total_memory_bytes: int) -> int:
    """How many image jobs share one GPU of this much memory: `requested` (a number, or "auto"), at most as
    many as fit at JOB_GPU_MEMORY_BYTES each, and at least one."""
    if requested != "auto" and not (isinstance(requested, int) and requested >= 1):
        raise ValueError(f"images.jobs_per_gpu {requested!r} is not allowed; allowed: 'auto' or an integer >= 1")
    fits = max(1, total_memory_bytes // JOB_GPU_MEMORY_BYTES)
    return min(AUTO_JOBS_PER_GPU if requested == "auto" else requested, fits)


@dataclass
class GpuSlot:
    """A claim on one of a GPU's job slots (or, alone, on all of them), held until release() or process exit
    (the OS drops the flocks)."""

    index: int  # index among the visible devices: cuda:<index>
    gpu_id: str
    handles: list
    slots: int = 1  # the GPU's slots: how many jobs may share it
    alone: bool = False  # this claim holds every slot

    def release(self) -> None:
        for handle in self.handles:
            handle.close()


def _slot_file(folder: Path, gpu_id: str, slot: int) -> Path:
    return folder / (f"gpu-{gpu_id}.lock" if slot == 0 else f"gpu-{gpu_id}.{slot}.lock")


def _try_lock(path: Path, blocking: bool = False):
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0), handle.truncate(), handle.write(f"{os.getpid()}\n"), handle.flush()
    return handle


def claim_gpu_slot(gpu_ids: list[str], lock_dir: Path = GPU_SLOT_DIR, poll_s: float = SLOT_POLL_S,
                   log: Callable[[str], None] | None = None,
                   slots_per_gpu: Callable[[int], int] = lambda index: 1) -> GpuSlot:
    """A free job slot among gpu_ids, by a non-blocking flock on <lock_dir>/<host>/gpu-<id>[.<slot>].lock:
    every GPU's first slot before any second one; waits (polling) while every slot is taken.
    slots_per_gpu(index): the slots of the GPU at that visible index (1: a GPU of its own)."""
    if not gpu_ids:
        raise DeviceUnavailableError("no GPU to claim: the list of visible GPUs is empty")
    folder = Path(lock_dir) / socket.gethostname()
    folder.mkdir(parents=True, exist_ok=True)
    slots = [slots_per_gpu(index) for index in range(len(gpu_ids))]
    waited = False
    while True:
        for slot in range(max(slots)):
            for index, gpu_id in enumerate(gpu_ids):
                if slot < slots[index] and (handle := _try_lock(_slot_file(folder, gpu_id, slot))):
                    return GpuSlot(index, gpu_id, [handle], slots[index])
        if log and not waited:
            log(f"all {len(gpu_ids)} GPUs are taken by other jobs ({sum(slots)} job slots); waiting for one")
        waited = True
        time.sleep(poll_s)


def claim_whole_gpu(index: int, gpu_id: str, slots: int, lock_dir: Path = GPU_SLOT_DIR) -> GpuSlot:
    """Every slot of one GPU, taken in order, each waited for: the jobs on it finish, no new one starts, and
    two jobs waiting for the same GPU cannot deadlock (both take the slots in the same order)."""
    folder = Path(lock_dir) / socket.gethostname()
    folder.mkdir(parents=True, exist_ok=True)
    handles = [_try_lock(_slot_file(folder, gpu_id, slot), blocking=True) for slot in range(slots)]
    return GpuSlot(index, gpu_id, handles, slots, alone=True)


@dataclass
class JobDevice:
    """The device of one job, and the GPU slot that it holds (None on the CPU)."""

    device: torch.device
    slot: GpuSlot | None = None

    @property
    def shared(self) -> bool:
        """Whether other jobs may be on this GPU now."""
        return self.slot is not None and self.slot.slots > 1 and not self.slot.alone

    @property
    def memory_share(self) -> float:
        """The fraction of the GPU's memory this job may plan for (1 alone, 1/slots when shared)."""
        return 1.0 / self.slot.slots if self.shared else 1.0


def claim_job_device(requested: str, lock_dir: Path = GPU_SLOT_DIR,
                     log: Callable[[str], None] | None = None, key: str = "images.device",
                     jobs_per_gpu_setting: int | str = 1) -> JobDevice:
    """resolve_device, then on CUDA a job slot on a GPU (cuda:<slot's GPU>, made the current device): with
    jobs_per_gpu_setting 1, concurrent jobs take turns on a GPU, as they would on a cluster; with more, that
    many (bounded by the GPU's memory) share it."""
    device = resolve_device(requested, key=key)
    if device.type != "cuda":
        return JobDevice(device)
    def slots(index: int) -> int:  # one: no need to ask the GPU its memory
        if jobs_per_gpu_setting == 1:
            return 1
        return jobs_per_gpu(jobs_per_gpu_setting, torch.cuda.get_device_properties(index).total_memory)

    slot = claim_gpu_slot(visible_gpu_ids(), lock_dir, log=log, slots_per_gpu=slots)
    torch.cuda.set_device(slot.index)
    if log and slot.slots > 1:
        log(f"GPU {slot.gpu_id}: one of up to {slot.slots} image jobs sharing it (images.jobs_per_gpu)")
    return JobDevice(torch.device("cuda", slot.index), slot)


def claim_job_device_or_exit(requested: str, log: logging.Logger, key: str = "images.device",
                             jobs_per_gpu_setting: int | str = 1) -> JobDevice:
    """claim_job_device for a job script: on DeviceUnavailableError the job ends at once with that one line
    (in its log and on stderr) instead of a traceback. Keep the result alive: it holds the GPU slot."""
    try:
        return claim_job_device(requested, log=log.info, key=key, jobs_per_gpu_setting=jobs_per_gpu_setting)
    except DeviceUnavailableError as error:
        log.error("%s", error)
        raise SystemExit(f"error: {error}") from None


def out_of_memory_line(claim: JobDevice, error: BaseException, alone: bool) -> str:
    """One line for a job that ran out of GPU memory: where, how it held the GPU, and torch's own first line."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    where = f"GPU {claim.slot.gpu_id}" if claim.slot is not None else str(claim.device)
    if alone:
        return (f"out of GPU memory on {where} with the GPU to itself ({first}); allowed: a smaller "
                f"images.training.batch_size or test_batch_size, images.evaluation.is_pass_copies, or a larger GPU")
    return (f"out of GPU memory on {where}, one of up to {claim.slot.slots} image jobs sharing it ({first}); "
            f"retrying alone on the whole GPU, from the last saved state")


def retry_alone_on_out_of_memory(run: Callable[[torch.device], object], claim: JobDevice,
                                 claim_alone: Callable[[JobDevice], JobDevice],
                                 log: logging.Logger) -> tuple[object, JobDevice]:
    """run(device); if it runs out of GPU memory on a shared GPU: one line, the slot given up, the whole GPU
    claimed (claim_alone) and run again there; it resumes from what it saved (training: resume.pt), so
    nothing computed is lost. Out of memory alone: one line and SystemExit. Returns (result, the claim held)."""
    try:
        return run(claim.device), claim
    except torch.OutOfMemoryError as error:
        if not claim.shared:
            log.error("%s", out_of_memory_line(claim, error, alone=True))
            raise SystemExit(f"error: {out_of_memory_line(claim, error, alone=True)}") from None
        log.error("%s", out_of_memory_line(claim, error, alone=False))
    # outside the handler: the failed attempt's frames (and their GPU tensors) are gone
    gc.collect()
    if claim.device.type == "cuda":
        torch.cuda.empty_cache()
    claim.slot.release()
    claim = claim_alone(claim)
    log.info("GPU %s: all %d job slots held, retrying alone", claim.slot.gpu_id, claim.slot.slots)
    try:
        return run(claim.device), claim
    except torch.OutOfMemoryError as error:
        log.error("%s", out_of_memory_line(claim, error, alone=True))
        raise SystemExit(f"error: {out_of_memory_line(claim, error, alone=True)}") from None


@contextlib.contextmanager
def numerics(precision: str, device: torch.device, autocast: bool = True) -> Iterator[None]:
    """fidelity.image_precision for the code inside, restored on exit.

    fp32: no TF32 in cuDNN convolutions or CUDA matmuls (the original's FP32; torch's default lets cuDNN
    use TF32). tf32: TF32 allowed in both. bf16: TF32 allowed and, with `autocast`, the code inside autocast
    to bfloat16 (the fast path). On the CPU fp32 and tf32 are the same numbers.

    One autocast region must never span an optimiser step: autocast keeps its bfloat16 copies of the weights
    until the region exits, so the forwards after a step would still see the old weights. Training therefore
    takes the flags here with autocast=False and wraps each step's forward and loss in step_autocast.
    """
    check_choice("fidelity.image_precision", precision, IMAGE_PRECISIONS)
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    tf32 = precision != "fp32"
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        with step_autocast(precision if autocast else "fp32", device):
            yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def step_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast region of one forward pass and its loss: bfloat16 for bf16, none otherwise. The weights,
    their gradients and the optimiser stay float32; a fresh region per step sees the weights as they are."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
