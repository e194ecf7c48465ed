"""Fake external services the tests talk to over the network."""
