"""Fixtures shared by the unit and workflow tests."""
from __future__ import annotations

import pytest

from tests.fixture_data import FixtureServer, make_fixture_files
from tests.slurm_cluster import slurm_cluster_fixture

# A real single-node SLURM (munge, slurmctld, slurmd, two fake GPUs), started once per session.
slurm_cluster = pytest.fixture(scope="session")(slurm_cluster_fixture)


@pytest.fixture(scope="session")
def fixture_server(tmp_path_factory):
    """Raw data files in the real formats, served over HTTP on 127.0.0.1 for the whole session."""
    root = tmp_path_factory.mktemp("served")
    checksums = make_fixture_files(root)
    with FixtureServer(root) as server:
        server.root, server.checksums = root, checksums
        yield server


# Fixtures that mean a test runs real Snakemake jobs or a SLURM cluster, and the marker each asks for, so
# `make test-fast` (-m "not slurm and not workflow") never picks up a slow test by mistake.
SLOW_FIXTURES = {"smoke_run": "workflow", "slurm_cluster": "slurm"}


# make test runs the suite on two pytest-xdist workers (--dist loadgroup). Tests that share a session fixture
# built at length (the smoke run) or one SLURM cluster on localhost (its ports, its daemons) go to one worker
# each, as a group; xdist hands out the largest groups first, so the two long groups run side by side.
XDIST_GROUPS = {"smoke_run": "smoke_run", "slurm": "slurm_cluster"}  # fixture or marker -> group


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        fixtures = set(getattr(item, "fixturenames", ()))
        for fixture, marker in SLOW_FIXTURES.items():
            if fixture in fixtures and marker not in marks:
                raise pytest.UsageError(f"{item.nodeid} uses the fixture {fixture} but is not marked {marker}; "
                                        f"add pytest.mark.{marker}")
        groups = [group for key, group in XDIST_GROUPS.items() if key in fixtures or key in marks]
        if groups:
            _join_group(item, groups[-1])  # a SLURM test that used the smoke run would go with the SLURM tests
    # The slow tests first: xdist hands out the other tests in this order, so the short unit tests fill the
    # end of the run instead of a long workflow test starting last (a stable sort: modules stay together).
    # The SLURM harness's own cluster (tests/test_slurm_harness.py) stays ahead of the session's.
    items.sort(key=lambda item: not ({"workflow", "slurm"} & {mark.name for mark in item.iter_markers()}))


def _join_group(item, group: str) -> None:
    """Mark `item` for xdist's loadgroup. xdist 3.8 groups by an "@<group>" suffix of the node id, which it
    sets through item._nodeid; pytest 9.2 keeps the node id in item._id instead, so the suffix is set here."""
    item.add_marker(pytest.mark.xdist_group(name=group))
    if getattr(item.config.option, "loadgroup", False) and not item.nodeid.endswith(f"@{group}"):  # an xdist worker
        item._id = type(item._id).parse(f"{item.nodeid}@{group}")
