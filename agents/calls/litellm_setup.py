"""litellm, imported once with the settings every caller needs before its first use.

Import litellm from here (`from agents.calls.litellm_setup import litellm`), never bare: the environment variable
must be set before litellm is first imported, or it downloads a price list at import time (no network here), and its
telemetry and debug banners would reach our output.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402 - after the variable above, on purpose

litellm.telemetry = False
litellm.suppress_debug_info = True
litellm.drop_params = True  # a backend that lacks `seed` or `top_p` gets the call without it

__all__ = ["litellm"]
