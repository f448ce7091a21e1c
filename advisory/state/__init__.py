"""The state store: the outbox (messages, attempts, advisory versions) and the publishers'
cache, behind the interface in `base`; one engine per module.

Imports the domain only.
"""
