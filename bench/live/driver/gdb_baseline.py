# SPDX-License-Identifier: MIT
"""The naive baseline a user might pick instead of Graft: gdb in batch
mode attaches (stopping every thread), loads the replacement with the
target's dlopen, writes a 14-byte absolute jump (jmp *0(%rip); .quad new)
over leaf_0000's entry and detaches.  It checks nothing: no thread is
kept out of the rewritten bytes, no stack is looked at."""
import subprocess
import time

PATCH = [
    "set $h = ((void *(*)(const char *, int)) dlopen)(\"{library}\", 2)",
    "set $f = ((void *(*)(void *, const char *)) dlsym)($h, \"leaf_0000_gdb\")",
    "set $a = (unsigned char *) leaf_0000",
    "printf \"graft-bench %lu %lu %lu\\n\", $a, *(unsigned long *) $a, *(unsigned long *) ($a + 8)",
    "set *(unsigned short *) $a = 0x25ff",
    "set *(unsigned int *) ($a + 2) = 0",
    "set *(unsigned long *) ($a + 6) = (unsigned long) $f",
]


def gdb(pid, commands):
    argv = ["gdb", "-q", "-nx", "-batch", "-p", str(pid)]
    for command in commands:
        argv += ["-ex", command]
    start = time.monotonic_ns()
    result = subprocess.run(argv, capture_output=True, text=True)
    return start, time.monotonic_ns(), result


def patch(pid, library):
    """Patches leaf_0000; returns (start ns, end ns, exit code, bytes to restore)."""
    start, end, result = gdb(pid, [c.format(library=library) for c in PATCH])
    saved = next((line.split()[1:] for line in result.stdout.splitlines()
                  if line.startswith("graft-bench ")), None)
    return start, end, result.returncode, saved


def restore(pid, saved):
    """Puts leaf_0000's first 16 bytes back (not timed: the benchmark's own cleanup)."""
    address, first, second = saved
    gdb(pid, [f"set *(unsigned long *) {address} = {first}",
              f"set *(unsigned long *) ({address} + 8) = {second}"])
