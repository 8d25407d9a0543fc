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


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        for fixture, marker in SLOW_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()) and marker not in marks:
                raise pytest.UsageError(f"{item.nodeid} uses the fixture {fixture} but is not marked {marker}; "
                                        f"add pytest.mark.{marker}")
