"""A Twilio voice application, written the way an integrator writes one: TwiML built with the
official helper library's `VoiceResponse`, every webhook checked with its `RequestValidator`.

The voice tests (tests/it/voice/) start it with an account's auth token and port 0; it prints
`listening on PORT` on stdout once it serves. Every request is recorded, with whether its
`X-Twilio-Signature` validated against the exact URL requested and the form parameters, and
`GET /__log` returns the record as JSON, so a test can fail on one bad signature. Only the
standard library's http.server and the twilio package are used: the application is as plain
as an integrator's, and nothing in it comes from switchboard.

Routes (any method; GET takes its parameters from the query, POST from the form body):
  /voice          Say WELCOME, then Gather numDigits action=/gathered with a nested Say PROMPT;
                  sets the cookie `call=<CallSid>` (Twilio keeps cookies per call, so the
                  call's later requests carry it: see their recorded headers)
  /gathered       records Digits; Play <this app's /tone.wav URL>, then Redirect /goodbye
  /goodbye        Hangup
  /busy           Reject reason=busy
  /fail           HTTP 500
  /malformed      broken XML (as text/xml)
  /fallback       records ErrorCode and ErrorUrl; Say FALLBACK, then Hangup
  /silent-gather  Gather timeout=1 (no prompt); falling through: Say NO_INPUT, then Hangup
  /<name>         a file handed over with --file NAME=PATH (tone.wav, speech.wav): a plain
                  GET, not signed, since Twilio does not sign the fetch of a <Play> URL
  /__log          the record: [{path, method, url, query, params, headers, signature,
                  signature_valid, webhook}]
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse


class Form(dict):
    """Form parameters as the validator wants them: a dict, with `getall` for repeated names
    (what Flask's MultiDict hands it), so a repeated name is signed with all its values."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = pairs

    def getall(self, name):
        return [v for k, v in self.pairs if k == name]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--auth-token", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--num-digits", type=int, default=1)
    p.add_argument("--welcome", default="welcome to switchboard")
    p.add_argument("--prompt", default="please press a key")
    p.add_argument("--fallback-say", default="the fallback answered")
    p.add_argument("--no-input-say", default="no input")
    p.add_argument("--file", action="append", default=[], metavar="NAME=PATH")
    return p.parse_args()


ARGS = parse_args()
VALIDATOR = RequestValidator(ARGS.auth_token)
FILES = dict(f.split("=", 1) for f in ARGS.file)
LOG = []
LOG_LOCK = threading.Lock()


def twiml(path, url_of):
    """The TwiML (or None, for the routes that are not TwiML) a webhook path answers with."""
    r = VoiceResponse()
    if path == "/voice":
        r.say(ARGS.welcome)
        g = Gather(num_digits=ARGS.num_digits, action="/gathered")
        g.say(ARGS.prompt)
        r.append(g)
    elif path == "/gathered":
        r.play(url_of("/tone.wav"))
        r.redirect("/goodbye")
    elif path == "/goodbye":
        r.hangup()
    elif path == "/busy":
        r.reject(reason="busy")
    elif path == "/fallback":
        r.say(ARGS.fallback_say)
        r.hangup()
    elif path == "/silent-gather":
        r.append(Gather(timeout=1, action="/gathered"))
        r.say(ARGS.no_input_say)
        r.hangup()
    else:
        return None
    return str(r)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the record is /__log; keep stderr for errors
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def reply(self, status, content_type, body, cookie=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        split = urlsplit(self.path)
        path = split.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if path == "/__log":
            with LOG_LOCK:
                record = json.dumps(LOG).encode()
            return self.reply(200, "application/json", record)

        host = self.headers.get("Host", "")
        # The exact URL the caller requested: what Twilio signs (VOICE-NOTES §3.1).
        url = "http://" + host + self.path
        if self.command == "POST":
            pairs = parse_qsl(body, keep_blank_values=True)
        else:
            pairs = parse_qsl(split.query, keep_blank_values=True)
        signature = self.headers.get("X-Twilio-Signature")
        names = [k for k, _ in pairs]
        form = Form(pairs) if len(set(names)) < len(names) else dict(pairs)
        # A GET is signed as its URL alone: the query is already in `url`.
        params = form if self.command == "POST" else {}
        valid = VALIDATOR.validate(url, params, signature or "")
        media = path.lstrip("/") in FILES
        with LOG_LOCK:
            LOG.append({
                "path": path,
                "method": self.command,
                "url": url,
                "query": split.query,
                "params": dict(pairs),
                "headers": {k: v for k, v in self.headers.items()},
                "signature": signature,
                "signature_valid": valid,
                "webhook": not media,
            })

        if media:
            with open(FILES[path.lstrip("/")], "rb") as f:
                return self.reply(200, "audio/wav", f.read())
        if path == "/fail":
            return self.reply(500, "text/plain", b"the application failed\n")
        if path == "/malformed":
            return self.reply(200, "text/xml", b"<?xml version=\"1.0\"?><Response><Say>unclosed")
        doc = twiml(path, lambda p: "http://" + host + p)
        if doc is None:
            return self.reply(404, "text/plain", b"no such route\n")
        cookie = None
        if path == "/voice":
            cookie = "call=%s; Path=/" % dict(pairs).get("CallSid", "")
        self.reply(200, "text/xml", doc.encode(), cookie)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
