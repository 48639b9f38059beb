"""Restores and disaster-recovery drills: RDS point-in-time and snapshot restores, and the local WAL archive."""
