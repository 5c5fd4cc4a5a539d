"""The reliability cases about what a client sends: video files, form fields, the body and the
connection, the calibration (the harness is :mod:`tests.service.reliability_harness`)."""

from __future__ import annotations

import socket

from tests.polling import wait_until
from tests.service import raw_http
from tests.service.reliability_harness import (
    BOUNDARY,
    CALIBRATION,
    Case,
    Ctx,
    Outcome,
    answer,
    calibration,
    calibration_edit,
    chunk,
    front_bytes,
    front_file_as,
    media,
    multipart,
    post_head,
    raw,
    raw_post,
    upload,
)

# ---- the body and the connection -------------------------------------------------------------------------------


def _declared_too_long(ctx: Ctx) -> Outcome:
    return raw(raw_post(ctx, b"--x\r\n", length=2 * 1024**3))


def _chunked_over_limit(ctx: Ctx) -> Outcome:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="front"; filename="a.mp4"\r\n\r\n'.encode()
    zeros = (chunk(b"\0" * 65536) for _ in range(800))  # 50 MiB for a 2 MB limit
    return raw(raw_post(ctx, iter([chunk(head), *zeros])))


def _stalled(ctx: Ctx) -> Outcome:
    body = multipart([("front", "a.mp4", ctx.media["a"].read_bytes())], close=False)
    return raw(raw_post(ctx, iter([body[:5000]]), length=len(body) + 100_000))


def _trickle(ctx: Ctx) -> Outcome:
    """1 KB a second: never idle for UPLOAD_IDLE_TIMEOUT_S (2 s), still arriving at UPLOAD_DEADLINE_S (20 s)."""
    head = multipart([("front", "a.mp4", b"")], close=False)[:-2]
    return raw(raw_post(ctx, iter([chunk(head), *(chunk(b"\0" * 1024) for _ in range(40))]), pause_s=1.0))


def _slow_head(ctx: Ctx) -> Outcome:
    """A request head sent one header line a second: HEADER_TIMEOUT_S (3 s) ends it."""
    lines = [b"POST /jobs HTTP/1.1\r\n", *(f"X-Pad-{i}: x\r\n".encode() for i in range(20))]
    return raw(raw_http.exchange(ctx.port, lines, pause_s=1.0))


def _silent_connection(ctx: Ctx) -> Outcome:
    return raw(raw_http.exchange(ctx.port, [], wait_s=20.0))


def _disconnect_mid_upload(ctx: Ctx) -> Outcome:
    """The client goes away half-way through the front video, once the API has made the upload's folder."""
    body = multipart([("front", "a.mp4", ctx.media["a"].read_bytes())], close=False)
    before = ctx.job_folders()
    with socket.create_connection(("127.0.0.1", ctx.port)) as sock:
        sock.sendall(post_head(ctx, {"Content-Length": str(len(body) + 50_000)}) + body[: len(body) // 2])
        mine = wait_until(lambda: ctx.job_folders() - before, timeout=30.0,
                          message="the API made no job folder for the upload")
    wait_until(lambda: not mine & ctx.job_folders(), timeout=30.0,
               message=f"the folder of the abandoned upload stays: {mine}")
    return Outcome(0, note="client closed the connection")


def _huge_header(ctx: Ctx) -> Outcome:
    return raw(raw_http.exchange(ctx.port, [raw_http.head("GET", "/jobs", ctx.port, {
        "X-API-Key": ctx.key, "X-Junk": "x" * 200_000})]))


# ---- the cases -------------------------------------------------------------------------------------------------

VIDEO_CASES: list[Case] = [
    Case("video", "empty front file (0 bytes)", front_bytes("a.mp4", b""), 400, "video_empty"),
    Case("video", "truncated MP4 (first third)", lambda c: front_bytes("a.mp4", c.media["a"].read_bytes()[
        :c.media["a"].stat().st_size // 3])(c),
         400, "video_undecodable"),
    Case("video", "text file named .mp4", front_bytes("a.mp4", b"not a video\n" * 100), 400, "video_undecodable"),
    Case("video", "PNG picture named .mp4", front_file_as("a.mp4", "png"), 400, "video_too_short"),
    Case("video", "PNG picture named .png", front_file_as("a.png", "png"), 415, "unsupported_media_type"),
    Case("video", "video named .txt", front_file_as("notes.txt", "a"), 415, "unsupported_media_type"),
    Case("video", "file name without a suffix", front_file_as("front", "a"), 415, "unsupported_media_type"),
    Case("video", "audio-only MP4", front_file_as("a.mp4", "audio"), 400, "video_undecodable"),
    Case("video", "3 MB file over MAX_UPLOAD_MB=2", front_bytes("a.mp4", b"\0" * (3 * 1024 * 1024)), 413,
         "payload_too_large"),
    Case("video", "21 s video over MAX_VIDEO_SECONDS=20", media("toolong", "toolong"), 413, "video_too_long"),
    Case("video", "3 stills over 12 s", media("stills"), 400, "video_frame_rate"),
    Case("video", "30 fps video with a 10 s hole", media("gap", "gap"), 400, "video_sparse"),
    Case("video", "15 frames (0.5 s)", media("short", "short"), 400, "video_too_short"),
    Case("video", "1 s and 4 s videos", media("a", "long"), 400, "duration_mismatch"),
    # issue 42 items 4 and 6: resolution and frame-rate limits from the header, and too-short clips
    Case("video", "8192×8192 H.264 over MAX_VIDEO_SIDE=4096", media("huge", "huge"), 400, "video_resolution"),
    Case("video", "100 frames re-timed to 1000 fps (0.1 s)", media("retimed", "retimed"), 400,
         "video_frame_rate_too_high"),
    Case("video", "300 fps over MAX_VIDEO_FPS=240", media("fast", "fast"), 400, "video_frame_rate_too_high"),
    Case("video", "48 frames at 120 fps (0.4 s)", media("brief", "brief"), 400, "video_too_short"),
    Case("video", "240 fps for 1 s (at the limit)", media("fps240", "fps240"), 202, job="succeeded"),
    Case("video", "file name with ../ (path traversal)", front_file_as("../../../evil.mp4", "a"), 202,
         job="succeeded"),
    Case("video", "non-ASCII file name", front_file_as("läufer 🏃 ü.mp4", "a"), 202, job="succeeded"),
    Case("video", "the same video as front and side", media("a", "a"), 202, job="succeeded"),
]

FORM_CASES: list[Case] = [
    Case("form", "side missing", upload(side=None), 422, "invalid_request"),
    Case("form", "front missing", upload(front=None), 422, "invalid_request"),
    Case("form", "no parts at all", lambda c: raw(raw_post(c, multipart([]))), 422, "invalid_request"),
    Case("form", "front sent twice", lambda c: raw(raw_post(c, multipart([
        ("front", "a.mp4", c.media["a"].read_bytes()), ("front", "b.mp4", c.media["b"].read_bytes())]))),
        422, "invalid_request"),
    Case("form", "unknown field", upload(evil="1"), 422, "invalid_request"),
    Case("form", "front as a text field", lambda c: raw(raw_post(c, multipart([
        ("front", None, b"hello"), ("side", "b.mp4", c.media["b"].read_bytes())]))), 422, "invalid_request"),
    Case("form", "height_m as a file", upload(height_m=("h.txt", b"1.8")), 422, "invalid_request"),
    Case("form", "height_m = 7", upload(height_m="7"), 422, "invalid_request"),
    Case("form", "height_m = abc", upload(height_m="abc"), 422, "invalid_request"),
    Case("form", "height_m = nan", upload(height_m="nan"), 422, "invalid_request"),
    Case("form", "height_m = inf", upload(height_m="inf"), 422, "invalid_request"),
    Case("form", "mass_kg = -5", upload(mass_kg="-5"), 422, "invalid_request"),
    Case("form", "offset_frames = 1.5", upload(offset_frames="1.5"), 422, "invalid_request"),
    Case("form", "offset_frames = 10^30", upload(offset_frames="1" + "0" * 30), 422, "invalid_request"),
    Case("form", "refine = magic", upload(refine="magic"), 422, "invalid_request"),
    Case("form", "overlay = maybe", upload(overlay="maybe"), 422, "invalid_request"),
    Case("form", "subject = biggest", upload(subject="biggest"), 422, "invalid_request"),
    Case("form", "subject = -1,5", upload(subject="-1,5"), 422, "invalid_request"),
    # issue 42 item 7
    Case("form", "offset_frames = 5_0 (Python's int() reads 50)", upload(offset_frames="5_0"), 422, "invalid_request"),
    Case("form", "height_m = 1_8", upload(height_m="1_8"), 422, "invalid_request"),
    Case("form", "subject = 1e308,1e308", upload(subject="1e308,1e308"), 422, "invalid_request"),
    Case("form", "subject = 100,10: off the 64×64 front video", upload(subject="100,10"), 422, "invalid_request"),
    Case("form", "subject = 32,32 on the front video (control)", upload(subject="32,32"), 202, job="succeeded"),
    Case("form", "2 KB text field", upload(front_camera="x" * 2048), 413, "payload_too_large"),
    Case("form", "text field not UTF-8", lambda c: raw(raw_post(c, multipart([
        ("front", "a.mp4", c.media["a"].read_bytes()), ("side", "b.mp4", c.media["b"].read_bytes()),
        ("refine", None, b"\xff\xfe\xfa")]))), 422, "invalid_request"),
    Case("form", "camera names without a calibration", upload(front_camera="cam_a", side_camera="cam_b"), 422,
         "invalid_request"),
    Case("form", "literal null in optional fields", upload(height_m="null", mass_kg="", offset_frames="null"),
         202, job="succeeded"),
]

BODY_CASES: list[Case] = [
    Case("body", "JSON body", lambda c: answer(c.http.post("/jobs", json={"front": "a.mp4"})), 422,
         "invalid_request"),
    Case("body", "urlencoded form", lambda c: answer(c.http.post("/jobs", data={"front": "a.mp4"})), 422,
         "invalid_request"),
    Case("body", "multipart without a boundary", lambda c: answer(c.http.post(
        "/jobs", content=b"x", headers={"Content-Type": "multipart/form-data"})), 422, "invalid_request"),
    Case("body", "garbage after the boundary", lambda c: raw(raw_post(
        c, f"--{BOUNDARY}\r\n".encode() + b"\x00\x01garbage" + b"\r\n" * 3)), 400, "bad_request"),
    Case("body", "body ends before the closing boundary", lambda c: raw(raw_post(c, multipart([
        ("front", "a.mp4", c.media["a"].read_bytes())], close=False))), 400, "bad_request"),
    Case("body", "part without Content-Disposition", lambda c: raw(raw_post(
        c, f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode())), 400, "bad_request"),
    Case("body", "declared Content-Length of 2 GB, small body", _declared_too_long, 413, "payload_too_large"),
    Case("body", "50 MiB chunked body, no Content-Length", _chunked_over_limit, 413, "payload_too_large"),
    Case("body", "body stalls half-way (idle 2 s)", _stalled, 408, "request_timeout"),
    Case("body", "1 KB a second (deadline 20 s)", _trickle, 408, "request_timeout"),
    Case("body", "request head one line a second (header timeout 3 s)", _slow_head, 408, "request_timeout"),
    Case("body", "connection opened, nothing sent", _silent_connection, 408, "request_timeout"),
    Case("body", "client disconnects half-way", _disconnect_mid_upload, 0),
    Case("body", "200 KB request header", _huge_header, 431, "request_header_too_large"),
    Case("body", "not HTTP at all", lambda c: raw(raw_http.exchange(c.port, [b"\x16\x03\x01 hello TLS?\r\n\r\n"])),
         400, "bad_request"),
]

CALIBRATION_CASES: list[Case] = [
    Case("calibration", "malformed TOML", calibration("[cam_a\nmatrix = ("), 400, "calibration_invalid"),
    Case("calibration", "distortions is a string",
         calibration_edit("distortions = [ 0.0, 0.0, 0.0, 0.0]", 'distortions = "abc"'), 400, "calibration_invalid"),
    Case("calibration", "size = [0, 0]", calibration_edit("size = [ 64.0, 64.0]", "size = [ 0.0, 0.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "3000-deep nested arrays", calibration_edit(
        "[cam_a]", "deep = " + "[" * 3000 + "]" * 3000 + "\n[cam_a]"), 400, "calibration_invalid"),
    Case("calibration", "NaN in the matrix", calibration_edit("[ 60.0, 0.0, 32.0]", "[ nan, 0.0, 32.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "rotation missing", calibration_edit("rotation = [ 0.0, 0.0, 0.0]\n", ""), 400,
         "calibration_invalid"),
    Case("calibration", "rotation of two numbers", calibration_edit("rotation = [ 0.0, 0.0, 0.0]",
                                                                    "rotation = [ 0.0, 0.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "empty file", calibration(""), 400, "calibration_invalid"),
    Case("calibration", "binary garbage", calibration(bytes(range(256)) * 4), 400, "calibration_invalid"),
    Case("calibration", "1.5 MiB file", calibration("#" * (1536 * 1024)), 413, "payload_too_large"),
    Case("calibration", "unknown camera name", calibration(CALIBRATION, side_camera="cam_z"), 400,
         "camera_not_found"),
    Case("calibration", "the same camera for both views", calibration(CALIBRATION, side_camera="cam_a"), 400,
         "camera_not_found"),
    Case("calibration", "one camera named, not the other", calibration(CALIBRATION, side_camera=""), 400,
         "camera_not_found"),
    Case("calibration", "videos 128×64, calibration 64×64", lambda c: answer(c.post(
        {**c.videos("wide", "wide"), "calibration": ("c.toml", CALIBRATION.encode())},
        {"front_camera": "cam_a", "side_camera": "cam_b"})), 400, "calibration_invalid"),
    # issue 42: every calibration is checked once, before queueing (calibration_file.parse_calibration)
    Case("calibration", "400-digit number in the matrix", calibration_edit(
        "[ 60.0, 0.0, 32.0]", "[ 6" + "0" * 400 + ", 0.0, 32.0]"), 400, "calibration_invalid"),
    Case("calibration", "400-digit number in size", calibration_edit(
        "size = [ 64.0, 64.0]", "size = [ 6" + "0" * 400 + ", 64.0]"), 400, "calibration_invalid"),
    Case("calibration", "5000-digit integer under an unused key", calibration(
        CALIBRATION + "\n[metadata]\nnote = 1" + "0" * 5000 + "\n"), 400, "calibration_invalid"),
    Case("calibration", "rotation = [1e200, 1e200, 1e200]", calibration_edit(
        "rotation = [ 0.0, 0.0, 0.0]", "rotation = [ 1e200, 1e200, 1e200]"), 400, "calibration_invalid"),
    Case("calibration", "intrinsic matrix with a last row of zeros", calibration_edit(
        "[ 0.0, 0.0, 1.0]]", "[ 0.0, 0.0, 0.0]]"), 400, "calibration_invalid"),
    Case("calibration", "distortions = 1e300", calibration_edit(
        "distortions = [ 0.0, 0.0, 0.0, 0.0]", "distortions = [ 1e300, 0.0, 0.0, 0.0]"), 400, "calibration_invalid"),
    Case("calibration", 'fisheye = "false" (a string)', calibration_edit("fisheye = false", 'fisheye = "false"'), 400,
         "calibration_invalid"),
    Case("calibration", "negative focal length", calibration_edit("[ 60.0, 0.0, 32.0]", "[ -60.0, 0.0, 32.0]"), 400,
         "calibration_invalid"),
    Case("calibration", "principal point outside the image", calibration_edit(
        "[ 60.0, 0.0, 32.0]", "[ 60.0, 0.0, 320.0]"), 400, "calibration_invalid"),
    Case("calibration", "rotation matrix with determinant −1", calibration_edit(
        "rotation = [ 0.0, 0.0, 0.0]", "rotation = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]"), 400,
         "calibration_invalid"),
    Case("calibration", "translation 10^6 m", calibration_edit(
        "translation = [ 0.0, 0.0, 3.0]", "translation = [ 0.0, 0.0, 1e6]"), 400, "calibration_invalid"),
    Case("calibration", "matrix entries as strings", calibration_edit(
        "[ 60.0, 0.0, 32.0]", '[ "60.0", "0.0", "32.0"]'), 400, "calibration_invalid"),
    Case("calibration", "good calibration (control)", calibration(CALIBRATION), 202, job="succeeded"),
    Case("calibration", "rotation as an orthonormal 3×3 matrix", calibration_edit(
        "rotation = [ 0.0, 0.0, 0.0]", "rotation = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]"), 202,
         job="succeeded"),
]
