"""Types of the compiled module `tlswhy._native` (see `tlswhy`)."""

from typing import Any, Dict, List, Optional, Sequence, Union
import os

SCHEMA_VERSION: str

_Source = Union[str, os.PathLike[str], bytes]

def version() -> str: ...
def json_schema() -> str: ...
def codes() -> List[Dict[str, str]]: ...
def warnings() -> List[Dict[str, str]]: ...
def merge_profiles(parts: Sequence[bytes]) -> bytes: ...

class ArrowSchema:
    def __arrow_c_schema__(self) -> Any: ...

def arrow_schema() -> ArrowSchema: ...

class Analysis:
    def __init__(
        self,
        sources: Sequence[_Source],
        *,
        name: Optional[str] = None,  # the capture's name in the records (bytes, or one path read as another)
        threads: Optional[int] = None,
        detail: str = "compact",
        timeout: float = 3.0,
        flow_idle_timeout: Optional[float] = None,
        max_flows: Optional[int] = None,
        max_handshake_bytes: Optional[int] = None,
        max_pending_bytes: Optional[int] = None,
        max_chain: Optional[int] = None,
        max_records: Optional[int] = None,
        ports: Sequence[int] = ...,
        keylog: Sequence[str] = ...,
        server_profiles: Optional[bytes] = None,
        keep_profiles: bool = False,
        cites_profiles: Optional[bool] = None,
        batch_rows: int = 8192,
    ) -> None: ...
    def __arrow_c_stream__(self, requested_schema: Optional[Any] = None) -> Any: ...
    @property
    def done(self) -> bool: ...
    @property
    def records(self) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def profiles(self) -> Optional[bytes]: ...
    @property
    def damage(self) -> List[str]: ...
    @property
    def errors(self) -> List[str]: ...

def analyze_json(
    sources: Sequence[_Source],
    *,
    name: Optional[str] = None,
    threads: Optional[int] = None,
    detail: str = "compact",
    timeout: float = 3.0,
    flow_idle_timeout: Optional[float] = None,
    max_flows: Optional[int] = None,
    max_handshake_bytes: Optional[int] = None,
    max_pending_bytes: Optional[int] = None,
    max_chain: Optional[int] = None,
    max_records: Optional[int] = None,
    ports: Sequence[int] = ...,
    keylog: Sequence[str] = ...,
    server_profiles: Optional[bytes] = None,
    cites_profiles: Optional[bool] = None,
) -> bytes: ...
