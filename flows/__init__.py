"""Prefect wiring, storage, validation and the CLI. Importing this package configures the runtime first."""

from flows.settings import configure_runtime

configure_runtime()
