"""Pure reconcile logic: observed state in, desired actions and status out. No I/O, no kopf."""
