"""A real single-node SLURM cluster on localhost for tests (munge + slurmctld + slurmd, no accounting).

Mode A of the local-SLURM recipe: job status comes from ``squeue`` (profile key
``slurm-status-command: squeue``), because there is no slurmdbd and ``sacct`` answers
"accounting storage is disabled".

Needs root (mknod, /etc/slurm, running munged as user ``munge``) and the Debian packages
``slurm-wlm`` and ``munge`` (see :func:`ensure_slurm_installed`).

Everything lives under ``base`` apart from the apt packages, ``/run/munge`` (removed again
when this harness created it) and the two symlinks ``/etc/slurm/slurm.conf`` and
``/etc/slurm/gres.conf``.  The config has to sit at the default path: the slurm-jobstep
plugin strips ``SLURM_*`` variables (``SLURM_CONF`` included) before its inner ``srun``.

Usage::

    with LocalSlurmCluster(tmp_path / "slurm") as cluster:
        cluster.run(["sbatch", "--wait", "--wrap", "hostname"], timeout=60)

Wiring the session fixture into a conftest::

    from tests.slurm_cluster import slurm_cluster_fixture
    slurm_cluster = pytest.fixture(scope="session")(slurm_cluster_fixture)
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
REQUIRED_BINARIES = ("slurmctld", "slurmd", "sbatch", "munged")
SLURM_ETC = Path("/etc/slurm")
MUNGE_RUN = Path("/run/munge")
# Waits poll for a named state (a pid file, munge answering, the node idle, no job left); these caps only
# guard against hangs, so a slow or loaded machine never fails for want of time.
DAEMON_WAIT_S = 300
COMMAND_GUARD_S = 120
MUNGE_PIDFILE = MUNGE_RUN / "munged.pid"
MUNGE_LOG = Path("/var/log/munge/munged.log")
SLURMCTLD_PORT = 6817
SLURMD_PORT = 6818
MEMORY_HEADROOM_MB = 512


class SlurmUnavailable(RuntimeError):
    """SLURM is not installed and could not be installed (no apt-get, apt failed, not root)."""


def _search_path() -> str:
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(parts + [d for d in SBIN_DIRS if d not in parts])


def which(name: str) -> str | None:
    """Like shutil.which, but also looks in the sbin folders (daemons live in /usr/sbin)."""
    return shutil.which(name, path=_search_path())


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED_BINARIES if which(name) is None]


def _tail(text: str, limit: int = 2000) -> str:
    return text[-limit:]


def ensure_slurm_installed(timeout: float = 600) -> None:
    """Install slurm-wlm and munge with apt-get when any of slurmctld/slurmd/sbatch/munged is missing.

    ``timeout`` bounds the update and the install together.  Raises :class:`SlurmUnavailable`
    (a RuntimeError) with the reason when it cannot install them.
    """
    missing = missing_binaries()
    if not missing:
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable(f"SLURM binaries missing ({', '.join(missing)}) and not root, cannot apt-get install")
    apt = which("apt-get")
    if apt is None:
        raise SlurmUnavailable(f"SLURM binaries missing ({', '.join(missing)}) and apt-get is not available")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", PATH=_search_path())
    deadline = time.monotonic() + timeout
    steps = ([apt, "update"],
             [apt, "install", "-y", "--no-install-recommends", "slurm-wlm", "munge"])
    for cmd in steps:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SlurmUnavailable(f"no time left (timeout={timeout}s) for: {' '.join(cmd)}")
        try:
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=left)
        except subprocess.TimeoutExpired as exc:
            raise SlurmUnavailable(f"{' '.join(cmd)} timed out after {left:.0f}s") from exc
        if proc.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n"
                                   f"{_tail(proc.stdout)}\n{_tail(proc.stderr)}")
    still = missing_binaries()
    if still:
        raise SlurmUnavailable(f"apt-get install slurm-wlm munge finished but still missing: {', '.join(still)}")


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # the state is the first field after "(comm)"; comm may itself hold ')'
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _proc_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as slurm does: ignore TIME_WAIT
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _file_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text[-lines:])


class LocalSlurmCluster:
    """munged + slurmctld + slurmd on localhost; one node with the real CPUs/memory and 2 fake GPUs.

    Attributes after :meth:`start`:
      base, etc_dir, log_dir, run_dir: folders under ``base``
      partition: ``"main"``; node_name: this host's short name; cpus, real_memory_mb
      started_pids: ``{"munged"?: pid, "slurmctld": pid, "slurmd": pid}``, only daemons this object
        started; kept after :meth:`stop` so a test can check they are gone
      startup_seconds: time from launching munged/slurmctld to the node being idle
    """

    partition = "main"
    gpus = 2

    def __init__(self, base: Path, start_timeout: float = None, stop_timeout: float = 60.0):
        self.base = Path(base).resolve()
        self.etc_dir = self.base / "etc"
        self.log_dir = self.base / "log"
        self.run_dir = self.base / "run"
        self.state_dir = self.base / "state"
        self.fakedev_dir = self.base / "fakedev"
        self.start_timeout = start_timeout or DAEMON_WAIT_S
        self.stop_timeout = stop_timeout
        self.node_name: str | None = None
        self.cpus: int | None = None
        self.real_memory_mb: int | None = None
        self.started_pids: dict[str, int] = {}
        self.startup_seconds: float | None = None
        self._pidfiles: dict[str, Path] = {
            "slurmctld": self.run_dir / "slurmctld.pid",
            "slurmd": self.run_dir / "slurmd.pid",
            "munged": MUNGE_PIDFILE,
        }
        self._created_munge_run = False
        self._running = False
        self.env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
        self.env["PATH"] = _search_path()

    # ------------------------------------------------------------------ helpers
    def run(self, cmd: list[str], timeout: float = COMMAND_GUARD_S, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """Run a command (e.g. sinfo/sbatch/squeue) against this cluster, with a timeout."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.run(cmd, env=self.env, timeout=timeout, **kwargs)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed (rc={proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}")
        return proc

    def _bin(self, name: str) -> str:
        path = which(name)
        if path is None:
            raise RuntimeError(f"{name} not found; call ensure_slurm_installed() first")
        return path

    def node_state(self) -> str:
        try:
            proc = self.run([self._bin("sinfo"), "-h", "-N", "-o", "%t"], check=False)
        except subprocess.TimeoutExpired:
            return ""
        lines = proc.stdout.split()
        return lines[0] if proc.returncode == 0 and lines else ""

    def diagnostics(self) -> str:
        parts = []
        try:
            proc = self.run([self._bin("sinfo"), "-N", "-o", "%N %t %G %E"], check=False)
            parts.append(f"sinfo -N: rc={proc.returncode}\n{proc.stdout}{proc.stderr}")
        except (subprocess.TimeoutExpired, RuntimeError) as exc:
            parts.append(f"sinfo: {exc}")
        for name in ("slurmctld", "slurmd"):
            parts.append(f"--- tail of {self.log_dir / (name + '.log')} ---\n{_file_tail(self.log_dir / (name + '.log'))}")
            extra = self.log_dir / f"{name}.stdout"
            if extra.exists() and extra.stat().st_size:
                parts.append(f"--- {extra} ---\n{_file_tail(extra)}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ config
    def _probe_node(self) -> None:
        out = self.run([self._bin("slurmd"), "-C"]).stdout
        fields = dict(re.findall(r"(\w+)=(\S+)", out))
        try:
            self.cpus = int(fields["CPUs"])
            memory = int(fields["RealMemory"])
        except (KeyError, ValueError) as exc:
            raise RuntimeError(f"cannot parse `slurmd -C` output:\n{out}") from exc
        self.node_name = fields.get("NodeName") or socket.gethostname().split(".")[0]
        self.real_memory_mb = max(memory - MEMORY_HEADROOM_MB, 1)

    def _make_fake_gpus(self) -> list[Path]:
        self.fakedev_dir.mkdir(parents=True, exist_ok=True)
        devices = []
        for i in range(self.gpus):
            dev = self.fakedev_dir / f"gpu{i}"
            if dev.exists() or dev.is_symlink():
                if not stat.S_ISCHR(dev.lstat().st_mode):
                    dev.unlink()
            if not dev.exists():
                # char device 1,3 aliases /dev/null: gres/gpu wants a real device node per GPU
                os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            devices.append(dev)
        return devices

    def slurm_conf_text(self) -> str:
        b = self.base
        return f"""\
ClusterName=localcluster
SlurmctldHost={self.node_name}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort={SLURMCTLD_PORT}
SlurmdPort={SLURMD_PORT}
StateSaveLocation={b}/state/ctld
SlurmdSpoolDir={b}/state/d
SlurmctldPidFile={self._pidfiles['slurmctld']}
SlurmdPidFile={self._pidfiles['slurmd']}
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups / systemd needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName={self.node_name} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.real_memory_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node_name} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""

    def gres_conf_text(self) -> str:
        return (f"AutoDetect=off\n"
                f"NodeName={self.node_name} Name=gpu File={self.fakedev_dir}/gpu[0-{self.gpus - 1}]\n")

    def write_config(self) -> None:
        """Write etc/slurm.conf + etc/gres.conf, make fake GPUs, fresh state dirs, /etc/slurm symlinks."""
        for d in (self.etc_dir, self.log_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        # fresh controller/node state every start (a drained node stays drained in saved state)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        (self.state_dir / "ctld").mkdir(parents=True)
        (self.state_dir / "d").mkdir(parents=True)
        self._probe_node()
        self._make_fake_gpus()
        (self.etc_dir / "slurm.conf").write_text(self.slurm_conf_text())
        (self.etc_dir / "gres.conf").write_text(self.gres_conf_text())
        SLURM_ETC.mkdir(parents=True, exist_ok=True)
        for name in ("slurm.conf", "gres.conf"):
            self._symlink(self.etc_dir / name, SLURM_ETC / name)

    @staticmethod
    def _symlink(target: Path, link: Path) -> None:
        if link.exists() and not link.is_symlink():
            raise RuntimeError(f"{link} is a real file, not a symlink: refusing to replace it")
        tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)  # atomic swap of an older symlink

    # ------------------------------------------------------------------ munge
    def _munge_ok(self) -> bool:
        munge, unmunge = which("munge"), which("unmunge")
        if munge is None or unmunge is None:
            return False
        try:
            cred = subprocess.run([munge, "-n"], env=self.env, capture_output=True, timeout=10,
                                  stdin=subprocess.DEVNULL)
            if cred.returncode != 0:
                return False
            dec = subprocess.run([unmunge], env=self.env, input=cred.stdout, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return dec.returncode == 0

    def _start_munged(self) -> None:
        if self._munge_ok():
            return  # someone else's munged answers: use it, never stop it
        if not MUNGE_RUN.exists():
            self._created_munge_run = True
        self.run(["install", "-d", "-o", "munge", "-g", "munge", "-m", "0755", str(MUNGE_RUN)], timeout=10)
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            raise RuntimeError(f"{key} is missing (normally made by the munge package's postinst)")
        MUNGE_PIDFILE.unlink(missing_ok=True)
        with open(self.log_dir / "munged.stdout", "ab") as out:
            proc = subprocess.run([self._bin("runuser"), "-u", "munge", "--", self._bin("munged")], env=self.env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"munged failed to start (rc={proc.returncode}):\n"
                               f"{_file_tail(self.log_dir / 'munged.stdout')}\n{_file_tail(MUNGE_LOG)}")
        pid = self._wait_pidfile("munged", timeout=DAEMON_WAIT_S)
        self.started_pids["munged"] = pid
        deadline = time.monotonic() + DAEMON_WAIT_S  # the state waited for: munge answers; the cap is a hang guard
        while not self._munge_ok():
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged (pid {pid}) did not answer `munge -n | unmunge` within {DAEMON_WAIT_S}s "
                                   f"(state waited for: a credential round trip):\n{_file_tail(MUNGE_LOG)}")
            time.sleep(0.2)

    # ------------------------------------------------------------------ daemons
    def _wait_pidfile(self, name: str, timeout: float) -> int:
        path = self._pidfiles[name]
        deadline = time.monotonic() + timeout
        while True:
            pid = _read_pidfile(path)
            if pid is not None and pid_alive(pid):
                return pid
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} wrote no live pid to {path} within {timeout}s (state waited for: its pid "
                                   "file naming a live process)")
            time.sleep(0.1)

    def _start_daemon(self, name: str) -> None:
        self._pidfiles[name].unlink(missing_ok=True)
        with open(self.log_dir / f"{name}.stdout", "ab") as out:
            # the daemon forks away; its stdio goes to a file so no pipe keeps us waiting
            proc = subprocess.run([self._bin(name)], env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=out, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} exited with rc={proc.returncode} while starting")
        self.started_pids[name] = self._wait_pidfile(name, timeout=DAEMON_WAIT_S)

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.node_state()
            if state == "idle":
                return
            dead = [n for n, pid in self.started_pids.items() if not pid_alive(pid)]
            if dead:
                raise RuntimeError(f"daemon(s) died during start-up: {', '.join(dead)} (node state {state!r})")
            time.sleep(0.5)
        raise RuntimeError(f"node not idle after {self.start_timeout}s (state waited for: sinfo reports the node "
                           f"idle; last state {state!r})")

    def start(self) -> "LocalSlurmCluster":
        if self._running:
            return self
        if os.geteuid() != 0:
            raise RuntimeError("LocalSlurmCluster needs root (mknod, /etc/slurm, munged as user munge)")
        missing = missing_binaries()
        if missing:
            raise RuntimeError(f"missing {', '.join(missing)}: call ensure_slurm_installed() first")
        busy = [p for p in (SLURMCTLD_PORT, SLURMD_PORT) if _port_in_use(p)]
        if busy:
            raise RuntimeError(f"port(s) {busy} already in use: another slurmctld/slurmd runs on this machine")
        self.started_pids = {}
        self._running = True  # from here on stop() has something to clean
        try:
            self.write_config()
            t0 = time.monotonic()
            self._start_munged()
            self._start_daemon("slurmctld")
            self._start_daemon("slurmd")
            self._wait_idle()
            self.startup_seconds = time.monotonic() - t0
        except BaseException as exc:
            diag = self.diagnostics() if (self.log_dir.exists()) else ""
            self.stop()
            if isinstance(exc, Exception):
                raise RuntimeError(f"local SLURM cluster failed to start: {exc}\n{diag}") from exc
            raise
        return self

    def _cancel_jobs(self) -> None:
        """Best effort: cancel jobs still queued/running so no slurmstepd outlives slurmd."""
        try:
            ids = self.run([self._bin("squeue"), "-h", "-o", "%i"], check=False).stdout.split()
            if ids:
                self.run([self._bin("scancel"), *ids], check=False)
                deadline = time.monotonic() + DAEMON_WAIT_S  # until no job is left
                while time.monotonic() < deadline:
                    left = self.run([self._bin("squeue"), "-h", "-t", "PD,R,CG,CF,S", "-o", "%i"],
                                    check=False).stdout.split()
                    if not left:
                        break
                    time.sleep(0.5)
        except (subprocess.TimeoutExpired, RuntimeError, OSError):
            pass

    def _stop_daemon(self, name: str) -> None:
        recorded = self.started_pids.get(name)
        if recorded is None:
            return
        pidfile = self._pidfiles[name]
        pid = _read_pidfile(pidfile)
        if pid is None or pid != recorded:
            pid = recorded  # daemon removed/rewrote its pid file: trust the pid we read at start
        if pid_alive(pid) and _proc_name(pid) not in (None, name):
            return  # the pid was recycled by another process: never signal it
        for sig, wait in ((15, self.stop_timeout), (9, 5.0)):
            if not pid_alive(pid):
                break
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        if _read_pidfile(pidfile) == pid:
            pidfile.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the daemons this object started (by pid, never by name). Safe to call more than once."""
        if not self._running:
            return
        try:
            if "slurmctld" in self.started_pids and pid_alive(self.started_pids["slurmctld"]):
                self._cancel_jobs()
        finally:
            errors = []
            for name in ("slurmd", "slurmctld", "munged"):
                try:
                    self._stop_daemon(name)
                except Exception as exc:  # keep going: stop the others
                    errors.append(f"{name}: {exc}")
            if self._created_munge_run and "munged" in self.started_pids:
                shutil.rmtree(MUNGE_RUN, ignore_errors=True)
                self._created_munge_run = False
            # Drop our /etc/slurm symlinks: with a config naming a controller that is gone, every
            # `scontrol show config` (which the Snakemake SLURM plugin runs at each start) waits ~10 s.
            for name in ("slurm.conf", "gres.conf"):
                link = SLURM_ETC / name
                if link.is_symlink() and Path(os.readlink(link)).is_relative_to(self.base):
                    link.unlink()
            self._running = False
            if errors:
                raise RuntimeError("errors while stopping the local SLURM cluster: " + "; ".join(errors))

    def alive_pids(self) -> dict[str, int]:
        """The started daemons that still run."""
        return {name: pid for name, pid in self.started_pids.items() if pid_alive(pid)}

    def __enter__(self) -> "LocalSlurmCluster":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------------ jobs
    def sbatch_wait(self, args: list[str], timeout: float = 120, cwd: Path | None = None) -> tuple[str, subprocess.CompletedProcess]:
        """``sbatch --wait --parsable -p main [args]``; returns (job id, process). Cancels the job on timeout."""
        cmd = [self._bin("sbatch"), "--wait", "--parsable", "-p", self.partition, *args]
        proc = subprocess.Popen(cmd, env=self.env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=10)
            job = out.strip().split(";")[0]
            if job:
                self.run([self._bin("scancel"), job], timeout=15, check=False)
            raise RuntimeError(f"sbatch --wait {args} did not finish in {timeout}s (job {job or '?'}):\n"
                               f"{err}\n{self.diagnostics()}")
        job = out.strip().splitlines()[0].split(";")[0] if out.strip() else ""
        return job, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def slurm_cluster_fixture(tmp_path_factory):
    """Generator for a session fixture: ``slurm_cluster = pytest.fixture(scope="session")(slurm_cluster_fixture)``.

    Skips when not root or when SLURM cannot be installed with apt; any other failure fails.
    Yields the started :class:`LocalSlurmCluster` (``.base``, ``.partition == "main"``).
    """
    import pytest

    if os.geteuid() != 0:
        pytest.skip("local SLURM cluster needs root")
    try:
        ensure_slurm_installed()
    except SlurmUnavailable as exc:
        pytest.skip(f"cannot install SLURM: {exc}")
    cluster = LocalSlurmCluster(tmp_path_factory.mktemp("slurm"))
    with cluster:
        yield cluster
    alive = cluster.alive_pids()
    assert not alive, f"SLURM daemons still alive after stop: {alive}"
