"""`python -m agents.oracle.annotations`, the README's and the recipe's command: it only runs
agents.backends.oracle.annotations, where the oracle's annotations are written.
"""

import sys

if __name__ == "__main__":
    from agents.backends.oracle.annotations import main

    sys.exit(main())
