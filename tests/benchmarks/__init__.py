"""Benchmarks that print figures on demand (`python -m tests.benchmarks.pipeline`).

Speed is measured here and never asserted in tests: no file here starts with `test_`,
so pytest does not collect them.
"""
