"""TensorBoard event files, written without TensorFlow, so a run on any backend writes one.

An event file is a sequence of `Event` protocol buffers in TFRecord framing. `EventFile`
writes scalars and histograms in TensorBoard's own formats, those `tf.summary.scalar` and
`tf.summary.histogram` write: a scalar tensor for the `scalars` plugin, and a `(buckets, 3)`
tensor of left edge, right edge and count for the `histograms` plugin. The protocol buffers
and the record framing are the `tensorboard` package's, which load no TensorFlow.

Example:

>>> import tempfile
>>> events = EventFile(Path(tempfile.mkdtemp()))
>>> events.scalar("loss", 0.25, step=1)
>>> events.histogram("effective/kernel", np.array([0.0, 0.0, 0.5]), step=1)
>>> len(events.close()) > 0
True
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import DataClass, Summary, SummaryMetadata
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util.tensor_util import make_tensor_proto

HISTOGRAM_BUCKETS = 30
"""Buckets per histogram, as `tf.summary.histogram`'s default."""

_FILE_VERSION = "brain.Event:2"
"""The first event of every file, as TensorFlow's and TensorBoard's writers begin theirs."""


class EventFile:
    """One TensorBoard event file, created in `folder` (made if missing).

    Args:
        folder: the folder to write in; TensorBoard reads every `*tfevents*` file in it.
    """

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}"
        self._records = RecordWriter(self.path.open("wb"))
        self._write(Event(wall_time=time.time(), file_version=_FILE_VERSION))

    def scalar(self, tag: str, value: float, step: int) -> None:
        """`value` under `tag` at `step`, as a float32 scalar."""
        self._summary(tag, np.float32(value), step, "scalars", DataClass.DATA_CLASS_SCALAR)

    def histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        """A histogram of `values` (any shape) in `HISTOGRAM_BUCKETS` equal buckets."""
        counts, edges = np.histogram(values, bins=HISTOGRAM_BUCKETS)
        buckets = np.stack([edges[:-1], edges[1:], counts], axis=1)
        self._summary(tag, buckets, step, "histograms", DataClass.DATA_CLASS_TENSOR)

    def close(self) -> bytes:
        """Closes the file; its bytes."""
        self._records.close()
        return self.path.read_bytes()

    def _summary(self, tag, value, step, plugin: str, data_class) -> None:
        metadata = SummaryMetadata(data_class=data_class)
        metadata.plugin_data.plugin_name = plugin
        summary = Summary(value=[Summary.Value(tag=tag, tensor=make_tensor_proto(value),
                                               metadata=metadata)])
        self._write(Event(wall_time=time.time(), step=step, summary=summary))

    def _write(self, event: Event) -> None:
        self._records.write(event.SerializeToString())
