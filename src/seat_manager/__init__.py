"""seat-manager: validator seats, vaults, deposits and their lifecycle."""

__version__ = "0.1.0"
