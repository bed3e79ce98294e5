"""Ori operator: reconciles Bot, Campaign and FleetPool custom resources."""
