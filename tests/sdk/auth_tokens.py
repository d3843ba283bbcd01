"""Rotating an auth token through the unmodified Twilio SDK (Accounts v1: secondary_auth_token
and auth_token_promotion), as a Twilio user would: make a secondary token, check that both
work, promote it, check that the old one no longer works. Prints the promoted token as the
last line. Exits non-zero (with the assertion) on any mismatch."""

import os
import sys

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
old = os.environ["SWITCHBOARD_TOKEN"]


def fetch_as(token):
    return client(sid, token).api.v2010.accounts(sid).fetch()


def refused(token):
    try:
        fetch_as(token)
    except TwilioRestException as e:
        return e.status == 401
    return False


accounts = client().accounts.v1
assert fetch_as(old).sid == sid

# Nothing to promote or delete yet: Twilio's 404.
for action in (accounts.auth_token_promotion().update, accounts.secondary_auth_token().delete):
    try:
        action()
        sys.exit(f"{action} without a secondary token succeeded")
    except TwilioRestException as e:
        assert (e.status, e.code) == (404, 20404), (e.status, e.code, e.msg)

first = accounts.secondary_auth_token().create()
assert first.account_sid == sid, first.account_sid
assert first.secondary_auth_token and len(first.secondary_auth_token) == 32
assert first.date_created is not None and first.url.endswith("/v1/AuthTokens/Secondary")
# A second secondary replaces the first.
secondary = accounts.secondary_auth_token().create()
assert secondary.secondary_auth_token != first.secondary_auth_token
assert refused(first.secondary_auth_token), "a replaced secondary still authenticates"
# Both the primary and the secondary work until the promotion.
assert fetch_as(old).sid == sid
assert fetch_as(secondary.secondary_auth_token).sid == sid

# Deleting it: the secondary stops working, the primary keeps working.
assert accounts.secondary_auth_token().delete() is True
assert refused(secondary.secondary_auth_token), "a deleted secondary still authenticates"
assert fetch_as(old).sid == sid

secondary = accounts.secondary_auth_token().create()
promoted = client(sid, secondary.secondary_auth_token).accounts.v1.auth_token_promotion().update()
assert promoted.account_sid == sid, promoted.account_sid
assert promoted.auth_token == secondary.secondary_auth_token, promoted.auth_token
assert promoted.url.endswith("/v1/AuthTokens/Promote"), promoted.url
assert refused(old), "the old primary still authenticates after the promotion"
assert fetch_as(promoted.auth_token).sid == sid
print(promoted.auth_token)
