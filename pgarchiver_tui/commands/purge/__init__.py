"""purge: free the database only of what the archive has proven.

plan.py (which periods, and what is refused before reading anything) → period.py (`purge_period`: claim, prove,
remove, record — one period, one transaction) → run.py (settings → plans → the periods in turn → a report).
proof.py holds the proof taken before each removal; record.py the records left beside the archive.
"""
