"""The pure core: advisories, subscribers, countries, what changed, who is concerned,
retry timing and schedules.

No files, clock, network or environment here, and no import of any other package of
`advisory`: everything else imports the domain, never the other way.
"""
