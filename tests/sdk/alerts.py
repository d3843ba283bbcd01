"""Monitor alerts through the unmodified Twilio SDK: list (with paging and filters) and fetch,
and the SDK's own exception for another account's alert. The alerts were raised by the test
(tests/it/alerts.rs) before the server started; their SIDs arrive in SWITCHBOARD_ALERTS
(newest first), another account's credentials and alert in SWITCHBOARD_OTHER_*. Exits
non-zero (with the assertion) on any mismatch."""

import os
import sys

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
expected = os.environ["SWITCHBOARD_ALERTS"].split(",")
other_sid = os.environ["SWITCHBOARD_OTHER_SID"]
other_token = os.environ["SWITCHBOARD_OTHER_TOKEN"]
other_alert = os.environ["SWITCHBOARD_OTHER_ALERT"]
monitor = client().monitor.v1

# The whole list, newest first; page_size 2 takes the SDK through next_page_url.
listed = [a.sid for a in monitor.alerts.list()]
assert listed == expected, (listed, expected)
paged = [a.sid for a in monitor.alerts.list(page_size=2)]
assert paged == expected, paged
assert other_alert not in listed, "another account's alert was listed"

# Filters.
assert [a.sid for a in monitor.alerts.list(log_level="error")] == expected
assert monitor.alerts.list(log_level="warning") == []
assert monitor.alerts.list(end_date="2001-01-01") == []
assert len(monitor.alerts.list(start_date="2001-01-01T00:00:00Z")) == len(expected)

# A list item has no request/response details; the instance has them.
item = monitor.alerts.list(limit=1)[0]
assert item.sid == expected[0], item.sid
assert item.account_sid == sid, item.account_sid
assert item.error_code == "11217", item.error_code
assert item.log_level == "error", item.log_level
assert item.request_method == "POST", item.request_method
assert item.more_info == "https://www.twilio.com/docs/errors/11217", item.more_info
assert item.date_created is not None and item.date_created.year >= 2025, item.date_created
assert item.response_body is None, "list items carry no response body"

fetched = monitor.alerts(expected[0]).fetch()
assert fetched.sid == expected[0]
assert fetched.response_body == "<h1>Service Unavailable</h1>", fetched.response_body
assert fetched.request_variables.startswith("EventType="), fetched.request_variables
assert fetched.request_url == "https://app.example/events", fetched.request_url
assert fetched.service_sid and fetched.service_sid.startswith("WS"), fetched.service_sid
assert fetched.url.endswith("/v1/Alerts/" + expected[0]), fetched.url

# Tenancy: another account's alert is the same 404 as a missing one, both ways.
def refused(api, alert_sid):
    try:
        api.alerts(alert_sid).fetch()
    except TwilioRestException as e:
        return (e.status, e.code)
    sys.exit(f"alert {alert_sid} was served")

missing = "NO" + "0" * 32
assert refused(monitor, other_alert) == refused(monitor, missing) == (404, 20404)
other = client(other_sid, other_token).monitor.v1
assert refused(other, expected[0]) == (404, 20404)
assert [a.sid for a in other.alerts.list()] == [other_alert]

print("sdk alerts: ok")
