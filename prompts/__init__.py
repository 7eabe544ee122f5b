"""Prompt templates, one folder per attempt."""
