"""Walk every command of README.md's bash blocks on a fresh clone, as a new user would.

    .venv/bin/python scripts/walk_readme.py [--only PATTERN] [--keep DIR] [--list]

Each command is walked (run in README order in a fresh clone of HEAD, with `.venv` symlinked from this
repository and `../shared` beside the clone, so `LONGTHOUGHT_DATA_DIR=../shared/data` resolves) or skipped for
a reason in RULES below. A command that neither runs as written nor has a rule fails the walk, so a new README
command cannot go unwalked silently. One embedded server is started up front and shared through
`LONGTHOUGHT_EMBEDDED_API_BASE` (an environment variable, so the commands stay as written). The commands are
read from this checkout's README.md, so `--keep DIR --only PATTERN` retries an edited command in a kept clone.
Not part of the default test run: on a shared 2-core machine the whole walk took 27.5 min at load 1-4, 45 at 3-9.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Programs a newcomer runs straight from the clone; any other first word needs a rule.
RUNNABLE = (".venv/bin/python ", ".venv/bin/torchrun ", "LONGTHOUGHT_DATA_DIR=")
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class Command:
    """One README command: its joined text, the line it starts on and the optional placeholders removed."""

    text: str
    line: int
    placeholders: tuple[str, ...] = ()

    @property
    def template(self) -> bool:
        """A command with `[--flag N]` placeholders or `...` is a template, not a literal command."""
        return bool(self.placeholders) or "..." in self.text


@dataclass(frozen=True)
class Rule:
    """How the walk treats the commands that contain `match`; without a rule a command runs as written."""

    match: str
    action: str  # walk | skip | serve (started, answered over HTTP, stopped)
    reason: str
    drop: str = ""  # a part of the command not run (the install before the main job)
    swap: tuple[str, str] = ("", "")  # run with this argument replaced by that one
    append: str = ""  # flags appended (argparse keeps the last value given, so they override)
    rc: int = 0  # the exit status that is right for this command as written
    timeout: float = DEFAULT_TIMEOUT


# Keyed by a distinctive substring; the first rule that matches a command decides.
RULES: tuple[Rule, ...] = (
    Rule("bash scripts/install.sh && ", "walk", "install skipped: the clone's .venv is this repo's, and "
         "re-running install.sh there would re-point its editable install", drop="bash scripts/install.sh && "),
    Rule(".venv/bin/python -m pytest", "skip", "the test suite (10 min on 2 cores, and -m slow after it); "
         "CI runs both"),
    Rule("gpu-box", "skip", "needs a remote model server (gpu-box) and an OpenAI key"),
    Rule("--model openai/gpt-4o-mini", "skip", "needs OPENAI_API_KEY"),
    Rule("--scorer-model openai/o1-mini --data", "skip", "needs OPENAI_API_KEY (o1-mini judge)"),
    Rule("--math-verify-tests ../Math-Verify", "skip", "needs a Math-Verify checkout beside the repo"),
    Rule("ray start", "skip", "starts a Ray cluster head on the machine (several machines)"),
    Rule("--ray HEAD:6379", "skip", "needs a Ray cluster at HEAD and the model servers of fleet.yaml"),
    Rule("--ray-gpus-per-worker 1", "skip", "needs GPUs (one per Ray worker)"),
    Rule("/shared/ray_token", "skip", "cluster setup: writes a token on the nodes' shared filesystem"),
    Rule("accelerate launch", "skip", "multi-GPU launch (accelerate / DeepSpeed) of a 7B model"),
    Rule("--router-config fleet.yaml --ray auto", "skip", "needs the model servers of fleet.yaml"),
    Rule("annotate validate annotations/", "walk", "the template just written is not filled in yet: validate "
         "names its empty attempt and final with file:line and exits 1", rc=1),
    # Long runs as written on a CPU: walked with small limits appended.
    Rule("--data math_train_12k --target solution", "walk", "one epoch on 12k problems: hours on a CPU",
         append="--limit 4 --max-steps 2 --max-length 256 --save-strategy no"),
    Rule("--data runs/tree --target", "walk", "three epochs, cut to 2 steps; the embedded model's runs/tree "
         "(1 MATH500 problem) has no correct answer to train on (and SFT drops eval-set problems), so the "
         "oracle's runs/rehearsal (20 MATH train problems) stands in",
         swap=("runs/tree", "runs/rehearsal"), append="--max-steps 2 --max-length 256 --save-strategy no"),
    Rule("--problems math_train_12k --samples 20", "walk", "20 samples of 12k problems: days on a CPU; and a "
         "2-step model's samples all run to any small cap (no answer, no pair), so the oracle samples (~30% wrong)",
         append="--limit 2 --samples 6 --pairs 1 --gold-fallback --sampler-model oracle/reference-e30 --max-steps 2 "
                "--max-length 256"),
    Rule("-m eval.accuracy --model hf/", "walk", "500 problems through transformers: hours on a CPU",
         append="--limit 2 --answer-max-tokens 64"),
    Rule("-m eval.viewer", "serve", "serves until stopped: started, GET / answered 200, stopped"),
)


def _strip_comment(line: str) -> str:
    """The line without a shell comment (a `#` at the start of a word, outside quotes)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


PLACEHOLDER = re.compile(r"\s*\[--[^\]]*\]")


def extract_commands(readme: str) -> list[Command]:
    """Every command in the ```bash blocks of a README, continuations joined and comments dropped."""
    commands: list[Command] = []
    in_bash, pending, start = False, "", 0
    for number, raw in enumerate(readme.splitlines(), start=1):
        fence = raw.strip()
        if fence.startswith("```"):
            in_bash = not in_bash and fence == "```bash"
            pending = ""
            continue
        if not in_bash:
            continue
        line = _strip_comment(raw.strip())
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text:
            found = tuple(match.strip() for match in PLACEHOLDER.findall(text))
            commands.append(Command(PLACEHOLDER.sub("", text).strip(), start, found))
    return commands


def rule_for(command: Command, rules: tuple[Rule, ...] = RULES) -> Rule | None:
    """The first rule whose substring the command contains, if any."""
    return next((rule for rule in rules if rule.match in command.text), None)


def plan(command: Command, rules: tuple[Rule, ...] = RULES) -> tuple[str, str, str]:
    """(state, shell line to run, reason): state is walk, serve, skip or unclassified."""
    rule = rule_for(command, rules) or Rule("", "walk", "")
    if rule.action == "skip":
        return "skip", "", rule.reason
    text = command.text.replace(rule.drop, "", 1) if rule.drop else command.text
    if rule.swap[0]:
        text = re.sub(rf"(?<!\S){re.escape(rule.swap[0])}(?!\S)", rule.swap[1], text)
    text = f"{text} {rule.append}" if rule.append else text
    if "..." in text or not text.startswith(RUNNABLE):
        return "unclassified", text, "not runnable as written and no rule in RULES says why"
    return rule.action, text, rule.reason


def unused_rules(commands: list[Command], rules: tuple[Rule, ...] = RULES) -> list[Rule]:
    """Rules that no README command uses any more (a stale table hides nothing, but misleads)."""
    used = {id(rule_for(command, rules)) for command in commands}
    return [rule for rule in rules if id(rule) not in used]


@dataclass
class Tally:
    """What the walk did, for the final line."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in output.strip().splitlines()[-lines:])


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(line: str, clone: Path, env: dict, timeout: float) -> tuple[int, str]:
    """Run one shell line in the clone in its own process group; on timeout the whole group is killed."""
    process = subprocess.Popen(["bash", "-c", line], cwd=clone, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return 124, output + f"\n(timed out after {timeout:.0f}s)"
    except BaseException:  # Ctrl-C or SIGTERM of the walk: its own session means nobody else stops the command
        os.killpg(process.pid, signal.SIGKILL)
        raise


def _serve(line: str, clone: Path, env: dict, timeout: float) -> tuple[int, str]:
    """Start a serving command on a free port, GET / until it answers 200, then stop it (SIGINT, as Ctrl-C)."""
    port = _free_port()
    process = subprocess.Popen(["bash", "-c", f"exec {line} --port {port}"], cwd=clone, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline, status, error = time.monotonic() + min(timeout, 120.0), 0, ""
    try:
        while time.monotonic() < deadline and process.poll() is None and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    status = reply.status
            except OSError as exc:  # not listening yet, or an HTTP error status
                error = str(exc)
                time.sleep(0.5)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    if status == 200:
        return 0, output
    return (process.returncode or 1), output + f"\nGET http://127.0.0.1:{port}/ never answered 200 ({error})"


def _clone(keep: Path | None) -> Path:
    """A fresh clone of HEAD beside a `shared` link, with `.venv` linked; a kept one is reused as it is."""
    root = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="readme-walk-"))
    clone = root / "longthought"
    if not (clone / ".git").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()],
            check=True)
        (clone / ".venv").symlink_to((REPO / ".venv").resolve())
    shared = root / "shared"
    if not shared.exists():
        shared.symlink_to(_data_dir().parent)
    return clone


def _data_dir() -> Path:
    configured = os.environ.get("LONGTHOUGHT_DATA_DIR")
    return Path(configured).resolve() if configured else (REPO.parent / "shared" / "data").resolve()


def show_plan(commands: list[Command]) -> int:
    """Print what the walk would do with each command, without running anything."""
    for command in commands:
        state, line, reason = plan(command)
        print(f"{state:<12} README.md:{command.line}  {line or command.text}" + (f"  [{reason}]" if reason else ""))
    return 1 if any(plan(command)[0] == "unclassified" for command in commands) else 0


def walk(only: str | None, keep: Path | None) -> int:
    """Walk the README's commands; the exit status is 1 when any command failed or went unclassified."""
    commands = extract_commands((REPO / "README.md").read_text(encoding="utf-8"))
    clone = _clone(keep)
    print(f"walking {len(commands)} README commands in {clone}", flush=True)
    sys.path.insert(0, str(REPO))
    from agents.backends import embedded  # the repo's own launcher: one server for every command of the walk

    # PYTHONPATH: the shared .venv's editable install points at this repo; a newcomer's points at their clone.
    env = dict(os.environ, LONGTHOUGHT_DATA_DIR=str(_data_dir()), PYTHONUNBUFFERED="1", PYTHONPATH=str(clone))
    tally, started = Tally(), time.monotonic()
    try:
        for command in commands:
            state, line, reason = plan(command)
            if only and not re.search(only, command.text):
                continue
            if state == "skip":
                tally.skipped += 1
                print(f"skip ({reason})  {command.text}", flush=True)
                continue
            if state == "unclassified":
                tally.failed += 1
                print(f"FAIL unclassified (README.md:{command.line}: {reason})  {command.text}", flush=True)
                continue
            if "LONGTHOUGHT_EMBEDDED_API_BASE" not in env:
                env["LONGTHOUGHT_EMBEDDED_API_BASE"] = embedded.ensure_server(embedded.DEFAULT_MODEL)
                env[embedded.API_KEY_ENV] = embedded.api_key()  # the server wants this process's key
            rule = rule_for(command) or Rule("", "walk", "")
            begin = time.monotonic()
            rc, output = (_serve if state == "serve" else _run)(line, clone, env, rule.timeout)
            took = time.monotonic() - begin
            note = f"  [{reason}]" if reason else ""
            if rc == rule.rc:
                tally.passed += 1
                print(f"ok {took:.1f}s  {line}{note}", flush=True)
            else:
                tally.failed += 1
                print(f"FAIL rc={rc} {took:.1f}s  {line}  (README.md:{command.line}){note}\n{_tail(output)}",
                      flush=True)
    finally:
        embedded.stop_all()
        if keep is None:  # the runs hold trained checkpoints (also when stopped); --keep DIR keeps them for a look
            shutil.rmtree(clone.parent, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped "
          f"in {time.monotonic() - started:.0f}s")
    return 1 if tally.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the two options and walk."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="walk only the commands matching this regular expression")
    parser.add_argument("--keep", type=Path, help="clone into DIR and keep it (an existing clone there is reused)")
    parser.add_argument("--list", action="store_true", help="print what would be walked or skipped, run nothing")
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so the running command and the embedded server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.list:
        return show_plan(extract_commands((REPO / "README.md").read_text(encoding="utf-8")))
    return walk(args.only, args.keep)


if __name__ == "__main__":
    sys.exit(main())
