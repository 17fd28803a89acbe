"""Batch results: load a batch folder, compare scenarios, plot outcome curves, write a report."""
