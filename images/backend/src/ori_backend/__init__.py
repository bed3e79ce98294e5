"""Ori backend: the control plane (auth, bots, campaigns, runtime config, call records)."""
