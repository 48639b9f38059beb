"""The embedded `local` stack: the cloud stack's shape as processes on this machine, no cloud and no Docker."""
