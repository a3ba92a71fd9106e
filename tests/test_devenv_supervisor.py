"""``make run`` keeps web, worker and beat running: a program that dies is started again after a
growing pause, and the others are left alone. Real child processes; the supervisor's clock is a
counter the test moves, so nothing waits on wall time except a dead child being noticed."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from devtools.devenv import Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for_exit(supervisor: Supervisor, name: str) -> None:
    proc = supervisor.processes[name]
    proc.wait(timeout=30)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    clock = Clock()
    programs = {
        "dies": [sys.executable, "-c", "import sys; sys.exit(3)"],
        "lives": [sys.executable, "-c", "import time; time.sleep(120)"],
    }
    running = Supervisor(programs, first_backoff=1, max_backoff=4, stable_after=60, clock=clock)
    running.start()
    yield running
    running.stop()


def test_a_program_that_exits_is_started_again_and_the_others_keep_running(supervisor: Supervisor) -> None:
    clock = supervisor.clock
    lives = supervisor.processes["lives"]
    wait_for_exit(supervisor, "dies")
    first = supervisor.processes["dies"]
    supervisor.step()  # notices the exit, schedules a start in 1 s
    assert supervisor.processes["dies"] is first and supervisor.restarts["dies"] == 0
    clock.now += 1
    supervisor.step()
    assert supervisor.processes["dies"] is not first and supervisor.restarts["dies"] == 1
    assert supervisor.processes["lives"] is lives and lives.poll() is None


def test_quick_exits_back_off_up_to_the_limit_and_a_stable_run_starts_over(supervisor: Supervisor) -> None:
    clock = supervisor.clock
    pauses = []
    for _ in range(4):
        wait_for_exit(supervisor, "dies")
        supervisor.step()
        pauses.append(supervisor.restart_at["dies"] - clock.now)
        clock.now = supervisor.restart_at["dies"]
        supervisor.step()
    assert pauses == [1, 2, 4, 4]
    wait_for_exit(supervisor, "dies")
    clock.now += 61  # that run lasted longer than stable_after
    supervisor.step()
    assert supervisor.restart_at["dies"] - clock.now == 1


def test_stop_ends_every_child() -> None:
    running = Supervisor({"lives": [sys.executable, "-c", "import time; time.sleep(120)"]})
    running.start()
    proc = running.processes["lives"]
    running.stop()
    assert proc.poll() is not None
