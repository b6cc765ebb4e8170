"""The click command-line layer: the only package that imports click."""
