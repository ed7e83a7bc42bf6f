"""The ocirelay lab: images, network, lab CA and containers for an OCI-shaped test bed.

The emulator itself lives in tests/lab/emulator/; this package only builds and runs it.
"""
