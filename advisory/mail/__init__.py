"""Turning a planned message into bytes and handing them over: templates (rendering), MIME
(compose), the per-group fast path (splice), and the transports (Maildir, SMTP).

Imports the domain and the config's types only; never the state, a publisher or the run.
"""
