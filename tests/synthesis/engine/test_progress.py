"""Off a terminal, progress is plain lines, and the last line says how the episodes ended."""

import re


def test_progress_is_plain_lines_off_a_terminal_and_the_last_line_says_how_episodes_ended(tmp_path, capsys,
                                                                                          with_data_dir):
    from synthesis import debate

    code = debate.main(["--problems", "math500", "--limit", "2", "--out", str(tmp_path / "run"),
                        "--policy-model", "oracle/reference", "--critic-model", "oracle/reference"])
    err = capsys.readouterr()
    text = err.out + err.err
    assert code == 0, text
    assert re.search(r"run: 2/2 problems, \d+:\d\d:\d\d \| done 2 failed 0 \| \d+ calls \| \d+ tok", text), text
    assert re.search(r"completed: 2 new records \(correct 2/2; terminated 2\), 0 failed", text), text
