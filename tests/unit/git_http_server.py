#!/usr/bin/env python3
"""A Git smart-HTTP server for tests: `git http-backend` behind HTTP Basic auth
on 127.0.0.1.

Usage: git_http_server.py ROOT PORTFILE
Serves the repositories under ROOT at http://127.0.0.1:PORT/<name>.git and
writes PORT to PORTFILE once listening. Every request must carry Basic auth
whose password equals the environment variable BERTH_TEST_HTTP_TOKEN (the
token never appears on a command line); otherwise 401. Each request logs
"auth user=NAME ok=BOOL" (never the password) on stderr. With
BERTH_TEST_HTTP_REDIRECT=BASE set it answers every request with a redirect
to BASE + path instead. With BERTH_TEST_HTTP_CERT and BERTH_TEST_HTTP_KEY
(PEM files) it speaks https. Runs until killed.
"""
import base64
import http.server
import os
import ssl
import subprocess
import sys

ROOT, PORTFILE = sys.argv[1], sys.argv[2]
TOKEN = os.environ["BERTH_TEST_HTTP_TOKEN"]
REDIRECT = os.environ.get("BERTH_TEST_HTTP_REDIRECT")


def read_chunked(rfile):
    body = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += rfile.read(size)
        rfile.readline()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response: libgit2 1.5 misreads a keep-alive 401 whose
    # body arrives in a later TCP segment than its headers.
    wbufsize = 1 << 20

    def log_message(self, fmt, *args):
        sys.stderr.write("git_http_server: " + (fmt % args) + "\n")

    def authorized(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user_pass = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        user, _, password = user_pass.partition(":")
        ok = password == TOKEN
        sys.stderr.write("git_http_server: auth user=%s ok=%s\n" % (user, ok))
        return ok

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_git(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if REDIRECT:
            self.reply(302, [("Location", REDIRECT + self.path)], b"")
            return
        if not self.authorized():
            self.reply(401, [("WWW-Authenticate", 'Basic realm="berth-test"')],
                       b"authentication required\n")
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": ROOT,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "test",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             stdout=subprocess.PIPE, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key.strip(), value.strip()))
        self.reply(status, headers, payload)

    do_GET = handle_git
    do_POST = handle_git


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if os.environ.get("BERTH_TEST_HTTP_CERT"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["BERTH_TEST_HTTP_CERT"],
                            os.environ["BERTH_TEST_HTTP_KEY"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
