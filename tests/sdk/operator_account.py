"""An account `switchboard accounts create` made through a running server's operator API,
used through the unmodified Twilio SDK: it fetches itself, creates a subaccount and a
TaskRouter workspace with a task routed to a worker. Prints the workspace SID; exits non-zero
(with the assertion) on any mismatch."""

import json
import os

from twilio_client import client

sid = os.environ["SWITCHBOARD_SID"]
c = client()

me = c.api.v2010.accounts(sid).fetch()
assert me.sid == sid and me.status == "active", me
assert me.owner_account_sid == sid, "a top-level account owns itself"
sub = c.api.v2010.accounts.create(friendly_name="made by the operator's customer")
assert sub.owner_account_sid == sid and len(sub.auth_token) == 32, sub

tr = c.taskrouter.v1
ws = tr.workspaces.create(friendly_name="operator-made account")
assert ws.account_sid == sid, ws.account_sid
available = [a for a in tr.workspaces(ws.sid).activities.list() if a.available][0]
queue = tr.workspaces(ws.sid).task_queues.create(friendly_name="Q", target_workers="1 == 1")
config = {"task_routing": {"filters": [], "default_filter": {"queue": queue.sid}}}
workflow = tr.workspaces(ws.sid).workflows.create(
    friendly_name="WF", configuration=json.dumps(config)
)
worker = tr.workspaces(ws.sid).workers.create(friendly_name="w", activity_sid=available.sid)
task = tr.workspaces(ws.sid).tasks.create(workflow_sid=workflow.sid, attributes="{}")
reservations = tr.workspaces(ws.sid).tasks(task.sid).reservations.list()
assert [r.worker_sid for r in reservations] == [worker.sid], reservations
print(ws.sid)
