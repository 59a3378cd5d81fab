"""egress: a control plane for network egress allow-lists."""

__version__ = "0.1.0"
