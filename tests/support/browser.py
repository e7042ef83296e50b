"""Chromium for the e2e tests and the app benchmarks: Debian's /usr/bin/chromium (no browser download), flags that
keep it off the network (this machine's closed network refuses every host but loopback), the page timeout and
the init script that records CSP violations."""

import os

CHROMIUM = os.environ.get("DATAVISOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

TIMEOUT = 60_000  # ms; the machine may be busy

# every page records CSP violations and uncaught errors; the `app` fixture fails a test that has any
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
