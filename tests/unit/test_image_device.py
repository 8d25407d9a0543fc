"""Issue 13 on the CPU: images.device (fail fast where CUDA is unusable), one GPU per job (slot locks, with
faked device ids), fidelity.image_precision and fidelity.masked_conv_grad."""
from __future__ import annotations

import fcntl
import gc
import logging
import multiprocessing
import time

import pytest
import torch

from mimflow.core import device as device_module
from mimflow.core.device import (
    DeviceUnavailableError,
    claim_gpu_slot,
    claim_job_device,
    claim_job_device_or_exit,
    numerics,
    resolve_device,
)
from mimflow.images.layers import MaskedConv2d
from mimflow.images.optim import AdamNormGrad
from mimflow.jobs.context import JobContext
from tests.unit.test_image_train import config, tiny_data

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# images.device
# ---------------------------------------------------------------------------------------------

def test_cpu_and_auto_resolve_without_cuda():
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto", reason=lambda: "no CUDA device was found") == CPU
    assert resolve_device("auto", reason=lambda: None) == torch.device("cuda")
    assert resolve_device("cuda", reason=lambda: None) == torch.device("cuda")


def test_cuda_that_is_unusable_fails_with_the_reason():
    why = "The NVIDIA driver on your system is too old (found version 11040)"
    with pytest.raises(DeviceUnavailableError) as error:
        resolve_device("cuda", reason=lambda: why)
    message = str(error.value)
    assert "\n" not in message and why in message and "'cpu' or 'auto'" in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without usable CUDA")
def test_a_job_that_wants_cuda_on_this_machine_exits_in_one_line(caplog):
    log = logging.getLogger("test-job")
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        claim_job_device_or_exit("cuda", log)
    line = str(stop.value.code)
    assert line.startswith("error: images.device is 'cuda' but CUDA is unusable: ") and "\n" not in line
    assert "CUDA is unusable" in caplog.text
    assert claim_job_device("cpu").device == CPU and claim_job_device("cpu").slot is None


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match=r"images.device 'gpu' is not one of \['cuda', 'cpu', 'auto'\]"):
        resolve_device("gpu")


# ---------------------------------------------------------------------------------------------
# One GPU per job: slot locks (real processes, faked device ids)
# ---------------------------------------------------------------------------------------------

def _hold_a_slot(lock_dir, gpu_ids, hold_s, queue):
    # claim_gpu_slot logs once when it finds every GPU taken and starts to wait: that is reported too
    slot = claim_gpu_slot(gpu_ids, lock_dir, poll_s=0.05, log=lambda message: queue.put(("waiting", message)))
    queue.put((slot.gpu_id, time.monotonic()))
    time.sleep(hold_s)
    slot.release()


def test_concurrent_jobs_each_get_their_own_gpu(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    ids = ["0", "1", "2", "3"]
    jobs = [context.Process(target=_hold_a_slot, args=(tmp_path, ids, 3.0, queue)) for _ in range(4)]
    for job in jobs:
        job.start()
    claimed = [queue.get(timeout=120)[0] for _ in jobs]
    for job in jobs:
        job.join(timeout=120)
    assert sorted(claimed) == ids  # four jobs at once (--resources gpu=4): four different GPUs


def test_a_job_waits_while_every_gpu_is_taken(tmp_path):
    first = claim_gpu_slot(["0"], tmp_path)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    waiter = context.Process(target=_hold_a_slot, args=(tmp_path, ["0"], 0.0, queue))
    waiter.start()
    # The state waited for: the other process has found GPU 0 taken and is waiting (cap: a hang guard only).
    state, message = queue.get(timeout=120)
    assert state == "waiting" and "all 1 GPUs are taken" in message, (state, message)
    released = time.monotonic()
    first.release()
    gpu_id, claimed_at = queue.get(timeout=120)
    waiter.join(timeout=120)
    assert gpu_id == "0" and claimed_at >= released  # it got the GPU only once this process let it go


def test_a_job_holds_its_gpu_slot_until_it_ends(tmp_path, monkeypatch):
    # Found on a GPU: the job scripts kept only the claim's torch.device, the claim was collected at once and
    # its lock released, so four image jobs trained side by side on one GPU. CUDA is faked: one GPU, id 0.
    monkeypatch.chdir(tmp_path)  # the slot locks live under the workflow root's .snakemake/
    monkeypatch.setattr(device_module, "resolve_device", lambda requested, key: torch.device("cuda"))
    monkeypatch.setattr(device_module, "visible_gpu_ids", lambda: ["0"])
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    job = JobContext(rule="train_image", input=[], output=[]).setup()
    assert job.claim_device("cuda") == torch.device("cuda", 0)
    gc.collect()
    (lock,) = (tmp_path / device_module.GPU_SLOT_DIR).glob("*/gpu-0.lock")
    with open(lock, "a+") as another_job:
        with pytest.raises(BlockingIOError):
            fcntl.flock(another_job, fcntl.LOCK_EX | fcntl.LOCK_NB)
        del job
        gc.collect()  # the job is over: its slot is free again
        fcntl.flock(another_job, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_slots_are_per_gpu_id(tmp_path):
    # Under SLURM each job sees only its own GPU (CUDA_VISIBLE_DEVICES=<its id>): different ids never wait.
    a, b = claim_gpu_slot(["GPU-aaaa"], tmp_path), claim_gpu_slot(["GPU-bbbb"], tmp_path)
    assert (a.index, b.index) == (0, 0)
    a.release(), b.release()


# ---------------------------------------------------------------------------------------------
# fidelity.image_precision
# ---------------------------------------------------------------------------------------------

def test_numerics_sets_and_restores_the_backend_flags():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    with numerics("fp32", CPU):
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert not torch.is_autocast_enabled("cpu")
    with numerics("tf32", CPU):
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    with numerics("bf16", CPU):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == saved
    with pytest.raises(ValueError, match="fidelity.image_precision 'fp16'"):
        with numerics("fp16", CPU):
            pass


def test_training_applies_the_precision():
    torch.set_num_threads(1)
    from mimflow.images.train import train_image

    losses = {}
    for precision in ("fp32", "tf32", "bf16"):
        _, result = train_image(config(epochs=1, image_precision=precision), tiny_data(), CPU)
        losses[precision] = (result.history[0].train_loss, result.history[0].val_loss)
    assert losses["fp32"] == losses["tf32"]  # TF32 exists only on CUDA
    assert losses["bf16"] != losses["fp32"]  # bf16 autocast is applied...
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)  # ...and stays close


# ---------------------------------------------------------------------------------------------
# fidelity.masked_conv_grad
# ---------------------------------------------------------------------------------------------

def _two_layers(mode: str) -> MaskedConv2d:
    torch.manual_seed(3)
    return MaskedConv2d("A", 2, 4, 3, 1, 1, bias=False, grad_mode=mode)


def test_masked_conv_forward_is_the_same_and_only_original_has_dense_gradients():
    x = torch.randn(5, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    outputs, grads = {}, {}
    for mode in ("original", "masked"):
        layer = _two_layers(mode)
        out = layer(x)
        (out ** 2).sum().backward()
        outputs[mode], grads[mode] = out.detach(), layer.weight.grad.clone()
        hidden = layer.mask == 0
        if mode == "original":
            assert torch.equal(layer.weight.data[hidden], torch.zeros(int(hidden.sum())))  # zeroed in place
            assert grads[mode][hidden].abs().sum() > 0  # ...and still gets gradients, as the original
        else:
            assert torch.equal(grads[mode][hidden], torch.zeros(int(hidden.sum())))
    torch.testing.assert_close(outputs["original"], outputs["masked"], rtol=0, atol=0)
    visible = _two_layers("original").mask == 1
    torch.testing.assert_close(grads["original"][visible], grads["masked"][visible])
    # AdamNormGrad divides by the whole tensor's gradient norm: the masked positions make it larger
    assert torch.linalg.vector_norm(grads["original"]) > torch.linalg.vector_norm(grads["masked"]) * 1.01


def test_masked_conv_grad_changes_pixelhvae_training_and_reaches_the_model():
    from mimflow.images.losses import image_loss
    from mimflow.images.model import build_image_model

    g = torch.Generator().manual_seed(2)
    batches = [torch.bernoulli(torch.full((4, 784), 0.3), generator=g) for _ in range(3)]
    after = {}
    for mode in ("original", "masked"):
        torch.manual_seed(0)
        model = build_image_model(config(arch="pixelhvae_2level", prior="standard", masked_conv_grad=mode))
        layers = [m for m in model.modules() if isinstance(m, MaskedConv2d)]
        assert len(layers) == 8 and all(m.grad_mode == mode for m in layers)
        optimiser = AdamNormGrad(model.parameters(), lr=5e-4)
        for x in batches:
            optimiser.zero_grad()
            loss, _ = image_loss(model, x, "vae", 1.0, torch.Generator().manual_seed(4))
            loss.backward()
            optimiser.step()
        after[mode] = layers[3].weight.detach() * layers[3].mask  # the weights the next pass uses
    # Adam's first step hardly sees a per-tensor scale (only through eps); from the second step on the
    # norm that includes the masked positions changes the updates: measured 1.1e-3 after 3 steps (lr 5e-4).
    assert (after["original"] - after["masked"]).abs().max() > 2e-4


def test_claim_job_device_puts_each_job_on_its_own_visible_gpu(tmp_path, monkeypatch):
    """The CUDA branch with faked devices: CUDA_VISIBLE_DEVICES=3,5 (as SLURM or a user sets it), two GPUs."""
    import mimflow.core.device as device_module

    monkeypatch.setattr(device_module, "cuda_unusable_reason", lambda: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    current = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    first = device_module.claim_job_device("cuda", tmp_path)
    second = device_module.claim_job_device("auto", tmp_path)
    assert (first.device, second.device) == (torch.device("cuda", 0), torch.device("cuda", 1))
    assert (first.slot.gpu_id, second.slot.gpu_id) == ("3", "5") and current == [0, 1]
    first.slot.release()
    third = device_module.claim_job_device("cuda", tmp_path)  # the freed GPU is taken again
    assert third.device == torch.device("cuda", 0)
    second.slot.release(), third.slot.release()


# ---------------------------------------------------------------------------------------------
# Several image jobs per GPU (images.jobs_per_gpu), and a job that runs out of GPU memory there
# ---------------------------------------------------------------------------------------------

def test_jobs_per_gpu_is_bounded_by_the_gpus_memory():
    gib = 2**30
    assert device_module.jobs_per_gpu("auto", 141 * gib) == device_module.AUTO_JOBS_PER_GPU == 4  # an H200
    assert device_module.jobs_per_gpu(8, 141 * gib) == 8
    assert device_module.jobs_per_gpu("auto", 16 * gib) == 2  # 6 GiB a job
    assert device_module.jobs_per_gpu(4, 8 * gib) == 1
    assert device_module.jobs_per_gpu(1, 1 * gib) == 1  # at least one
    with pytest.raises(ValueError, match=r"images.jobs_per_gpu 0 is not allowed; allowed: 'auto' or an integer >= 1"):
        device_module.jobs_per_gpu(0, 141 * gib)


def test_jobs_share_a_gpu_up_to_its_slots_spreading_over_gpus_first(tmp_path):
    claims = [claim_gpu_slot(["0", "1"], tmp_path, slots_per_gpu=lambda index: 2) for _ in range(4)]
    assert [(c.gpu_id, c.slots) for c in claims] == [("0", 2), ("1", 2), ("0", 2), ("1", 2)]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    fifth = context.Process(target=_hold_a_slot, args=(tmp_path, ["0", "1"], 0.0, queue))
    fifth.start()
    state, message = queue.get(timeout=120)  # every slot of both GPUs is taken: it waits
    assert state == "waiting" and "all 2 GPUs are taken" in message, (state, message)
    claims[0].release()  # GPU 0's first slot: the one a job of one slot per GPU looks for
    gpu_id, _ = queue.get(timeout=120)
    fifth.join(timeout=120)
    assert gpu_id == "0"
    for claim in claims:
        claim.release()


def _claim_whole_gpu(lock_dir, queue):
    whole = device_module.claim_whole_gpu(0, "0", 2, lock_dir)
    queue.put(("alone", time.monotonic()))
    whole.release()


def test_a_job_alone_waits_for_every_slot_of_its_gpu_and_blocks_new_ones(tmp_path):
    shared = [claim_gpu_slot(["0"], tmp_path, slots_per_gpu=lambda index: 2) for _ in range(2)]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    alone = context.Process(target=_claim_whole_gpu, args=(tmp_path, queue))
    alone.start()
    shared[0].release()  # the slot it frees goes to the job waiting alone, not to a newcomer
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # hang guard only: wait until the lone job holds slot 0
        handle = device_module._try_lock(device_module._slot_file(tmp_path / __import__("socket").gethostname(), "0", 0))
        if handle is None:
            break
        handle.close()
        time.sleep(0.05)
    assert queue.empty()  # still waiting for slot 1
    released = time.monotonic()
    shared[1].release()
    state, at = queue.get(timeout=120)
    alone.join(timeout=120)
    assert state == "alone" and at >= released


class _Log:
    def __init__(self):
        self.lines = []

    def error(self, fmt, *args):
        self.lines.append(("error", fmt % args))

    def info(self, fmt, *args):
        self.lines.append(("info", fmt % args))


def _shared_claim(tmp_path):
    slot = claim_gpu_slot(["0"], tmp_path, slots_per_gpu=lambda index: 4)
    return device_module.JobDevice(torch.device("cpu"), slot)  # a CPU tensor device stands in for cuda:0


def test_out_of_memory_on_a_shared_gpu_says_so_in_one_line_and_retries_alone(tmp_path):
    claim, log, calls = _shared_claim(tmp_path), _Log(), []

    def work(device):
        calls.append(device)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")
        return "metrics"

    def claim_alone(old):
        return device_module.JobDevice(old.device, device_module.claim_whole_gpu(0, "0", old.slot.slots, tmp_path))

    result, held = device_module.retry_alone_on_out_of_memory(work, claim, claim_alone, log)
    assert result == "metrics" and len(calls) == 2
    assert held.slot.alone and not held.shared and held.memory_share == 1.0 and claim.memory_share == 0.25
    (level, line), _ = log.lines
    assert level == "error" and "\n" not in line
    assert line == ("out of GPU memory on GPU 0, one of up to 4 image jobs sharing it (CUDA out of memory. Tried "
                    "to allocate 2.00 GiB); retrying alone on the whole GPU, from the last saved state")
    held.slot.release()


def test_out_of_memory_alone_ends_the_job_in_one_line(tmp_path):
    slot = claim_gpu_slot(["0"], tmp_path)  # one job per GPU: nothing to retry
    claim, log = device_module.JobDevice(torch.device("cpu"), slot), _Log()

    def work(device):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    with pytest.raises(SystemExit, match=r"^error: out of GPU memory on GPU 0 with the GPU to itself \(CUDA out of "
                                         r"memory. Tried to allocate 9.00 GiB\); allowed: a smaller "
                                         r"images.training.batch_size"):
        device_module.retry_alone_on_out_of_memory(work, claim, lambda old: old, log)
    slot.release()


def test_a_training_job_that_runs_out_of_memory_resumes_to_the_same_numbers(tmp_path):
    """The retry of an image training job goes through resume.pt: what it trained before the failure is kept
    and the run ends where an uninterrupted one ends (on the CPU, with the failure injected mid-training)."""
    from mimflow.images.train import train_image

    torch.set_num_threads(1)
    cfg = config(epochs=3)
    _, reference = train_image(cfg, tiny_data(), CPU)
    claim, log, resume, seen = _shared_claim(tmp_path), _Log(), tmp_path / "resume.pt", []

    def fail_in_epoch_3(model, record):
        seen.append(record.epoch)
        if record.epoch == 2 and seen.count(2) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")

    def claim_alone(old):
        return device_module.JobDevice(old.device, device_module.claim_whole_gpu(0, "0", old.slot.slots, tmp_path))

    (_, resumed), held = device_module.retry_alone_on_out_of_memory(
        lambda device: train_image(cfg, tiny_data(), device, resume, fail_in_epoch_3), claim, claim_alone, log)
    assert seen == [1, 2, 2, 3]  # epoch 1 was kept (saved before the failure in epoch 2's callback)
    assert [r.val_loss for r in resumed.history] == [r.val_loss for r in reference.history]
    assert (resumed.best_epoch, resumed.best_loss) == (reference.best_epoch, reference.best_loss)
    held.slot.release()

