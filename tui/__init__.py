"""The Textual console and the `pitstop` command line."""
