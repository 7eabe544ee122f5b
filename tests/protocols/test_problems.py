import subprocess
import sys

import pytest

from protocols import problems
from protocols.problems import PROBLEM_SETS, ProblemSetError, load


@pytest.mark.parametrize(
    "name,count",
    [("math_train", 7500), ("math_train_12k", 12000), ("math_test", 5000), ("math500", 500),
     ("gsm8k_train", 7473), ("gsm8k_test", 1319)],
)
def test_named_sets_have_their_published_sizes(with_data_dir, name, count):
    loaded = load(name)
    assert len(loaded) == count == PROBLEM_SETS[name].size
    # A handful of MATH train solutions have no boxed answer (see math/SOURCES.md): those load as None.
    unanswered = [problem.id for problem in loaded if problem.answer is None]
    assert len(unanswered) <= 4 and all(problem.answer != "" for problem in loaded)
    assert len({problem.id for problem in loaded}) == count


def test_math500_problem_fields(with_data_dir):
    first = load("math500", limit=1)[0]
    assert first.id == "test/precalculus/807.json"
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert first.meta["subject"] == "Precalculus" and first.meta["level"] == 2
    assert "\\boxed" in first.meta["solution"]


def test_gsm8k_answer_comes_from_the_hash_line(with_data_dir):
    first = load("gsm8k_train", limit=1)[0]
    assert first.answer == "72"
    assert "####" not in first.meta["solution"]
    with_commas = [p for p in load("gsm8k_test") if "," in p.meta.get("solution", "") and p.answer.isdigit()]
    assert all("," not in p.answer for p in with_commas)


def test_seed_shuffles_reproducibly_and_limit_cuts(with_data_dir):
    a = [p.id for p in load("math500", limit=5, seed=7)]
    b = [p.id for p in load("math500", limit=5, seed=7)]
    c = [p.id for p in load("math500", limit=5, seed=8)]
    assert a == b and a != c
    assert [p.id for p in load("math500", limit=2)] == [p.id for p in load("math500")[:2]]


def test_user_jsonl_with_problem_or_question(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"problem": "1+1?", "answer": 2}\n\n{"question": "2+2?", "answer": "x\\n#### 4", "id": "q2", "hint": "add"}\n')
    loaded = load(str(path))
    assert [(p.id, p.question, p.answer) for p in loaded] == [("mine/1", "1+1?", "2"), ("q2", "2+2?", "4")]
    assert loaded[1].meta == {"hint": "add"}


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"problem": "ok", "answer": "1"}\n{"problem": "broken",\n', r"mine\.jsonl:2: invalid JSON"),
        ('{"problem": "ok"}\n{"answer": "1"}\n', r"mine\.jsonl:2: expected a non-empty string field 'problem' or 'question'"),
        ('[1, 2]\n', r"mine\.jsonl:1: expected a JSON object"),
        ('{"id": "a", "problem": "x"}\n{"id": "a", "problem": "y"}\n', r"duplicate problem id 'a'"),
    ],
)
def test_malformed_user_file_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "mine.jsonl"
    path.write_text(content)
    with pytest.raises(ProblemSetError, match=message):
        load(str(path))


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", r"mine\.jsonl: no problems in it"),
        (b"\n  \n", r"mine\.jsonl: no problems in it"),
        (b'{"problem": "ok"}\n\x89PNG\r\n\x1a\n\x00\x00', r"mine\.jsonl:2: not UTF-8 text \(byte 0x89 at column 1\)"),
        (b'{"problem": "caf\xe9"}\n', r"mine\.jsonl:1: not UTF-8 text \(byte 0xe9 at column 17\)"),  # Latin-1
    ],
)
def test_empty_or_binary_user_file_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(content)
    with pytest.raises(ProblemSetError, match=message) as caught:
        load(str(path))
    assert "\n" not in str(caught.value)


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_bytes('\ufeff{"problem": "1+1?", "answer": 2}\n'.encode())
    assert [p.question for p in load(str(path))] == ["1+1?"]


def test_unknown_name_lists_the_known_ones(monkeypatch):
    with pytest.raises(ProblemSetError, match="unknown problem set 'math9000'.*math500"):
        load("math9000")


def test_offline_without_data_dir_says_how_to_fix_it(monkeypatch):
    monkeypatch.delenv("LONGTHOUGHT_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", "/nonexistent-longthought-cache")
    with pytest.raises(ProblemSetError, match="set LONGTHOUGHT_DATA_DIR") as caught:
        load("math500")
    assert "\n" not in str(caught.value)


def test_hub_rows_are_converted_like_local_rows(monkeypatch):
    """The Hub path: hendrycks_math rows (no unique_id, 'Level 3', 'type') become Problems."""
    monkeypatch.delenv("LONGTHOUGHT_DATA_DIR", raising=False)
    rows = [{"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "level": "Level 3", "type": "Algebra"}]
    monkeypatch.setitem(PROBLEM_SETS, "math_train", PROBLEM_SETS["math_train"].__class__(
        "math_train", "math/train.jsonl", 1, lambda: iter(rows), problems._math_problem))
    (problem,) = load("math_train")
    assert (problem.id, problem.answer, problem.meta["level"], problem.meta["subject"]) == ("math_train/0", "2", 3, "Algebra")


def test_cli_prints_problems_with_answers(with_data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "protocols.problems", "math500", "--limit", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("answer:") == 3
    assert "test/precalculus/807.json" in result.stdout


def test_cli_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    result = subprocess.run([sys.executable, "-m", "protocols.problems", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "bad.jsonl:1" in result.stderr
