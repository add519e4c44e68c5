#!/usr/bin/python3
"""Mint a real, short-lived fernet token from an application credential, for expiry tests.

usage: issue-short-token.py KEYSTONE_CONF SECONDS AC_ID AC_SECRET
prints {"token": "...", "expires_at": "..."} on stdout.

Fernet tokens carry their own expires_at, so a token issued by a second, in-process Keystone
(same config: same SQLite DB and key repository) with a shorter [token] expiration is accepted by
the running one, which needs no restart. Takes about 5 s (Keystone's imports and boot). Use 6 s or
more: expires_at is truncated to whole seconds and this process takes a moment to exit.
"""
import json
import os
import sys

conf, seconds, ac_id, ac_secret = sys.argv[1:5]
sys.argv = sys.argv[:1]  # oslo.config parses sys.argv when Keystone configures itself

# Keep stdout for the JSON alone, whatever Keystone or its libraries print while booting.
stdout = os.dup(1)
os.dup2(2, 1)

from keystone.server.flask import core  # noqa: E402
import keystone.conf  # noqa: E402

app = core.initialize_application(name="public", config_files=[conf])
keystone.conf.CONF.set_override("expiration", int(seconds), group="token")
response = app.test_client().post("/v3/auth/tokens", json={"auth": {"identity": {
    "methods": ["application_credential"],
    "application_credential": {"id": ac_id, "secret": ac_secret}}}})
if response.status_code != 201:
    sys.exit(f"issue-short-token: Keystone answered {response.status_code}: {response.get_data(as_text=True)[:300]}")

sys.stdout.flush()
os.dup2(stdout, 1)
print(json.dumps({"token": response.headers["X-Subject-Token"],
                  "expires_at": response.get_json()["token"]["expires_at"]}), flush=True)
