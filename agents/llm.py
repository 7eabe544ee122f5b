"""`python -m agents.llm`, the README's check that a model string works: it only runs agents.calls.cli.

    python -m agents.llm --model embedded/smollm2-135m --prompt "What is 2+2?"

The client itself is agents.calls.client; nothing is importable from here.
"""

import sys

if __name__ == "__main__":
    from agents.calls.cli import main

    sys.exit(main())
