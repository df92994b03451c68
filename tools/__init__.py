"""Tools that make the repository's stand-in data (handwritten digits, Greek letters) from drawn strokes."""
