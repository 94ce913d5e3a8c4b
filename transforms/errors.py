"""Named errors. Each carries context and a one-line fix hint; the CLI prints `error: <msg> (hint: <hint>)`."""

from __future__ import annotations


class ClaimscopeError(Exception):
    """Base class: `str(err)` says what happened, `err.hint` says what to do about it."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class InputRejected(ClaimscopeError):
    """An input (file or record) cannot be accepted; it becomes a `rejected_inputs` row, never a crash."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class LexiconError(ClaimscopeError):
    hint = "fix the named lexicon file (YAML) and run again"


class InputDirError(ClaimscopeError):
    hint = "pass an existing folder of articles with --input"


class NoArticles(ClaimscopeError):
    """Discovery left nothing to build from: an empty folder, or every file rejected before processing."""

    hint = "put article files in the folder, or point --input at another (links to folders are not followed)"


class SettingError(ClaimscopeError):
    """An environment setting the build reads has a value it cannot use."""

    hint = "set CLAIMSCOPE_DUCKDB_MEMORY_LIMIT to a DuckDB size such as 512MB or 1GB, or unset it"


class BuildLocked(ClaimscopeError):
    hint = "wait for the other build to finish, or pass --wait to queue behind it"


class ValidationFailed(ClaimscopeError):
    hint = "read the failed expectations above or in the Data Docs; the previous dataset is still published"

    def __init__(self, message: str, failures: list[dict] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class DatasetMissing(ClaimscopeError):
    hint = "run `claimscope build` (or `make run`) first"


class QueryError(ClaimscopeError):
    hint = 'check the SQL; `claimscope query "SHOW TABLES"` lists the views'
