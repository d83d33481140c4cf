"""Servers the browser tests drive: the project's JupyterLab and Voilà, on loopback only.

Each starts on a free 127.0.0.1 port with its own runtime, settings and workspace folders
(nothing is read from or written to the user's ~/.jupyter), waits a bounded time for the
server to answer, and is stopped (terminate, then kill) when the ``with`` block ends, in
every outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slm_helpers.deploy.serving import free_port  # lesson 12's servers ask the OS the same way


@dataclass
class Server:
    """A running server: its base URL, token (empty for Voilà) and log file."""

    url: str
    token: str
    log: Path
    process: subprocess.Popen

    def api(self, path: str, method: str = "GET") -> object:
        """Call the Jupyter REST API (``/api/...``) with the token; returns the parsed JSON (or None)."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"


def _wait_until_up(server: Server, path: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if path is None:  # only the port: the server's pages do work when fetched
                host, port = server.url.removeprefix("http://").split(":")
                socket.create_connection((host, int(port)), timeout=5).close()
                return
            with urllib.request.urlopen(f"{server.url}{path}", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server did not answer on {server.url}{path} within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    # The server runs in its own process group, so kernels it started go with it.
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def _serve(cmd: list[str], url: str, token: str, check_path: str | None, workdir: Path, env: dict[str, str],
           timeout: float) -> Iterator[Server]:
    log = workdir / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(url, token, log, process)
    try:
        _wait_until_up(server, check_path, timeout)
        yield server
    finally:
        _stop(process)


def isolated_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a server: Jupyter's config, data-runtime and settings folders under ``workdir``."""
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"), ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
                      ("IPYTHONDIR", "ipython")]:
        (workdir / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(workdir / sub)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def jupyter_lab(root: Path, workdir: Path, env: dict[str, str], timeout: float = 90) -> Iterator[Server]:
    """JupyterLab serving ``root`` on a free loopback port, with a random token."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:  # CI containers run as root; Jupyter refuses that unless told
        cmd.append("--allow-root")
    with _serve(cmd, f"http://127.0.0.1:{port}", token, f"/api/status?token={token}", workdir, env, timeout) as s:
        yield s


@contextlib.contextmanager
def voila(notebook: Path, workdir: Path, env: dict[str, str], timeout: float = 90,
          extra_args: tuple[str, ...] = ()) -> Iterator[Server]:
    """Voilà serving one notebook as an app on a free loopback port."""
    port = free_port()
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--Voila.port_retries=0", *extra_args]
    # Voilà runs the notebook when the page is requested, so "up" is its port accepting connections.
    with _serve(cmd, f"http://127.0.0.1:{port}", "", None, workdir, env, timeout) as s:
        yield s
