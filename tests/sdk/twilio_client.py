"""The official Twilio Python helper library, unchanged, pointed at a switchboard server.

Twilio's SDK builds https://api.twilio.com/... and https://taskrouter.twilio.com/... URLs and
has no host setting; the supported way to reach another server is a custom HttpClient (the
SDK's own advanced-examples/custom-http-client.md). This one keeps the path and query and
swaps scheme and host for the server's, so every request -- paging links included -- lands
on switchboard's real paths (/2010-04-01/..., /v1/...).
"""

import os
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class SwitchboardHttpClient(TwilioHttpClient):
    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def client(sid=None, token=None):
    """A Client for the server and account named by SWITCHBOARD_URL, _SID and _TOKEN."""
    return Client(
        sid or os.environ["SWITCHBOARD_SID"],
        token or os.environ["SWITCHBOARD_TOKEN"],
        http_client=SwitchboardHttpClient(os.environ["SWITCHBOARD_URL"]),
    )
