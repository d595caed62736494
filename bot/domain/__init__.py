"""The model every capability shares: people, organisations, and the records the framework
keeps (outbox entries, timers, dialog state). A capability's own model is in its package,
e.g. `bot/meetings/model.py`."""
