"""The torch side: specs compiled into real modules, counted, measured.

This is the only package that imports torch at module level; nothing on the analytic path
imports it (tests/test_cli.py checks).
"""
