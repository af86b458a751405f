"""The application layer: what each `archon X` does. ``cli.py`` parses the options and calls one
function here; it loads and checks, runs the library, prints, and returns the exit code.

Only this floor prints. The library never imports it, and no command imports another: what
commands share is in ``common.py`` (warnings, checks), ``evaluating.py`` (an architecture file
evaluated into its run folder, for eval and compare), ``progress.py`` and ``settings.py`` (engine
settings, the environment read once, the gateway).
"""
