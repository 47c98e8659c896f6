"""Run the command line as ``python -m datastreams``."""

from datastreams.cli import main

if __name__ == "__main__":
    main(prog_name="datastreams")
