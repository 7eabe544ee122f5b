"""The parts a model plays: reading a policy's step (policy.py), the autogen agent that speaks for the policy and
the critic (prompted.py), step scorers (reward.py: llm-judge, rollout, hf-prm) and sampling with answer checks
(sampling.py). Those that call a model do it through agents.calls; none decides what a model string means.
"""
