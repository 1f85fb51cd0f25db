"""``python -m materiel``: the same command line as the ``materiel`` entry point."""

from materiel.cli import main

if __name__ == "__main__":
    main()
