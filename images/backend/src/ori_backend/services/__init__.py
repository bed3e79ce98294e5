"""The backend's logic, callable without FastAPI: routes parse, call one function, map errors."""
