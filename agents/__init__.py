"""Everything that calls a model, in three rooms: backends/ (what a model string means; what starts, reaches or is
a model), calls/ (one LLMClient and what wraps a call) and roles/ (the parts a model plays). Imports go from roles to
calls to backends. llm.py, llama_server.py and oracle/annotations.py here only keep the README's commands working.
"""

import os

# Must precede any litellm import in this package: otherwise litellm downloads a price list at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
