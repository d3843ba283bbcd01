"""Accounts through the unmodified Twilio SDK: fetch, create subaccounts, page through the
list, update, and the SDK's own exceptions for switchboard's errors. Exits non-zero (with
the assertion) on any mismatch."""

import os
import sys

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
api = client().api.v2010

me = api.accounts(sid).fetch()
assert me.sid == sid, me.sid
assert me.status == "active", me.status
assert me.friendly_name == "SDK main", me.friendly_name
assert me.date_created is not None and me.date_created.year >= 2025, me.date_created

created = [api.accounts.create(friendly_name=f"SDK sub {i}") for i in range(5)]
for sub in created:
    assert sub.sid.startswith("AC") and len(sub.sid) == 34, sub.sid
    assert sub.auth_token and len(sub.auth_token) == 32, "the token is shown on creation"
    assert sub.owner_account_sid == sid, sub.owner_account_sid

# Paging: page_size 2 over 6 accounts takes the SDK through next_page_uri three times.
listed = [a.sid for a in api.accounts.list(page_size=2)]
assert sorted(listed) == sorted([sid] + [s.sid for s in created]), listed
assert len(listed) == len(set(listed)), "no account twice"
named = api.accounts.list(friendly_name="SDK sub 3")
assert [a.sid for a in named] == [created[3].sid], named

renamed = api.accounts(created[0].sid).update(friendly_name="Renamed", status="suspended")
assert (renamed.friendly_name, renamed.status) == ("Renamed", "suspended"), renamed

# The subaccount authenticates with its own token, and cannot see its parent.
sub = created[1]
sub_api = client(sub.sid, sub.auth_token).api.v2010
assert sub_api.accounts(sub.sid).fetch().friendly_name == "SDK sub 1"
try:
    sub_api.accounts(sid).fetch()
    sys.exit("a subaccount read its parent")
except TwilioRestException as e:
    assert (e.status, e.code) == (404, 20404), (e.status, e.code, e.msg)

# A suspended account is refused; a wrong token is refused.
try:
    client(created[0].sid, created[0].auth_token).api.v2010.accounts(created[0].sid).fetch()
    sys.exit("a suspended account was served")
except TwilioRestException as e:
    assert (e.status, e.code) == (403, 20005), (e.status, e.code, e.msg)
try:
    client(sid, "0" * 32).api.v2010.accounts(sid).fetch()
    sys.exit("a wrong token was accepted")
except TwilioRestException as e:
    assert (e.status, e.code) == (401, 20003), (e.status, e.code, e.msg)

print("sdk accounts: ok")
