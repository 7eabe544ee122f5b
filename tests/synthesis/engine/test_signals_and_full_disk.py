"""What SIGTERM, SIGINT and a full disk leave behind (issue 28): the manifest says interrupted or failed, matches the
records, and the process says so in one line; a resume after the disk has room finishes the rest."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import StubServer, chat_completion_body
from tests.planted_key import KEY_ENV, REPO, problems_file, run_env


def _records(run_dir: Path) -> int:
    path = run_dir / "records.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _check_manifest_matches(run_dir: Path, status: str) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == status
    problems = manifest["problems"]
    assert problems["done_before"] + problems["done_now"] == _records(run_dir)
    return manifest


@pytest.mark.parametrize("signum, background", [
    (15, False),  # SIGTERM from a scheduler or `timeout`
    (15, True),   # ... to a job started with `&`, whose SIGINT is ignored (the case that ended `running`)
    (2, False),   # Ctrl-C
])
def test_a_signal_leaves_an_interrupted_manifest_that_matches_the_records(tmp_path, signum, background):
    import signal
    import time

    run_dir = tmp_path / "run"
    with StubServer([(200, chat_completion_body("1. x = 4\nACTION: continue"))], delay=0.2) as server:
        command = [sys.executable, "-m", "synthesis.critique_loop", "--problems", str(problems_file(tmp_path, 40)),
                   "--out", str(run_dir), "--model", "openai/stub", "--api_base", server.api_base, "--api_key_env",
                   KEY_ENV, "--concurrency", "4", "--max_turns", "2", "--reply_guard", "off", "--no_preflight"]
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(),
                                   cwd=REPO, preexec_fn=ignore)
        deadline = time.monotonic() + 90
        while _records(run_dir) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
        time.sleep(1.0)  # a record written after the final manifest would show now
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted"), stderr
    manifest = _check_manifest_matches(run_dir, "interrupted")
    assert 2 <= _records(run_dir) < 40 and manifest["problems"]["failed_now"] == 0


def test_a_full_disk_leaves_a_failed_manifest_that_matches_the_records_and_one_line(tmp_path, with_data_dir,
                                                                                   monkeypatch, capsys):
    import errno

    from synthesis import critique_loop
    from synthesis.engine import store

    run_dir = tmp_path / "run"
    full: list[bool] = []
    append, write_text = store.RecordLog.append, Path.write_text

    def append_until_full(self, record):
        if _records(run_dir) >= 2:
            full.append(True)
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        append(self, record)

    def write_unless_full(self, *args, **kwargs):
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordLog, "append", append_until_full)
    monkeypatch.setattr(Path, "write_text", write_unless_full)
    command = ["--problems", "math500", "--limit", "6", "--model", "oracle/reference", "--out", str(run_dir),
               "--concurrency", "2"]
    assert critique_loop.main(command) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("error: ")
    assert "No space left on device" in stderr.strip().splitlines()[-1]
    manifest = _check_manifest_matches(run_dir, "failed")
    assert "No space left" in manifest["stop_note"] and _records(run_dir) == 2
    monkeypatch.undo()  # room again: the resume finishes the rest
    assert critique_loop.main(command) == 0
    _check_manifest_matches(run_dir, "completed")
    assert _records(run_dir) == 6
