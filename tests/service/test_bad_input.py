"""Bad input gets its documented error with a message that says what to do (one JSON shape). The
status/code of every hostile case, with leftovers checked, is the reliability suite's job
(tests/service/test_reliability.py); these tests check the messages and the record contents."""

from __future__ import annotations

import pytest
import redis

from tests.service.conftest import KEY_B, Client
from tests.service.reliability import CALIBRATION  # a two-camera 64 × 64 rig
from tests.service.videos import write_video

pytestmark = pytest.mark.service


def _expect(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body


def test_three_stills_over_twelve_seconds_are_refused(client, videos, tmp_path):
    """A few frames spread over seconds are not a video (was: accepted; 3 stills became seconds of results)."""
    import av
    import numpy as np

    path = tmp_path / "stills.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=1)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for i, pts in enumerate((0, 4, 8)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = pts
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    body = _expect(client.submit(path, videos["b"]), 400, "video_frame_rate")
    assert "frames per second" in body["error"]["message"]


def test_missing_field(client, videos):
    r = client.http.post("/jobs", files={"front": ("a.mp4", videos["a"].read_bytes(), "video/mp4")})
    body = _expect(r, 422, "invalid_request")
    assert "side" in body["error"]["message"]


def test_mismatched_durations(client, videos):
    body = _expect(client.submit(videos["a"], videos["long"]), 400, "duration_mismatch")
    assert "1.0 s" in body["error"]["message"] and "4.0 s" in body["error"]["message"]


def test_unknown_camera_name(client, videos):
    body = _expect(client.submit(videos["a"], videos["b"], calibration=CALIBRATION, front_camera="cam_a",
                                 side_camera="cam_z"), 400, "camera_not_found")
    assert "cam_a, cam_b" in body["error"]["message"]


def test_good_calibration_is_accepted(client, videos):
    r = client.submit(videos["a"], videos["b"], calibration=CALIBRATION, front_camera="cam_a", side_camera="cam_b")
    assert r.status_code == 202, r.text
    client.wait(r.json()["id"])


def test_literal_null_in_optional_fields_means_absent(client, videos):
    r = client.submit(videos["a"], videos["b"], height_m="null", mass_kg="", offset_frames="null")
    assert r.status_code == 202, r.text
    client.wait(r.json()["id"])


def test_unknown_refine_mode(client, videos):
    body = _expect(client.submit(videos["a"], videos["b"], refine="magic"), 422, "invalid_request")
    assert "refine" in body["error"]["message"] and "fit" in body["error"]["message"]


def test_unknown_job_and_route(client, stack):
    _expect(client.http.get("/jobs/doesnotexist"), 404, "not_found")
    _expect(client.http.get("/nowhere"), 404, "not_found")
    r = client.http.put("/jobs")
    _expect(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]  # the 405 says what the path does accept
    _expect(Client(stack.base_url, KEY_B).http.get("/jobs", params={"limit": 1000}), 422, "invalid_request")
    _expect(Client(stack.base_url, KEY_B).http.get("/jobs", params={"offset": 10**20}), 422, "invalid_request")


def test_openapi_documents_errors(client):
    spec = client.http.get("/openapi.json").json()
    assert "204" in spec["paths"]["/jobs/{job_id}"]["delete"]["responses"]
    post = spec["paths"]["/jobs"]["post"]
    assert {"202", "400", "401", "413", "415", "422"} <= set(post["responses"])
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_no_person_video_file_is_still_a_valid_upload(client, tmp_path):
    """A decodable video without anybody is accepted at upload; the pipeline reports no_person."""
    v = write_video(tmp_path / "empty_scene.mp4", 1.0)
    assert client.submit(v, v).status_code == 202


@pytest.mark.parametrize("value", ["biggest", "12", "x,y", "-1,5"])
def test_bad_subject_hint(client, videos, value):
    body = _expect(client.submit(videos["a"], videos["b"], subject=value), 422, "invalid_request")
    assert "subject" in body["error"]["message"] and "largest" in body["error"]["message"]


def test_subject_hint_travels_to_the_job(client, videos, stack):
    r = client.submit(videos["a"], videos["b"], subject="40,20")  # a point on the 64 × 64 front video
    assert r.status_code == 202, r.text
    record = redis.Redis.from_url(stack.redis_url).hget(f"kin:job:{r.json()['id']}", "params")
    assert record is not None and b'"subject": "40,20"' in record
    client.wait(r.json()["id"])


def test_checks_the_pipeline_would_fail_on_happen_before_queueing(client, videos, tmp_path):
    """Resolution vs calibration, names without a calibration, a too-short video: refused at upload,
    nothing queued or left behind."""
    wide = write_video(tmp_path / "wide.mp4", 1.0, size=(128, 64))  # the calibration says 64 × 64
    body = _expect(client.submit(wide, wide, calibration=CALIBRATION, front_camera="cam_a", side_camera="cam_b"),
                   400, "calibration_invalid")
    assert "64×64" in body["error"]["message"] and "128×64" in body["error"]["message"]
    body = _expect(client.submit(videos["a"], videos["b"], front_camera="cam_a"), 422, "invalid_request")
    assert "calibration" in body["error"]["message"]
    short = write_video(tmp_path / "short.mp4", 0.5)  # 15 frames
    body = _expect(client.submit(short, short), 400, "video_too_short")
    assert "15 frame" in body["error"]["message"] and "30" in body["error"]["message"]
