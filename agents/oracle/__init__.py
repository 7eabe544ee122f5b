"""Only the command `python -m agents.oracle.annotations` (README, recipes): the oracle is agents.backends.oracle."""
