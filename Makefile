# The two quick-start commands: `make run` starts the system on conf/pymsboot.conf,
# `make test` runs every test.
CARGO ?= cargo
CONF ?= conf/pymsboot.conf

.PHONY: run test build bench sample

build:
	$(CARGO) build --release --bins

run: build
	scripts/services-up
	mkdir -p var/log
	target/release/pymsboot-api --config-file $(CONF) --pid-file var/pymsboot-api.pid

# Doc tests first: nextest runs everything else, each test in its own process,
# and closes with the summary line.
test:
	$(CARGO) test --workspace --doc --locked
	$(CARGO) nextest run --workspace --locked --no-fail-fast

sample:
	$(CARGO) run --quiet --bin pymsboot-manage -- config generate > conf/pymsboot.conf.sample

bench: build
	python3 bench/launcher.py
	$(CARGO) bench --bench rpc
