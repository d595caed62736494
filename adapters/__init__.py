"""Adapters translate platform events into core events and deliver the core's messages."""
