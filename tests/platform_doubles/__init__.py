"""Local doubles of the platforms' HTTP APIs, strict where the platforms are strict."""
