"""mimflow.core: atomic files, named seed streams, the checkpoint round trip, provenance and the epoch loop."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mimflow.core.checkpoint import load_checkpoint, save_checkpoint
from mimflow.core.fit import FitResult, NonFiniteLossError, StopRule, fit
from mimflow.core.io import (
    atomic_path,
    file_digest,
    sha256_file,
    write_csv_atomic,
    write_json_atomic,
)
from mimflow.core.provenance import provenance_record, settings_hash
from mimflow.core.seeds import STREAMS, stream
from mimflow.lowdim.model import LowdimModel, LowdimModelConfig, load_lowdim_model


def test_atomic_path_leaves_nothing_on_failure_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    write_json_atomic({"a": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_csv_and_digests(tmp_path):
    @dataclass
    class Row:
        epoch: int
        loss: float

    path = tmp_path / "log.csv"
    write_csv_atomic([Row(1, 0.5), Row(2, 0.25)], path)
    assert path.read_bytes() == b"epoch,loss\r\n1,0.5\r\n2,0.25\r\n"  # as csv writes it
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_digest(path, "md5") == hashlib.md5(path.read_bytes()).hexdigest()


def test_named_streams_are_the_published_seed_sequences():
    # the numbers we publish were drawn from SeedSequence([seed, k]); a renumbering would change them
    for name, k in {"evaluation": 1, "figures": 2, "animation": 3}.items():
        assert stream(7, name) == int(np.random.SeedSequence([7, k]).generate_state(1)[0])
    assert len({stream(1, name) for name in STREAMS}) == len(STREAMS)
    with pytest.raises(ValueError, match="'training' is not one of"):
        stream(1, "training")


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    config = LowdimModelConfig(x_dim=2, z_dim=2, mid_dim=5, layers=2, act="tanh", min_logvar=6.0, delta_encoder=False)
    model = LowdimModel(config)
    result = FitResult(best_epoch=4, best_loss=1.5, history=[object()] * 6, stopped_early=True)
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"dataset": "toy4", "seed": 3}, model, result, model_config=config.__dict__)
    state = load_checkpoint(path)
    assert (state["best_epoch"], state["best_loss"], state["epochs_run"], state["stopped_early"]) == (4, 1.5, 6, True)
    assert state["run_config"] == {"dataset": "toy4", "seed": 3}
    loaded, _ = load_lowdim_model(path)
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    x = torch.randn(4, 2)
    assert torch.equal(loaded.encoder(x)[0], model.encoder(x)[0])


def test_provenance_record(tmp_path):
    data = tmp_path / "data.pt"
    data.write_bytes(b"abc")
    record = provenance_record({"seed": 1, "lr": 0.1}, "2026-01-01T00:00:00+00:00", inputs={"data": str(data)},
                               extra={"rule": "train_lowdim"})
    assert record["settings_hash"] == settings_hash({"lr": 0.1, "seed": 1}) != settings_hash({"lr": 0.1, "seed": 2})
    assert record["inputs_sha256"] == {"data": hashlib.sha256(b"abc").hexdigest()}
    assert record["rule"] == "train_lowdim" and record["started"].startswith("2026")
    assert set(record["code"]) == {"commit", "dirty"} and "torch" in record["packages"]
    json.dumps(record)  # serialisable as written


@dataclass
class Record:
    epoch: int
    val_loss: float
    wall_time_s: float = 0.0


def fit_with_losses(losses, stop_rule, tmp_path=None, on_epoch=None, non_finite="raise"):
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def run_epoch(epoch):
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights say which epoch they come from
        return Record(epoch, losses[epoch - 1])

    resume = tmp_path / "resume.pt" if tmp_path else None
    result = fit(model, optimizer, {"training": torch.Generator()}, run_epoch, len(losses), stop_rule, {"k": 1},
                 Record, resume, on_epoch, non_finite=non_finite)
    return model, result


def test_stop_rule_best_candidate_and_patience():
    # lowdim (warmup 2): candidates from epoch 2; stop after more than 2 epochs without a new best
    model, result = fit_with_losses([0.1, 5, 4, 4.5, 4.2, 4.1, 0.0], StopRule(2, 2, 2))
    assert (result.best_epoch, result.best_loss) == (3, 4)  # epoch 1's 0.1 is no candidate
    assert [r.epoch for r in result.history] == [1, 2, 3, 4, 5, 6] and result.stopped_early
    assert model.weight.item() == 3  # loaded at its best state
    # images (warmup 3, patience 1): epochs before the warm-up ends never count towards stopping
    _, result = fit_with_losses([1, 2, 3, 4, 5, 6], StopRule(1, 3, 1))
    assert result.best_epoch == 1 and [r.epoch for r in result.history] == [1, 2, 3, 4]


def test_fewer_epochs_than_the_first_candidate_keep_the_last_model():
    model, result = fit_with_losses([3.0, 2.0], StopRule(5, 5, 5))
    assert (result.best_epoch, result.best_loss, result.stopped_early) == (2, 2.0, False)
    assert model.weight.item() == 2


def test_non_finite_validation_loss_raises_naming_the_epoch():
    with pytest.raises(NonFiniteLossError, match=r"non-finite val_loss \(nan\) at epoch 2"):
        fit_with_losses([1.0, math.nan, 0.5], StopRule(1, 1, 5))


def test_skip_policy_keeps_the_best_finite_epoch_and_fails_only_without_one():
    model, result = fit_with_losses([2.0, math.nan, 1.0, math.nan], StopRule(1, 1, 5), non_finite="skip")
    assert (result.best_epoch, result.best_loss) == (3, 1.0) and model.weight.item() == 3
    assert [r.epoch for r in result.history] == [1, 2, 3, 4]  # carried on past the NaN epochs
    with pytest.raises(NonFiniteLossError, match="no finite checkpoint"):
        fit_with_losses([math.nan, math.nan], StopRule(5, 5, 5), non_finite="skip")


def test_resume_continues_after_the_last_saved_epoch(tmp_path):
    def crash(model, record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_with_losses([3, 2, 1, 0.5], StopRule(1, 1, 5), tmp_path, crash)
    seen = []
    _, result = fit_with_losses([3, 2, 1, 0.5], StopRule(1, 1, 5), tmp_path, lambda m, r: seen.append(r.epoch))
    assert seen == [2, 3, 4]  # epoch 2 crashed before its save, so it runs again, once
    assert [r.epoch for r in result.history] == [1, 2, 3, 4]
    assert result.best_epoch == 4


def test_stop_policy_ends_training_at_the_best_finite_checkpoint():
    model, result = fit_with_losses([2.0, 1.0, math.nan, 0.5], StopRule(1, 1, 5), non_finite="stop")
    assert [r.epoch for r in result.history] == [1, 2, 3] and result.stopped_early
    assert (result.best_epoch, result.best_loss) == (2, 1.0) and model.weight.item() == 2


def test_resume_state_keeps_rng_states_on_the_cpu(tmp_path):
    """A resume.pt loaded onto another device breaks generator.set_state (the CUDA retry failure: the
    state must be a CPU ByteTensor); core.fit loads it onto the CPU, whatever device trains."""
    from mimflow.core.fit import _resume_state

    fit_with_losses([3.0, 2.0], StopRule(1, 1, 5), tmp_path)
    moved = torch.load(tmp_path / "resume.pt", weights_only=False, map_location="meta")
    with pytest.raises((RuntimeError, TypeError)):
        torch.Generator().set_state(moved["generator"]["training"])  # today's failure, reproduced without a GPU
    state = _resume_state(tmp_path / "resume.pt", {"k": 1})
    assert state["generator"]["training"].device.type == "cpu"
    torch.Generator().set_state(state["generator"]["training"])
    assert "cuda_rng" in state  # saved (None without CUDA) and restored on CUDA machines
