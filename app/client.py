"""A small Python client and CLI for the jobs API.

    kinematics-client submit --front F.mp4 --side S.mp4 [--calibration C.toml --front-camera A --side-camera B]
                             [--offset-frames K] [--height-m H] [--mass-kg M] --out DIR
    kinematics-client status JOB_ID
    kinematics-client download JOB_ID --out DIR

The server is ``--url`` (or ``$KINEMATICS_URL``, default http://127.0.0.1:8000) and the key
``--api-key`` (or ``$KINEMATICS_API_KEY``). ``submit`` waits with a progress bar and unpacks the
results into ``--out``. Errors print the server's message on one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm


class ClientError(RuntimeError):
    pass


class KinematicsClient:
    def __init__(self, url: str, api_key: str | None, timeout: float = 60.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ClientError(f"{err['code']}: {err['message']}")
            except (ValueError, KeyError, TypeError):
                raise ClientError(f"HTTP {r.status_code}: {r.text[:200]}") from None
        return r

    def submit(self, front: Path, side: Path, calibration: Path | None = None, **form: Any) -> dict:
        with front.open("rb") as f, side.open("rb") as s:
            files: dict[str, Any] = {"front": (front.name, f), "side": (side.name, s)}
            if calibration is not None:
                files["calibration"] = (calibration.name, calibration.read_bytes())
            data = {k: str(v) for k, v in form.items() if v is not None}
            return self._check(self.http.post("/jobs", files=files, data=data)).json()

    def status(self, job_id: str) -> dict:
        return self._check(self.http.get(f"/jobs/{job_id}")).json()

    def wait(self, job_id: str, poll_s: float = 1.0, progress: bool = True) -> dict:
        bar = tqdm(total=100, desc="queued", unit="%", disable=not progress,
                   bar_format="{desc:<20} {bar} {percentage:3.0f}% {elapsed}")
        try:
            while True:
                job = self.status(job_id)
                bar.set_description_str(f"{job['status']} {job.get('stage') or ''}".strip())
                bar.n = int(round(job["progress"] * 100))
                bar.refresh()
                if job["status"] in ("succeeded", "failed", "canceled"):
                    return job
                time.sleep(poll_s)
        finally:
            bar.close()

    def download(self, job_id: str, out: Path) -> list[Path]:
        r = self._check(self.http.get(f"/jobs/{job_id}/results.zip"))
        out.mkdir(parents=True, exist_ok=True)
        written = []
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            for name in zf.namelist():
                rel = Path(*Path(name).parts[1:])  # drop the job-id folder
                if rel.is_absolute() or ".." in rel.parts:
                    continue
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
                written.append(dest)
        return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kinematics-client", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("KINEMATICS_URL", "http://127.0.0.1:8000"))
    ap.add_argument("--api-key", default=os.environ.get("KINEMATICS_API_KEY"))
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit")
    s.add_argument("--front", type=Path, required=True)
    s.add_argument("--side", type=Path, required=True)
    s.add_argument("--calibration", type=Path)
    s.add_argument("--front-camera")
    s.add_argument("--side-camera")
    s.add_argument("--offset-frames", type=int)
    s.add_argument("--height-m", type=float)
    s.add_argument("--mass-kg", type=float)
    s.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4 / overlay.png")
    s.add_argument("--subject", help="who to follow when several people are in view: largest, center or X,Y px")
    s.add_argument("--refine", choices=("fit", "none"), default="fit",
                   help="fit the model to both views' keypoints (default) or keep the network's answer")
    s.add_argument("--out", type=Path, required=True)
    st = sub.add_parser("status")
    st.add_argument("job_id")
    d = sub.add_parser("download")
    d.add_argument("job_id")
    d.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    client = KinematicsClient(args.url, args.api_key)
    try:
        if args.command == "status":
            job = client.status(args.job_id)
            print(f"{job['id']} {job['status']} {job.get('stage') or ''} {job['progress']:.0%}")
            return 0
        if args.command == "download":
            print(f"wrote {len(client.download(args.job_id, args.out))} files to {args.out}")
            return 0
        for p in (args.front, args.side, args.calibration):
            if p is not None and not p.is_file():
                raise ClientError(f"file not found: {p}")
        job = client.submit(args.front, args.side, args.calibration, front_camera=args.front_camera,
                            side_camera=args.side_camera, offset_frames=args.offset_frames,
                            height_m=args.height_m, mass_kg=args.mass_kg, refine=args.refine,
                            overlay=None if not args.no_overlay else "false", subject=args.subject)
        print(f"job {job['id']} accepted")
        job = client.wait(job["id"])
        if job["status"] != "succeeded":
            err = job.get("error") or {}
            raise ClientError(f"job {job['status']}: {err.get('code', '')} {err.get('message', '')}".strip())
        print(f"wrote {len(client.download(job['id'], args.out))} files to {args.out}")
        return 0
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {args.url}: {exc.__class__.__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
