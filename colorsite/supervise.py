"""`make run`'s process supervisor: the workers stay up, and nothing outlives the launcher.

Each child runs in a process group of its own, so

* a Ctrl-C in the terminal reaches only the launcher, which then stops the children in order
  (SIGTERM to each group, SIGKILL after a grace period), rather than everybody at once;
* a child's own children (a Celery worker's pool processes) are stopped with it, and when a worker
  dies, what it left of its group is killed before it is started again.

On Linux each child also asks the kernel for SIGTERM when the launcher dies (PR_SET_PDEATHSIG,
through ctypes), so a launcher killed with SIGKILL leaves no worker, beat or Redis behind.
A child marked ``restart`` (the workers, beat) is started again when it dies, with a message, at
most ``max_restarts`` times in ``window`` seconds; past that, or when any other child (the web
server, Redis) stops, everything stops.  Production uses systemd units instead (docs/deploy.md).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _libc():
    """The C library, to call prctl; None off Linux (there, nothing stops orphans but a clean stop)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive SIGTERM when ``parent_pid`` (this process) dies.

    The libc handle is looked up here, before the fork: the function run in the child only calls it.
    If the parent died between the fork and the prctl, the signal would never come, so the child
    checks and leaves at once.
    """
    libc = _libc()
    if libc is None:
        return None

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def popen_options() -> dict:
    """Popen arguments for a supervised child: its own process group, and death with this process."""
    return {"process_group": 0, "preexec_fn": die_with_parent(os.getpid())}


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    name: str
    command: list[str]
    restart: bool = False
    process: subprocess.Popen | None = None
    restarts: deque = field(default_factory=deque)  # when it was last restarted (monotonic seconds)


class Supervisor:
    """Starts children, restarts the ones that may be restarted, and stops them all."""

    def __init__(
        self,
        say: Callable[[str], None],
        max_restarts: int = 5,
        window: float = 60.0,
        grace: float = 15.0,
        poll: float = 0.5,
    ):
        self.say, self.max_restarts, self.window, self.grace, self.poll = say, max_restarts, window, grace, poll
        self.children: list[Child] = []
        self.services: list[subprocess.Popen] = []  # started elsewhere (Redis): stopped last

    def adopt_service(self, process: subprocess.Popen) -> None:
        self.services.append(process)

    def start(self, name: str, command: list[str], restart: bool = False) -> Child:
        child = Child(name, command, restart)
        self.children.append(child)
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, **popen_options())
        self.say(f"started the {child.name} (pid {child.process.pid})")

    def watch(self) -> int:
        """Keep the children running until one that may not be restarted stops (returns 1); never returns 0.

        Returns by KeyboardInterrupt too, which the launcher turns SIGINT and SIGTERM into.
        """
        while True:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    continue
                _kill_group(child.process.pid)  # what it leaves behind (a worker's pool) goes with it
                if not child.restart:
                    self.say(f"the {child.name} stopped ({describe_exit(code)}); stopping the others")
                    return 1
                now = time.monotonic()
                while child.restarts and child.restarts[0] < now - self.window:
                    child.restarts.popleft()
                if len(child.restarts) >= self.max_restarts:
                    self.say(
                        f"the {child.name} stopped ({describe_exit(code)}) {self.max_restarts + 1} times in "
                        f"{self.window:.0f} s; stopping everything"
                    )
                    return 1
                child.restarts.append(now)
                self.say(
                    f"the {child.name} (pid {child.process.pid}) stopped ({describe_exit(code)}); restarting it "
                    f"(restart {len(child.restarts)} of at most {self.max_restarts} in {self.window:.0f} s)"
                )
                self._spawn(child)
            time.sleep(self.poll)

    def stop(self) -> None:
        """Stop the children (web server first), then the services; a signal meanwhile changes nothing."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        processes = [c.process for c in reversed(self.children) if c.process is not None]
        stop_groups(processes, self.grace)
        stop_groups(list(reversed(self.services)), self.grace)


def stop_groups(processes: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM to each process's group, then SIGKILL to the groups still there after ``grace`` seconds."""
    for process in processes:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
        _kill_group(process.pid)  # the group's leftovers (a worker's pool processes)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)
