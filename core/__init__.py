"""Plain Python both apps may use: local time and DST. Imports neither app, nor Django."""
