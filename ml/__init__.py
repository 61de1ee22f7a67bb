"""colorsite's colorization engine, usable without Django: ``python -m ml --help``."""
