"""Entry points: the command line, the daemon, the demo, and their logging, progress and
metrics. They parse, call one service, and hand its result to a renderer."""
