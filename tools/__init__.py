"""Tools that draw the repository's stand-in data (handwritten digits, Greek letters)."""
