"""The embedded platform: a terminal chat, and transcript replay for end-to-end tests."""
