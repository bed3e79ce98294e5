"""The operator's tests, a package so pytest names them `tests.*`.

Without this file pytest's importlib mode names them `operator.tests.*` and, because the
standard library's `operator` is not a package, replaces `sys.modules["operator"]` with this
directory, breaking every later `from operator import ...` (pydantic's, for one).
"""
