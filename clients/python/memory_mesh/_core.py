"""What the sync and async clients share: the retry policy, a call's description, request helpers."""

from __future__ import annotations

import dataclasses
import enum
import gzip as gzip_module
import io
import json
import os
import random
import zlib
from datetime import datetime, timezone
from typing import IO, Any, AsyncIterable, AsyncIterator, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, cast
from urllib.parse import quote

from .models import TimeLike

__version__ = "0.1.0"
USER_AGENT = f"memory-mesh-python/{__version__}"
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024


class _Unset(enum.Enum):
    UNSET = 0

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave as it is" for :meth:`update_message`, where ``None`` means "clear" / "never".
UNSET = _Unset.UNSET
Unset = _Unset


@dataclasses.dataclass
class RetryPolicy:
    """When a call is sent again.

    * 429: after the server's ``Retry-After`` (seconds), unless it asks for more than
      ``max_retry_after`` (then the error surfaces at once).
    * 503: exponential backoff with jitter: ``backoff_base * 2**(n-1)`` seconds (capped at
      ``backoff_max``), a random half to all of it.
    * no answer (connection refused, reset, timeout): the same backoff, only for calls that are safe
      to repeat (reads, PUT/DELETE, and writes carrying an ``Idempotency-Key``).
    * any other 4xx (and 5xx): never.

    ``max_attempts`` counts every send of a call, the first included (1 = never retry).
    """

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def after_status(self, attempt: int, status: int, retry_after: Optional[float]) -> Optional[float]:
        """Seconds to wait before sending again after an error answer; None: do not."""
        if attempt >= self.max_attempts:
            return None
        if status == 429:
            wait = retry_after if retry_after is not None else self.backoff(attempt)
            return wait if wait <= self.max_retry_after else None
        if status == 503:
            return self.backoff(attempt)
        return None

    def after_error(self, attempt: int) -> Optional[float]:
        """Seconds to wait before sending again after no answer; None: do not."""
        return None if attempt >= self.max_attempts else self.backoff(attempt)


@dataclasses.dataclass
class Call:
    """One API call as the clients send it."""

    method: str
    path: str
    params: Optional[Dict[str, Any]] = None
    json: Any = None
    body: Optional["NdjsonBody"] = None
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)
    #: sends the credential and may refresh the access token on 401
    auth: bool = True
    #: may be sent again after no answer came (the server may have handled it)
    resend: bool = False
    #: error statuses that are answers (``/ready`` answers 503 with its body)
    accept: Tuple[int, ...] = ()

    @property
    def replayable(self) -> bool:
        return self.body is None or self.body.replayable


def segment(value: str) -> str:
    """A path segment: ids may hold any printable character (``/``, spaces, unicode)."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"expected a non-empty string id, got {value!r}")
    return quote(value, safe="")


def iso(value: Optional[TimeLike]) -> Optional[str]:
    """An ISO-8601 string with an offset (naive datetimes are taken as UTC)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    raise TypeError(f"expected an ISO-8601 string or a datetime, got {type(value).__name__}")


def compact(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The entries that are given (None and UNSET left out)."""
    return {k: v for k, v in values.items() if v is not None and v is not UNSET}


def comma_list(value: Union[str, Sequence[str], None]) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def message_input(message: Mapping[str, Any]) -> Dict[str, Any]:
    """A message to store, as the API takes it (times as ISO-8601, None left out)."""
    out = compact(message)
    for field in ("created_at", "expires_at"):
        if field in out:
            out[field] = iso(out[field])
    return out


NdjsonSource = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes], Iterable[Union[Mapping[str, Any], str, bytes]]]
AsyncNdjsonSource = Union[NdjsonSource, AsyncIterable[Union[Mapping[str, Any], str, bytes]]]


def _encode_line(line: Union[Mapping[str, Any], str, bytes]) -> bytes:
    if isinstance(line, (bytes, bytearray)):
        data = bytes(line)
    elif isinstance(line, str):
        data = line.encode("utf-8")
    else:
        data = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data if data.endswith(b"\n") else data + b"\n"


class _Gzip:
    """Streaming gzip: compresses chunk by chunk, in constant memory."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31)

    def feed(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def finish(self) -> bytes:
        return self._z.flush()


class NdjsonBody:
    """An import body: NDJSON from a file, bytes, a binary file object or an iterable of lines.

    Read in chunks (constant memory); gzip-compressed on the fly with ``gzip=True``. A file or
    bytes that are gzip already are sent as they are, with ``Content-Encoding: gzip``.
    """

    def __init__(self, source: AsyncNdjsonSource, gzip: bool = False) -> None:
        self._source = source
        self._compress = gzip
        self._already_gzip = False
        self._start: Optional[int] = None
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                self._already_gzip = f.read(2) == _GZIP_MAGIC
        elif isinstance(source, (bytes, bytearray)):
            self._already_gzip = bytes(source[:2]) == _GZIP_MAGIC
        elif hasattr(source, "read"):
            stream: Any = source
            if stream.seekable():
                self._start = stream.tell()
                self._already_gzip = stream.read(2) == _GZIP_MAGIC
                stream.seek(self._start)
        if self._already_gzip:
            self._compress = False
        self._used = False

    @property
    def content_encoding(self) -> Optional[str]:
        return "gzip" if self._compress or self._already_gzip else None

    @property
    def replayable(self) -> bool:
        """Whether it can be sent again (a path, bytes, a list, a seekable file)."""
        source = self._source
        if isinstance(source, (str, os.PathLike, bytes, bytearray, list, tuple)):
            return True
        return hasattr(source, "read") and self._start is not None

    def _raw(self) -> Iterator[bytes]:
        source = self._source
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                yield from iter(lambda: f.read(_CHUNK), b"")
        elif isinstance(source, (bytes, bytearray)):
            view = memoryview(bytes(source))
            for i in range(0, len(view), _CHUNK):
                yield bytes(view[i : i + _CHUNK])
        elif hasattr(source, "read"):
            stream: Any = source
            if self._start is not None:
                stream.seek(self._start)
            yield from iter(lambda: bytes(stream.read(_CHUNK)), b"")
        elif isinstance(source, Iterable):
            lines = cast(Iterable[Union[Mapping[str, Any], str, bytes]], source)
            buffer = bytearray()
            for line in lines:
                buffer += _encode_line(line)
                if len(buffer) >= _CHUNK:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)
        else:
            raise TypeError("this source can only be sent by the async client (an async iterable)")

    def _claim(self) -> None:
        if self._used and not self.replayable:
            raise RuntimeError("a one-shot import source cannot be sent twice")
        self._used = True

    def chunks(self) -> Iterator[bytes]:
        self._claim()
        if not self._compress:
            yield from self._raw()
            return
        z = _Gzip()
        for chunk in self._raw():
            out = z.feed(chunk)
            if out:
                yield out
        yield z.finish()

    async def achunks(self) -> AsyncIterator[bytes]:
        if not isinstance(self._source, AsyncIterable):
            for chunk in self.chunks():
                yield chunk
            return
        self._claim()
        z = _Gzip() if self._compress else None
        buffer = bytearray()
        async for line in self._source:
            buffer += _encode_line(line)
            if len(buffer) >= _CHUNK:
                data = bytes(buffer)
                buffer.clear()
                out = z.feed(data) if z else data
                if out:
                    yield out
        tail = z.feed(bytes(buffer)) + z.finish() if z else bytes(buffer)
        if tail:
            yield tail


def open_export_file(path: Union[str, "os.PathLike[str]"], gzip: bool) -> IO[bytes]:
    """The file an export is written to (gzip-compressed when asked)."""
    if gzip:
        return gzip_module.open(path, "wb")  # type: ignore[return-value]
    return io.open(path, "wb")


def job_id_of(job: Any) -> str:
    return job if isinstance(job, str) else str(job.id)


def ids_of(messages: Iterable[Any]) -> List[str]:
    return [m if isinstance(m, str) else str(m.id) for m in messages]
