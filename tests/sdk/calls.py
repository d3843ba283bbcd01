"""The Calls resource through the unmodified Twilio SDK: calls.list (status and parent
filters, paging), calls(CA).fetch with the SDK's types, the SDK's exception for a create it
must refuse and for another account's call. The calls were recorded by the test
(tests/it/calls_api.rs) before the server started; SWITCHBOARD_CALLS names the live one, a
<Dial> leg and its parent, newest first; SWITCHBOARD_OTHER_CALL another account's. Exits
non-zero (with the assertion) on any mismatch."""

import datetime
import os

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
live, leg, parent = os.environ["SWITCHBOARD_CALLS"].split(",")
other = os.environ["SWITCHBOARD_OTHER_CALL"]
api = client()

# The list, newest first, through next_page_uri with page_size 1.
listed = [c.sid for c in api.calls.list(page_size=1)]
assert listed == [live, leg, parent], listed
assert [c.sid for c in api.calls.list(status="completed")] == [leg, parent]
assert [c.sid for c in api.calls.list(status="in-progress")] == [live]
assert [c.sid for c in api.calls.list(parent_call_sid=parent)] == [leg]
assert [c.sid for c in api.calls.list(to="sip:alice@example.com")] == [parent]
today = datetime.datetime.now(datetime.timezone.utc).date()
assert len(api.calls.list(start_time_after=datetime.datetime(2001, 1, 1))) == 3
assert api.calls.list(end_time_before=datetime.datetime(2001, 1, 1)) == []
assert other not in [c.sid for c in api.calls.list()]

# An instance in the SDK's types.
c = api.calls(parent).fetch()
assert c.sid == parent and c.account_sid == sid
assert c.status == "completed", c.status
assert c.direction == "outbound-api", c.direction
assert c.duration == "3", c.duration
assert c.to == "sip:alice@example.com" and c.from_ == "+15551230000", (c.to, c.from_)
assert c.from_formatted == "(555) 123-0000", c.from_formatted
assert isinstance(c.start_time, datetime.datetime) and isinstance(c.end_time, datetime.datetime)
assert isinstance(c.date_created, datetime.datetime) and c.date_created.year >= 2025
assert c.price is None and c.price_unit == "USD"
assert c.queue_time == "0" and c.api_version == "2010-04-01"
assert c.uri == f"/2010-04-01/Accounts/{sid}/Calls/{parent}.json", c.uri
assert c.subresource_uris["notifications"].endswith(f"/Calls/{parent}/Notifications.json")
l = api.calls(live).fetch()
assert l.status == "in-progress" and l.duration is None and l.end_time is None, l.status

# Refusals arrive as the SDK's exception with Twilio's code.
try:
    api.calls.create(to="sip:alice@example.com", from_="+15551230000")
    raise AssertionError("a create with no Url, Twiml or ApplicationSid was accepted")
except TwilioRestException as e:
    assert e.status == 400 and e.code == 20001, (e.status, e.code)
try:
    api.calls.create(to="sip:alice@example.com", from_="+15551230000", url="https://a.example/v", timeout=601)
    raise AssertionError("Timeout 601 was accepted")
except TwilioRestException as e:
    assert e.status == 400, e.status
try:
    api.calls(other).fetch()
    raise AssertionError("another account's call was served")
except TwilioRestException as e:
    assert e.status == 404 and e.code == 20404, (e.status, e.code)
try:
    api.calls(live).update(status="completed")
    raise AssertionError("a call not live on this node was hung up")
except TwilioRestException as e:
    assert e.status == 400 and e.code == 21220, (e.status, e.code)
print("ok")
