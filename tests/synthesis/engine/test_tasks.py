"""Every registered task is a Task of its own name, and the attempts are the ones records name."""

import typing

from protocols.types import Attempt
from synthesis.engine import ATTEMPTS, TASKS, Task, get_task


def test_every_registered_task_is_a_task_of_that_name():
    assert set(ATTEMPTS) <= set(TASKS) and set(ATTEMPTS) == set(typing.get_args(Attempt))  # records name them
    for name in TASKS:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
