"""The batch file's wing: reading a JSON file or a CSV folder or zip as a stream (two passes:
check everything, then row chunks for a store), with the strict rules and size caps."""

from .loader import load_batch, open_plan
from .plan import LoadPlan

__all__ = ["LoadPlan", "load_batch", "open_plan"]
