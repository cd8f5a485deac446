"""Public API of detection recordings: import the writer, reader and error type from here.

The implementation is split into :mod:`~edgecloud.recording.format` (constants shared by both
sides), :mod:`~edgecloud.recording.writer` and :mod:`~edgecloud.recording.reader`. Nothing on
this import path loads torch, so the simulator can use it. The on-disk format is documented in
``docs/recording_format.md``.
"""

from edgecloud.recording.format import FORMAT_NAME, FORMAT_VERSION, RecordingFormatError
from edgecloud.recording.reader import DetectionRecording, SequenceRecording
from edgecloud.recording.writer import DetectionRecordingWriter

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DetectionRecording",
    "DetectionRecordingWriter",
    "RecordingFormatError",
    "SequenceRecording",
]
