"""Which person is the subject, the same one in both views.

Each view is *surveyed* first: frames 0, 10, 20, … (at most :data:`SURVEY_SECONDS`) until someone
is found, and on that frame every person is listed by running the detector again with the people
already found painted over (MediaPipe Pose reports one person per call; :func:`find_people`).
When a view shows more than one person, the subject is chosen and tracking starts from its box:

- **with a calibration**, each front/side pair of people is triangulated and scored by its
  reprojection error relative to body height (:func:`pair_error`); only pairs under
  :data:`MAX_PAIR_ERROR` can be the same person. Among those, the ``subject`` rule picks:
  ``largest`` (default: the biggest boxes, as a share of each frame), ``center`` (boxes nearest
  the frame centres) or a point ``x,y`` (full-resolution px) on the person in the front view's
  surveyed frame. A pair that is clearly worse than the best one (error ≥ :data:`CLEARLY_WORSE` × the
  best's and over :data:`PAIR_NOISE`) is not chosen by ``largest`` or ``center``: within the gate,
  the better geometry wins over size. No consistent pair while a view shows several people →
  ``subject_ambiguous``.
- **without a calibration** people are matched across views by their motion
  (:mod:`worker.pipeline.people.motion_match`: vertical movements over the first two seconds, correlated
  within the views' possible time offset). A view with one person fixes that side; the ``subject``
  rule (or point) picks in the front view when both views show several people, and the motion picks
  its partner. When the motion cannot single out the partner: ``subject_ambiguous``, naming what to
  pass (a point on the person in the front view, or a calibration).

A view with one person is left as before (the detector's own choice), so single-person clips give
exactly the results they gave without this stage. After the start, the tracker follows the chosen
box (:mod:`worker.pipeline.stages.detect`): when it loses the subject it takes back only a person near
where the subject was last seen, not whoever else is in view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.geometry.triangulation import triangulate
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError
from worker.pipeline.people import motion_match
from worker.pipeline.people.subject_hint import SubjectHint

SURVEY_SECONDS = 5.0
SURVEY_STEP = 10  # frames between surveyed frames (at the pipeline rate)
MAX_PEOPLE = 4
#: Largest median reprojection error (share of body height) for two detections to be one person.
MAX_PAIR_ERROR = 0.08
#: Among pairs under :data:`MAX_PAIR_ERROR`, the rule only chooses between those whose error is under
#: this multiple of the best pair's …
CLEARLY_WORSE = 3.0
#: … or under this share of body height (detector noise: two well-seen people both pair far below it).
PAIR_NOISE = 0.02


@dataclass(frozen=True)
class Person:
    """One person in one frame: ``box`` (x0, y0, x1, y1) and ``keypoints`` [33, 3] (x, y, visibility),
    full-resolution px; ``motion``, when surveyed, their keypoints over the next seconds
    ``[M, 33, 3]`` (one row per :data:`~worker.pipeline.people.motion_match.MOTION_STEP` frames from the
    survey frame, the first being ``keypoints``; NaN rows where they were not found)."""

    box: np.ndarray
    keypoints: np.ndarray
    motion: np.ndarray | None = None

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    def to_json(self) -> dict:
        out: dict = {"box": [round(float(v), 2) for v in self.box],
                     "keypoints": [[round(float(v), 2) for v in row] for row in self.keypoints]}
        if self.motion is not None:  # NaN (not found) travels as null
            out["motion"] = [[[None if not np.isfinite(v) else round(float(v), 2) for v in row] for row in frame]
                             for frame in self.motion]
        return out

    @classmethod
    def from_json(cls, data: dict) -> Person:
        motion = data.get("motion")
        return cls(np.array(data["box"], np.float64), np.array(data["keypoints"], np.float32),
                   None if motion is None else np.array(motion, np.float64))


@dataclass
class Survey:
    """A view's people on its first frame with anyone (``frame`` at the pipeline rate; -1: nobody)."""

    frame: int
    people: list[Person]
    image_size: tuple[int, int]  # (w, h) full-resolution px


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def everyone(
    image: np.ndarray, detector: Callable, box_of: Callable[[np.ndarray], np.ndarray | None],
    max_people: int = MAX_PEOPLE,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every person the detector finds in ``image`` (upright RGB), as ``(mask, keypoints, box)`` in
    image px: detect, paint the person found over (its box, 10 % larger, in mid grey), detect again,
    until nobody new is found or ``max_people``. ``box_of`` turns a detector mask into a box or None."""
    work = image.copy()
    h, w = image.shape[:2]
    boxes: list[np.ndarray] = []
    for _ in range(max_people):
        res = detector(work)
        box = box_of(res[0]) if res is not None else None
        if res is None or box is None or any(_iou(box, b) > 0.3 for b in boxes):  # nobody, or the same again
            return
        boxes.append(box)
        yield res[0], res[1], box
        pad_x, pad_y = 0.05 * (box[2] - box[0]), 0.05 * (box[3] - box[1])
        x0, y0 = int(max(box[0] - pad_x, 0)), int(max(box[1] - pad_y, 0))
        x1, y1 = int(min(box[2] + pad_x, w)), int(min(box[3] + pad_y, h))
        work[y0:y1, x0:x1] = 128


def find_people(
    image: np.ndarray, scale: float, detector: Callable, box_of: Callable[[np.ndarray], np.ndarray | None],
    max_people: int = MAX_PEOPLE,
) -> list[Person]:
    """:func:`everyone` in ``image`` as people in full-resolution px (``scale`` full-res px per image px)."""
    people = []
    for _, kp, box in everyone(image, detector, box_of, max_people):
        kp = kp.copy()
        kp[:, :2] *= scale
        people.append(Person(box * scale, kp))
    return people


def pair_error(front: Person, side: Person, cams: tuple[Camera, Camera], min_visibility: float = 0.5) -> float:
    """Median reprojection error of the pair's triangulated keypoints, as a share of their mean
    box height; ``inf`` when fewer than six landmarks are seen in both or the points fall behind a
    camera."""
    px = np.stack([front.keypoints[:, :2], side.keypoints[:, :2]])
    conf = np.stack([front.keypoints[:, 2], side.keypoints[:, 2]])
    both = (conf >= min_visibility).all(0)
    if both.sum() < 6:
        return float("inf")
    pts, err = triangulate(px[:, both], conf[:, both], cams, min_confidence=min_visibility)
    ok = np.isfinite(err)
    if ok.sum() < 6 or any((c.to_camera(pts[ok])[:, 2] <= 0).mean() > 0.5 for c in cams):
        return float("inf")
    return float(np.median(err[ok]) / max((front.height + side.height) / 2, 1.0))


def consistent_pairs(errors: np.ndarray, pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ``pairs`` (front, side indices into ``errors``) that are not clearly worse than the best of them:
    error under :data:`CLEARLY_WORSE` × the best error, or under :data:`PAIR_NOISE`."""
    best = min(float(errors[p]) for p in pairs)
    limit = max(CLEARLY_WORSE * best, PAIR_NOISE)
    return [p for p in pairs if float(errors[p]) < limit or float(errors[p]) == best]


def _size_score(p: Person, size: tuple[int, int]) -> float:
    return float((p.box[2] - p.box[0]) * (p.box[3] - p.box[1]) / (size[0] * size[1]))


def _centre_distance(p: Person, size: tuple[int, int]) -> float:
    c = np.array([(p.box[0] + p.box[2]) / 2 / size[0], (p.box[1] + p.box[3]) / 2 / size[1]])
    return float(np.linalg.norm(c - 0.5))


def _pick(people: Sequence[Person], size: tuple[int, int], hint: SubjectHint) -> int:
    if hint.point is not None:
        x, y = hint.point
        inside = [i for i, p in enumerate(people) if p.box[0] <= x <= p.box[2] and p.box[1] <= y <= p.box[3]]
        pool = inside or range(len(people))
        return min(pool, key=lambda i: float(np.hypot((people[i].box[0] + people[i].box[2]) / 2 - x,
                                                       (people[i].box[1] + people[i].box[3]) / 2 - y)))
    if hint.rule == "center":
        return min(range(len(people)), key=lambda i: _centre_distance(people[i], size))
    return max(range(len(people)), key=lambda i: _size_score(people[i], size))


@dataclass
class SubjectChoice:
    """Where tracking starts in each view: a full-res box, or None (one person: the detector's own
    choice). ``summary`` goes into summary.json."""

    boxes: tuple[np.ndarray | None, np.ndarray | None]
    warnings: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def choose_subject(
    surveys: tuple[Survey, Survey], cams: tuple[Camera, Camera] | None, hint: SubjectHint | None = None,
    offset_frames: int | None = None,
) -> SubjectChoice:
    """The subject in both views (see the module docstring for the rule); raises
    ``subject_ambiguous`` when several people are in view and no pair of them lines up in 3-D (with
    ``cams``), or when both views show several people and their motion does not pair them (without).
    ``offset_frames``: the user's time offset (pipeline frames), which narrows the motion match."""
    hint = hint or SubjectHint()
    front, side = surveys
    counts = [len(front.people), len(side.people)]
    summary: dict = {"people": {"front": counts[0], "side": counts[1]},
                     "survey_frames": {"front": front.frame, "side": side.frame},
                     "rule": "point" if hint.point is not None else hint.rule}
    if max(counts) <= 1 and hint.point is None:
        return SubjectChoice((None, None), [], summary)
    if min(counts) == 0:  # somebody in one view only: the later no_person check decides
        return SubjectChoice((None, None), [], summary)
    warnings: list[str] = []
    if cams is None:
        return _match_by_motion(surveys, hint, summary, offset_frames)
    errors = np.array([[pair_error(f, s, cams) for s in side.people] for f in front.people])
    summary["pair_errors"] = [[round(float(e), 3) if np.isfinite(e) else None for e in row] for row in errors]
    good = np.argwhere(errors < MAX_PAIR_ERROR)
    if good.size == 0:
        if max(counts) == 1:  # one person each: keep them, the fit's residuals will tell
            return SubjectChoice((None, None), warnings, summary)
        raise PipelineError(
            "subject_ambiguous",
            f"found {counts[0]} people in the front view and {counts[1]} in the side view, and no pair of them lines "
            "up in 3-D with the calibration; check that front_camera and side_camera name the right cameras, or "
            "pass subject=x,y (a point on the person in the front video's first frames, full-resolution pixels)")
    if hint.point is not None:
        i = _pick(front.people, front.image_size, hint)
        pairs = [(int(a), int(b)) for a, b in good if a == i]
        if not pairs:
            raise PipelineError(ErrorCode.SUBJECT_AMBIGUOUS,
                                "the person at the subject point has no match in the side view; "
                                "check the calibration and camera names, or point at another part of the person")
        i, j = min(pairs, key=lambda ab: errors[ab])
    else:
        def score(ab: tuple[int, int]) -> float:
            a, b = front.people[ab[0]], side.people[ab[1]]
            if hint.rule == "center":
                return -(_centre_distance(a, front.image_size) + _centre_distance(b, side.image_size))
            return _size_score(a, front.image_size) + _size_score(b, side.image_size)

        pairs = [(int(a), int(b)) for a, b in good]
        rule_pick = max(pairs, key=score)
        i, j = max(consistent_pairs(errors, pairs), key=score)
        if (i, j) != rule_pick:
            summary["rule_alone"] = {"front": rule_pick[0], "side": rule_pick[1],
                                     "pair_error": round(float(errors[rule_pick]), 3)}
            warnings.append(f"the {hint.rule} pair of people (pair error {errors[rule_pick]:.3f} of body height) lines "
                            f"up much worse in 3-D than another ({errors[i, j]:.3f}); followed the better one")
    summary["matched_by"] = "calibration"
    summary["chosen"] = {"front": i, "side": j, "pair_error": round(float(errors[i, j]), 3)}
    if max(counts) > 1:
        warnings.append(f"{counts[0]} people in the front view and {counts[1]} in the side view; followed the "
                        f"{summary['rule']} person seen consistently in both (check the overlay)")
    return SubjectChoice((front.people[i].box, side.people[j].box), warnings, summary)


def _rule_in_each_view(surveys: tuple[Survey, Survey], hint: SubjectHint, summary: dict) -> SubjectChoice:
    """No motion to compare: the rule in each view, with a warning."""
    front, side = surveys
    i = _pick(front.people, front.image_size, hint)
    j = _pick(side.people, side.image_size, SubjectHint(rule=hint.rule if hint.point is None else "largest"))
    summary["matched_by"] = "rule in each view"
    warning = (f"{len(front.people)} people in the front view and {len(side.people)} in the side view; without a "
               f"calibration they could not be matched across views, so each view follows its {summary['rule']} "
               "person (pass a calibration, or check the overlay)")
    return SubjectChoice((front.people[i].box, side.people[j].box), [warning], summary)


def _match_by_motion(surveys: tuple[Survey, Survey], hint: SubjectHint, summary: dict,
                     offset_frames: int | None) -> SubjectChoice:
    """Uncalibrated views with several people in at least one: pair the subject across views by motion."""
    front, side = surveys
    people = [*front.people, *side.people]
    if any(p.motion is None for p in people):
        return _rule_in_each_view(surveys, hint, summary)
    lags = motion_match.lag_range(front.frame, side.frame, offset_frames)
    sig_f = [motion_match.signals(p.motion) for p in front.people if p.motion is not None]
    sig_s = [motion_match.signals(p.motion) for p in side.people if p.motion is not None]
    sim = np.array([[motion_match.similarity(a, b, lags) for b in sig_s] for a in sig_f])
    summary["motion_similarity"] = [[round(float(v), 3) if np.isfinite(v) else None for v in row] for row in sim]
    n_front, n_side = sim.shape
    several = f"{n_front} people in the front view and {n_side} in the side view"
    warnings: list[str] = []
    if hint.point is not None or n_side > 1:  # the front person is the user's (or the rule's) choice
        i = _pick(front.people, front.image_size, hint)
    else:  # the side's one person is the subject: find them in the front view
        i, decisive = motion_match.best_match(sim[:, 0])
        if not decisive:
            raise PipelineError(
                "subject_ambiguous",
                f"found {several}, and without a calibration their motion does not tell which person in the front "
                "view is the one in the side view (too little movement, or similar movements at a similar pace); "
                "pass subject=x,y (a point on the person in the front video's first frames, full-resolution pixels) "
                "or a calibration with front_camera and side_camera")
    j = 0
    if n_side > 1:  # find the front person in the side view
        j, decisive = motion_match.best_match(sim[i])
        if not decisive:
            raise PipelineError(
                "subject_ambiguous",
                f"found {several}, and without a calibration their motion does not tell which person in the side "
                "view is the one followed in the front view (too little movement, or similar movements at a similar "
                "pace); pass a calibration with front_camera and side_camera, or film the side view with only the "
                "subject in it")
    summary["matched_by"] = "subject point" if hint.point is not None and n_side == 1 else "motion"
    summary["chosen"] = {"front": i, "side": j, "motion_similarity": summary["motion_similarity"][i][j]}
    warnings.append(f"{several}; followed the {summary['rule']} person, matched across the views by "
                    f"{summary['matched_by'].replace('subject ', 'the ')} (check the overlay)")
    return SubjectChoice((front.people[i].box, side.people[j].box), warnings, summary)
