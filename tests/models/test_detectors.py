import pytest
import torch

from edgecloud.models import detectors
from edgecloud.models.weights import load_weights
from edgecloud.tasks.detection import prediction_to_detections

NUM_CLASSES = 4
BUILDERS = [
    (detectors.ssdlite_mobilenet_v3, {"image_size": 128}),
    (detectors.fasterrcnn_mobilenet_v3_fpn, {"min_size": 96, "max_size": 160}),
    (detectors.fasterrcnn_r50_fpn_v2, {"min_size": 96, "max_size": 160}),
    (detectors.retinanet_r50_fpn_v2, {"min_size": 96, "max_size": 160}),
    (detectors.fcos_r50_fpn, {"min_size": 96, "max_size": 160}),
    (detectors.tiny_fcos, {"min_size": 96, "max_size": 160}),
]


def _target(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels)}


@pytest.mark.parametrize(("builder", "options"), BUILDERS, ids=lambda b: getattr(b, "__name__", ""))
def test_builders_train_and_predict_with_configured_classes(builder, options):
    torch.manual_seed(0)
    model = builder(num_classes=NUM_CLASSES, **options)
    images = [torch.rand(3, 96, 160), torch.rand(3, 96, 160)]
    targets = [_target([[10, 10, 40, 30]], [NUM_CLASSES]), _target([[0, 0, 5, 6]], [1])]

    model.train()
    losses = model(images, targets)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()

    model.eval()
    with torch.no_grad():
        (prediction,) = model(images[:1])
    detections = prediction_to_detections(prediction)
    assert len(detections) > 0
    # labels 1..C: torchvision's background slot is added by the builder and never reported
    assert detections.labels.min() >= 1
    assert detections.labels.max() <= NUM_CLASSES


def test_ssdlite_input_size_is_configurable():
    model = detectors.ssdlite_mobilenet_v3(num_classes=2, image_size=192)
    model.eval()
    images, _ = model.transform([torch.rand(3, 96, 160)])
    assert tuple(images.tensors.shape[-2:]) == (192, 192)


def test_r50_models_upscale_unless_sizes_are_set():
    default = detectors.fcos_r50_fpn(num_classes=2)
    native = detectors.fcos_r50_fpn(num_classes=2, min_size=360, max_size=640)
    frame = [torch.rand(3, 360, 640)]
    default.eval(), native.eval()
    assert default.transform(frame)[0].image_sizes == [(749, 1333)]  # 360 * 1333/640, floored
    assert native.transform(frame)[0].image_sizes == [(360, 640)]


def test_score_threshold_is_off_by_default_so_recordings_keep_every_box():
    model = detectors.tiny_fcos(num_classes=3, min_size=96, max_size=160).eval()
    with torch.no_grad():
        (prediction,) = model([torch.rand(3, 96, 160)])
    assert len(prediction["scores"]) == 100  # detections_per_img, nothing thresholded away


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes"):
        detectors.tiny_fcos(num_classes=0)


def test_load_weights_skips_head_with_other_class_count_and_reports_it(tmp_path):
    source = detectors.tiny_fcos(num_classes=7, min_size=96, max_size=160)
    path = tmp_path / "weights.pth"
    torch.save(source.state_dict(), path)
    target = detectors.tiny_fcos(num_classes=3, min_size=96, max_size=160)

    report = load_weights(target, path)

    assert report.shape_mismatch == (
        "head.classification_head.cls_logits.bias",
        "head.classification_head.cls_logits.weight",
    )
    for name, tensor in target.state_dict().items():
        if name not in report.shape_mismatch:
            assert torch.equal(tensor, source.state_dict()[name]), name


def test_load_weights_reads_lightning_checkpoints(tmp_path):
    source = detectors.tiny_fcos(num_classes=2, min_size=96, max_size=160)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in source.state_dict().items()}}, path)
    target = detectors.tiny_fcos(num_classes=2, min_size=96, max_size=160)
    report = load_weights(target, path)
    assert not report.shape_mismatch and not report.missing


def test_load_weights_rejects_unrelated_files(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"something.else": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="no tensor in this file matches"):
        load_weights(detectors.tiny_fcos(num_classes=2), path)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        load_weights(detectors.tiny_fcos(num_classes=2), tmp_path / "missing.pth")
