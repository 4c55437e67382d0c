# SPDX-License-Identifier: MIT
"""Starting the benchmark's programs and running graft, with timestamps on
CLOCK_MONOTONIC (time.monotonic_ns), the clock the C programs print.

Targets are started detached through `setsid` in a shell, as the
integration tests start fixtures: they are not children of this process,
and graft (our child) traces a process that is not its parent's child."""
import json
import os
import shlex
import signal
import subprocess
import threading
import time


class Detached:
    """A program running detached, its output in a log file."""

    def __init__(self, argv, log, ready_prefix):
        self.log = log
        command = f"setsid {' '.join(shlex.quote(a) for a in argv)} > {shlex.quote(log)} 2>&1 < /dev/null & echo $!"
        self.pid = int(subprocess.run(["/bin/sh", "-c", command], check=True,
                                      capture_output=True, text=True).stdout)
        self.ready = self.wait_for(ready_prefix)

    def lines(self):
        with open(self.log) as f:
            text = f.read()
        return text[:text.rfind("\n") + 1].splitlines()

    def wait_for(self, prefix, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.startswith(prefix):
                    return line
            if not self.alive():
                raise RuntimeError(f"{self.log}: exited: {self.lines()[-5:]}")
            time.sleep(0.01)
        raise TimeoutError(f"{self.log}: no '{prefix}' line in {timeout} s")

    def alive(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                return "State:\tZ" not in f.read()
        except FileNotFoundError:
            return False

    def stop(self, sig=signal.SIGKILL, timeout=30.0):
        """Sends sig and waits until the process is gone."""
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)


class Server(Detached):
    def __init__(self, binary, workers, log):
        super().__init__([binary, str(workers)], log, "ready")
        self.port = int(self.ready.split()[2])

    def gaps(self):
        """(t ns, largest own gap ns, largest global gap ns, units) per report line."""
        return [tuple(int(v) for v in line.split()[1:5])
                for line in self.lines() if line.startswith("gaps ")]


class LoadGenerator(Detached):
    def __init__(self, binary, port, connections, units, output, log):
        self.output = output
        super().__init__([binary, str(port), str(connections), str(units), output], log, "ready")

    def finish(self):
        """Stops the load and returns (sent ns, latency ns) of every request."""
        self.stop(signal.SIGINT)
        with open(self.output) as f:
            return [tuple(int(v) for v in line.split()) for line in f if line.strip()]


class GraftRun:
    """One graft command: exit code, wall time, JSON report, timed stderr notices."""

    def __init__(self, argv):
        self.argv = argv
        self.start = time.monotonic_ns()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.notices = []
        reader = threading.Thread(target=self._read_notices, args=(process.stderr,))
        reader.start()
        stdout = process.stdout.read()
        process.wait()
        reader.join()
        self.end = time.monotonic_ns()
        self.code = process.returncode
        try:
            self.report = json.loads(stdout) if stdout.strip().startswith("{") else None
        except json.JSONDecodeError:
            self.report = None
        self.stdout = stdout

    def _read_notices(self, stream):
        for line in stream:
            self.notices.append((time.monotonic_ns(), line.rstrip("\n")))

    @property
    def wall_ms(self):
        return (self.end - self.start) / 1e6

    def notice_time(self, text):
        """When the first notice containing text arrived, or None."""
        return next((t for t, line in self.notices if text in line), None)

    def error(self):
        lines = [line for _, line in self.notices if "error" in line.lower() or "exception" in line.lower()]
        return lines[0] if lines else ""
