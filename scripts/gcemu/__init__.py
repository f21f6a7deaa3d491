"""Local Google Cloud emulator package (see README.md)."""
