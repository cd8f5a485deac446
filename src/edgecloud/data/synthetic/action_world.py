"""A seeded synthetic action world written in the PKU-MMD layout.

The action world is the project's embedded default dataset for temporal action recognition
(Clownfish): it must be cheap to make, byte-identical on every machine for a given config, and
hard enough that a big 3D CNN at full resolution ("cloud") is clearly more accurate than a
small one at low resolution ("edge"). It mimics PKU-MMD phase 1 at toy scale: long untrimmed
videos in which a subject performs one action after another, with idle background between
them, recorded simultaneously by three cameras (left, middle, right).

What is in it:

* **Subjects** differ in appearance (height, build, skin, hair, shirt colour and pattern,
  trousers) and in how they move (tempo, amplitude). Every action instance varies its own
  tempo and amplitude around the subject's; a small one is labelled confidence 1, like a
  sloppy PKU-MMD performance.
* **Actions** are motions of a 3-D articulated stick figure, drawn with OpenCV
  (:data:`ACTION_CLASSES`; the first ``num_classes`` are used). They come in pairs that differ
  only in small details: which hand waves; hand at the mouth holding a cup (drink) or at the
  ear holding a phone; both feet (jump) or one foot (hop); knees (squat) or hips (bow); which
  way the subject side-steps. Actions last ``action_seconds`` (2 to 5 s by default).
* **Background** between actions (``background_seconds``) is idle sway plus hard negatives:
  brief fidgets that look like the start of an action (touching the chin, scratching the
  head, shifting a foot, glancing sideways, half-raising the hands).
* **Views**: the cameras look from 40 degrees left, the front and 40 degrees right. Like
  PKU-MMD's three Kinects in one lab, every session is filmed in the same room by the same
  three cameras: each view's camera (distance, height, framing) and backdrop (wall, floor,
  furniture-like clutter, a flickering screen) are drawn once per world, not per session.
  This matters for learning: with a backdrop of its own, each video's few action instances
  were told apart by their surroundings, and small 3D CNNs trained from scratch memorised
  them instead of learning the motions (cross-subject window accuracy 30% with a room per
  session, 49% with the shared room: same model, data size and budget). Views are never
  mirrored, so left and right keep their meaning (horizontal-flip augmentation would swap the
  left/right classes).
* **Camera effects**: sensor noise, camera shake, slow lighting drift with occasional
  jumps, per-video white balance, JPEG compression.

The three views of a session share one script (same actions at the same frames), as the
three Kinects of PKU-MMD do, so the cross-view protocol tests robustness to viewpoint alone.

On disk, ``root`` holds the PKU-MMD layout that
:func:`~edgecloud.data.formats.pku_mmd.read_pku_mmd` reads::

    world.json                    config, format version, class names, every video's
                                  session, subject, view and length
    Label/0001-L.txt ...          action_id,start_frame,end_frame,confidence (1-based, inclusive)
    Split/cross-subject.txt       the last ``val_subjects`` subjects validate, all views
    Split/cross-view.txt          left and right views train, the middle view validates
    RGB_FRAMES/0001-L/000001.jpg ...

Video ``NNNN-V`` is session ``NNNN`` (numbered from 1, ``sessions_per_subject`` per subject
in subject order) seen from view ``V``. Action ids are ``1..num_classes`` in the order of
:func:`action_class_names`.

Same config, same bytes: every subject, session, view and camera draws from its own child of
``np.random.SeedSequence(seed)``, and the sessions' scripts are planned in order before any
video is rendered (so rounds of classes run on from session to session and stay balanced
world-wide), so the output does not depend on the number of worker processes.

Command line::

    python -m edgecloud.data.synthetic.action_world --root data/action_world [--seed 0 ...]
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgecloud.data.formats.pku_mmd import (
    FRAMES_DIR,
    LABEL_DIR,
    PKU_MMD_VIEWS,
    SPLIT_DIR,
    PkuMmdLabel,
    frame_filename,
    video_name,
    write_labels,
    write_split,
)
from edgecloud.data.synthetic import storage
from edgecloud.data.synthetic.storage import WORLD_FILE, config_json, read_world

FORMAT_VERSION = 2
"""Bumped whenever the same config would render different bytes; invalidates caches."""


ACTION_CLASSES: tuple[str, ...] = (
    "wave-left-hand",
    "wave-right-hand",
    "drink-water",
    "phone-call",
    "jump-up",
    "hop-one-foot",
    "squat",
    "bow",
    "clap",
    "kick",
    "walk-left",
    "walk-right",
    "arm-circles",
    "raise-both-hands",
    "cross-hands",
    "turn-around",
)
"""Every action the figure can perform; a config uses the first ``num_classes``. Left and
right are the subject's own (seen from the front, the subject's left hand is on the right)."""

CROSS_VIEW_TRAIN_VIEWS: tuple[str, ...] = ("L", "R")
CROSS_VIEW_VAL_VIEWS: tuple[str, ...] = ("M",)
"""The cross-view protocol as the Clownfish paper uses it: side views train, the front tests."""


@dataclass(frozen=True)
class ActionWorldConfig:
    """Everything that determines the generated bytes (``workers`` does not)."""

    seed: int = 0
    num_subjects: int = 10
    sessions_per_subject: int = 1
    """Long videos per subject and view; each session has its own script and backdrops."""
    val_subjects: int = 2
    """Subjects held out by the cross-subject split (the last ones)."""
    num_classes: int = 12
    frames_per_video: tuple[int, int] = (1200, 1800)
    """Inclusive range of a session's length in frames (drawn once per session)."""
    width: int = 160
    height: int = 120
    fps: int = 30
    jpeg_quality: int = 90
    action_seconds: tuple[float, float] = (2.0, 5.0)
    """Range of an action instance's duration."""
    background_seconds: tuple[float, float] = (1.0, 3.0)
    """Range of the background gap before, between and after actions."""
    noise: float = 5.0
    """Standard deviation of the sensor noise, in grey levels."""
    camera_shake: float = 0.8
    """Standard deviation of the camera shake, in pixels."""
    lighting: float = 0.2
    """Largest relative change of the scene brightness (slow drift and sudden switches)."""
    clutter: tuple[int, int] = (4, 9)
    """Inclusive range of clutter objects in a view's backdrop."""

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if not isinstance(value, str | int | float | tuple):
                object.__setattr__(self, spec.name, tuple(value))  # lists, OmegaConf lists
        _check(self)


def _check(config: ActionWorldConfig) -> None:
    """Raise ValueError naming the first field that cannot produce a valid dataset."""
    shortest_video = config.fps * (config.action_seconds[0] + 2 * config.background_seconds[0])
    sessions = config.num_subjects * config.sessions_per_subject
    problems = {
        "num_subjects": config.num_subjects < 1,
        "sessions_per_subject": config.sessions_per_subject < 1 or sessions > 9999,
        "val_subjects": not 0 <= config.val_subjects <= config.num_subjects,
        "num_classes": not 1 <= config.num_classes <= len(ACTION_CLASSES),
        # Long enough for one action between two background gaps.
        "frames_per_video": not shortest_video <= config.frames_per_video[0]
        or config.frames_per_video[0] > config.frames_per_video[1],
        "width": config.width < 32,
        "height": config.height < 24,
        "fps": config.fps < 1,
        "jpeg_quality": not 1 <= config.jpeg_quality <= 100,
        # At least 4 frames, so an action can ease in and out.
        "action_seconds": not 4 / config.fps <= config.action_seconds[0]
        or config.action_seconds[0] > config.action_seconds[1],
        "background_seconds": config.background_seconds[0] <= 0
        or config.background_seconds[0] > config.background_seconds[1],
        "noise": config.noise < 0,
        "camera_shake": not 0 <= config.camera_shake <= 4,
        "lighting": not 0 <= config.lighting < 1,
        "clutter": not 0 <= config.clutter[0] <= config.clutter[1],
    }
    for name, bad in problems.items():
        if bad:
            raise ValueError(
                f"ActionWorldConfig.{name} = {getattr(config, name)!r} is out of range"
            )


def action_class_names(config: ActionWorldConfig) -> tuple[str, ...]:
    """Names of the world's classes; label file action id ``i`` is ``names[i - 1]``."""
    return ACTION_CLASSES[: config.num_classes]


def subject_of_session(config: ActionWorldConfig, session: int) -> int:
    """The 1-based subject who performs 1-based ``session``."""
    return (session - 1) // config.sessions_per_subject + 1


def val_subject_numbers(config: ActionWorldConfig) -> list[int]:
    """1-based subjects the cross-subject split holds out: the last ``val_subjects``."""
    return list(range(config.num_subjects - config.val_subjects + 1, config.num_subjects + 1))


# --- seeding --------------------------------------------------------------------------------


def _child(seed: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``seed``, as ``seed.spawn`` would make it, without mutating it.

    ``spawn`` numbers children by how often it was called; naming them by index instead keeps
    every draw independent of call order, job order and the worker count.
    """
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, index), pool_size=seed.pool_size
    )


_SUBJECTS, _SESSIONS, _ROOM = 0, 1, 2
_PLAN, _FIRST_VIEW = 0, 1


# --- subjects -------------------------------------------------------------------------------

_SKIN = ((60, 85, 140), (95, 130, 190), (125, 165, 215), (150, 190, 235), (45, 65, 100))
_HAIR = ((20, 20, 25), (30, 50, 90), (60, 90, 140), (170, 170, 175), (25, 35, 60))
_PATTERNS = ("solid", "stripes", "checks", "dots")


@dataclass(frozen=True)
class _Subject:
    """How one subject looks (BGR colours) and moves."""

    height: float
    build: float
    tempo: float
    amplitude: float
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    shirt: tuple[float, float, float]
    shirt_detail: tuple[float, float, float]
    trousers: tuple[float, float, float]
    shoes: tuple[float, float, float]
    pattern: str
    pattern_count: int


def _bright_colour(
    rng: np.random.Generator, low: int = 40, high: int = 230
) -> tuple[float, float, float]:
    """A saturated BGR colour of random hue with brightness (HSV value) in ``[low, high)``."""
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(90, 256), rng.integers(low, high)]]])
    return tuple(float(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _make_subject(rng: np.random.Generator) -> _Subject:
    """Draw one subject; the same generator state always gives the same subject."""
    shirt = _bright_colour(rng)
    return _Subject(
        height=float(rng.uniform(0.88, 1.12)),
        build=float(rng.uniform(0.8, 1.3)),
        tempo=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.8, 1.2)),
        skin=tuple(float(c) for c in _SKIN[rng.integers(len(_SKIN))]),
        hair=tuple(float(c) for c in _HAIR[rng.integers(len(_HAIR))]),
        shirt=shirt,
        shirt_detail=_bright_colour(rng),
        trousers=_bright_colour(rng, 20, 140),
        shoes=tuple(float(c) for c in rng.integers(10, 90, 3)),
        pattern=_PATTERNS[rng.integers(len(_PATTERNS))],
        pattern_count=int(rng.integers(2, 5)),
    )


# --- the figure -----------------------------------------------------------------------------
# Body frame: x to the subject's left, y up, z forward (towards the middle camera); units are
# body heights, the feet on y = 0. Hands are placed relative to the shoulders, feet relative to
# the point under the hips, and the limbs between bend by two-bone inverse kinematics.

_LEFT, _RIGHT = 0, 1
_SIDE = (1.0, -1.0)
"""x sign of each side: the subject's left is +x."""

_HIP_HEIGHT = 0.5
_TORSO = 0.28
_NECK = 0.05
_HEAD_RADIUS = 0.065
_SHOULDER = 0.095
_HIP = 0.055
_UPPER_ARM, _FOREARM = 0.155, 0.15
_THIGH, _SHIN = 0.245, 0.245
_ANKLE = 0.02
_FOOT_LENGTH = 0.05
_STAGE_HALF_WIDTH = 0.3
"""How far (body heights) a subject may side-step from the stage centre."""
_SHORTEST_WALK = 0.2
"""Side-steps cover 0.2 to 0.4 body heights, as far as the stage allows."""


def _neutral_hands() -> np.ndarray:
    return np.array([[0.03, -0.295, 0.02], [-0.03, -0.295, 0.02]])


def _neutral_feet() -> np.ndarray:
    return np.array([[0.01, _ANKLE, 0.0], [-0.01, _ANKLE, 0.0]])


@dataclass
class _Pose:
    """The free parameters of the figure in one frame."""

    x: float = 0.0
    lift: float = 0.0
    """Whole body above the floor (jumping)."""
    crouch: float = 0.0
    """Pelvis lowered by bending the knees."""
    pitch: float = 0.0
    """Torso tilted forward, radians."""
    yaw: float = 0.0
    """Body turned to its left, radians (0 faces the middle camera)."""
    hands: np.ndarray = field(default_factory=_neutral_hands)
    """(2, 3) hand positions relative to the left and right shoulder."""
    feet: np.ndarray = field(default_factory=_neutral_feet)
    """(2, 3) ankle positions relative to the floor point under each hip (lift included)."""
    prop: str | None = None
    """Object held in the right hand: "cup" or "phone"."""


def _blend(current: np.ndarray, target: Sequence[float], weight: float) -> np.ndarray:
    """Move ``current`` the fraction ``weight`` of the way to ``target``."""
    return current + weight * (np.asarray(target, dtype=float) - current)


def _ramp(u: float) -> float:
    """Smoothstep of ``u`` clipped to [0, 1]."""
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def _mouth() -> np.ndarray:
    """The mouth relative to the centre between the shoulders."""
    return np.array([0.0, _NECK + _HEAD_RADIUS - 0.03, _HEAD_RADIUS * 0.85])


@dataclass(frozen=True)
class _Motion:
    """Where an action instance is at one frame."""

    t: float
    """Seconds since the action started, scaled by the instance's tempo."""
    u: float
    """Progress through the instance, 0 to 1."""
    weight: float
    """Envelope: 0 at the ends, 1 once the subject has moved into the action."""
    amplitude: float
    x_start: float
    x_end: float


def _wave(side: int) -> Callable[[_Pose, _Motion], None]:
    """One hand raised beside the head, swinging sideways at about 2 Hz."""

    def perform(pose: _Pose, m: _Motion) -> None:
        s = _SIDE[side]
        swing = 0.065 * m.amplitude * math.sin(2 * math.pi * 2.0 * m.t)
        target = (s * (0.12 + swing), 0.16 + 0.015 * math.cos(4 * math.pi * 2.0 * m.t), 0.05)
        pose.hands[side] = _blend(pose.hands[side], target, m.weight)

    return perform


def _drink(pose: _Pose, m: _Motion) -> None:
    """Right hand holds a cup at the mouth, dipping towards the chest between sips."""
    mouth = _mouth() + np.array([_SHOULDER, 0.0, 0.015])
    chest = np.array([_SHOULDER * 0.7, -0.13, 0.17])
    sip = 0.5 - 0.5 * math.cos(2 * math.pi * m.t / 2.2)
    target = mouth + 0.35 * m.amplitude * (1 - sip) * (chest - mouth)
    pose.hands[_RIGHT] = _blend(pose.hands[_RIGHT], target, m.weight)
    pose.prop = "cup" if m.weight > 0.2 else None


def _phone(pose: _Pose, m: _Motion) -> None:
    """Right hand holds a phone still at the right ear (drink's look-alike)."""
    ear = np.array([_SHOULDER - _HEAD_RADIUS * 0.95, _NECK + _HEAD_RADIUS, 0.0])
    nod = 0.008 * m.amplitude * math.sin(2 * math.pi * 0.7 * m.t)
    pose.hands[_RIGHT] = _blend(pose.hands[_RIGHT], ear + np.array([0.0, nod, 0.0]), m.weight)
    pose.prop = "phone" if m.weight > 0.2 else None


def _jump(pose: _Pose, m: _Motion) -> None:
    """Repeated two-footed jumps: crouch, take off with the arms swinging up, land."""
    phase = (m.t / 0.8) % 1.0
    if phase < 0.3:
        crouch, lift = math.sin(math.pi * phase / 0.3), 0.0
    elif phase < 0.8:
        crouch, lift = 0.0, math.sin(math.pi * (phase - 0.3) / 0.5)
    else:
        crouch, lift = math.sin(math.pi * (phase - 0.8) / 0.2), 0.0
    pose.crouch += m.weight * 0.08 * m.amplitude * crouch
    pose.lift += m.weight * 0.1 * m.amplitude * lift
    for side in (_LEFT, _RIGHT):
        swing = (_SIDE[side] * 0.05, -0.2 + 0.18 * lift, 0.06 + 0.05 * lift)
        pose.hands[side] = _blend(pose.hands[side], swing, m.weight)
        pose.feet[side] = _blend(pose.feet[side], (_SIDE[side] * 0.02, _ANKLE, 0.0), m.weight)


def _hop(pose: _Pose, m: _Motion) -> None:
    """Quick small hops on the right foot, left foot tucked up behind (jump's look-alike)."""
    phase = (m.t / 0.5) % 1.0
    lift = max(0.0, math.sin(2 * math.pi * phase))
    pose.lift += m.weight * 0.045 * m.amplitude * lift
    pose.crouch += m.weight * 0.03 * max(0.0, -math.sin(2 * math.pi * phase))
    pose.feet[_LEFT] = _blend(pose.feet[_LEFT], (0.03, 0.17, -0.09), m.weight)
    for side in (_LEFT, _RIGHT):
        pose.hands[side] = _blend(pose.hands[side], (_SIDE[side] * 0.1, -0.24, 0.03), m.weight)


def _squat(pose: _Pose, m: _Motion) -> None:
    """Slow knee bends with the arms reaching forward for balance."""
    depth = 0.5 - 0.5 * math.cos(2 * math.pi * m.t / 2.4)
    pose.crouch += m.weight * 0.2 * m.amplitude * depth
    pose.pitch += m.weight * 0.3 * depth
    for side in (_LEFT, _RIGHT):
        reach = _blend(_neutral_hands()[side], (0.0, -0.06, 0.27), depth)
        pose.hands[side] = _blend(pose.hands[side], reach, m.weight)


def _bow(pose: _Pose, m: _Motion) -> None:
    """Slow forward bends at the hips, legs nearly straight (squat's look-alike)."""
    depth = 0.5 - 0.5 * math.cos(2 * math.pi * m.t / 2.6)
    pose.pitch += m.weight * 0.75 * m.amplitude * depth
    pose.crouch += m.weight * 0.015 * depth


def _clap(pose: _Pose, m: _Motion) -> None:
    """Hands meet and part in front of the chest at about 2 Hz."""
    gap = 0.015 + 0.08 * m.amplitude * (0.5 + 0.5 * math.cos(2 * math.pi * 2.2 * m.t))
    for side in (_LEFT, _RIGHT):
        s = _SIDE[side]
        target = (s * (-_SHOULDER + gap), -0.1, 0.2)
        pose.hands[side] = _blend(pose.hands[side], target, m.weight)


def _kick(pose: _Pose, m: _Motion) -> None:
    """The right foot kicks forward and up, about once a second, leaning back."""
    kick = max(0.0, math.sin(2 * math.pi * m.t / 1.3)) ** 1.5
    foot = (-0.01, _ANKLE + 0.28 * m.amplitude * kick, 0.38 * m.amplitude * kick)
    pose.feet[_RIGHT] = _blend(pose.feet[_RIGHT], foot, m.weight)
    pose.pitch -= m.weight * 0.12 * kick
    pose.hands[_LEFT] = _blend(pose.hands[_LEFT], (0.06, -0.22, 0.12 * kick), m.weight)
    pose.hands[_RIGHT] = _blend(pose.hands[_RIGHT], (-0.08, -0.24, -0.05 * kick), m.weight)


def _walk(pose: _Pose, m: _Motion) -> None:
    """Side-steps from ``x_start`` to ``x_end``: the feet alternately reach and follow."""
    pose.x = m.x_start + (m.x_end - m.x_start) * _ramp((m.u - 0.05) / 0.9)
    step = 2 * math.pi * 0.8 * m.t
    direction = 1.0 if m.x_end >= m.x_start else -1.0
    for side in (_LEFT, _RIGHT):
        phase = step + (0.0 if side == _LEFT else math.pi)
        reach = 0.05 * m.amplitude * math.sin(phase)
        raised = 0.05 * max(0.0, math.sin(phase + math.pi / 2))
        foot = (_SIDE[side] * 0.02 + direction * reach, _ANKLE + raised, 0.0)
        pose.feet[side] = _blend(pose.feet[side], foot, m.weight)
        hand = (_SIDE[side] * 0.06, -0.28, 0.02 + 0.03 * math.sin(phase))
        pose.hands[side] = _blend(pose.hands[side], hand, m.weight)
    pose.lift += m.weight * 0.01 * abs(math.sin(step))


def _arm_circles(pose: _Pose, m: _Motion) -> None:
    """Arms held out sideways, the hands circling in small vertical circles."""
    angle = 2 * math.pi * 1.1 * m.t
    radius = 0.07 * m.amplitude
    for side in (_LEFT, _RIGHT):
        target = (_SIDE[side] * 0.26, radius * math.cos(angle), radius * math.sin(angle))
        pose.hands[side] = _blend(pose.hands[side], target, m.weight)


def _raise_hands(pose: _Pose, m: _Motion) -> None:
    """Both hands held up above the head, shaking a little (cheering)."""
    shake = 0.012 * math.sin(2 * math.pi * 2.7 * m.t)
    for side in (_LEFT, _RIGHT):
        target = (_SIDE[side] * (0.07 + shake), 0.27 * min(1.0, m.amplitude), 0.03)
        pose.hands[side] = _blend(pose.hands[side], target, m.weight)


def _cross_hands(pose: _Pose, m: _Motion) -> None:
    """Forearms held crossed in front of the chest ("stop"); clap's still look-alike."""
    pulse = 0.01 * math.sin(2 * math.pi * 1.5 * m.t)
    for side in (_LEFT, _RIGHT):
        s = _SIDE[side]
        target = (-s * (_SHOULDER + 0.05), -0.03 + 0.03 * side + pulse, 0.16 + 0.02 * side)
        pose.hands[side] = _blend(pose.hands[side], target, m.weight)


def _turn(pose: _Pose, m: _Motion) -> None:
    """One full turn on the spot, stepping; the back of the head shows halfway."""
    pose.yaw += 2 * math.pi * _ramp((m.u - 0.1) / 0.8)
    for side in (_LEFT, _RIGHT):
        raised = 0.03 * max(0.0, math.sin(2 * math.pi * 1.4 * m.t + side * math.pi))
        pose.feet[side] = _blend(
            pose.feet[side], (_SIDE[side] * 0.02, _ANKLE + raised, 0), m.weight
        )


_PERFORMERS: dict[str, Callable[[_Pose, _Motion], None]] = {
    "wave-left-hand": _wave(_LEFT),
    "wave-right-hand": _wave(_RIGHT),
    "drink-water": _drink,
    "phone-call": _phone,
    "jump-up": _jump,
    "hop-one-foot": _hop,
    "squat": _squat,
    "bow": _bow,
    "clap": _clap,
    "kick": _kick,
    "walk-left": _walk,
    "walk-right": _walk,
    "arm-circles": _arm_circles,
    "raise-both-hands": _raise_hands,
    "cross-hands": _cross_hands,
    "turn-around": _turn,
}
assert set(_PERFORMERS) == set(ACTION_CLASSES)

_WALKS = {"walk-left": 1.0, "walk-right": -1.0}
"""Side-step direction in x of the walking classes (the subject's left is +x)."""

# Fidgets: brief background movements that resemble the start of an action but are not one.
_FIDGETS = ("touch-chin", "scratch-head", "shift-foot", "glance", "half-raise")


def _fidget(pose: _Pose, kind: str, side: int, weight: float) -> None:
    """A background movement of ``kind`` by ``side``, scaled in by ``weight``."""
    s = _SIDE[side]
    if kind == "touch-chin":
        chin = _mouth() + np.array([-s * _SHOULDER, -0.035, 0.0])
        pose.hands[side] = _blend(pose.hands[side], chin, weight)
    elif kind == "scratch-head":
        top = (-s * (_SHOULDER - 0.05), _NECK + 2 * _HEAD_RADIUS + 0.01, -0.01)
        pose.hands[side] = _blend(pose.hands[side], top, weight)
    elif kind == "shift-foot":
        pose.feet[side] = _blend(pose.feet[side], (s * 0.07, _ANKLE + 0.01, 0.03), weight)
    elif kind == "glance":
        pose.yaw += s * 0.5 * weight
    elif kind == "half-raise":
        for hand in (_LEFT, _RIGHT):
            target = (_SIDE[hand] * 0.08, -0.12, 0.14)
            pose.hands[hand] = _blend(pose.hands[hand], target, 0.7 * weight)


@dataclass(frozen=True)
class _Skeleton:
    """3-D joint positions (body heights) of one frame, before the camera."""

    points: dict[str, np.ndarray]
    facing: np.ndarray
    """Unit vector the body faces."""


def _bend(
    root: np.ndarray, target: np.ndarray, upper: float, lower: float, hint: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Middle joint and end point of a two-bone limb reaching from ``root`` towards ``target``.

    The end stops at full reach; the middle joint bends towards ``hint`` (a direction).
    """
    reach = target - root
    distance = math.sqrt(float(reach @ reach))
    along_unit = reach / distance if distance > 1e-9 else np.array([0.0, -1.0, 0.0])
    distance = min(max(distance, abs(upper - lower) + 1e-6), (upper + lower) * 0.999)
    end = root + along_unit * distance
    along = (upper**2 - lower**2 + distance**2) / (2 * distance)
    height = math.sqrt(max(upper**2 - along**2, 0.0))
    hint = np.asarray(hint, dtype=float)
    normal = hint - float(hint @ along_unit) * along_unit
    norm = math.sqrt(float(normal @ normal))
    normal = normal / norm if norm > 1e-9 else np.array([0.0, 0.0, 1.0])
    return root + along_unit * along + normal * height, end


def _rotate_y(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate (..., 3) points about the vertical axis; positive turns +z towards +x."""
    c, s = math.cos(angle), math.sin(angle)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    return np.stack([c * x + s * z, y, -s * x + c * z], axis=-1)


def _skeleton(pose: _Pose, subject: _Subject) -> _Skeleton:
    """Forward kinematics: the 3-D joints of ``pose`` on the stage, scaled to the subject."""
    shoulder = _SHOULDER * (0.85 + 0.15 * subject.build)
    pelvis = np.array([0.0, _HIP_HEIGHT - pose.crouch + pose.lift, 0.0])
    spine = np.array([0.0, math.cos(pose.pitch), math.sin(pose.pitch)])
    chest = pelvis + _TORSO * spine
    head = chest + (_NECK + _HEAD_RADIUS) * spine
    points = {"pelvis": pelvis, "chest": chest, "head": head, "neck": chest + _NECK * spine}
    for side, name in ((_LEFT, "l"), (_RIGHT, "r")):
        s = _SIDE[side]
        shoulder_point = chest + np.array([s * shoulder, 0.0, 0.0])
        hip_point = pelvis + np.array([s * _HIP, 0.0, 0.0])
        hand_target = shoulder_point + pose.hands[side]
        elbow, hand = _bend(shoulder_point, hand_target, _UPPER_ARM, _FOREARM, (s * 0.7, -1, 0.1))
        floor = np.array([hip_point[0], pose.lift, 0.0])
        knee, foot = _bend(hip_point, floor + pose.feet[side], _THIGH, _SHIN, (s * 0.15, 0, 1))
        points |= {
            f"toe_{name}": foot + np.array([0.0, 0.0, _FOOT_LENGTH]),
            f"shoulder_{name}": shoulder_point,
            f"elbow_{name}": elbow,
            f"hand_{name}": hand,
            f"hip_{name}": hip_point,
            f"knee_{name}": knee,
            f"foot_{name}": foot,
        }
    names = list(points)
    turned = _rotate_y(np.stack([points[n] for n in names]), pose.yaw)
    turned[:, 0] += pose.x
    scaled = turned * subject.height
    facing = _rotate_y(np.array([0.0, 0.0, 1.0]), pose.yaw)
    return _Skeleton(dict(zip(names, scaled, strict=True)), facing)


# --- session scripts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instance:
    """One action instance of a session's script, frames ``start <= f < end``."""

    action: int
    """0-based index into :data:`ACTION_CLASSES`."""
    start: int
    end: int
    tempo: float
    amplitude: float
    x_start: float
    x_end: float
    confidence: int


@dataclass(frozen=True)
class _Fidget:
    """A brief background movement by one side of the body, frames ``start <= f < end``."""

    kind: str
    side: int
    start: int
    end: int


@dataclass(frozen=True)
class _Script:
    """What the subject does in every frame of one session (shared by its three views)."""

    num_frames: int
    instances: tuple[_Instance, ...]
    fidgets: tuple[_Fidget, ...]
    sway: tuple[float, ...]
    """Frequencies and phases of the idle sway."""


def _seconds(rng: np.random.Generator, bounds: tuple[float, float], fps: int) -> int:
    """A duration drawn uniformly in ``bounds`` seconds, in whole frames (at least one)."""
    return max(1, round(float(rng.uniform(*bounds)) * fps))


def _plan_script(
    config: ActionWorldConfig,
    subject: _Subject,
    queue: list[int],
    rng: np.random.Generator,
) -> _Script:
    """Draw one session: actions taken from ``queue``, background gaps between them.

    ``queue`` holds the classes still due in the current round and carries over from session
    to session; when it runs out a new shuffled round of all classes is appended. So every
    class appears once per round world-wide, and even the few sessions of the held-out
    subjects see (nearly) all classes. A side-step that would leave the stage is postponed in
    favour of the next class due.
    """
    low, high = config.frames_per_video
    num_frames = int(rng.integers(low, high + 1))
    min_gap = round(config.background_seconds[0] * config.fps)
    instances: list[_Instance] = []
    x = 0.0
    frame = _seconds(rng, config.background_seconds, config.fps)
    while True:
        duration = _seconds(rng, config.action_seconds, config.fps)
        if frame + duration + min_gap > num_frames:
            break
        while True:
            if not queue:
                queue += [int(i) for i in rng.permutation(config.num_classes)]
            feasible = [i for i in queue if _walk_room(ACTION_CLASSES[i], x) >= _SHORTEST_WALK]
            if feasible:
                break
            queue += [int(i) for i in rng.permutation(config.num_classes)]
        action = feasible[0]
        queue.remove(action)
        name = ACTION_CLASSES[action]
        x_end = x
        if name in _WALKS:
            distance = min(float(rng.uniform(_SHORTEST_WALK, 0.4)), _walk_room(name, x))
            x_end = x + _WALKS[name] * distance
        effort = float(rng.uniform(0.8, 1.2))
        instances.append(
            _Instance(
                action=action,
                start=frame,
                end=frame + duration,
                tempo=subject.tempo * float(rng.uniform(0.85, 1.15)),
                amplitude=subject.amplitude * effort,
                x_start=x,
                x_end=x_end,
                confidence=2 if effort >= 0.88 else 1,
            )
        )
        x = x_end
        frame += duration + _seconds(rng, config.background_seconds, config.fps)
    gaps = [(0, instances[0].start if instances else num_frames)]
    gaps += [(a.end, b.start) for a, b in itertools.pairwise(instances)]
    if instances:
        gaps.append((instances[-1].end, num_frames))
    fidgets = []
    for start, end in gaps:
        length = round(float(rng.uniform(0.6, 1.2)) * config.fps)
        if end - start >= length + config.fps // 3 and rng.random() < 0.6:
            first = int(rng.integers(start + config.fps // 6, end - length - config.fps // 6 + 1))
            kind = _FIDGETS[rng.integers(len(_FIDGETS))]
            fidgets.append(_Fidget(kind, int(rng.integers(2)), first, first + length))
    sway = tuple(float(v) for v in rng.uniform([0.1, 0.0, 0.3, 0.0], [0.35, 6.3, 0.8, 6.3]))
    return _Script(num_frames, tuple(instances), tuple(fidgets), sway)


def _plan_sessions(config: ActionWorldConfig) -> list[tuple[_Subject, _Script]]:
    """Every session's subject and script, planned in session order (cheap: no rendering).

    Planning runs in the parent process, before any video is rendered, so the class rounds can
    run on across sessions while the output still does not depend on the worker count.
    """
    base = np.random.SeedSequence(config.seed)
    subject_seeds, session_seeds = _child(base, _SUBJECTS), _child(base, _SESSIONS)
    subjects = [
        _make_subject(np.random.default_rng(_child(subject_seeds, index)))
        for index in range(config.num_subjects)
    ]
    queue: list[int] = []
    sessions = []
    for session in range(1, config.num_subjects * config.sessions_per_subject + 1):
        subject = subjects[subject_of_session(config, session) - 1]
        rng = np.random.default_rng(_child(_child(session_seeds, session - 1), _PLAN))
        sessions.append((subject, _plan_script(config, subject, queue, rng)))
    return sessions


def _walk_room(name: str, x: float) -> float:
    """How far the subject can side-step for action ``name`` from ``x`` (inf for non-walks)."""
    if name not in _WALKS:
        return math.inf
    return _STAGE_HALF_WIDTH - _WALKS[name] * x


def _pose_at(
    script: _Script, frame: int, fps: int, active: _Instance | None, fidget: _Fidget | None
) -> _Pose:
    """The figure's pose at ``frame``: idle sway, then a fidget or an action on top."""
    seconds = frame / fps
    f1, p1, f2, p2 = script.sway
    pose = _Pose()
    previous = [i for i in script.instances if i.end <= frame]
    pose.x = previous[-1].x_end if previous else 0.0
    pose.x += 0.012 * math.sin(2 * math.pi * f1 * seconds + p1)
    idle = 0.012 * math.sin(2 * math.pi * f2 * seconds + p2)
    pose.hands[:, 2] += idle
    pose.pitch += 0.02 * math.sin(2 * math.pi * f1 * 0.7 * seconds + p2)
    if active is not None:
        length = active.end - active.start
        elapsed = frame - active.start
        ramp_frames = min(0.3 * fps, length / 4)
        weight = _ramp(min(elapsed + 1, active.end - frame) / ramp_frames)
        motion = _Motion(
            t=elapsed / fps * active.tempo,
            u=elapsed / max(1, length - 1),
            weight=weight,
            amplitude=active.amplitude,
            x_start=active.x_start,
            x_end=active.x_end,
        )
        _PERFORMERS[ACTION_CLASSES[active.action]](pose, motion)
    elif fidget is not None:
        ramp_frames = (fidget.end - fidget.start) / 3
        weight = _ramp(min(frame - fidget.start + 1, fidget.end - frame) / ramp_frames)
        _fidget(pose, fidget.kind, fidget.side, weight)
    return pose


# --- cameras and backdrops ------------------------------------------------------------------

_VIEW_YAW = {"L": math.radians(40.0), "M": 0.0, "R": math.radians(-40.0)}
"""Rotation of the scene seen by each camera; positive turns the subject's front to its left."""
_VIEW_HUES = {"L": (0, 30), "M": (30, 90), "R": (90, 130)}
"""OpenCV hue range of each view's wall, so the three backdrops differ."""
_PAD = 6
"""Canvas margin, in pixels, that camera shake crops into."""
_FOCAL = 0.8 * 3.0
"""Focal length in frame heights: a subject of height 1 at distance 3 spans 80% of the frame
(at 62% a 56x56 edge input drew the forearms one pixel wide; the learned accuracy rose by a
third at 80%)."""


@dataclass(frozen=True)
class _Camera:
    """A pinhole camera looking horizontally at the stage from ``distance`` body heights."""

    yaw: float
    distance: float
    focal: float
    centre_x: float
    horizon: float
    elevation: float

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions (N, 2) on the padded canvas and distances (N,) of (N, 3) points."""
        seen = _rotate_y(points, self.yaw)
        depth = self.distance - seen[:, 2]
        u = self.centre_x + self.focal * seen[:, 0] / depth
        v = self.horizon + self.focal * (self.elevation - seen[:, 1]) / depth
        return np.stack([u, v], axis=1) + _PAD, depth


def _make_camera(config: ActionWorldConfig, view: str, rng: np.random.Generator) -> _Camera:
    """One view's camera (drawn once per world): its direction within 3 degrees, 3 body
    heights away within 8%, lens height 0.45 to 0.8, floor line at 86 to 93% of the frame,
    centred within 5%."""
    width, height = config.width, config.height
    distance = 3.0 * float(rng.uniform(0.92, 1.08))
    elevation = float(rng.uniform(0.45, 0.8))
    focal = _FOCAL * height
    ground = float(rng.uniform(0.86, 0.93)) * height
    return _Camera(
        yaw=_VIEW_YAW[view] + math.radians(float(rng.normal(0.0, 3.0))),
        distance=distance,
        focal=focal,
        centre_x=width / 2 + float(rng.uniform(-0.05, 0.05)) * width,
        horizon=ground - focal * elevation / distance,
        elevation=elevation,
    )


def _hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    """The BGR colour of an OpenCV HSV triple (hue 0..179)."""
    pixel = np.uint8([[[int(hue) % 180, int(saturation), int(value)]]])
    return tuple(float(c) for c in cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0])


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth random field in [-1, 1] of ``shape``: a coarse grid upsampled bicubically."""
    coarse = rng.uniform(-1.0, 1.0, (cells, max(2, cells * shape[1] // shape[0]))).astype(
        np.float32
    )
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _make_backdrop(
    config: ActionWorldConfig, view: str, camera: _Camera, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """The static scene behind the subject (padded canvas, BGR) and the screen's rectangle."""
    height, width = config.height + 2 * _PAD, config.width + 2 * _PAD
    hue = float(rng.uniform(*_VIEW_HUES[view]))
    wall = np.array(_hsv(hue, rng.uniform(30, 140), rng.uniform(120, 220)), np.float32)
    floor = np.array(_hsv(rng.uniform(0, 180), rng.uniform(20, 120), rng.uniform(60, 150)))
    base = int(_PAD + camera.horizon + float(rng.uniform(0.1, 0.3)) * config.height)
    base = min(max(base, height // 3), height - 8)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:base] = wall
    canvas[base:] = floor.astype(np.float32)
    canvas += 14.0 * _smooth_noise(rng, (height, width), 5)[..., None]
    vanishing = (camera.centre_x + _PAD, camera.horizon + _PAD)
    line_colour = tuple(float(c) * 0.8 for c in floor)
    for k in range(-4, 5):
        bottom = (vanishing[0] + k * width * 0.35, height)
        start = np.add(
            vanishing,
            np.subtract(bottom, vanishing) * (base - vanishing[1]) / (height - vanishing[1]),
        )
        cv2.line(canvas, _px(start), _px(bottom), line_colour, 1, cv2.LINE_AA, 4)
    cv2.line(canvas, (0, base), (width, base), tuple(float(c) * 0.7 for c in wall), 2)
    low, high = config.clutter
    for _ in range(int(rng.integers(low, high + 1))):
        _draw_clutter(canvas, rng, base)
    screen = None
    if rng.random() < 0.7:
        w, h = (
            int(rng.integers(width // 10, width // 5)),
            int(rng.integers(height // 10, height // 6)),
        )
        x, y = int(rng.integers(0, width - w)), int(rng.integers(2, max(3, base - h - 2)))
        cv2.rectangle(canvas, (x - 1, y - 1), (x + w, y + h), (30, 30, 30), 1)
        screen = (x, y, w, h)
    lamp = np.linspace(*rng.uniform(0.78, 1.15, 2), width, dtype=np.float32)
    canvas *= lamp[None, :, None]
    return canvas, screen


def _draw_clutter(canvas: np.ndarray, rng: np.random.Generator, base: int) -> None:
    """One piece of clutter: a poster, a cabinet, a clock, a plant or a small object."""
    height, width = canvas.shape[:2]
    colour = _hsv(rng.uniform(0, 180), rng.uniform(40, 255), rng.uniform(40, 240))
    kind = rng.integers(5)
    x = int(rng.integers(0, width))
    if kind == 0:  # poster on the wall
        w, h = int(rng.integers(6, 22)), int(rng.integers(8, 24))
        y = int(rng.integers(0, max(1, base - h)))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, -1)
        inner = _hsv(rng.uniform(0, 180), 200, rng.uniform(60, 250))
        cv2.rectangle(canvas, (x + 2, y + 2), (x + w // 2, y + h // 2), inner, -1)
    elif kind == 1:  # cabinet standing on the floor line
        w, h = int(rng.integers(12, 36)), int(rng.integers(10, 34))
        cv2.rectangle(canvas, (x, base - h + 2), (x + w, base + 2), colour, -1)
        cv2.line(canvas, (x, base - h // 2), (x + w, base - h // 2), (20, 20, 20), 1)
    elif kind == 2:  # clock
        r, y = int(rng.integers(3, 7)), int(rng.integers(6, max(7, base - 8)))
        cv2.circle(canvas, (x, y), r, (235, 235, 235), -1, cv2.LINE_AA)
        cv2.line(canvas, (x, y), (x + r - 1, y), (10, 10, 10), 1)
        cv2.line(canvas, (x, y), (x, y - r + 2), (10, 10, 10), 1)
    elif kind == 3:  # plant in a pot
        y = int(rng.integers(base - 4, min(height - 4, base + 20)))
        cv2.rectangle(canvas, (x - 3, y - 6), (x + 3, y), (40, 70, 120), -1)
        for _ in range(4):
            leaf = (x + int(rng.integers(-6, 7)), y - int(rng.integers(8, 18)))
            cv2.ellipse(canvas, leaf, (3, 5), float(rng.uniform(0, 180)), 0, 360, (40, 140, 50), -1)
    else:  # small object the size of a cup or phone, on a shelf
        y = int(rng.integers(4, max(5, base - 4)))
        cv2.line(canvas, (x - 8, y + 3), (x + 8, y + 3), (60, 80, 110), 2)
        cv2.rectangle(canvas, (x - 1, y - 2), (x + 1, y + 2), colour, -1)


def _px(point) -> tuple[int, int]:
    """A float pixel position in OpenCV's 4-bit fixed point (``shift=4``)."""
    return round(float(point[0]) * 16), round(float(point[1]) * 16)


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Look:
    """A subject's colours (BGR) under one video's white balance."""

    skin: tuple[float, ...]
    hair: tuple[float, ...]
    shirt: tuple[float, ...]
    shirt_detail: tuple[float, ...]
    trousers: tuple[float, ...]
    shoes: tuple[float, ...]
    pattern: str
    pattern_count: int


def _look(subject: _Subject, balance: np.ndarray) -> _Look:
    """The subject's colours multiplied channel-wise by the video's white ``balance``."""

    def tint(colour: Sequence[float]) -> tuple[float, ...]:
        return tuple(float(min(255.0, c * b)) for c, b in zip(colour, balance, strict=True))

    return _Look(
        skin=tint(subject.skin),
        hair=tint(subject.hair),
        shirt=tint(subject.shirt),
        shirt_detail=tint(subject.shirt_detail),
        trousers=tint(subject.trousers),
        shoes=tint(subject.shoes),
        pattern=subject.pattern,
        pattern_count=subject.pattern_count,
    )


@dataclass(frozen=True)
class _Frame:
    """The figure of one frame projected by one camera, ready to draw onto ``canvas``."""

    canvas: np.ndarray
    skeleton: _Skeleton
    pose: _Pose
    subject: _Subject
    look: _Look
    camera: _Camera
    at: dict[str, np.ndarray]
    """Pixel position of every joint on the padded canvas."""
    far: dict[str, float]
    """Distance of every joint from the camera."""
    scale: float
    """Pixels per body height at the stage centre."""

    def line(self, a: str, b: str, colour: Sequence[float], width: float) -> None:
        width = max(1, round(width))
        cv2.line(self.canvas, _px(self.at[a]), _px(self.at[b]), colour, width, cv2.LINE_AA, 4)

    def disc(self, centre: Sequence[float], radius: float, colour: Sequence[float]) -> None:
        cv2.circle(self.canvas, _px(centre), round(radius * 16), colour, -1, cv2.LINE_AA, 4)

    def polygon(self, corners: Sequence[Sequence[float]], colour: Sequence[float]) -> None:
        points = np.array([_px(c) for c in corners], np.int32)
        cv2.fillPoly(self.canvas, [points], colour, cv2.LINE_AA, 4)


_LEG_WIDTH = 0.034
_ARM_WIDTH = 0.028
_TORSO_DEPTH = 0.1
"""Limb and torso thickness in body heights (times the subject's build for limbs)."""


def _draw_leg(f: _Frame, side: str) -> None:
    width = _LEG_WIDTH * f.subject.build * f.scale
    f.line(f"hip_{side}", f"knee_{side}", f.look.trousers, width)
    f.line(f"knee_{side}", f"foot_{side}", f.look.trousers, width)
    f.line(f"foot_{side}", f"toe_{side}", f.look.shoes, width)


def _draw_arm(f: _Frame, side: str) -> None:
    width = _ARM_WIDTH * f.subject.build * f.scale
    f.line(f"shoulder_{side}", f"elbow_{side}", f.look.shirt, width + 1)
    f.line(f"elbow_{side}", f"hand_{side}", f.look.skin, width)
    f.disc(f.at[f"hand_{side}"], max(1.0, 0.7 * round(width)), f.look.skin)
    if side == "r" and f.pose.prop is not None:
        _draw_prop(f, f.pose.prop)


def _draw_torso(f: _Frame) -> None:
    corners = [f.at["shoulder_l"], f.at["shoulder_r"], f.at["hip_r"], f.at["hip_l"]]
    f.line("pelvis", "neck", f.look.shirt, _TORSO_DEPTH * f.scale)  # the torso seen side-on
    f.polygon(corners, f.look.shirt)
    _draw_pattern(f, *corners)


def _draw_head(f: _Frame) -> None:
    """Neck, head and hair; the face (two eyes) only when it is turned towards the camera."""
    f.line("chest", "neck", f.look.skin, _ARM_WIDTH * f.subject.build * f.scale + 1)
    radius = _HEAD_RADIUS * f.subject.height * f.camera.focal / f.far["head"]
    centre = f.at["head"]
    towards = _rotate_y(f.skeleton.facing, f.camera.yaw)  # +z: facing the camera
    if towards[2] < -0.2:
        f.disc(centre, radius, f.look.hair)
        return
    f.disc(centre, radius, f.look.skin)
    axes = (round(radius * 16), round(radius * 16))
    cv2.ellipse(f.canvas, _px(centre), axes, 0, 180, 360, f.look.hair, -1, cv2.LINE_AA, 4)
    if towards[2] > 0.25:
        for eye in (-1, 1):
            x = centre[0] + radius * (0.55 * towards[0] + 0.35 * eye * towards[2])
            f.disc((x, centre[1] + 0.15 * radius), 0.75, (25, 25, 25))


def _draw_figure(
    canvas: np.ndarray,
    skeleton: _Skeleton,
    pose: _Pose,
    subject: _Subject,
    look: _Look,
    camera: _Camera,
) -> None:
    """Draw the figure's parts far to near, so nearer limbs hide farther ones."""
    names = list(skeleton.points)
    at, distance = camera.project(np.stack([skeleton.points[n] for n in names]))
    frame = _Frame(
        canvas=canvas,
        skeleton=skeleton,
        pose=pose,
        subject=subject,
        look=look,
        camera=camera,
        at=dict(zip(names, at, strict=True)),
        far={name: float(d) for name, d in zip(names, distance, strict=True)},
        scale=camera.focal / camera.distance * subject.height,
    )

    def depth(*joints: str) -> float:
        return sum(frame.far[joint] for joint in joints) / len(joints)

    parts: list[tuple[float, Callable[[], None]]] = []
    for side in ("l", "r"):
        parts.append(
            (
                depth(f"hip_{side}", f"knee_{side}", f"foot_{side}"),
                lambda s=side: _draw_leg(frame, s),
            )
        )
        parts.append(
            (
                depth(f"shoulder_{side}", f"elbow_{side}", f"hand_{side}"),
                lambda s=side: _draw_arm(frame, s),
            )
        )
    parts.append((depth("pelvis", "chest"), lambda: _draw_torso(frame)))
    parts.append((depth("head"), lambda: _draw_head(frame)))
    for _, draw in sorted(parts, key=lambda part: -part[0]):
        draw()


def _draw_pattern(f: _Frame, *corners: np.ndarray) -> None:
    """The shirt's stripes, checks or dots, anchored to the torso's four corners."""
    left_shoulder, right_shoulder, right_hip, left_hip = corners
    colour, n = f.look.shirt_detail, f.look.pattern_count
    fractions = [(k + 1) / (n + 1) for k in range(n)]

    def segment(a: np.ndarray, b: np.ndarray) -> None:
        cv2.line(f.canvas, _px(a), _px(b), colour, 1, cv2.LINE_AA, 4)

    if f.look.pattern in ("stripes", "checks"):
        for k in fractions:
            segment(
                left_shoulder + k * (left_hip - left_shoulder),
                right_shoulder + k * (right_hip - right_shoulder),
            )
    if f.look.pattern == "checks":
        for k in fractions:
            segment(
                left_shoulder + k * (right_shoulder - left_shoulder),
                left_hip + k * (right_hip - left_hip),
            )
    if f.look.pattern == "dots":
        for ky in fractions:
            for kx in fractions[::2]:
                top = left_shoulder + kx * (right_shoulder - left_shoulder)
                bottom = left_hip + kx * (right_hip - left_hip)
                f.disc(top + ky * (bottom - top), 0.9, colour)


def _draw_prop(f: _Frame, kind: str) -> None:
    """An upright object in the right hand: a pale, squat cup or a dark, slim phone.

    At the default 160x120 either is two or three pixels wide: visible at full resolution,
    mostly lost at an edge model's reduced input size.
    """
    if kind == "cup":
        half_width, half_height, rise, colour = 0.014, 0.018, 0.006, (235, 232, 222)
    else:
        half_width, half_height, rise, colour = 0.009, 0.028, 0.018, (45, 40, 40)
    x, y = f.at["hand_r"][0], f.at["hand_r"][1] - rise * f.scale
    corners = [
        (x + sx * half_width * f.scale, y + sy * half_height * f.scale)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    f.polygon(corners, colour)


@dataclass(frozen=True)
class _Photometry:
    """Per-frame camera effects of one video, drawn up front from the view's generator."""

    shake: np.ndarray
    """(F, 2) integer crop offsets in [-_PAD, _PAD]."""
    gain: np.ndarray
    """(F,) brightness multiplier."""
    noise: np.ndarray
    """(K, H + 16, W + 16, 3) int16 noise fields."""
    noise_pick: np.ndarray
    """(F, 3) noise field index and crop offsets of every frame."""
    screen: np.ndarray
    """(F, 3) colour of the flickering screen in every frame."""


def _make_photometry(
    config: ActionWorldConfig, num_frames: int, rng: np.random.Generator
) -> _Photometry:
    """Draw a video's camera effects: shake as a damped random walk; brightness as a slow
    sine drift plus light switches (on average every 12 s, eased over a third of a second);
    three noise fields cropped at random per frame; a screen that changes colour ~1.4 Hz.
    """
    fps = config.fps
    shake = np.zeros((num_frames, 2))
    state = np.zeros(2)
    kicks = rng.normal(0.0, config.camera_shake * 0.6, (num_frames, 2))
    for f in range(num_frames):
        state = 0.8 * state + kicks[f]
        shake[f] = state
    shake = np.clip(np.round(shake), -_PAD, _PAD).astype(np.int64)
    seconds = np.arange(num_frames) / fps
    drift = 0.5 * np.sin(2 * np.pi * seconds / rng.uniform(8, 20) + rng.uniform(0, 2 * np.pi))
    level = np.zeros(num_frames)
    switch = 0
    while True:
        switch += round(float(rng.exponential(12.0)) * fps) + fps
        if switch >= num_frames:
            break
        level[switch:] = rng.uniform(-0.5, 0.5)
    ramp = np.ones(max(1, fps // 3)) / max(1, fps // 3)
    level = np.convolve(np.pad(level, (len(ramp) - 1, 0), mode="edge"), ramp, mode="valid")
    gain = 1.0 + config.lighting * (drift + level)
    noise = np.round(rng.normal(0.0, config.noise, (3, config.height + 16, config.width + 16, 3)))
    noise_pick = np.stack(
        [
            rng.integers(0, 3, num_frames),
            rng.integers(0, 17, num_frames),
            rng.integers(0, 17, num_frames),
        ],
        axis=1,
    )
    changes = rng.random(num_frames) < 1.0 / (0.7 * fps)
    colours = rng.integers(20, 256, (num_frames, 3))
    screen = colours[np.maximum.accumulate(np.where(changes, np.arange(num_frames), 0))]
    return _Photometry(shake, gain, noise.astype(np.int16), noise_pick, screen)


# --- generation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One video to render: a session's script seen from one view."""

    config: ActionWorldConfig
    session: int
    subject_number: int
    view: str
    subject: _Subject
    script: _Script
    room_seed: np.random.SeedSequence
    """Draws this view's camera and backdrop, the same for every session."""
    view_seed: np.random.SeedSequence
    """Draws this video's white balance and camera effects."""
    root: Path


def _jobs(config: ActionWorldConfig, root: Path) -> list[_Job]:
    """One job per video, in session then view order, each with its plan and view seed."""
    base = np.random.SeedSequence(config.seed)
    session_seeds, room_seeds = _child(base, _SESSIONS), _child(base, _ROOM)
    return [
        _Job(
            config=config,
            session=session,
            subject_number=subject_of_session(config, session),
            view=view,
            subject=subject,
            script=script,
            room_seed=_child(room_seeds, PKU_MMD_VIEWS.index(view)),
            view_seed=_child(
                _child(session_seeds, session - 1), _FIRST_VIEW + PKU_MMD_VIEWS.index(view)
            ),
            root=root,
        )
        for session, (subject, script) in enumerate(_plan_sessions(config), start=1)
        for view in PKU_MMD_VIEWS
    ]


def _script_labels(script: _Script) -> list[PkuMmdLabel]:
    """The script's actions as label-file rows: action ids are 1-based class indices."""
    return [PkuMmdLabel(i.action + 1, i.start, i.end, i.confidence) for i in script.instances]


def _render_video(job: _Job) -> dict[str, Any]:
    """Render, encode and write one video and its label file; return its ``world.json`` entry."""
    config = job.config
    name = video_name(job.session, job.view)
    subject, script = job.subject, job.script
    room = np.random.default_rng(job.room_seed)
    camera = _make_camera(config, job.view, room)
    backdrop, screen = _make_backdrop(config, job.view, camera, room)
    rng = np.random.default_rng(job.view_seed)
    balance = rng.uniform(0.88, 1.12, 3)
    backdrop = np.clip(backdrop * balance, 0, 255).astype(np.uint8)
    look = _look(subject, balance)
    photometry = _make_photometry(config, script.num_frames, rng)
    active = np.full(script.num_frames, -1)
    for index, instance in enumerate(script.instances):
        active[instance.start : instance.end] = index
    fidgeting = np.full(script.num_frames, -1)
    for index, fidget in enumerate(script.fidgets):
        fidgeting[fidget.start : fidget.end] = index
    folder = job.root / FRAMES_DIR / name
    folder.mkdir(parents=True)
    encode = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
    height, width = config.height, config.width
    for frame in range(script.num_frames):
        pose = _pose_at(
            script,
            frame,
            config.fps,
            script.instances[active[frame]] if active[frame] >= 0 else None,
            script.fidgets[fidgeting[frame]] if fidgeting[frame] >= 0 else None,
        )
        canvas = backdrop.copy()
        if screen is not None:
            x, y, w, h = screen
            canvas[y : y + h, x : x + w] = photometry.screen[frame]
        _draw_figure(canvas, _skeleton(pose, subject), pose, subject, look, camera)
        dx, dy = photometry.shake[frame]
        image = canvas[_PAD + dy : _PAD + dy + height, _PAD + dx : _PAD + dx + width]
        k, ny, nx = photometry.noise_pick[frame]
        noise = photometry.noise[k, ny : ny + height, nx : nx + width]
        lit = cv2.convertScaleAbs(image, alpha=float(photometry.gain[frame]))
        image = cv2.add(lit, noise, dtype=cv2.CV_8U)  # saturating: no wrap-around
        ok, jpeg = cv2.imencode(".jpg", image, encode)
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {name} frame {frame + 1}")
        (folder / frame_filename(frame + 1)).write_bytes(jpeg.tobytes())
    write_labels(job.root / LABEL_DIR / f"{name}.txt", _script_labels(script))
    return {
        "name": name,
        "session": job.session,
        "subject": job.subject_number,
        "view": job.view,
        "num_frames": script.num_frames,
        "num_actions": len(script.instances),
        "num_fidgets": len(script.fidgets),
    }


def _single_threaded_cv2() -> None:
    """Pool initializer: one cv2 thread per worker process, the pool provides the parallelism."""
    cv2.setNumThreads(1)


def _render_all(jobs: list[_Job], workers: int) -> list[dict[str, Any]]:
    """Run the jobs in-process (one worker) or in a spawn-context process pool, in job order."""
    if workers <= 1 or len(jobs) <= 1:
        return [_render_video(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(jobs)), initializer=_single_threaded_cv2) as pool:
        return pool.map(_render_video, jobs, chunksize=1)


def _write_world(config: ActionWorldConfig, directory: Path, workers: int) -> None:
    """Write every video, label file, both split files and ``world.json`` (last)."""
    jobs = _jobs(config, directory)
    entries = _render_all(jobs, workers)
    held_out = set(val_subject_numbers(config))
    names = [entry["name"] for entry in entries]
    subject = {entry["name"]: entry["subject"] for entry in entries}
    view = {entry["name"]: entry["view"] for entry in entries}
    split_dir = directory / SPLIT_DIR
    write_split(
        split_dir / "cross-subject.txt",
        [n for n in names if subject[n] not in held_out],
        [n for n in names if subject[n] in held_out],
    )
    write_split(
        split_dir / "cross-view.txt",
        [n for n in names if view[n] in CROSS_VIEW_TRAIN_VIEWS],
        [n for n in names if view[n] in CROSS_VIEW_VAL_VIEWS],
    )
    world = {
        "format": "PKU-MMD",
        "format_version": FORMAT_VERSION,
        "generator": "edgecloud.data.synthetic.action_world",
        "config": config_json(config),
        "class_names": list(action_class_names(config)),
        "cross_subject_val_subjects": sorted(held_out),
        "cross_view": {"train": list(CROSS_VIEW_TRAIN_VIEWS), "val": list(CROSS_VIEW_VAL_VIEWS)},
        "videos": entries,
    }
    (directory / WORLD_FILE).write_text(json.dumps(world, indent=2) + "\n")


def generate_action_world(
    root: str | Path, config: ActionWorldConfig | None = None, *, workers: int | None = None
) -> Path:
    """Render the world for ``config`` (default config if None) at ``root``, replacing it.

    Rendering goes to a temporary sibling directory that is renamed into place when complete,
    so an interrupted run never leaves a partial world behind. ``workers`` processes render
    videos in parallel (default: one per CPU); the bytes written do not depend on it. Workers
    are started with the ``spawn`` method (safe under threaded parents such as PyTorch), so a
    calling script needs the usual ``if __name__ == "__main__":`` guard.
    """
    config = config if config is not None else ActionWorldConfig()
    return storage.generate_into(
        root, lambda staging: _write_world(config, staging, workers or os.cpu_count() or 1)
    )


def is_current(config: ActionWorldConfig, root: str | Path) -> bool:
    """Whether ``root`` holds a complete world generated from exactly ``config``."""
    return storage.is_current(root, config=config, format_version=FORMAT_VERSION)


def ensure_action_world(
    *, root: str | Path, config: ActionWorldConfig | None = None, workers: int | None = None
) -> Path:
    """Return ``root`` at once if it already holds ``config``'s world, else (re)generate it."""
    config = config if config is not None else ActionWorldConfig()
    return storage.ensure(
        root,
        config=config,
        format_version=FORMAT_VERSION,
        generate=lambda: generate_action_world(root, config, workers=workers),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Generate (or confirm) an action world and print what is on disk and how long it took."""
    args = storage.config_parser(
        ActionWorldConfig,
        prog="python -m edgecloud.data.synthetic.action_world",
        description="Generate the synthetic action world in PKU-MMD layout.",
    ).parse_args(argv)
    config = storage.config_from_args(ActionWorldConfig, args)
    started = time.perf_counter()
    if args.force:
        generate_action_world(args.root, config, workers=args.workers)
    else:
        ensure_action_world(root=args.root, config=config, workers=args.workers)
    elapsed = time.perf_counter() - started
    world = read_world(args.root) or {}
    videos = world.get("videos", [])
    frames = sum(video["num_frames"] for video in videos)
    actions = sum(video["num_actions"] for video in videos)
    views = Counter(video["view"] for video in videos)
    print(
        f"{args.root}: {len(videos)} videos ({', '.join(f'{n} {v}' for v, n in views.items())}), "
        f"{frames} frames, {actions} action instances of {len(world.get('class_names', []))} "
        "classes"
    )
    print(f"{args.root / WORLD_FILE} ready in {elapsed:.1f} s")


if __name__ == "__main__":
    # Run the imported module's main so worker processes unpickle jobs from the real module.
    from edgecloud.data.synthetic.action_world import main as module_main

    module_main()
