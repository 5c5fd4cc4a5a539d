"""``POST /jobs``' multipart body, parsed as it arrives (python-multipart's streaming ``MultipartParser``).

Nothing is spooled: each file part is written straight to its place in the job's input folder, and the
limits are checked on every chunk received, so an over-limit upload is answered 413 within one chunk of
crossing its limit (per file: ``MAX_UPLOAD_MB`` for a video, 1 MiB for the calibration, 1 KiB for a text
field; the whole body: ``Settings.max_body_bytes``). A declared ``Content-Length`` over the body limit is
refused before anything is read; a client that stops sending is answered 408 after
``UPLOAD_IDLE_TIMEOUT_S``, and one still sending after ``UPLOAD_DEADLINE_S`` (a trickle that never
stalls long enough to be idle) is answered 408 too. The caller removes the input folder on any error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect

from app.core.errors import ApiError
from app.schemas import JOB_FILES, JobForm
from app.uploads import video_name
from model_store.conventions import VIEW_NAMES
from worker.errors import ErrorCode
from worker.settings import MAX_CALIBRATION_BYTES, Settings

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger(__name__)

#: Largest value of one text field (bytes).
MAX_TEXT_FIELD_BYTES = 1024
MIB = 1024 * 1024
ACCEPTED = (*JOB_FILES, *JobForm.model_fields)


@dataclass
class JobUpload:
    """What a complete, well-formed body held: the form fields and where the files were written."""

    form: JobForm
    videos: dict[str, str]  # "front"/"side" → file name in the input folder, e.g. "front.mp4"
    calibration: bool  # input/calibration.toml was written


def multipart_boundary(request: Request, settings: Settings) -> bytes:
    """Checks on the request head, before any of the body is read: 413 when the declared
    ``Content-Length`` is over the body limit, 422 unless the body is ``multipart/form-data``."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_body_bytes:
        raise _body_too_large(settings, f"the request body ({int(length) / MIB:.1f} MB)")
    ctype, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ApiError(422, ErrorCode.INVALID_REQUEST,
                       "the body must be multipart/form-data with the video files 'front' "
                                               "and 'side' (and the optional fields)")
    return boundary


def _body_too_large(settings: Settings, what: str) -> ApiError:
    return ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE,
                    f"{what} is over the {settings.max_body_bytes / MIB:.1f} MB limit (two "
                    f"videos of at most {settings.max_upload_mb} MB each, a 1 MB calibration and the form fields)")


async def receive_job_upload(request: Request, boundary: bytes, inp: Path, settings: Settings) -> JobUpload:
    """Read the body as it arrives, writing files under ``inp``; the validated upload once it is complete."""
    parts = _Parts(inp, settings)
    received = 0
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        chunks_in = _chunks(request, settings.upload_idle_timeout_s, settings.upload_deadline_s)
        async with contextlib.aclosing(chunks_in) as chunks:
            async for chunk in chunks:
                received += len(chunk)
                if received > settings.max_body_bytes:
                    raise _body_too_large(settings, "the request body")
                parser.write(chunk)
        if parser.state != MultipartState.END:
            raise ApiError(400, ErrorCode.BAD_REQUEST, "the multipart body ended before its closing boundary")
    except FormParserError as exc:  # malformed parts, or a boundary over 256 characters
        log.warning("POST /jobs: malformed multipart body after %d bytes: %s", received, exc)
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"the multipart body is malformed: {exc}") from exc
    except ApiError as exc:
        log.warning("POST /jobs refused (%d %s) after %d body bytes", exc.status, exc.code, received)
        raise
    finally:
        parts.close()
    return parts.result()


async def _chunks(request: Request, idle_timeout: float, deadline_s: float) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive; 408 when none comes for ``idle_timeout`` seconds, or when the
    body is still arriving ``deadline_s`` seconds after the first read."""
    stream = request.stream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while True:
        left = deadline - loop.time()
        try:
            chunk = await asyncio.wait_for(anext(stream), max(0.0, min(idle_timeout, left)))
        except StopAsyncIteration:
            return
        except TimeoutError:
            if left <= idle_timeout:
                raise ApiError(408, ErrorCode.REQUEST_TIMEOUT,
                               f"the upload was still arriving after {deadline_s:g} s (the "
                               "limit for one upload); it was dropped: send it over a faster connection") from None
            raise ApiError(408, ErrorCode.REQUEST_TIMEOUT,
                           f"no upload data arrived for {idle_timeout:g} s; the upload was "
                                                   "dropped (send the whole body without pausing)") from None
        except ClientDisconnect:
            raise ApiError(400, ErrorCode.UPLOAD_INCOMPLETE,
                           "the connection closed before the upload was complete") from None
        if chunk:
            yield chunk


class _Parts:
    """The parser's callbacks: one part at a time, files to disk, text fields to memory, limits on every chunk."""

    def __init__(self, inp: Path, settings: Settings) -> None:
        self.inp = inp
        self.file_limits = {"front": settings.max_upload_bytes, "side": settings.max_upload_bytes,
                            "calibration": MAX_CALIBRATION_BYTES}
        self.text: dict[str, str] = {}
        self.files: dict[str, str] = {}  # field → file name in the input folder
        self.seen: set[str] = set()
        self._headers: dict[bytes, bytes] = {}
        self._hname = self._hvalue = b""
        self._name = self._filename = ""
        self._limit = self._size = 0
        self._out: BinaryIO | None = None
        self._buf = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self._headers, self._size, self._buf = {}, 0, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname = self._hvalue = b""

    def _headers_finished(self) -> None:
        kind, options = parse_options_header(self._headers.get(b"content-disposition"))
        if kind != b"form-data" or b"name" not in options:
            raise ApiError(400, ErrorCode.BAD_REQUEST,
                           "every multipart part needs 'Content-Disposition: form-data; name=...'")
        name = options[b"name"].decode("utf-8", "replace")
        if name not in ACCEPTED:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, f"unknown field {name!r} (accepted: {', '.join(ACCEPTED)})")
        if name in self.seen:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, f"the field {name!r} was sent twice")
        self.seen.add(name)
        self._name = name
        filename = options.get(b"filename")
        if name in JOB_FILES:
            if filename is None:
                raise ApiError(422, ErrorCode.INVALID_REQUEST, f"{name} must be a file (a part with a filename)")
            self._filename = filename.decode("utf-8", "replace")
            dest = "calibration.toml" if name == "calibration" else video_name(self._filename, name)
            self._limit = self.file_limits[name]
            self._out = (self.inp / dest).open("wb")
            self.files[name] = dest
        else:
            if filename is not None:
                raise ApiError(422, ErrorCode.INVALID_REQUEST, f"{name} must be a text field, not a file")
            self._limit = MAX_TEXT_FIELD_BYTES

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._limit:
            if self._out is None:
                raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"{self._name} is longer than {self._limit} bytes")
            raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE,
                           f"{self._name}: {self._filename!r} is larger than the {self._limit // MIB} MB limit")
        if self._out is not None:
            self._out.write(data[start:end])
        else:
            self._buf += data[start:end]

    def _end(self) -> None:
        if self._out is not None:
            self.close()
            if self._name == "calibration" and not self._filename and self._size == 0:
                (self.inp / self.files.pop("calibration")).unlink()  # an empty file input: no calibration
            return
        try:
            self.text[self._name] = self._buf.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, f"{self._name} is not UTF-8 text") from None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def result(self) -> JobUpload:
        missing = [f"{name}: Field required (a video file)" for name in VIEW_NAMES if name not in self.files]
        if missing:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, "; ".join(missing))
        try:  # a field sent empty is "not given", as FastAPI's Form() had it
            form = JobForm.model_validate({k: v for k, v in self.text.items() if v != ""})
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        return JobUpload(form=form, videos={k: self.files[k] for k in VIEW_NAMES},
                         calibration="calibration" in self.files)
