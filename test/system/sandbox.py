#!/usr/bin/env python3
"""Run a command inside the system-call sandbox a systemd unit describes.

    sandbox.py UNIT COMMAND [ARGS...]
    sandbox.py --report UNIT TRACE


systemd builds SystemCallFilter=, RestrictAddressFamilies= and
MemoryDenyWriteExecute= as a seccomp filter that the kernel applies from
the service's exec on.  systemd cannot run in the test machines, so this
builds the same kind of filter from the unit's lines (the groups expanded
by `systemd-analyze syscall-filter`, the numbers taken from the kernel's
headers), installs it with prctl() and execs COMMAND: the kernel enforces
it exactly as it would for the service.  A call outside the filter fails
with SystemCallErrorNumber= (EPERM by default), a socket() of another
family with EAFNOSUPPORT, a writable and executable mapping with EPERM.

--report reads what `strace -f` wrote while COMMAND ran in the sandbox
and lists every call the filter refused, from COMMAND's exec on; it exits 1
if any was refused other than those in TOLERATED.

x86_64 only (the syscall numbers); exits 77 (automake's "skipped")
elsewhere.
"""
import ctypes
import errno
import os
import platform
import re
import struct
import subprocess
import sys

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# classic BPF, as seccomp runs it
BPF_LD_W_ABS = 0x20       # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15          # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35          # BPF_JMP | BPF_JGE | BPF_K
BPF_AND_K = 0x54          # BPF_ALU | BPF_AND | BPF_K
BPF_RET_K = 0x06          # BPF_RET | BPF_K
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# offsets in struct seccomp_data: nr, arch, ip, args[6] (low words first)
OFF_NR, OFF_ARCH, OFF_ARG0, OFF_ARG2 = 0, 4, 16, 32
PROT_WRITE, PROT_EXEC = 0x2, 0x4
FAMILIES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10,
            "AF_NETLINK": 16, "AF_PACKET": 17}


def expand(name):
    """A group as systemd-analyze expands it, or a single call."""
    if not name.startswith("@"):
        return {name}
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item)
    return calls


def read_unit(path):
    allowed, denied, families, mdwe, err = set(), set(), None, False, "EPERM"
    for line in open(path):
        key, _, value = line.strip().partition("=")
        if key == "SystemCallFilter":
            deny = value.startswith("~")
            for item in value.lstrip("~").split():
                (denied if deny else allowed).update(expand(item))
        elif key == "RestrictAddressFamilies":
            families = {FAMILIES[f] for f in value.split()}
        elif key == "MemoryDenyWriteExecute":
            mdwe = value == "yes"
        elif key == "SystemCallErrorNumber":
            err = value
    if not allowed:
        sys.exit(f"{path}: no SystemCallFilter=")
    return allowed - denied, families, mdwe, getattr(errno, err)


def syscall_numbers():
    numbers = {}
    for line in open(UNISTD):
        m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
        if m:
            numbers[m.group(1)] = int(m.group(2))
    return numbers


def build_filter(allowed, families, mdwe, err):
    numbers = syscall_numbers()
    prog = []

    def ins(code, k, jt=0, jf=0):
        prog.append((code, jt, jf, k))

    deny = SECCOMP_RET_ERRNO | err
    # another architecture, or x32's calls: refused (SystemCallArchitectures=native)
    ins(BPF_LD_W_ABS, OFF_ARCH)
    ins(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0)
    ins(BPF_RET_K, deny)
    ins(BPF_LD_W_ABS, OFF_NR)
    ins(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1)
    ins(BPF_RET_K, deny)
    checked = {}
    if families is not None:
        checked["socket"] = [(OFF_ARG0, None, f) for f in sorted(families)]
    if mdwe:
        checked["mmap"] = "mmap"
        checked["mprotect"] = "mprotect"
        checked["pkey_mprotect"] = "mprotect"
    for name in sorted(allowed):
        if name not in numbers:
            continue            # a call of another architecture
        nr = numbers[name]
        rule = checked.get(name)
        if rule is None:
            ins(BPF_JEQ_K, nr, 0, 1)
            ins(BPF_RET_K, SECCOMP_RET_ALLOW)
        elif name == "socket":
            # jeq nr, then one test per family, then refuse the family
            ins(BPF_JEQ_K, nr, 0, 3 + 2 * len(rule))
            ins(BPF_LD_W_ABS, OFF_ARG0)
            for _, _, fam in rule:
                ins(BPF_JEQ_K, fam, 0, 1)
                ins(BPF_RET_K, SECCOMP_RET_ALLOW)
            ins(BPF_RET_K, SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT)
            ins(BPF_LD_W_ABS, OFF_NR)   # reload nr for the next tests
        else:
            # mmap: refuse PROT_WRITE|PROT_EXEC; mprotect: refuse PROT_EXEC
            bad = PROT_WRITE | PROT_EXEC if rule == "mmap" else PROT_EXEC
            ins(BPF_JEQ_K, nr, 0, 6)
            ins(BPF_LD_W_ABS, OFF_ARG2)
            ins(BPF_AND_K, bad)
            ins(BPF_JEQ_K, bad, 0, 1)
            ins(BPF_RET_K, SECCOMP_RET_ERRNO | errno.EPERM)
            ins(BPF_RET_K, SECCOMP_RET_ALLOW)
            ins(BPF_LD_W_ABS, OFF_NR)
    ins(BPF_RET_K, deny)
    return prog


def install(prog):
    raw = b"".join(struct.pack("=HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("=HxxxxxxQ", len(prog), ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                           ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        sys.exit(f"PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                  ctypes.addressof(fbuf), 0, 0) != 0:
        sys.exit(f"PR_SET_SECCOMP: {os.strerror(ctypes.get_errno())}")


# Calls that the sandbox refuses and pgweir's libraries expect to be refused
# somewhere: each with what happens instead.
TOLERATED = {
    # libevent's resolver (evdns_base_new) lists the machine's addresses
    # with getifaddrs() to learn whether it has IPv4 and IPv6; refused, it
    # learns the same by connecting a UDP socket, which sends nothing
    ("socket", "AF_NETLINK"),
}


def report(unit, trace):
    allowed, families, mdwe, err = read_unit(unit)
    refused, calls, started = {}, {}, False
    call = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]")
    for line in open(trace):
        m = call.match(line)
        if not m:
            continue
        name = m.group(2)
        if not started:
            # the sandbox's own work ends with the exec of the command
            started = name == "execve" and line.rstrip().endswith("= 0")
            continue
        calls[name] = calls.get(name, 0) + 1
        why = None
        if name not in allowed:
            why = (name, "")
        elif name == "socket" and "EAFNOSUPPORT" in line:
            fam = re.search(r"socket\((AF_[A-Z0-9]+)", line)
            why = (name, fam.group(1) if fam else "?")
        elif name in ("mmap", "mprotect") and "PROT_EXEC" in line and \
                "= -1 EPERM" in line:
            why = (name, "PROT_EXEC")
        if why:
            refused[why] = refused.get(why, 0) + 1
    if not started or len(calls) < 30:
        sys.exit(f"{trace}: no exec of the command, or too few calls")
    bad = 0
    for (name, arg), n in sorted(refused.items()):
        ok = (name, arg) in TOLERATED
        bad += not ok
        print(f"{'tolerated' if ok else 'REFUSED'}: {name} {arg} ({n} times)")
    print(f"{len(calls)} distinct calls, {sum(calls.values())} in all, "
          f"inside a filter of {len(allowed)} calls")
    sys.exit(1 if bad else 0)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--report":
        report(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if platform.machine() != "x86_64" or not os.path.exists(UNISTD):
        print("sandbox.py: x86_64 with linux-libc-dev only")
        sys.exit(77)
    allowed, families, mdwe, err = read_unit(sys.argv[1])
    prog = build_filter(allowed, families, mdwe, err)
    if len(prog) > 4096:
        sys.exit(f"filter of {len(prog)} instructions is too long")
    install(prog)
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
