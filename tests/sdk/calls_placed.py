"""A call placed through the unmodified Twilio SDK (tests/it/calls_api/placed.rs), by stage
(SWITCHBOARD_STAGE):

- place: calls.create(to=SWITCHBOARD_TO, from_, url, status_callback, status_callback_event
  = all four), wait until fetch() shows it in-progress, then update(twiml=<Play> of
  SWITCHBOARD_PLAY_URL, <Redirect> to SWITCHBOARD_AFTER_URL); prints call=CA...
- hangup: update(status="completed") on SWITCHBOARD_CALL; waits until fetch() shows it
  completed; checks fetch() and calls.list(status="completed") fields in the SDK's types.
- validate: every status callback in SWITCHBOARD_SIGNED (JSON: url, params, signature)
  validates with the SDK's RequestValidator and the account's auth token.

Exits non-zero (with the assertion) on any mismatch."""

import datetime
import json
import os
import time

from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from twilio_client import client

api = client()
stage = os.environ["SWITCHBOARD_STAGE"]


def wait_status(sid, status, seconds=15):
    deadline = time.time() + seconds
    while True:
        c = api.calls(sid).fetch()
        if c.status == status:
            return c
        assert time.time() < deadline, (sid, c.status, status)
        time.sleep(0.05)


if stage == "place":
    call = api.calls.create(
        to=os.environ["SWITCHBOARD_TO"],
        from_="+15551230000",
        url=os.environ["SWITCHBOARD_VOICE_URL"],
        status_callback=os.environ["SWITCHBOARD_STATUS_URL"],
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    assert call.sid.startswith("CA") and call.status == "queued", (call.sid, call.status)
    assert call.direction == "outbound-api" and call.to == os.environ["SWITCHBOARD_TO"]
    assert call.duration is None and call.end_time is None
    live = wait_status(call.sid, "in-progress")
    assert live.duration is None and live.end_time is None and live.answered_by is None
    assert isinstance(live.start_time, datetime.datetime)
    # The list reads the calls read model, a moment behind the log.
    deadline = time.time() + 10
    while [x.sid for x in api.calls.list(status="in-progress")] != [call.sid]:
        assert time.time() < deadline, [(x.sid, x.status) for x in api.calls.list()]
        time.sleep(0.05)
    try:
        api.calls(call.sid).delete()
        raise AssertionError("a live call was deleted")
    except TwilioRestException as e:
        assert e.status == 400 and e.code == 21220, (e.status, e.code)
    after = os.environ["SWITCHBOARD_AFTER_URL"]
    play = os.environ["SWITCHBOARD_PLAY_URL"]
    updated = api.calls(call.sid).update(
        twiml=f"<Response><Play>{play}</Play><Redirect>{after}</Redirect></Response>"
    )
    assert updated.sid == call.sid and updated.status == "in-progress", updated.status
    print(f"call={call.sid}")
elif stage == "hangup":
    sid = os.environ["SWITCHBOARD_CALL"]
    hung = api.calls(sid).update(status="completed")
    assert hung.sid == sid, hung.sid
    c = wait_status(sid, "completed")
    assert c.direction == "outbound-api" and c._from == "+15551230000", (c.direction, c._from)
    assert c.duration is not None and int(c.duration) >= 0, c.duration
    assert isinstance(c.start_time, datetime.datetime) and isinstance(c.end_time, datetime.datetime)
    assert c.end_time >= c.start_time
    assert c.price_unit == "USD" and c.api_version == "2010-04-01" and c.queue_time == "0"
    assert c.answered_by is None and c.parent_call_sid is None
    # Lists read the calls read model, which follows the log a moment behind.
    deadline = time.time() + 10
    while [x.sid for x in api.calls.list(status="completed")] != [sid]:
        assert time.time() < deadline, [x.sid for x in api.calls.list()]
        time.sleep(0.05)
    listed = api.calls.list(status="completed")
    assert listed[0].duration == c.duration and listed[0].to == c.to
    assert api.calls.list(status="in-progress") == []
    # Status=completed on a finished call changes nothing.
    again = api.calls(sid).update(status="completed")
    assert again.status == "completed" and again.end_time == c.end_time
elif stage == "validate":
    validator = RequestValidator(os.environ["SWITCHBOARD_TOKEN"])
    signed = json.loads(os.environ["SWITCHBOARD_SIGNED"])
    assert len(signed) == 4, len(signed)
    for s in signed:
        assert s["signature"], s
        assert validator.validate(s["url"], s["params"], s["signature"]), s
else:
    raise AssertionError(f"unknown stage {stage}")
print("ok")
