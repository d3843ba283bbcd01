"""TaskRouter through the unmodified Twilio SDK: a workspace with activities, workers, two
queues and a workflow with two filters and an escalation; tasks routed, reservations
accepted by update and by an assignment-callback instruction, a rejection, completion, a
list longer than one page, and Twilio's exceptions for bad input. Exits non-zero on any
mismatch."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

from twilio.base.exceptions import TwilioRestException

from twilio_client import client

tr = client().taskrouter.v1

# An assignment callback endpoint (accepts tasks whose attributes say auto, else says
# nothing) and a workspace event callback endpoint (records what it is sent).
calls = []
events = []


class Callback(BaseHTTPRequestHandler):
    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if self.path == "/events":
            events.append(form)
            self.send_response(204)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            return
        calls.append(form)
        attributes = json.loads(form["TaskAttributes"][0])
        body = json.dumps({"instruction": "accept"} if attributes.get("auto") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Callback)
threading.Thread(target=server.serve_forever, daemon=True).start()
callback_url = f"http://127.0.0.1:{server.server_port}/assignment"
events_url = f"http://127.0.0.1:{server.server_port}/events"


def expect_error(status, code, f):
    try:
        f()
    except TwilioRestException as e:
        assert (e.status, e.code) == (status, code), (e.status, e.code, e.msg)
        return e
    sys.exit(f"expected HTTP {status} / {code}")


def supervisor(path):
    """GET a supervisor read model path with the account's credentials."""
    import base64
    import os
    import urllib.request

    request = urllib.request.Request(os.environ["SWITCHBOARD_URL"] + path)
    token = base64.b64encode(f"{os.environ['SWITCHBOARD_SID']}:{os.environ['SWITCHBOARD_TOKEN']}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def wait(what, f, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = f()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


ws = tr.workspaces.create(friendly_name="Support", event_callback_url=events_url)
assert ws.event_callback_url == events_url, ws.event_callback_url
assert ws.sid.startswith("WS") and ws.default_activity_name == "Offline", (ws.sid, ws.default_activity_name)
assert [w.sid for w in tr.workspaces.list()].count(ws.sid) == 1
workspace = tr.workspaces(ws.sid)

activities = {a.friendly_name: a for a in workspace.activities.list()}
assert {"Offline", "Available", "Unavailable", "Break"} <= set(activities), activities
lunch = workspace.activities.create(friendly_name="Lunch", available=False)
assert lunch.available is False
available = activities["Available"].sid

english = workspace.task_queues.create(friendly_name="English", target_workers="languages HAS 'en'")
spanish = workspace.task_queues.create(
    friendly_name="Spanish", target_workers="languages HAS 'es'", max_reserved_workers=2
)
assert english.task_order == "FIFO" and spanish.max_reserved_workers == 2

configuration = {
    "task_routing": {
        "filters": [
            {
                "filter_friendly_name": "Spanish speakers",
                "expression": "language == 'es'",
                "targets": [{"queue": spanish.sid, "timeout": 2}, {"queue": english.sid, "priority": 5}],
            },
            {"filter_friendly_name": "Everyone else", "expression": "1==1", "targets": [{"queue": english.sid}]},
        ]
    }
}
wf = workspace.workflows.create(
    friendly_name="Languages",
    configuration=json.dumps(configuration),
    assignment_callback_url=callback_url,
    task_reservation_timeout=120,
)
assert json.loads(wf.configuration) == configuration

alice = workspace.workers.create(friendly_name="alice", activity_sid=available, attributes=json.dumps({"languages": ["en"]}))
bob = workspace.workers.create(friendly_name="bob", activity_sid=available, attributes=json.dumps({"languages": ["en", "es"]}))
assert alice.available and alice.activity_name == "Available"
channels = workspace.workers(alice.sid).worker_channels.list()
assert {c.task_channel_unique_name for c in channels} >= {"default", "voice", "chat"}
# Alice's chat channel: capacity 2 and unavailable (two callback events, with the channel's fields).
chat = next(c for c in channels if c.task_channel_unique_name == "chat")
workspace.workers(alice.sid).worker_channels(chat.sid).update(capacity=2, available=False)

# English task: goes to the English queue, reserved to the longest-idle eligible worker.
t1 = workspace.tasks.create(attributes=json.dumps({"language": "en"}), workflow_sid=wf.sid)
assert t1.assignment_status == "reserved", t1.assignment_status
assert t1.task_queue_sid == english.sid, t1.task_queue_friendly_name
r1 = workspace.tasks(t1.sid).reservations.list()
assert len(r1) == 1 and r1[0].reservation_status == "pending"
first_worker = r1[0].worker_sid
# Rejected by that worker, it goes to the other one.
rejected = workspace.tasks(t1.sid).reservations(r1[0].sid).update(reservation_status="rejected")
assert rejected.reservation_status == "rejected"
r1b = [r for r in workspace.tasks(t1.sid).reservations.list() if r.reservation_status == "pending"]
assert len(r1b) == 1 and r1b[0].worker_sid != first_worker, r1b
# Accepted by update, under the worker's reservations.
accepted = workspace.workers(r1b[0].worker_sid).reservations(r1b[0].sid).update(reservation_status="accepted")
assert accepted.reservation_status == "accepted"
assert workspace.tasks(t1.sid).fetch().assignment_status == "assigned"

# A task whose callback instruction accepts it.
t2 = workspace.tasks.create(attributes=json.dumps({"language": "en", "auto": True}), workflow_sid=wf.sid)
wait("the callback's accept", lambda: workspace.tasks(t2.sid).fetch().assignment_status == "assigned")
assert any(c["TaskSid"] == [t2.sid] for c in calls), calls
call = next(c for c in calls if c["TaskSid"] == [t2.sid])
assert call["WorkspaceSid"] == [ws.sid] and call["WorkflowSid"] == [wf.sid] and call["ReservationSid"][0].startswith("WR")

# Complete both; the workers are free again.
done = workspace.tasks(t1.sid).update(assignment_status="completed", reason="resolved")
assert (done.assignment_status, done.reason) == ("completed", "resolved")
workspace.tasks(t2.sid).update(assignment_status="completed", reason="resolved")
assert all(r.reservation_status == "completed" for r in workspace.tasks(t2.sid).reservations.list() if r.reservation_status != "rejected")

# The workspace event callback saw t1's life, in order, with Twilio's fields.
def t1_events():
    return [e["EventType"][0] for e in events if e.get("TaskSid") == [t1.sid]]


wait("t1's events", lambda: "task.completed" in t1_events())
seen = t1_events()
# Every fact of t1's life, in the order it happened: it entered its workflow and a queue,
# matched the target, was offered, rejected, offered again, accepted, and its reservation
# completed with it.
assert seen == [
    "task.created", "workflow.entered", "task-queue.entered", "workflow.target-matched",
    "reservation.created", "reservation.rejected", "reservation.created", "reservation.accepted",
    "reservation.completed", "task.completed",
], seen
entered = next(e for e in events if e["EventType"] == ["task-queue.entered"] and e["TaskSid"] == [t1.sid])
assert entered["TaskQueueSid"] == [english.sid] and entered["ResourceType"] == ["task"], entered
reservation_done = next(e for e in events if e["EventType"] == ["reservation.completed"] and e["TaskSid"] == [t1.sid])
assert reservation_done["ResourceType"] == ["reservation"] and reservation_done["WorkerSid"][0].startswith("WK"), reservation_done
completed = next(e for e in events if e["EventType"] == ["task.completed"] and e["TaskSid"] == [t1.sid])
assert completed["TaskCompletedReason"] == ["resolved"] and completed["WorkspaceSid"] == [ws.sid], completed
accepted_event = next(e for e in events if e["EventType"] == ["reservation.accepted"] and e["TaskSid"] == [t1.sid])
assert accepted_event["WorkerSid"][0].startswith("WK") and accepted_event["ResourceType"] == ["reservation"], accepted_event

capacity = wait("worker.capacity.update", lambda: next((e for e in events if e["EventType"] == ["worker.capacity.update"]), None))
assert (capacity["WorkerSid"], capacity["TaskChannelUniqueName"], capacity["WorkerChannelPreviousCapacity"],
        capacity["WorkerChannelAvailableCapacity"]) == ([alice.sid], ["chat"], [str(chat.configured_capacity)], ["2"]), capacity
availability = next(e for e in events if e["EventType"] == ["worker.channel.availability.update"])
assert availability["WorkerChannelAvailable"] == ["false"] and availability["TaskChannelSid"] == [chat.task_channel_sid], availability

# The Events resource reads the same history back from the read model, newest first.
t1_history = workspace.events.list(task_sid=t1.sid)
types = [e.event_type for e in t1_history]
assert "task.created" in types and "reservation.accepted" in types, types
assert types.index("task.completed") < types.index("task.created"), types
# The same facts, newest first, however the list is paged (the SDK follows next_page_url).
assert types == list(reversed(seen)), (types, seen)
paged = workspace.events.list(task_sid=t1.sid, page_size=3)
assert [e.event_type for e in paged] == types, [e.event_type for e in paged]
assert [e.event_type for e in workspace.events.list(task_sid=t1.sid, limit=4, page_size=3)] == types[:4]
everything = [e.sid for e in workspace.events.list(page_size=1000)]
assert len(everything) == len(set(everything)) > 30, len(everything)
assert [e.sid for e in workspace.events.list(page_size=7)] == everything
page = workspace.events.page(page_size=5)
assert [e.sid for e in page] == everything[:5] and page.next_page_url and "PageToken=PT" in page.next_page_url, page.next_page_url
second = page.next_page()
assert [e.sid for e in second] == everything[5:10]
back = second.previous_page()
assert [e.sid for e in back] == everything[:5], [e.sid for e in back]
completed_reservations = workspace.events.list(event_type="reservation.completed", worker_sid=accepted.worker_sid)
assert any(e.resource_url.endswith(f"/Tasks/{t1.sid}/Reservations/{accepted.sid}") for e in completed_reservations), [
    e.resource_url for e in completed_reservations]
assert workspace.events.list(task_channel="default", task_sid=t1.sid, page_size=50)
assert workspace.events.list(task_channel="sms", task_sid=t1.sid) == []
done_events = workspace.events.list(task_sid=t1.sid, event_type="task.completed")
assert len(done_events) == 1 and done_events[0].resource_sid == t1.sid, done_events
again = workspace.events(done_events[0].sid).fetch()
assert (again.event_type, again.event_data["reason"]) == ("task.completed", "resolved"), again.event_data

# Statistics: real-time (open tasks, workers per activity), cumulative (from the history).
rt = workspace.real_time_statistics().fetch()
assert rt.total_workers == 2 and rt.total_tasks == 0, (rt.total_workers, rt.total_tasks)
by_activity = {a["friendly_name"]: a["workers"] for a in rt.activity_statistics}
assert by_activity["Available"] == 2, by_activity
cum = workspace.cumulative_statistics().fetch()
assert (cum.tasks_created, cum.tasks_completed) == (2, 2), (cum.tasks_created, cum.tasks_completed)
assert cum.reservations_created == 3 and cum.reservations_rejected == 1 and cum.reservations_accepted == 2, (
    cum.reservations_created, cum.reservations_rejected, cum.reservations_accepted)
english_stats = workspace.task_queues(english.sid).cumulative_statistics().fetch()
assert english_stats.tasks_entered == 2 and english_stats.reservations_accepted == 2, english_stats.tasks_entered
both = workspace.statistics().fetch()
assert both.cumulative["tasks_created"] == 2 and both.realtime["total_workers"] == 2, both.cumulative

# The workflow's statistics; acceptance waits split by a threshold; one channel only.
wf_both = workspace.workflows(wf.sid).statistics().fetch()
assert wf_both.cumulative["tasks_entered"] == 2 and wf_both.cumulative["reservations_accepted"] == 2, wf_both.cumulative
assert wf_both.realtime["total_tasks"] == 0 and wf_both.workflow_sid == wf.sid, wf_both.realtime
wf_cum = workspace.workflows(wf.sid).cumulative_statistics().fetch(minutes=60)
assert (wf_cum.tasks_completed, wf_cum.reservations_rejected) == (2, 1), (wf_cum.tasks_completed, wf_cum.reservations_rejected)
assert workspace.workflows(wf.sid).real_time_statistics().fetch().tasks_by_status["assigned"] == 0
split = workspace.cumulative_statistics().fetch(split_by_wait_time="0,3600")
assert split.split_by_wait_time["3600"]["below"]["reservations_accepted"] == 2, split.split_by_wait_time
assert split.split_by_wait_time["0"]["above"]["reservations_accepted"] == 2, split.split_by_wait_time
assert workspace.cumulative_statistics().fetch(task_channel="voice").tasks_created == 0
assert workspace.cumulative_statistics().fetch(task_channel="default").tasks_created == 2
expect_error(400, 20001, lambda: workspace.cumulative_statistics().fetch(task_channel="fax"))

# Worker statistics: every worker (real-time by activity, time spent per activity), one worker.
workers_both = workspace.workers.statistics().fetch()
assert workers_both.realtime["total_workers"] == 2, workers_both.realtime
assert workers_both.cumulative["reservations_accepted"] == 2, workers_both.cumulative
durations = {d["friendly_name"]: d for d in workers_both.cumulative["activity_durations"]}
assert set(durations) >= {"Available", "Offline"} and durations["Available"]["total"] >= 0, durations
spanish_workers = workspace.workers.statistics().fetch(task_queue_sid=spanish.sid).realtime
assert spanish_workers["total_workers"] == 1, spanish_workers
assert workspace.workers.real_time_statistics().fetch().total_workers == 2
workers_cum = workspace.workers.cumulative_statistics().fetch()
assert workers_cum.reservations_created == 3, workers_cum.reservations_created
one = workspace.workers(first_worker).statistics().fetch()
assert one.cumulative["reservations_rejected"] == 1 and one.worker_sid == first_worker, one.cumulative

# Every queue's statistics as a list, and the bulk real-time form (a JSON array of SIDs).
queue_stats = {q.task_queue_sid: q for q in workspace.task_queues.statistics.list()}
assert set(queue_stats) == {english.sid, spanish.sid}, queue_stats
assert queue_stats[english.sid].cumulative["tasks_entered"] == 2, queue_stats[english.sid].cumulative


class Sids(list):
    def to_dict(self):
        return list(self)


bulk = workspace.task_queues.bulk_real_time_statistics.create(body=Sids([english.sid, spanish.sid]))
assert bulk.task_queue_response_count == 2, bulk.task_queue_response_count
assert [q["task_queue_sid"] for q in bulk.task_queue_data] == [english.sid, spanish.sid], bulk.task_queue_data
assert bulk.task_queue_data[1]["total_eligible_workers"] == 1, bulk.task_queue_data[1]

# Spanish task: Spanish queue first (bob), then escalated to English after its 2 s timeout.
workspace.workers(bob.sid).update(activity_sid=lunch.sid)
t3 = workspace.tasks.create(attributes=json.dumps({"language": "es"}), workflow_sid=wf.sid, priority=1)
assert t3.task_queue_sid == spanish.sid and t3.assignment_status == "pending", (t3.task_queue_sid, t3.assignment_status)
spanish_rt = workspace.task_queues(spanish.sid).real_time_statistics().fetch()
assert spanish_rt.total_tasks == 1 and spanish_rt.tasks_by_status["pending"] == 1, spanish_rt.tasks_by_status
assert spanish_rt.longest_task_waiting_sid == t3.sid and spanish_rt.total_eligible_workers == 1, spanish_rt.total_eligible_workers
escalated = wait("the escalation", lambda: (lambda t: t if t.task_queue_sid == english.sid else None)(workspace.tasks(t3.sid).fetch()), timeout=6)
assert escalated.priority == 5, escalated.priority
workspace.tasks(t3.sid).update(assignment_status="canceled", reason="caller hung up")

# A list longer than one page.
for i in range(7):
    workspace.tasks.create(attributes=json.dumps({"language": "fr", "n": i}), workflow_sid=wf.sid)
listed = workspace.tasks.list(page_size=3)
assert len(listed) == 10 and len({t.sid for t in listed}) == 10, len(listed)
assert len(workspace.tasks.list(assignment_status="completed")) == 2
assert [w.sid for w in workspace.workers.list(target_workers_expression="languages HAS 'es'")] == [bob.sid]
assert len(workspace.tasks.list(evaluate_task_attributes="language == 'fr'")) == 7

# Supervisor reads (the taskrouter read model) agree with the API: the waiting French tasks
# (one reserved to alice, the rest pending) ranked 1..n in the English queue, and which
# reservations each worker holds on which channel.
sup = supervisor(f"/supervisor/v1/Workspaces/{ws.sid}/QueuePositions?TaskQueueSid={english.sid}")
waiting = [t for t in workspace.tasks.list(assignment_status="pending") + workspace.tasks.list(assignment_status="reserved")]
assert len(sup["queue_positions"]) == len(waiting), (sup, len(waiting))
assert [p["position"] for p in sup["queue_positions"]] == list(range(1, len(waiting) + 1)), sup
assert all(p["task_queue_sid"] == english.sid for p in sup["queue_positions"]), sup
assign = supervisor(f"/supervisor/v1/Workspaces/{ws.sid}/WorkerAssignments")
held = {w["worker_sid"]: w for w in assign["worker_assignments"]}
assert set(held) == {alice.sid, bob.sid}, held
for sid in (alice.sid, bob.sid):
    mine = [r for r in workspace.workers(sid).reservations.list() if r.reservation_status in ("pending", "accepted", "wrapping")]
    assert sorted(r["sid"] for r in held[sid]["reservations"]) == sorted(r.sid for r in mine), (held[sid], mine)
    default = next(c for c in held[sid]["channels"] if c["task_channel_unique_name"] == "default")
    assert default["assigned_tasks"] == len(mine) and default["configured_capacity"] == 1, default
assert held[bob.sid]["activity_name"] == "Lunch" and held[bob.sid]["available"] is False, held[bob.sid]
# Errors: Twilio's exceptions, and nothing changes.
expect_error(400, 20001, lambda: workspace.task_queues.create(friendly_name="bad", target_workers="languages HAS"))
expect_error(400, 20001, lambda: workspace.workflows.create(friendly_name="bad", configuration='{"task_routing": {"filters": 3}}'))
expect_error(400, 20001, lambda: workspace.tasks.create(attributes=json.dumps({"x": "y" * 5000}), workflow_sid=wf.sid))
expect_error(400, 20001, lambda: workspace.tasks.create(priority=-1, workflow_sid=wf.sid))
expect_error(404, 20404, lambda: workspace.tasks("WT" + "0" * 32).fetch())
assert len(workspace.tasks.list()) == 10
assert len(workspace.task_queues.list()) == 2

# Tenancy: another account (a subaccount here) sees none of it, and cannot change it.
other = client().api.v2010.accounts.create(friendly_name="Other tenant")
their = client(other.sid, other.auth_token).taskrouter.v1
assert ws.sid not in [w.sid for w in their.workspaces.list()]
expect_error(404, 20404, lambda: their.workspaces(ws.sid).fetch())
expect_error(404, 20404, lambda: their.workspaces(ws.sid).tasks(t1.sid).fetch())
expect_error(404, 20404, lambda: their.workspaces(ws.sid).tasks.create(attributes="{}", workflow_sid=wf.sid))
assert len(workspace.tasks.list()) == 10

# skip_if: a workflow whose first target skips when its queue has nobody available; a task
# created while the first queue's only worker is offline moves on at once and is reserved to
# the second queue's worker (a workspace of its own, so the figures above stay as they are).
skip_ws = tr.workspaces(tr.workspaces.create(friendly_name="Skip").sid)
skip_available = next(a.sid for a in skip_ws.activities.list() if a.friendly_name == "Available")
tier1 = skip_ws.task_queues.create(friendly_name="Tier 1", target_workers="tier == 1")
tier2 = skip_ws.task_queues.create(friendly_name="Tier 2", target_workers="tier == 2")
skip_configuration = {
    "task_routing": {
        "filters": [
            {
                "filter_friendly_name": "Tiers",
                "expression": "1==1",
                "targets": [{"queue": tier1.sid, "skip_if": "workers.available == 0"}, {"queue": tier2.sid}],
            }
        ]
    }
}
skip_wf = skip_ws.workflows.create(friendly_name="Skip when empty", configuration=json.dumps(skip_configuration))
assert json.loads(skip_wf.configuration) == skip_configuration
skip_ws.workers.create(friendly_name="away", attributes=json.dumps({"tier": 1}))
second_tier = skip_ws.workers.create(friendly_name="second", activity_sid=skip_available, attributes=json.dumps({"tier": 2}))
skipped = skip_ws.tasks.create(attributes="{}", workflow_sid=skip_wf.sid)
assert (skipped.assignment_status, skipped.task_queue_sid) == ("reserved", tier2.sid), (skipped.assignment_status, skipped.task_queue_friendly_name)
skip_reservations = skip_ws.tasks(skipped.sid).reservations.list()
assert [r.worker_sid for r in skip_reservations] == [second_tier.sid], skip_reservations

print("sdk taskrouter: ok")
