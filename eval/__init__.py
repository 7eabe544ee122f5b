"""Measuring models and data."""
