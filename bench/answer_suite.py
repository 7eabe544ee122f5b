"""Answer-checking agreement on this repo's answer tables, and on Math-Verify's own regression suite.

    .venv/bin/python bench/answer_suite.py
    .venv/bin/python bench/answer_suite.py --math-verify-tests ../Math-Verify/tests --compare-default -v

Prints how often `equivalent(gold, predicted)` and `check_answer(gold, text)` agree with the verdicts in
tests/protocols/test_answers.py. With --math-verify-tests (the tests/ folder of a huggingface/Math-Verify
checkout; its cases are not copied here), reads that suite's (gold, pred, expected) tables with
`ast.literal_eval`, without importing or running its code, and prints our agreement on them. With
--compare-default it also prints math-verify's default reading, `verify(parse(gold), parse(pred))`: that parser
evaluates plain expressions with sympy, so it runs here only on the suite's own fixed strings, never on ours.
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols import answers  # noqa: E402
from tests.protocols import test_answers as tables  # noqa: E402

# The modules whose parametrize tables hold (gold, pred, expected) cases; the rest test configs and timeouts.
SUITE_MODULES = ("test_all", "test_numina_cases", "test_open_thoughts", "test_yujianll", "test_boxed", "test_strict")


def suite_cases(folder: Path) -> list[tuple[str, str, str, bool, bool]]:
    """(test name, gold, pred, expected, needs a non-default option) for each case in Math-Verify's tables."""
    cases = []
    for module in SUITE_MODULES:
        tree = ast.parse((folder / f"{module}.py").read_text())
        for function in (node for node in tree.body if isinstance(node, ast.FunctionDef)):
            for decorator in function.decorator_list:
                if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize"):
                    continue
                names = [name.strip() for name in ast.literal_eval(decorator.args[0]).split(",")]
                if "gold" not in names or "pred" not in names:
                    continue
                for node in getattr(decorator.args[1], "elts", []):
                    try:
                        values = ast.literal_eval(node)
                    except ValueError:  # a case built by code (an f-string): reading it would mean running it
                        continue
                    row = dict(zip(names, values, strict=True))
                    expected = bool(row.get("expected", row.get("result")))
                    # precision, strict=False or allow_set_relation_comp: the default reading cannot honour them
                    special = bool(set(row) - {"gold", "pred", "expected", "result"})
                    cases.append((f"{module}::{function.name}", row["gold"], row["pred"], expected, special))
    return cases


def _math_verify_default(gold: str, pred: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(gold), parse(pred)))


def _report(label: str, results: list[bool], expected: list[bool], elapsed: float) -> None:
    agreed = sum(r == e for r, e in zip(results, expected, strict=True))
    print(f"{label:>44}: {agreed}/{len(expected)} = {agreed / len(expected):.1%} ({elapsed:.1f}s)")


def _timed(check, pairs):
    started = time.perf_counter()
    results = check(pairs)
    return results, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--math-verify-tests", type=Path, help="the tests/ folder of a huggingface/Math-Verify checkout")
    parser.add_argument("--compare-default", action="store_true", help="also run math-verify's default parser")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each disagreement")
    args = parser.parse_args()
    answers.equivalent("1", "1.0")  # start the worker pool outside the timed region

    def check_many(pairs):
        return [answers.check_answer(gold, text)[1] for gold, text in pairs]

    for name, rows in (("EQUIVALENCE_TABLE", tables.EQUIVALENCE_TABLE), ("STATED_TABLE", tables.STATED_TABLE)):
        rows = [getattr(row, "values", row) for row in rows]
        results, elapsed = _timed(answers.equivalent_many, [(gold, pred) for gold, pred, _ in rows])
        _report(f"{name}, equivalent()", results, [expected for _, _, expected in rows], elapsed)
    outputs = [row.values for row in tables.OUTPUTS]
    results, elapsed = _timed(check_many, [(gold, text) for gold, text, _, _ in outputs])
    _report("OUTPUTS, check_answer()", results, [right for *_, right in outputs], elapsed)

    if args.math_verify_tests:
        cases = suite_cases(args.math_verify_tests)
        expected = [case[3] for case in cases]
        pairs = [(gold, pred) for _, gold, pred, _, _ in cases]
        print(f"Math-Verify suite: {len(cases)} cases, {sum(c[4] for c in cases)} of them need a non-default option")
        readings = [("equivalent()", answers.equivalent_many), ("check_answer()", check_many)]
        if args.compare_default:
            logging.disable(logging.CRITICAL)
            readings.append(("math-verify default", lambda ps: [_math_verify_default(g, p) for g, p in ps]))
        for label, check in readings:
            results, elapsed = _timed(check, pairs)
            _report(f"Math-Verify suite, {label}", results, expected, elapsed)
            if args.verbose:
                for (test, gold, pred, want, _), got in zip(cases, results, strict=True):
                    if got != want:
                        print(f"    disagree {test}: expected {want}, gold={gold[:60]!r} pred={pred[:60]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
