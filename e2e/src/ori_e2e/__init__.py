"""Ori's test and dev harness: real servers on loopback and the local stack."""
