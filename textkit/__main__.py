"""``python -m textkit``: the same as the ``textkit`` command."""

from textkit.cli.main import main

if __name__ == "__main__":
    main()
