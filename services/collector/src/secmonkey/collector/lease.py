"""The scheduler's lease (the implementation is shared: `secmonkey.common.lease`)."""

from secmonkey.common.lease import KEEP_GENERATIONS, Lease

__all__ = ["KEEP_GENERATIONS", "Lease"]
