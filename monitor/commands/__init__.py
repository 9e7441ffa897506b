"""Sub-commands of `newsmon` that live in their own modules.

Each module exposes `register(subparsers) -> None`, which adds its parser and sets
`func=<callable(args) -> int>` as the handler. `monitor.cli` wires them in.
"""
