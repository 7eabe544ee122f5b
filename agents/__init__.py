"""Everything that calls a model."""

import os

# Must precede any litellm import in this package: otherwise litellm downloads a price list at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
