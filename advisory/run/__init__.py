"""One run: plan what is due, queue it, deliver it, record each outcome; split over worker
processes where the config asks for it. `send`, `retry`, `serve` and every worker call
`run.run()`.

Composes inputs, publishers, mail and state; never imports the CLI or the service.
"""
