"""Samtal's channel-agnostic core: the domain, its use cases, the clock and the message model.

Nothing here imports a chat platform, SQL or the wall clock; adapters and
storage plug in through the protocols in `bot.ports`.
"""
