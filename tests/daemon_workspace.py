"""The code location as Dagster's daemons see it, in this process (backfill, run queue, scheduler).

Private Dagster entry points (no public API drives the daemons in-process); pinned by dagster<1.14.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance, instance_for_test
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget


def code_location():
    """The code location under test, built from the environment when Dagster loads it.

    A function (not a module-level Definitions) so each load reads the test's env vars:
    Dagster calls it for the workspace and again when the launcher reconstructs the job.
    """
    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.settings import load_settings

    return build_definitions(load_settings())


@contextmanager
def queued_instance() -> Iterator[DagsterInstance]:
    """A real (temporary, sqlite) instance as deployed: queued runs, launched by the run-queue
    daemon; the launcher runs them synchronously in this process instead of a subprocess."""
    with instance_for_test(
        overrides={"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}},
        synchronous_run_launcher=True,
    ) as instance:
        yield instance


@contextmanager
def daemon_workspace(instance: DagsterInstance):
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            python_file=__file__,
            attribute="code_location",
            working_directory=str(Path(__file__).resolve().parents[1]),
        ),
        location_name="vetorial_assets",
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as ctx:
        yield ctx
