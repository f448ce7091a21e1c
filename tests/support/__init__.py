"""Helpers the tests share: SMTP servers, a project folder, publisher sites, faults."""
