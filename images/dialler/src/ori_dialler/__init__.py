"""Ori dialler: campaign leases, pacing, retries and attaching answered calls to the fleet."""
