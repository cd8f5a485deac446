"""Pure fusion algorithms: how detections from several sources become one displayed object list.

Nothing here knows about the simulator; a live edge runtime can call the same functions.
"""

from edgecloud.fusion.objects import ObjectSet, Source
from edgecloud.fusion.react import UnmatchedPolicy, react_fuse

__all__ = [
    "ObjectSet",
    "Source",
    "UnmatchedPolicy",
    "react_fuse",
]
