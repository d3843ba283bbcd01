"""Call notifications through the unmodified Twilio SDK: the account's list
(client.notifications, with paging and the Log and MessageDate filters), one call's
(client.calls(CA).notifications) and each instance, and the SDK's own exception for another
account's notification. The notifications were raised by the test (tests/it/notifications.rs)
before the server started; their SIDs arrive in SWITCHBOARD_NOTIFICATIONS (newest first; all
but the first belong to SWITCHBOARD_CALL), another account's credentials and notification in
SWITCHBOARD_OTHER_*. Exits non-zero (with the assertion) on any mismatch."""

import datetime
import os
import sys

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
call = os.environ["SWITCHBOARD_CALL"]
expected = os.environ["SWITCHBOARD_NOTIFICATIONS"].split(",")
other_sid = os.environ["SWITCHBOARD_OTHER_SID"]
other_token = os.environ["SWITCHBOARD_OTHER_TOKEN"]
other_notification = os.environ["SWITCHBOARD_OTHER_NOTIFICATION"]
api = client()

# The account's list, newest first; page_size 2 takes the SDK through next_page_uri.
listed = [n.sid for n in api.notifications.list()]
assert listed == expected, (listed, expected)
assert [n.sid for n in api.notifications.list(page_size=2)] == expected
assert other_notification not in listed, "another account's notification was listed"

# One call's.
of_call = [n.sid for n in api.calls(call).notifications.list()]
assert of_call == expected[1:], (of_call, expected)

# Filters: Log (0 error, 1 warning) and MessageDate.
assert [n.sid for n in api.notifications.list(log=1)] == [expected[1]]
assert [n.sid for n in api.calls(call).notifications.list(log=0)] == expected[2:]
today = datetime.datetime.now(datetime.timezone.utc).date()
assert api.notifications.list(message_date_before=datetime.date(2001, 1, 1)) == []
assert len(api.notifications.list(message_date_after=datetime.date(2001, 1, 1))) == len(expected)
assert len(api.notifications.list(message_date=today)) == len(expected)

# A list item in the SDK's types; no request/response details in it.
item = api.notifications.list(limit=1)[0]
assert item.sid == expected[0], item.sid
assert item.account_sid == sid, item.account_sid
assert item.call_sid and item.call_sid.startswith("CA") and item.call_sid != call, item.call_sid
assert item.error_code == "11750", item.error_code
assert item.log == "0", item.log
assert item.api_version == "2010-04-01", item.api_version
assert item.request_method == "POST", item.request_method
assert item.request_url == "https://app.example/voice", item.request_url
assert item.more_info == "https://www.twilio.com/docs/errors/11750", item.more_info
assert isinstance(item.message_date, datetime.datetime), item.message_date
assert item.date_created == item.message_date and item.date_created.year >= 2025, item.date_created
assert item.uri == f"/2010-04-01/Accounts/{sid}/Notifications/{expected[0]}.json", item.uri
assert item.response_body is None, "list items carry no response body"

fetched = api.notifications(expected[2]).fetch()
assert fetched.sid == expected[2]
assert fetched.error_code == "12100", fetched.error_code
assert fetched.call_sid == call, fetched.call_sid
assert fetched.response_body == "<Response><Say>unclosed", fetched.response_body
assert fetched.response_headers == "Content-Type: text/xml", fetched.response_headers
assert fetched.request_variables.startswith("CallSid="), fetched.request_variables

warning = api.calls(call).notifications(expected[1]).fetch()
assert warning.log == "1" and warning.error_code == "12200", (warning.log, warning.error_code)
assert warning.request_url is None and warning.request_method is None
assert warning.uri == f"/2010-04-01/Accounts/{sid}/Calls/{call}/Notifications/{expected[1]}.json"

# Tenancy: another account's notification is the same 404 as a missing one, both ways.
def refused(fetch):
    try:
        fetch()
    except TwilioRestException as e:
        return (e.status, e.code)
    sys.exit("a notification was served")

missing = "NO" + "0" * 32
assert refused(api.notifications(other_notification).fetch) == (404, 20404)
assert refused(api.notifications(missing).fetch) == (404, 20404)
assert refused(api.calls(call).notifications(expected[0]).fetch) == (404, 20404), "not that call's"
other = client(other_sid, other_token)
assert refused(other.notifications(expected[0]).fetch) == (404, 20404)
assert [n.sid for n in other.notifications.list()] == [other_notification]

print("sdk notifications: ok")
