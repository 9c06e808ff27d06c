"""The version of pdeflow, stored in every output file (keep equal to ``pyproject.toml``)."""

__version__ = "0.1.0"
