"""Helpers every test folder shares (the fixtures are in tests/conftest.py)."""
