#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Ansible module graft_patch: apply or revert a Graft live patch on the managed host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: graft_patch
short_description: Apply or revert a Graft live patch on the processes of a host
version_added: "0.1.0"
description:
  - Live-patches running processes of the managed host with the C(graft) command, or reverts
    a patch from them. The processes keep running, with the same pid, connections and state.
  - Idempotent. The module first reads which processes hold the patch (C(graft list --all --json),
    or C(graft list PID --json)) and changes only those whose state differs. With I(target=all) or
    I(target=object), C(graft apply --all/--object) itself skips a process where the patch is
    already applied without attaching to it, and C(graft revert --all) reaches only processes that
    hold the patch, so a second run changes nothing and reports C(changed=false).
  - In check mode nothing is attached to or changed; the module reports which processes it would
    patch or revert, choosing them from C(/proc) as C(graft) does (the file's device and inode for
    I(target=object), the build-ids the patch pins for I(target=all)).
  - A process that refuses or times out does not stop the others; the module then fails with
    C(graft)'s own message for each such process, and I(results) still lists those that succeeded.
  - Runs on the managed host and needs root (or C(CAP_SYS_PTRACE) over the targets), as C(graft) does.
options:
  patch:
    description:
      - Path of the patch file (C(.so), built with C(graft build)) on the managed host.
      - Required with I(state=applied). With I(state=reverted) it gives the patch's name; give I(name) instead when the file is gone.
    type: path
  name:
    description:
      - Name of the patch, as C(graft list) shows it. Only needed with I(state=reverted) and no I(patch).
      - With I(patch) given, must be that patch's name.
    type: str
  state:
    description:
      - C(applied) switches the processes to the patch (continuing a transition left in flight).
      - C(reverted) switches them back to the original code; the patch image stays loaded, as C(graft revert) leaves it.
    type: str
    choices: [applied, reverted]
    default: applied
  target:
    description:
      - Which processes.
      - C(object) every process that maps the file I(object) (same device and inode), e.g. every nginx process; a master is done before the workers it forked.
      - C(all) every process that maps one of the patch's objects with the build-id it pins (the patch must pin one),
        or, for a revert, every process where the patch is applied.
      - C(pid) the one process I(pid).
    type: str
    choices: [all, object, pid]
    default: object
  object:
    description:
      - Path of the executable or library whose processes to patch. Required with I(target=object).
    type: path
  pid:
    description:
      - Process id. Required with I(target=pid).
    type: int
  timeout:
    description:
      - Seconds each process's transition may take (C(graft --timeout)). Past it graft rolls back (stop-world) or leaves
        the transition in flight (per-thread); either fails the task.
    type: int
    default: 15
  consistency:
    description:
      - C(graft --consistency). C(per-thread) switches each thread when its own stack is clean, as the kernel's livepatch does;
        C(stop-world) stops every thread and switches them all at once.
    type: str
    choices: [per-thread, stop-world]
    default: per-thread
  force:
    description:
      - Past I(timeout), switch the threads still stuck whatever their stacks hold (C(graft --force)). The consistency guarantee is lost for them.
    type: bool
    default: false
  graft:
    description:
      - The C(graft) command, a path or a name looked up on C(PATH).
    type: str
    default: graft
  graftd_socket:
    description:
      - The socket of graftd (sets C(GRAFTD_SOCKET) for graft). When graftd answers there, graft runs each operation through it.
      - Left out, graft uses its default, C(/run/graft/graftd.sock).
    type: path
notes:
  - Supports check mode.
  - The exit codes of C(graft) are those of its README; a process that exits while the module works counts as done, as C(graft apply --all) counts it.
  - A stripped target needs its debug file installed where graft looks for it (see the README, "Stripped objects").
requirements:
  - graft and Python 3 on the managed host
  - Rolling a patch out across many hosts, a canary first, is described in docs/FLEET.md of Graft's repository.
author:
  - Graft maintainers
"""

EXAMPLES = r"""
- name: Patch every nginx process (the master first, so that workers it forks later run the fix)
  graft.livepatch.graft_patch:
    patch: /var/lib/graft/patches/nginx-cve-2026-1234.so
    target: object
    object: /usr/sbin/nginx
    state: applied

- name: Patch every process that runs the build of libcrypto the patch pins
  graft.livepatch.graft_patch:
    patch: /var/lib/graft/patches/libcrypto-fix.so
    target: all
    timeout: 30

- name: Patch one process, stopping all its threads at once
  graft.livepatch.graft_patch:
    patch: /srv/fix.so
    target: pid
    pid: "{{ app_pid }}"
    consistency: stop-world

- name: Roll back everywhere the patch is applied
  graft.livepatch.graft_patch:
    name: nginx-cve-2026-1234
    target: all
    state: reverted

- name: See which processes a revert would touch, touching none
  graft.livepatch.graft_patch:
    name: nginx-cve-2026-1234
    target: all
    state: reverted
  check_mode: true
  register: would
"""

RETURN = r"""
patch:
  description: The patch's name.
  returned: always
  type: str
  sample: fix-parse-len
results:
  description:
    - One entry per process the module considered (in check mode, the processes it would change and those already as asked).
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: Process id.
      type: int
    command:
      description: Its command name.
      type: str
    before:
      description:
        - The patch's state in the process before the task (C(patched), C(patching), C(unpatching), C(loading), or
          C(reverted) for an image still loaded), or null when the process did not hold it.
      type: str
    outcome:
      description:
        - What happened, in graft's words (C(applied), C(already applied), C(reverted), C(exited), C(in flight), C(failed)).
        - In check mode C(would apply), C(would revert), C(already applied) or C(already reverted).
      type: str
    changed:
      description: Whether the process's code changed (or, in check mode, would).
      type: bool
    exit_code:
      description: graft's exit code for this process (0 done; see graft's README for the others).
      type: int
    error:
      description: graft's message when the process did not end as asked.
      type: str
  sample:
    - {pid: 1234, command: nginx, before: null, outcome: applied, changed: true, exit_code: 0, error: null}
    - {pid: 1240, command: nginx, before: patched, outcome: already applied, changed: false, exit_code: 0, error: null}
changed_pids:
  description: The processes that changed (in check mode, that would).
  returned: always
  type: list
  elements: int
failed_pids:
  description: The processes that did not end as asked.
  returned: always
  type: list
  elements: int
ansible_facts:
  description: Facts about the host's patches.
  returned: always
  type: complex
  contains:
    graft_patches:
      description:
        - Every process of the host that holds a graft patch, after the task (before it, in check mode), keyed by pid as a
          string, read with C(graft list --all --json).
        - Each holds C(command) and C(patches), a list of C(name), C(state) (C(patched), C(patching), C(unpatching),
          C(loading), or C(reverted) for a reverted image still loaded), C(build_id) (the patch file's) and C(applied_at).
      type: dict
      sample:
        "1234":
          command: nginx
          patches:
            - {name: fix-parse-len, state: patched, build_id: 58f586c7..., applied_at: "2026-12-07T02:52:12+00:00"}
"""

import json
import os
import struct

from ansible.module_utils.basic import AnsibleModule

# graft's exit codes (README, "exit code" table) that this module tells apart.
EXIT_DONE = 0
EXIT_GONE = 4
EXIT_IN_FLIGHT = 7
EXIT_SOME_FAILED = 10

# Processes graft never targets (it traces the targets with them), as graft's own host scan skips them.
GRAFT_COMMANDS = ("graft", "graftd")


class Graft(object):
    """The graft command, run with argument lists (no shell) and its JSON read back."""

    def __init__(self, module):
        self.module = module
        command = module.params["graft"]
        # A bare name is looked up on PATH (and the task fails saying so when it is not there).
        self.binary = command if "/" in command else module.get_bin_path(command, required=True)
        socket = module.params["graftd_socket"]
        self.environ = {"GRAFTD_SOCKET": socket} if socket else {}

    def run(self, *arguments):
        """Runs graft; returns (exit code, parsed stdout or None, the error line graft printed)."""
        rc, out, err = self.module.run_command([self.binary] + [str(a) for a in arguments], environ_update=self.environ)
        try:
            document = json.loads(out) if out.strip() else None
        except ValueError:
            document = None
        return rc, document, error_line(err) or out.strip()

    def json(self, *arguments):
        """Runs a graft command that must succeed and print JSON; fails the task with graft's message otherwise."""
        rc, document, error = self.run(*arguments)
        if rc != EXIT_DONE or document is None:
            self.module.fail_json(msg="graft %s failed (exit code %d): %s" % (arguments[0], rc, error), rc=rc)
        return document


def error_line(stderr):
    """graft's own error, 'graft: error: ...', without the prefix; else the last line of stderr."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("graft: error: "):
            return line[len("graft: error: "):]
    return lines[-1] if lines else ""


def host_patches(graft):
    """{pid: (command, {patch name: state})} for every process with graft patches, read without stopping any."""
    listed = graft.json("list", "--all", "--json")
    return dict((p["pid"], (p["command"], states(p["state"]))) for p in listed["processes"])


def process_patches(graft, pid):
    """The same for one process; an empty record when it holds none."""
    rc, state, error = graft.run("list", str(pid), "--json")
    if rc != EXIT_DONE or state is None:
        graft.module.fail_json(msg="graft list %d failed (exit code %d): %s" % (pid, rc, error), rc=rc)
    return {pid: (command_of(pid), states(state))}


def states(record):
    """Patch name -> state, from one process's record; a reverted image still loaded is 'reverted'."""
    found = dict((d["name"], "reverted") for d in record.get("disabled", []))
    found.update((p["name"], p["phase"]) for p in record.get("patches", []))
    return found


def facts(graft):
    """ansible_facts.graft_patches: every patched process of the host (JSON keys are strings, so pids are too)."""
    listed = graft.json("list", "--all", "--json")
    result = {}
    for process in listed["processes"]:
        record = process["state"]
        patches = [dict(name=p["name"], state=p["phase"], build_id=p.get("buildId"), applied_at=p.get("appliedAt")) for p in record.get("patches", [])]
        patches += [dict(name=d["name"], state="reverted", build_id=d.get("buildId"), applied_at=d.get("appliedAt")) for d in record.get("disabled", [])]
        result[str(process["pid"])] = dict(command=process["command"], patches=patches)
    return result


def command_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as comm:
            return comm.read().rstrip("\n")
    except IOError:
        return None


def build_id(path):
    """The GNU build-id of an ELF64 little-endian file, from its PT_NOTE segments; None if it has none."""
    try:
        with open(path, "rb") as elf:
            header = elf.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", header, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
            for index in range(phnum):
                elf.seek(phoff + index * phentsize)
                p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", elf.read(40))
                if p_type != 4:  # PT_NOTE
                    continue
                elf.seek(p_offset)
                notes, at = elf.read(p_filesz), 0
                while at + 12 <= len(notes):
                    namesz, descsz, n_type = struct.unpack_from("<III", notes, at)
                    name_at = at + 12
                    desc_at = name_at + ((namesz + 3) & ~3)
                    if n_type == 3 and notes[name_at:name_at + namesz] == b"GNU\x00":  # NT_GNU_BUILD_ID
                        return notes[desc_at:desc_at + descsz].hex()
                    at = desc_at + ((descsz + 3) & ~3)
    except (IOError, OSError, struct.error):
        return None
    return None


def host_processes():
    """(pid, command, [(start-end, offset, 'major:minor', inode, path)]) of every user process but this one and graft's."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            with open("/proc/%d/maps" % pid) as maps:
                mappings = [line.split(None, 5) for line in maps]
        except IOError:
            continue  # gone, or not ours to read: graft would count it as not inspected
        command = command_of(pid)
        # Kernel threads and zombies map nothing.
        if mappings and command not in GRAFT_COMMANDS:
            yield pid, command, [m for m in mappings if len(m) == 6]


def mapping_file(pid, mapping):
    """A path that opens the file a mapping shows: map_files (the very file mapped, even if replaced since), else its path."""
    through = "/proc/%d/map_files/%s" % (pid, mapping[0])
    return through if os.path.exists(through) else mapping[5].rstrip("\n")


def running_object(path):
    """Pids of processes that map the file at path (same device and inode), as graft apply --object chooses them."""
    info = os.stat(path)
    device = "%02x:%02x" % (os.major(info.st_dev), os.minor(info.st_dev))
    return dict((pid, command) for pid, command, maps in host_processes()
                if any(m[3] == device and int(m[4]) == info.st_ino for m in maps))


def running_build(build_ids):
    """Pids of processes that map an object with one of build_ids, as graft apply --all chooses them."""
    seen = {}
    chosen = {}
    for pid, command, maps in host_processes():
        for mapping in maps:
            # The ELF header is in the mapping at file offset 0; one read per file (device and inode).
            if int(mapping[2], 16) != 0 or mapping[4] == "0":
                continue
            key = (mapping[3], mapping[4])
            if key not in seen:
                seen[key] = build_id(mapping_file(pid, mapping))
            if seen[key] in build_ids:
                chosen[pid] = command
                break
    return chosen


def main():
    module = AnsibleModule(
        argument_spec=dict(
            patch=dict(type="path"),
            name=dict(type="str"),
            state=dict(type="str", default="applied", choices=["applied", "reverted"]),
            target=dict(type="str", default="object", choices=["all", "object", "pid"]),
            object=dict(type="path"),
            pid=dict(type="int"),
            timeout=dict(type="int", default=15),
            consistency=dict(type="str", default="per-thread", choices=["per-thread", "stop-world"]),
            force=dict(type="bool", default=False),
            graft=dict(type="str", default="graft"),
            graftd_socket=dict(type="path"),
        ),
        required_if=[
            ("state", "applied", ["patch"]),
            ("state", "reverted", ["patch", "name"], True),
            ("target", "object", ["object"]),
            ("target", "pid", ["pid"]),
        ],
        supports_check_mode=True,
    )
    params = module.params
    graft = Graft(module)
    applying = params["state"] == "applied"

    info = graft.json("info", params["patch"], "--json") if params["patch"] else None
    name = info["name"] if info else params["name"]
    if info and params["name"] and params["name"] != name:
        module.fail_json(msg="%s is patch '%s', not '%s'" % (params["patch"], name, params["name"]))
    if params["target"] == "object" and not os.path.exists(params["object"]):
        module.fail_json(msg="cannot find the object %s" % params["object"])

    # What each process in scope holds now: the processes with graft state, plus (to apply) those
    # that run the patch's code and hold nothing yet.
    if params["target"] == "pid":
        if not os.path.isdir("/proc/%d" % params["pid"]):
            module.fail_json(msg="process %d does not exist" % params["pid"], rc=EXIT_GONE)
        holding = process_patches(graft, params["pid"])
        scope = {params["pid"]: holding[params["pid"]][0]}
    else:
        holding = host_patches(graft)
        if params["target"] == "object":
            scope = running_object(params["object"])
        elif applying:
            pinned = set(o["buildId"].lower() for o in info["objects"] if o.get("buildId"))
            if not pinned:
                module.fail_json(msg="patch '%s' pins no build-id, so target=all cannot tell which processes run the code it was "
                                 "built for: use target=object with the file, or pin the build-id in the patch" % name)
            scope = running_build(pinned)
        else:
            scope = dict((pid, command) for pid, (command, _) in holding.items())
    before = dict((pid, holding.get(pid, (None, {}))[1].get(name)) for pid in scope)
    # Applied means patched: any other phase is a transition still to finish (graft apply continues
    # it). Reverted means the process does not hold the patch, or holds only its image, still loaded
    # after a revert (graft list shows it 'reverted').
    if applying:
        pending = sorted(pid for pid, phase in before.items() if phase != "patched")
    else:
        pending = sorted(pid for pid, phase in before.items() if phase not in (None, "reverted"))

    if module.check_mode:
        done_word = "already applied" if applying else "already reverted"
        would = "would apply" if applying else "would revert"
        results = [result(pid, scope[pid], before[pid], would if pid in pending else done_word, pid in pending) for pid in sorted(scope)]
        module.exit_json(changed=bool(pending), patch=name, results=results, changed_pids=pending, failed_pids=[],
                         ansible_facts=dict(graft_patches=facts(graft)))

    common = ["--timeout", str(params["timeout"]), "--consistency", params["consistency"], "--json"] + (["--force"] if params["force"] else [])
    subject = params["patch"] if applying else name
    verb = "apply" if applying else "revert"
    if params["target"] == "pid":
        pid = params["pid"]
        if pending:
            rc, report, error = graft.run(verb, str(pid), subject, *common)
            outcomes = [one_outcome(pid, scope[pid], rc, report, error, verb)]
        else:
            outcomes = []
    else:
        # graft chooses the processes itself (oldest first, a master before its workers, and again for
        # processes forked meanwhile) and skips those already as asked without attaching to them.
        selection = ["--object", params["object"]] if params["target"] == "object" else ["--all"]
        if not applying and params["target"] == "object":
            selection = ["--all", "--object", params["object"]]
        rc, report, error = graft.run(verb, *(selection + [subject] + common))
        if report is None or rc not in (EXIT_DONE, EXIT_SOME_FAILED):
            module.fail_json(msg="graft %s failed (exit code %d): %s" % (verb, rc, error), rc=rc, patch=name, results=[],
                             changed_pids=[], failed_pids=[])
        outcomes = [(p["pid"], p["command"], p["outcome"], p["exitCode"], p["error"]) for p in report["processes"]]

    results = [result(pid, command, before.get(pid), outcome, outcome in ("applied", "reverted", "in flight"), code, error)
               for pid, command, outcome, code, error in outcomes]
    # A process left out of the graft run was as asked already: it is in the results all the same.
    results += [result(pid, scope[pid], before[pid], "already " + ("applied" if applying else "reverted"), False)
                for pid in sorted(scope) if pid not in set(r["pid"] for r in results)]
    changed = [r["pid"] for r in results if r["changed"]]
    failed = [r for r in results if r["outcome"] in ("failed", "in flight")]
    answer = dict(changed=bool(changed), patch=name, results=results, changed_pids=changed, failed_pids=[r["pid"] for r in failed],
                  ansible_facts=dict(graft_patches=facts(graft)))
    if failed:
        done = [str(pid) for pid in changed if pid not in answer["failed_pids"]]
        reasons = "; ".join("process %d (%s): %s (exit code %d): %s" % (r["pid"], r["command"], r["outcome"], r["exit_code"], r["error"] or "")
                            for r in failed)
        module.fail_json(msg="%s '%s': %d of %d process(es) did not end as asked: %s. Done: %s" % (
            verb, name, len(failed), len(results), reasons, ", ".join(done) or "none"), **answer)
    module.exit_json(**answer)


def one_outcome(pid, command, rc, report, error, verb):
    """(pid, command, outcome, exit code, error) of graft apply/revert PID, in the words graft apply --all uses."""
    if rc == EXIT_DONE:
        return pid, command, "applied" if verb == "apply" else "reverted", rc, None
    if rc == EXIT_IN_FLIGHT:
        return pid, command, "in flight", rc, ("the transition stays in flight: 'graft status %d' shows who holds it, "
                                                "'graft continue %d' resumes it" % (pid, pid))
    return pid, command, "failed", rc, error


def result(pid, command, before, outcome, changed, exit_code=0, error=None):
    return dict(pid=pid, command=command, before=before, outcome=outcome, changed=changed, exit_code=exit_code, error=error)


if __name__ == "__main__":
    main()
