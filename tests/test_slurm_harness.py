"""Tests of the local single-node SLURM harness (tests/slurm_cluster.py): a real munged + slurmctld + slurmd."""
from __future__ import annotations

import os

import pytest

from tests.slurm_cluster import LocalSlurmCluster, pid_alive, slurm_cluster_fixture

pytestmark = pytest.mark.slurm


# The same start/skip/stop-and-check logic as the session fixture, scoped to this module.
cluster = pytest.fixture(scope="module")(slurm_cluster_fixture)


def test_node_idle_with_two_gpus(cluster):
    assert {"slurmctld", "slurmd"} <= set(cluster.started_pids)
    assert all(pid_alive(pid) for pid in cluster.started_pids.values())
    out = cluster.run(["sinfo", "-h", "-N", "-o", "%N|%P|%t|%G"], timeout=15).stdout.split()
    assert out == [f"{cluster.node_name}|main*|idle|gpu:2"], out
    conf = cluster.run(["scontrol", "show", "config"], timeout=15).stdout
    assert str(cluster.base / "etc" / "slurm.conf") in os.path.realpath("/etc/slurm/slurm.conf")
    assert "MinJobAge               = 300 sec" in conf


def test_sbatch_wait_writes_job_id(cluster, tmp_path):
    job, proc = cluster.sbatch_wait(["-D", str(tmp_path), "--wrap", "echo $SLURM_JOB_ID > out"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert job.isdigit(), proc.stdout
    assert (tmp_path / "out").read_text().strip() == job


def test_gpu_job_sees_fake_gpu(cluster, tmp_path):
    job, proc = cluster.sbatch_wait(
        ["-D", str(tmp_path), "--gpus=1", "--wrap", "echo ${CUDA_VISIBLE_DEVICES:-unset} > gpu"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "gpu").read_text().strip() in {"0", "1"}


def test_stop_kills_every_started_daemon(cluster):
    pids = dict(cluster.started_pids)
    assert pids
    cluster.stop()  # what the fixture teardown does; stop() is idempotent
    assert not [n for n, pid in pids.items() if pid_alive(pid)], pids
    cluster.stop()
    assert cluster.started_pids == pids


def test_exit_stops_daemons_when_body_raises(cluster, tmp_path):
    cluster.stop()  # the module cluster holds the ports; free them first
    second = LocalSlurmCluster(tmp_path / "slurm2")
    with pytest.raises(ZeroDivisionError):
        with second:
            assert second.node_state() == "idle"
            assert {"slurmctld", "slurmd"} <= set(second.started_pids)
            1 / 0
    assert second.started_pids
    assert not second.alive_pids(), second.started_pids
