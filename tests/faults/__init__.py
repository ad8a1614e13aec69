"""Faults caused for real: a fault-injecting proxy before S3, killed backends and processes, a full disk."""
