"""Schemas of the two tables that account for every input file: `rejected_inputs` and `inputs`.

Rows come from discovery (files never opened: empty, too large, duplicates, symlinks) and from the batches
(files opened and parsed). Every discovered file has exactly one `inputs` row.
"""

from __future__ import annotations

import pyarrow as pa

REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("content_sha256", pa.string()),
    ]
)

INPUTS_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),  # accepted | rejected | partial
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("content_sha256", pa.string()),
        pa.field("format", pa.string()),
        pa.field("n_documents", pa.int32(), nullable=False),
        pa.field("n_rejected", pa.int32(), nullable=False),
    ]
)
