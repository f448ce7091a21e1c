import sys

try:
    from advisory.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: nothing has begun, nothing to say
    sys.exit(130)

sys.exit(main())
