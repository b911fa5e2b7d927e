"""Mounting and unmounting: checks first, then libfuse, in the foreground or detached.

Foreground: libfuse's own SIGINT/SIGTERM/SIGHUP handlers end the loop, and
``fuse_main`` unmounts before it returns, so Ctrl-C and ``kill`` unmount
cleanly. Background: we fork *before* touching libfuse (libfuse's own
daemon mode forks from inside a ctypes call, behind Python's back); the
child starts a new session and mounts in the foreground, and tells the
parent through a pipe once the kernel has sent FUSE_INIT — the mount is
ready — or the pipe closes, in which case the child's error is already on
stderr. The parent returns only then.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

from ..store.store import Store

READY_TIMEOUT = 30.0


class MountError(Exception):
    """A mount that cannot happen; the message is for people. ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def fuse_device() -> str:
    return "/dev/fuse"


def check_fuse() -> Any:
    """Everything a mount needs, or MountError(exit 2). Returns the mfusepy module."""
    if not sys.platform.startswith("linux"):
        raise MountError(f"FUSE mounts are supported on Linux only (this is {sys.platform})")
    dev = fuse_device()
    if not os.path.exists(dev):
        raise MountError(
            f"FUSE is unavailable: {dev} does not exist (load the fuse kernel module; in a container, "
            "pass --device /dev/fuse --cap-add SYS_ADMIN)"
        )
    if os.geteuid() != 0 and not (shutil.which("fusermount3") or shutil.which("fusermount")):
        raise MountError("FUSE is unavailable: fusermount3 not found (install the fuse3 package)")
    try:
        import mfusepy
    except ImportError as e:
        raise MountError(f"FUSE is unavailable: the mfusepy package is not installed ({e})") from None
    except (OSError, AttributeError) as e:  # mfusepy raises these when libfuse is missing or unusable
        raise MountError(f"FUSE is unavailable: libfuse could not be loaded ({e}); install the fuse3 package") from None
    return mfusepy


_OCTAL = re.compile(r"\\([0-7]{3})")


def is_mounted(path: str) -> bool:
    """Whether ``path`` is a mount point, stale FUSE mounts included.

    ``os.path.ismount`` says no when the serving process has died (stat
    fails with ENOTCONN), which is exactly when one needs to unmount.
    """
    mp = _canonical(path)
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.split(b" ")
                if len(fields) > 4:
                    target = _OCTAL.sub(lambda mt: chr(int(mt.group(1), 8)), fields[4].decode("utf-8", "surrogateescape"))
                    if target == mp:
                        return True
        return False
    except OSError:
        return os.path.ismount(mp)


def _canonical(path: str) -> str:
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    return os.path.join(os.path.realpath(parent), name)


def _stale(path: str) -> bool:
    try:
        os.statvfs(path)  # a plain stat may still be answered from the kernel's cache
    except OSError as e:
        return e.errno == errno.ENOTCONN
    return False


def check_mountpoint(mountpoint: str) -> str:
    mp = _canonical(mountpoint)
    if _stale(mp):
        raise MountError(f"{mp} is a dead mount (its process is gone): crabview umount {mp}")
    if not os.path.exists(mp):
        raise MountError(f"{mp}: no such directory (create the mount point first)")
    if not os.path.isdir(mp):
        raise MountError(f"{mp}: not a directory")
    if is_mounted(mp):
        raise MountError(f"{mp} is already a mount point (crabview umount {mp})")
    return mp


def _fuse_options() -> dict[str, Any]:
    return {
        "foreground": True,
        "nothreads": False,  # concurrent: one slow file never blocks other readers
        "ro": True,
        "fsname": "crabview",
        "subtype": "crabview",
        # Short kernel caches keep the tree live (sizes of growing files,
        # new names); a miss costs one cheap revalidation here.
        "attr_timeout": 1.0,
        "entry_timeout": 1.0,
        "negative_timeout": 0.0,
    }


def _serve(store: Store, mountpoint: str, on_ready: Any = None, debug: bool = False) -> None:
    """Mount and serve until unmounted or signalled (blocks)."""
    import logging
    import warnings

    from .ops import CrabFS
    from .tree import MountTree

    fuse = check_fuse()
    if not debug:
        logging.getLogger("fuse").setLevel(logging.CRITICAL)
    ops = CrabFS(MountTree(store), on_ready=on_ready)
    opts = _fuse_options()
    if debug:
        opts["debug"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            fuse.FUSE(ops, mountpoint, raw_fi=True, **opts)
        except RuntimeError as e:
            # libfuse reports a loop ended by SIGINT/SIGTERM/SIGHUP as an
            # error (7) although it has unmounted cleanly: that is success.
            if ops.initialized and not os.path.ismount(mountpoint):
                return
            raise MountError(f"mounting {mountpoint} failed (libfuse returned {e}); see the message above") from None


def mount(store: Store, mountpoint: str, foreground: bool = False, debug: bool = False) -> int:
    """Mount ``store`` at ``mountpoint``. Foreground blocks; background returns once ready."""
    check_fuse()
    mp = check_mountpoint(mountpoint)
    if foreground:
        _serve(store, mp, debug=debug)
        return 0
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: becomes the daemon
        os.close(r)
        code = 0
        try:
            os.setsid()
            os.chdir("/")
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)

            def ready() -> None:
                try:
                    os.write(w, b"ready")
                    os.close(w)
                except OSError:
                    pass
                os.dup2(devnull, 1)  # detached from the terminal from now on
                os.dup2(devnull, 2)

            _serve(store, mp, on_ready=ready, debug=debug)
        except MountError as e:
            print(f"crabview: {e}", file=sys.stderr)
            code = e.code
        except BaseException as e:  # noqa: BLE001 - the daemon must never leave a traceback behind
            print(f"crabview: the mount stopped: {e!r}", file=sys.stderr)
            code = 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(w)
    got = b""
    deadline = time.monotonic() + READY_TIMEOUT
    import select

    while time.monotonic() < deadline:
        ready_fds, _, _ = select.select([r], [], [], 0.2)
        if ready_fds:
            chunk = os.read(r, 64)
            if not chunk:
                break
            got += chunk
            if got.startswith(b"ready"):
                break
    os.close(r)
    if got.startswith(b"ready"):
        return pid
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done, status = pid, 0
    if done == 0:
        raise MountError(f"the mount at {mp} did not become ready within {READY_TIMEOUT:.0f}s (pid {pid} still running)")
    code = os.waitstatus_to_exitcode(status)
    raise MountError(f"mounting {mp} failed", code=code if code > 0 else 2)


def umount(mountpoint: str, lazy: bool = False) -> None:
    mp = _canonical(mountpoint)
    if not is_mounted(mp):
        raise MountError(f"{mp} is not mounted", code=1)
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmds: list[list[str]] = []
    if tool:
        cmds.append([tool, "-u", *(["-z"] if lazy else []), mp])
    if os.geteuid() == 0 and shutil.which("umount"):
        cmds.append(["umount", *(["-l"] if lazy else []), mp])
    if not cmds:
        raise MountError("cannot unmount: neither fusermount3 nor umount is available")
    last = ""
    for cmd in cmds:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode == 0 and not is_mounted(mp):
            return
        last = (p.stderr or p.stdout).strip()
    busy = " (busy: a process still uses it; try --lazy)" if "busy" in last.lower() else ""
    raise MountError(f"unmounting {mp} failed{busy}: {last}", code=1)
