# The two commands a new user runs; each sets up what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run serve test postgresql

# The example's links (one-click unsubscribe, acknowledgements) are keyed with the secret
# in $ADVISORY_TOKEN_SECRET. When you have none, the example runs with this one: its
# public_url is 127.0.0.1, so its links reach nobody else. A deployment sets its own.
run serve: export ADVISORY_TOKEN_SECRET ?= example-only-links-on-127.0.0.1

run: $(VENV)/.runtime  ## send the example config's due alerts into var/outbox
	$(BIN)/advisory send --config config/advisory.toml

serve: $(VENV)/.runtime  ## the example as a service: its web pages on 127.0.0.1:8080
	$(BIN)/advisory serve --config config/advisory.toml

test: $(VENV)/.test postgresql  ## lint, type-check and run the whole test suite
	$(BIN)/ruff check advisory tests bench
	$(BIN)/ruff format --check advisory tests bench
	$(BIN)/mypy
	$(BIN)/python -m compileall -q advisory  # once, not in every CLI process the tests start
	$(BIN)/python -m pytest

# The runtime alone for `make run`; the test tools on top of it for `make test`.
$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime /usr/bin/chromium
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The PostgreSQL server the state's tests make a database on each: Debian's cluster,
# installed if missing, started if stopped (it runs as `postgres`, never as root), with
# a role for this user, whom its socket knows without a password.
postgresql: /usr/bin/pg_ctlcluster
	@pg_isready -q || $(SUDO) pg_ctlcluster --skip-systemctl-redirect \
		$$(ls /etc/postgresql | sort -V | tail -1) main start
	@psql -d postgres -tAc 'SELECT 1' >/dev/null 2>&1 || \
		$(SUDO) runuser -u postgres -- createuser --superuser "$$(id -un)"

/usr/bin/pg_ctlcluster:
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends postgresql

# The browser the web pages are tested in: Debian's Chromium, driven by Playwright
# (never `playwright install`, which downloads a browser of its own).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
/usr/bin/chromium:
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium
