"""Repo-wide pytest setup: real-server fixtures, tier markers, and no skips under CI."""

pytest_plugins = ["ori_e2e.pytest_plugin", "ori_e2e.markers", "ori_e2e.no_skip"]
