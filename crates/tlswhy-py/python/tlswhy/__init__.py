"""tlswhy reads packet captures and says, for every TLS handshake in them, whether it
worked and - when it did not - exactly why, with the evidence from the packets and what
to change.

One record per handshake attempt, the same as `tlswhy analyze --format json` writes
(described by `json_schema()`), as Arrow data or as dicts::

    import tlswhy
    reader = tlswhy.analyze("capture.pcap")            # a pyarrow.RecordBatchReader
    table = reader.read_all()
    rows = tlswhy.analyze("capture.pcap", as_dicts=True)
    tlswhy.analyze_many(["a.pcap", "b.pcap"], threads=4).read_all()

The analysis runs on threads of its own without the interpreter lock. Options take the
command line's names: ``detail="full"``, ``timeout``, ``flow_idle_timeout``,
``max_flows``, ``max_handshake_bytes``, ``max_pending_bytes``, ``max_chain``,
``max_records``, ``ports``, ``keylog``.

Server profiles (what a server's other connections show) can span files; see
``Analysis`` and ``merge_profiles`` for a job that analyzes files apart and still gives
the verdicts of all of them together (``examples/spark/tlswhy_spark.py``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Union

import pyarrow as pa

from ._native import (
    SCHEMA_VERSION,
    Analysis,
    codes,
    json_schema,
    merge_profiles,
    version,
    warnings,
)
from ._native import analyze_json as _analyze_json
from ._native import arrow_schema as _arrow_schema

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "analyze",
    "analyze_many",
    "codes",
    "json_schema",
    "merge_profiles",
    "schema",
    "version",
    "warnings",
    "__version__",
]

__version__: str = version()

Source = Union[str, "os.PathLike[str]", bytes]


def schema() -> pa.Schema:
    """The Arrow schema of the records (derived from ``json_schema()``)."""
    return pa.schema(_arrow_schema())


def analyze(
    source: Source, *, as_dicts: bool = False, **options: Any
) -> Union[pa.RecordBatchReader, List[Dict[str, Any]]]:
    """Analyzes one capture (a path, or its bytes; ``name=`` names bytes in the
    records). Returns a ``pyarrow.RecordBatchReader`` of the records, or with
    ``as_dicts=True`` a list of dicts (the JSON records)."""
    if as_dicts:
        return _dicts(_analyze_json([source], **options))
    return pa.RecordBatchReader.from_stream(Analysis([source], **options))


def analyze_many(
    sources: Iterable[Source],
    *,
    threads: Optional[int] = None,
    as_dicts: bool = False,
    **options: Any,
) -> Union[pa.RecordBatchReader, List[Dict[str, Any]]]:
    """Analyzes several captures side by side on ``threads`` workers (default: all
    cores); records in the order of ``sources``. Each capture's server profiles are
    its own, as with ``tlswhy analyze`` without ``--merge-profiles``."""
    sources = list(sources)
    if as_dicts:
        return _dicts(_analyze_json(sources, threads=threads, **options))
    return pa.RecordBatchReader.from_stream(Analysis(sources, threads=threads, **options))


def _dicts(lines: bytes) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines() if line]
