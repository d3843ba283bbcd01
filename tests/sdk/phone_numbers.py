"""(Not `numbers.py`: that would shadow the standard library's `numbers` module.)
Incoming phone numbers and applications through the unmodified Twilio SDK: create, fetch,
list (paging, PhoneNumber and FriendlyName filters), update and delete of both; a number
pointed at an application; the SDK's own exceptions for a number another account holds
(21422) and for another account's number (404 20404, as a missing one). The number to take
arrives in SWITCHBOARD_NUMBER, another account's credentials in SWITCHBOARD_OTHER_*. Prints
`number=PN… application=AP…` (the number left in place, pointed at the application) for the
Rust side. Exits non-zero (with the assertion) on any mismatch."""

import os
import sys

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
number = os.environ["SWITCHBOARD_NUMBER"]
c = client()
other = client(os.environ["SWITCHBOARD_OTHER_SID"], os.environ["SWITCHBOARD_OTHER_TOKEN"])


def error_of(call):
    try:
        call()
    except TwilioRestException as e:
        return (e.status, e.code)
    sys.exit("the call succeeded but should not have")


# Applications.
app = c.applications.create(
    friendly_name="IVR",
    voice_url="https://app.example/voice",
    voice_method="GET",
    voice_fallback_url="https://app.example/fallback",
    status_callback="https://app.example/status",
)
assert app.sid.startswith("AP") and app.account_sid == sid, app.sid
assert app.voice_method == "GET" and app.voice_fallback_method == "POST", app.voice_method
assert app.api_version == "2010-04-01", app.api_version
assert app.date_created is not None and app.date_created.year >= 2025, app.date_created
spare = c.applications.create(friendly_name="Spare")
assert spare.voice_url is None and spare.voice_method == "POST", spare.voice_url
assert c.applications(app.sid).fetch().friendly_name == "IVR"
assert [a.sid for a in c.applications.list(friendly_name="IVR")] == [app.sid]
assert sorted(a.sid for a in c.applications.list(page_size=1)) == sorted([app.sid, spare.sid])
renamed = c.applications(spare.sid).update(friendly_name="Renamed", voice_url="https://b.example/")
assert renamed.friendly_name == "Renamed" and renamed.voice_url == "https://b.example/"
assert c.applications(spare.sid).delete() is True
assert error_of(lambda: c.applications(spare.sid).fetch()) == (404, 20404)
assert error_of(lambda: c.applications.create(voice_method="PUT"))[0] == 400

# Numbers.
n = c.incoming_phone_numbers.create(
    phone_number=number, voice_url="https://number.example/voice", friendly_name="Main line"
)
assert n.sid.startswith("PN") and n.account_sid == sid, n.sid
assert n.phone_number == number, n.phone_number
assert n.voice_url == "https://number.example/voice" and n.voice_method == "POST", n.voice_url
assert n.capabilities["voice"] is True, n.capabilities
assert n.voice_application_sid is None
fetched = c.incoming_phone_numbers(n.sid).fetch()
assert fetched.friendly_name == "Main line" and fetched.phone_number == number
# A second number, named by default, and the filters.
second_number = number[:-1] + ("1" if number[-1] != "1" else "2")
second = c.incoming_phone_numbers.create(phone_number=second_number)
assert second.friendly_name.startswith("("), second.friendly_name
listed = sorted(x.sid for x in c.incoming_phone_numbers.list(page_size=1))
assert listed == sorted([n.sid, second.sid]), listed
assert [x.sid for x in c.incoming_phone_numbers.list(phone_number=number)] == [n.sid]
partial = number[2:6]
assert len(c.incoming_phone_numbers.list(phone_number=partial)) == 2
assert [x.sid for x in c.incoming_phone_numbers.list(friendly_name="Main line")] == [n.sid]
# The number answers with the application's URLs once it names it.
updated = c.incoming_phone_numbers(n.sid).update(voice_application_sid=app.sid, voice_method="GET")
assert updated.voice_application_sid == app.sid and updated.voice_method == "GET"
assert updated.date_updated >= updated.date_created
assert c.incoming_phone_numbers(second.sid).delete() is True
assert error_of(lambda: c.incoming_phone_numbers(second.sid).fetch()) == (404, 20404)
assert error_of(lambda: c.incoming_phone_numbers(second.sid).delete()) == (404, 20404)

# Twilio's errors: taken by another account (21422), malformed (21421), another account's
# application (400), another account's number (404 as a missing one), both ways.
assert error_of(lambda: other.incoming_phone_numbers.create(phone_number=number)) == (400, 21422)
assert error_of(lambda: c.incoming_phone_numbers.create(phone_number="not-a-number")) == (400, 21421)
their_app = other.applications.create(friendly_name="Theirs")
assert error_of(
    lambda: c.incoming_phone_numbers(n.sid).update(voice_application_sid=their_app.sid)
)[0] == 400
assert error_of(lambda: other.incoming_phone_numbers(n.sid).fetch()) == (404, 20404)
assert error_of(lambda: other.applications(app.sid).fetch()) == (404, 20404)
assert error_of(lambda: other.incoming_phone_numbers(n.sid).update(friendly_name="x")) == (404, 20404)
assert error_of(lambda: other.incoming_phone_numbers(n.sid).delete()) == (404, 20404)
assert other.incoming_phone_numbers.list() == []
# A released number is free again: the second one, now the other account's.
theirs = other.incoming_phone_numbers.create(phone_number=second_number)
assert theirs.account_sid == os.environ["SWITCHBOARD_OTHER_SID"]

print(f"number={n.sid} application={app.sid} theirs={theirs.sid}")
