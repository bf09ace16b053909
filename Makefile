# The two quick-start commands: `make run` starts the system on conf/pymsboot.conf,
# `make test` runs every test.
CARGO ?= cargo
CONF ?= conf/pymsboot.conf

.PHONY: run test build bench sample man install

build:
	$(CARGO) build --release --bins

run: build
	scripts/services-up rabbitmq
	CONF=$(CONF) scripts/run-local

# Doc tests first: nextest runs everything else, each test in its own process,
# and closes with the summary line.
test:
	scripts/test-deps
	$(CARGO) test --workspace --doc --locked
	$(CARGO) nextest run --workspace --locked --no-fail-fast

sample:
	$(CARGO) run --quiet --bin pymsboot-manage -- config generate > conf/pymsboot.conf.sample
	$(CARGO) run --quiet --bin pymsboot-manage -- policy generate > conf/policy.yaml.sample

bench: build
	python3 bench/launcher.py
	$(CARGO) bench --bench rpc
	$(CARGO) bench --bench auth
	scripts/python-venv && PYTHONWARNINGS=ignore .venv/bin/python bench/rpc_python.py

# The OPTIONS part of man/pymsboot.conf.5, between its GENERATED markers,
# rewritten from the option declarations.
man:
	$(CARGO) run --quiet --bin pymsboot-manage -- config man > man/.options.roff
	awk '/END GENERATED OPTIONS/ { skip = 0 } !skip { print } \
	     /BEGIN GENERATED OPTIONS/ { while ((getline line < "man/.options.roff") > 0) print line; skip = 1 }' \
	    man/pymsboot.conf.5 > man/.pymsboot.conf.5.new
	mv man/.pymsboot.conf.5.new man/pymsboot.conf.5
	rm -f man/.options.roff

# `make && sudo make install`: binaries, configuration, units, init script,
# man pages and the logrotate file. DESTDIR stages the tree for a package;
# BINDIR_SRC says where the built binaries are. The configuration file is
# installed only when absent; the sample is always refreshed.
PREFIX ?= /usr/local
BINDIR_SRC ?= target/release
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
BINARIES = pymsboot-api pymsboot-engine pymsboot-manage

install:
	@for b in $(BINARIES); do test -x "$(BINDIR_SRC)/$$b" || \
	    { echo "install: $(BINDIR_SRC)/$$b is missing; run 'make' first" >&2; exit 1; }; done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)/pymsboot $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	for b in $(BINARIES); do install -m 0755 "$(BINDIR_SRC)/$$b" $(DESTDIR)$(BINDIR)/; done
	install -m 0644 conf/pymsboot.conf.sample $(DESTDIR)$(SYSCONFDIR)/pymsboot/pymsboot.conf.sample
	test -e $(DESTDIR)$(SYSCONFDIR)/pymsboot/pymsboot.conf || \
	    install -m 0640 conf/pymsboot.conf.sample $(DESTDIR)$(SYSCONFDIR)/pymsboot/pymsboot.conf
	for unit in pymsboot-api.service pymsboot-engine.service; do \
	    sed 's|/usr/local/bin|$(BINDIR)|g' resources/systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit; done
	sed 's|/usr/local/bin|$(BINDIR)|g' resources/init.d/pymsboot > $(DESTDIR)$(SYSCONFDIR)/init.d/pymsboot
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/pymsboot
	install -m 0644 resources/pymsboot_log_rotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/pymsboot
	install -m 0644 resources/sysusers.d/pymsboot.conf $(DESTDIR)$(SYSUSERSDIR)/pymsboot.conf
	install -m 0644 man/pymsboot-api.1 man/pymsboot-engine.1 man/pymsboot-manage.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/pymsboot.conf.5 $(DESTDIR)$(MANDIR)/man5/
	@# On the machine itself (no DESTDIR): the service user, which may read the configuration.
	@if [ -z "$(DESTDIR)" ]; then \
	    if command -v systemd-sysusers >/dev/null; then \
	        systemd-sysusers $(SYSUSERSDIR)/pymsboot.conf; \
	    elif ! getent passwd pymsboot >/dev/null; then \
	        useradd --system --user-group --home-dir /var/lib/pymsboot --shell /usr/sbin/nologin pymsboot; \
	    fi; \
	    chgrp pymsboot $(SYSCONFDIR)/pymsboot/pymsboot.conf; \
	fi
