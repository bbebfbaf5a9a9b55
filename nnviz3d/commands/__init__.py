"""The command line's parts: what every command shares (common.py) and the commands that own
their parser and run (``add_parser(sub)``, ``run(args)``); nnviz3d/cli.py puts them together."""
