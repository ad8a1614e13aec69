"""pgarchiver-tui: archive PostgreSQL date partitions to object storage."""

__version__ = "0.1.0"
