"""Records to TRL datasets, and training."""
