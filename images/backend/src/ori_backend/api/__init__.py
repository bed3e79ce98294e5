"""The HTTP edge: dependencies and one router per resource, all under ``/api/v1``."""
