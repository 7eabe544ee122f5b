"""Final-answer extraction and equivalence checking for untrusted model text.

Equivalence uses math-verify's LaTeX path only: its plain-expression path calls sympy's `parse_expr`,
which `eval`s text, and model text must never be evaluated. Plain numbers (thousands separators, decimal
commas, currency, units, percent) are read by a strict regex into a `Fraction` instead, and an answer stated
in prose ("Final Answer: The largest $n$ is 34.") is cut down to its math span or number by regex. Checks
run in a small pool of worker processes (pebble) because math-verify's timeouts need `signal.alarm` on a
main thread, and because a check stuck inside C code (a huge integer power) can only be stopped by killing
its process: a hang or crash costs one worker, never the run.

One job a module: `spans` (where math and boxes stand), `prose` (an answer stated in a sentence), `extract`
(the answer a text states), `numbers` (plain numbers), `limits` (what is too much to read), `compare` (what a
worker runs), `sandbox` (the worker pool), `equivalence` (the checks callers use). Callers import from here.
"""

from protocols.answers.compare import normalize
from protocols.answers.equivalence import (DEFAULT_TIMEOUT, aequivalent, check_answer, equivalent, equivalent_many,
                                          math_verify_many)
from protocols.answers.extract import extract_answer, stated_answer
from protocols.answers.sandbox import shutdown_pool
from protocols.answers.spans import last_boxed

__all__ = (
    "DEFAULT_TIMEOUT",
    "aequivalent",
    "check_answer",
    "equivalent",
    "equivalent_many",
    "extract_answer",
    "last_boxed",
    "math_verify_many",
    "normalize",
    "shutdown_pool",
    "stated_answer",
)
