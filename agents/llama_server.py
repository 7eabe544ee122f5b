"""`python -m agents.llama_server`, as the README starts a shared local server: it only runs
agents.backends.llama_server, where the server lives (the embedded backend starts that module itself).
"""

import sys

if __name__ == "__main__":
    from agents.backends.llama_server import main

    sys.exit(main())
