"""DataVisor: computer-vision dataset introspection backend."""

__version__ = "0.1.0"
