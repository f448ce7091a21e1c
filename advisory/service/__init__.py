"""`advisory serve`: the schedule (APScheduler) that calls the one run, and its clean stop.

Imports the run and what it needs to build one; never the CLI.
"""
