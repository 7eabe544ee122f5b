"""The journey-effect experiment: on-policy trees in a verifiable domain, shortcut vs journey vs mixed SFT arms.

Stages, each resumable (recipes/journey-effect/README.md): problems → phase-1 SFT on reference shortcuts →
difficulty calibration on a dev split → on-policy trees (the phase-1 model samples each step, the exact verifier of
`protocols.arithmetic` labels it, wrong children are grown to a leaf) → arms rendered from the same trees →
phase-2 SFT per arm and seed → greedy evaluation on held-out problems → paired statistics.

Only torch and transformers are imported here (plus our stdlib-only domain and statistics), so the same code runs on
this CPU at toy size and on a bare GPU box at full size.
"""
