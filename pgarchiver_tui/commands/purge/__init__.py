"""purge: free the database only of what the archive has proven.

plan.py (which periods, and what is refused before reading anything) → period.py (`purge_period`: prove,
remove, record — one period, one transaction) → run.py (settings → plans → `PurgeHandler` on the run skeleton:
the table claimed around each period, the periods in turn, the cache, the one RunReport).
proof.py holds the proof taken before each removal; record.py the records left beside the archive.
"""
