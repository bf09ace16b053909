#!/usr/bin/env python3
"""A stock oslo.messaging RPC peer for the interoperability tests.

Run it with the Python in .venv (see scripts/python-venv). The command line
and every line printed to stdout are described in README.md beside this
file; logs go to stderr.

    serve --url URL --exchange EX --topic TOPIC [--server NAME]
        Serve the endpoint below until SIGTERM or SIGINT. Prints READY
        once the server's queues are declared and consumed.

    call|cast --url URL --exchange EX --topic TOPIC [--server NAME]
              [--namespace NS] [--version V] [--timeout SECS]
              [--request-id REQ] [--context JSON] METHOD JSON_KWARGS
        Call or cast METHOD once and print one JSON line with the outcome.
"""

import argparse
import json
import logging
import signal
import sys
import threading
import time

import oslo_messaging
import oslo_messaging.opts
from oslo_config import cfg

LOG = logging.getLogger("oslo_peer")


class Endpoint:
    """The methods the test server offers, in namespace "engine", version 1.0."""

    target = oslo_messaging.Target(namespace="engine", version="1.0")

    def __init__(self):
        self._recorded = []

    def ping(self, ctxt, **kw):
        """Returns the keyword arguments and the context's request_id."""
        return {"pong": kw, "request_id": ctxt.get("request_id")}

    def echo(self, ctxt, value):
        """Returns value unchanged."""
        return value

    def fail(self, ctxt, message):
        """Raises ValueError(message)."""
        raise ValueError(message)

    def slow(self, ctxt, seconds):
        """Sleeps for the given number of seconds, then returns "done"."""
        time.sleep(seconds)
        return "done"

    def record(self, ctxt, value):
        """Remembers value; meant to be cast."""
        self._recorded.append(value)

    def recorded(self, ctxt):
        """Returns the values record has been given, oldest first."""
        return list(self._recorded)


def make_transport(args, timeout=None):
    """Returns an RPC transport configured in code, never from files.

    This uses the global cfg.CONF rather than a ConfigOpts of its own:
    oslo.messaging registers [oslo_messaging_metrics] and
    [oslo_messaging_tracing] only there, and reads both on every message.
    """
    conf = cfg.CONF
    conf(args=[], default_config_files=[], default_config_dirs=[])
    for group, opts in oslo_messaging.opts.list_opts():
        conf.register_opts(opts, group=group)
    conf.set_override("transport_url", args.url)
    conf.set_override("control_exchange", args.exchange)
    if timeout is not None:
        conf.set_override("rpc_response_timeout", timeout)
    return oslo_messaging.get_rpc_transport(conf)


def serve(args):
    """Runs a threading RPC server until SIGTERM or SIGINT."""
    transport = make_transport(args)
    target = oslo_messaging.Target(
        exchange=args.exchange,
        topic=args.topic,
        server=args.server or "py-server",
        namespace="engine",
        version="1.0",
    )
    # No executor argument: it is deprecated, and without eventlet's
    # monkey-patching the default is "threading".
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()])
    server.start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("READY", flush=True)
    LOG.info("serving topic %s on exchange %s with the %s executor",
             args.topic, args.exchange, server.executor_type)

    stop.wait()
    LOG.info("stopping")
    server.stop()
    server.wait()
    transport.cleanup()
    return 0


def send(args):
    """Calls or casts once and prints the outcome as one JSON line."""
    transport = make_transport(args, timeout=args.timeout)
    target = oslo_messaging.Target(
        exchange=args.exchange,
        topic=args.topic,
        server=args.server,
        namespace=args.namespace or None,
        version=args.version,
    )
    client = oslo_messaging.get_rpc_client(transport, target)
    ctxt = dict(args.context or {})
    if args.request_id is not None:
        ctxt["request_id"] = args.request_id
    try:
        if args.command == "call":
            result = client.call(ctxt, args.method, **args.kwargs)
        else:
            result = client.cast(ctxt, args.method, **args.kwargs)
        outcome = {"ok": True, "result": result}
    except Exception as e:
        outcome = {
            "ok": False,
            "class": type(e).__name__,
            "module": type(e).__module__,
            "message": str(e),
            "exc_type": getattr(e, "exc_type", None),
            "value": getattr(e, "value", None),
        }
    print(json.dumps(outcome), flush=True)
    transport.cleanup()
    return 0


def json_object(text):
    """Parses JSON_KWARGS or --context, which must be a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("not a JSON object")
    return value


def parse_args(argv):
    """Parses the command line; argparse exits with 2 on a usage error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "call", "cast"):
        sub = commands.add_parser(name)
        sub.add_argument("--url", required=True, help="transport_url")
        sub.add_argument("--exchange", required=True, help="control_exchange")
        sub.add_argument("--topic", required=True)
        sub.add_argument("--server", help='server name (serve: "py-server")')
        if name == "serve":
            continue
        sub.add_argument("--namespace", default="engine",
                         help='"" sends no namespace')
        sub.add_argument("--version", default="1.0")
        sub.add_argument("--timeout", type=int, default=60,
                         help="rpc_response_timeout in seconds")
        sub.add_argument("--request-id", help="the context's request_id")
        sub.add_argument("--context", type=json_object, metavar="JSON",
                         help="more context keys, e.g. project_id, user, "
                              "is_admin, roles")
        sub.add_argument("method")
        sub.add_argument("kwargs", type=json_object, metavar="json_kwargs")
    return parser.parse_args(argv)


def main(argv):
    """Runs one sub-command and returns the exit code."""
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
    )
    if args.command == "serve":
        return serve(args)
    return send(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
