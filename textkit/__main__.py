"""``python -m textkit``: the same as the ``textkit`` command."""

from textkit.cli import run

if __name__ == "__main__":
    run()
