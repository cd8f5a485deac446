"""The action recorder: tiny random models over two in-memory videos give a valid recording
whose every window matches running the models by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from edgecloud.data.action_transforms import EvalClipTransform
from edgecloud.data.action_video import ActionSegment, ActionVideo
from edgecloud.metrics.action import window_labels
from edgecloud.models.resnet3d import resnet3d
from edgecloud.models.siminet import SimiNet
from edgecloud.recording.action import ActionRecording, ActionRecordingWriter
from edgecloud.recording.action_recorder import (
    record_action_videos,
    relevance_probability,
)
from edgecloud.utils.codec import png_encode

CLASSES = ("drink", "wave", "jump")
WINDOW_SIZE, WINDOW_STRIDE = 4, 2
FRAME_SIZE = (12, 10)  # (width, height) the frames are PNG-encoded at
HEIGHT, WIDTH = 20, 24
TINY = {"depth": 10, "widths": (4, 8, 8, 8)}


class MemoryFrames:
    """An in-memory FrameSource of random frames; it remembers which frames were read."""

    def __init__(self, num_frames: int, *, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.frames = rng.integers(0, 256, (num_frames, HEIGHT, WIDTH, 3), dtype=np.uint8)
        self.reads: list[int] = []

    @property
    def location(self) -> Path:
        return Path("memory://frames")

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, index: int) -> np.ndarray:
        self.reads.append(index)
        return self.frames[index].copy()


def make_videos() -> list[ActionVideo]:
    """11 frames (windows at 0, 2, 4, 6) and 9 frames (windows at 0, 2, 4)."""
    return [
        ActionVideo(
            name="video-a",
            frames=MemoryFrames(11, seed=1),
            fps=30.0,
            segments=(ActionSegment(label=1, start=2, end=9),),
        ),
        ActionVideo(
            name="video-b",
            frames=MemoryFrames(9, seed=2),
            fps=25.0,
            segments=(ActionSegment(label=3, start=0, end=5), ActionSegment(2, 6, 9)),
        ),
    ]


def make_models(*, relevance_outputs: int = 1) -> dict:
    torch.manual_seed(0)
    return {
        "local": resnet3d(num_classes=len(CLASSES), **TINY),
        "remote": resnet3d(num_classes=len(CLASSES), **TINY),
        "siminet": SimiNet(feature_dim=8, hidden_dim=8),
        "relevance": resnet3d(num_classes=relevance_outputs, **TINY),
    }


def record(root: Path, videos: list[ActionVideo], *, feature_kind="penultimate", **models):
    """Record ``videos`` into ``root`` and return the per-video summaries."""
    transform = EvalClipTransform(input_size=16)
    with ActionRecordingWriter(
        root,
        class_names=CLASSES,
        window_size=WINDOW_SIZE,
        window_stride=WINDOW_STRIDE,
        models={"local": "tiny resnet3d-10", "remote": "tiny resnet3d-10"},
        device="cpu",
        frame_size=FRAME_SIZE,
        feature_kind=feature_kind,
    ) as writer:
        return record_action_videos(
            videos=videos,
            local_transform=transform,
            remote_transform=transform,
            window_size=WINDOW_SIZE,
            window_stride=WINDOW_STRIDE,
            device="cpu",
            frame_size=FRAME_SIZE,
            feature_kind=feature_kind,
            warmup_calls=1,
            writer=writer,
            **models,
        )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("action") / "recording"
    videos, models = make_videos(), make_models()
    summaries = record(root, videos, **models)
    return ActionRecording.open(root), videos, models, summaries


def test_recording_has_one_sequence_per_video_with_the_right_shapes(recorded: tuple) -> None:
    recording, videos, _, _ = recorded
    assert recording.sequence_names == ("video-a", "video-b")
    assert recording.has_similarity and recording.has_relevance
    assert (recording.feature_kind, recording.feature_dim) == ("penultimate", 8)
    for video, num_windows in zip(videos, (4, 3), strict=True):
        sequence = recording.sequence(video.name)
        assert (sequence.num_frames, sequence.num_windows) == (video.num_frames, num_windows)
        assert sequence.fps == video.fps
        np.testing.assert_array_equal(sequence.window_starts, np.arange(num_windows) * 2)
        for key in ("local_probs", "remote_probs"):
            probs = getattr(sequence, key)
            assert probs.shape == (num_windows, len(CLASSES))
            np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
        assert sequence.local_features.shape == (num_windows, 8)
        for key in ("similarity", "relevance", "local_latency_s", "remote_latency_s"):
            assert getattr(sequence, key).shape == (num_windows,)
        np.testing.assert_array_equal(sequence.frame_labels, video.frame_labels())
        np.testing.assert_array_equal(
            sequence.window_labels,
            window_labels(video.frame_labels(), window_size=WINDOW_SIZE, window_stride=2),
        )


def test_similarity_of_the_first_window_is_zero(recorded: tuple) -> None:
    recording = recorded[0]
    for name in recording.sequence_names:
        sequence = recording.sequence(name)
        assert sequence.similarity[0] == 0.0 and sequence.siminet_latency_s[0] == 0.0
        assert np.all((sequence.similarity[1:] > 0) & (sequence.similarity[1:] < 1))


def test_latencies_are_positive(recorded: tuple) -> None:
    recording = recorded[0]
    for name in recording.sequence_names:
        sequence = recording.sequence(name)
        for key in ("local_latency_s", "remote_latency_s", "relevance_latency_s"):
            assert np.all(getattr(sequence, key) > 0), key
        assert np.all(sequence.siminet_latency_s[1:] > 0)


def test_frame_bytes_are_the_png_size_of_the_resized_frames(recorded: tuple) -> None:
    recording, videos, _, _ = recorded
    for video in videos:
        expected = [
            len(png_encode(cv2.resize(frame, FRAME_SIZE, interpolation=cv2.INTER_AREA)))
            for frame in video.frames.frames
        ]
        np.testing.assert_array_equal(recording.sequence(video.name).frame_bytes, expected)


def test_every_frame_is_read_once_in_order(recorded: tuple) -> None:
    for video in recorded[1]:
        assert video.frames.reads == list(range(video.num_frames))


def test_recorded_outputs_match_the_models_run_by_hand(recorded: tuple) -> None:
    recording, videos, models, _ = recorded
    sequence = recording.sequence("video-a")
    transform = EvalClipTransform(input_size=16)
    with torch.inference_mode():
        features = []
        for t, start in enumerate(sequence.window_starts):
            clip = torch.stack([transform(video_clip(videos[0], start))])
            local_features = models["local"].features(clip)
            features.append(local_features)
            np.testing.assert_allclose(
                sequence.local_probs[t],
                models["local"].fc(local_features).softmax(1)[0].numpy(),
                rtol=1e-5,
                atol=1e-6,
            )
            np.testing.assert_allclose(sequence.local_features[t], local_features[0].numpy(), 1e-5)
            np.testing.assert_allclose(
                sequence.remote_probs[t], models["remote"](clip).softmax(1)[0].numpy(), 1e-5
            )
            np.testing.assert_allclose(
                sequence.relevance[t], torch.sigmoid(models["relevance"](clip))[0, 0].item(), 1e-5
            )
            if t:
                rho = models["siminet"].similarity(features[t - 1], features[t])
                np.testing.assert_allclose(sequence.similarity[t], rho.item(), 1e-5)
    for model in models.values():
        assert not model.training


def video_clip(video: ActionVideo, start: int) -> np.ndarray:
    return video.frames.frames[start : start + WINDOW_SIZE]


def test_summaries_count_the_windows_and_correct_predictions(recorded: tuple) -> None:
    recording, _, _, summaries = recorded
    assert [s.name for s in summaries] == ["video-a", "video-b"]
    for summary in summaries:
        sequence = recording.sequence(summary.name)
        action = sequence.window_labels > 0
        assert summary.num_windows == sequence.num_windows
        assert summary.action_windows == int(action.sum())
        local_hits = (sequence.local_probs.argmax(1) + 1 == sequence.window_labels)[action]
        assert summary.local_correct == int(local_hits.sum())
        assert summary.local_accuracy == pytest.approx(local_hits.mean())
        assert summary.total_frame_bytes == int(sequence.frame_bytes.sum())
        assert summary.mean_siminet_latency_s == pytest.approx(
            sequence.siminet_latency_s[1:].mean()
        )


def test_without_siminet_and_relevance_and_with_logit_features(tmp_path: Path) -> None:
    models = make_models()
    summaries = record(
        tmp_path / "rec",
        make_videos(),
        feature_kind="logits",
        local=models["local"],
        remote=models["remote"],
        siminet=None,
        relevance=None,
    )
    recording = ActionRecording.open(tmp_path / "rec")
    assert not recording.has_similarity and not recording.has_relevance
    sequence = recording.sequence("video-b")
    assert sequence.similarity is None and sequence.relevance is None
    assert sequence.local_features.shape == (3, len(CLASSES))
    probs = torch.from_numpy(sequence.local_features.copy()).softmax(1).numpy()
    np.testing.assert_allclose(probs, sequence.local_probs, rtol=1e-5, atol=1e-6)
    assert summaries[1].mean_siminet_latency_s is None
    assert summaries[1].mean_relevance_latency_s is None


def test_a_two_logit_relevance_model_gives_the_probability_of_class_one(tmp_path: Path) -> None:
    models = make_models(relevance_outputs=2)
    record(tmp_path / "rec", make_videos()[1:], **models)
    sequence = ActionRecording.open(tmp_path / "rec").sequence("video-b")
    transform = EvalClipTransform(input_size=16)
    clip = transform(video_clip(make_videos()[1], 2))[None]
    with torch.inference_mode():
        expected = models["relevance"](clip).softmax(1)[0, 1].item()
    np.testing.assert_allclose(sequence.relevance[1], expected, rtol=1e-5)


def test_relevance_probability_of_each_output_shape() -> None:
    logits = torch.tensor([0.0, 2.0])
    np.testing.assert_allclose(relevance_probability(logits), torch.sigmoid(logits))
    np.testing.assert_allclose(relevance_probability(logits[:, None]), torch.sigmoid(logits))
    pairs = torch.tensor([[0.0, 0.0], [0.0, np.log(3.0)]])
    np.testing.assert_allclose(relevance_probability(pairs), [0.5, 0.75], rtol=1e-6)
    with pytest.raises(ValueError, match="one logit"):
        relevance_probability(torch.zeros(2, 3))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_size": 5}, "window_size is 5 but the writer records 4"),
        ({"frame_size": (10, 12)}, r"frame_size is \(10, 12\) but the writer records \(12, 10\)"),
        ({"feature_kind": "logits"}, "feature_kind is 'logits' but the writer records"),
        ({"feature_kind": "pooled"}, "feature_kind must be one of"),
        ({"warmup_calls": -1}, "warmup_calls must be >= 0"),
        ({"videos": []}, "no videos to record"),
    ],
)
def test_arguments_are_checked_before_any_model_runs(
    tmp_path: Path, overrides: dict, message: str
) -> None:
    models = make_models()
    writer = ActionRecordingWriter(
        tmp_path / "rec",
        class_names=CLASSES,
        window_size=WINDOW_SIZE,
        window_stride=WINDOW_STRIDE,
        models={},
        device="cpu",
        frame_size=FRAME_SIZE,
    )
    transform = EvalClipTransform(input_size=16)
    arguments = {
        "videos": make_videos(),
        "local_transform": transform,
        "remote_transform": transform,
        "window_size": WINDOW_SIZE,
        "window_stride": WINDOW_STRIDE,
        "device": "cpu",
        "frame_size": FRAME_SIZE,
        "feature_kind": "penultimate",
        "warmup_calls": 0,
        "writer": writer,
        **models,
    }
    with pytest.raises(ValueError, match=message):
        record_action_videos(**{**arguments, **overrides})
    assert not any((tmp_path / "rec" / "sequences").iterdir())


def test_a_video_shorter_than_a_window_is_refused_up_front(tmp_path: Path) -> None:
    short = ActionVideo(name="short", frames=MemoryFrames(3, seed=3), fps=30.0, segments=())
    videos = [*make_videos(), short]
    with pytest.raises(ValueError, match=r"shorter than one window of 4 frames .*\['short'\]"):
        record(tmp_path / "rec", videos, **make_models())
    assert all(not video.frames.reads for video in videos)
    assert not any((tmp_path / "rec" / "sequences").iterdir())
