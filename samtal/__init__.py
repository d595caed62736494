"""The composition root: configuration, the command line, and wiring the core to storage and adapters."""
