"""Ori worker: runs one live call per process and hands back one complete call result."""
