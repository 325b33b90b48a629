"""The 'internet' of the private Tor network test: HTTP on 80, HTTPS on 443
(certificate from the test CA) and SMTP on 25, on one address. Each request
or session is logged as one line ("http GET /path", "https GET /path",
"smtp session") to the log file: the servers' own count of what reached them.

With ADDRESS6, HTTP is also served on [ADDRESS6]:80, logged as "http6 GET".

usage: tornet_servers.py ADDRESS CERT KEY LOG [ADDRESS6]"""
import http.server
import socketserver
import ssl
import sys
import threading

import socket

addr, cert, key, log_path = sys.argv[1:5]
addr6 = sys.argv[5] if len(sys.argv) > 5 else None
lock = threading.Lock()


def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    scheme = "http"

    def do_GET(self):
        log(f"{self.scheme} GET {self.path}")
        body = b"exitflow test page\n" * 50
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TlsHandler(Handler):
    scheme = "https"


class Handler6(Handler):
    scheme = "http6"


class Smtp(socketserver.StreamRequestHandler):
    def handle(self):
        log("smtp session")
        w = self.wfile.write
        w(b"220 mail.exitflow.example ESMTP test\r\n")
        data = False
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if data:
                if line == b".":
                    data = False
                    w(b"250 2.0.0 queued\r\n")
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                w(b"250 mail.exitflow.example\r\n")
            elif verb == b"DATA":
                data = True
                w(b"354 end with .\r\n")
            elif verb == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"250 ok\r\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


http_srv = Server((addr, 80), Handler)
https_srv = Server((addr, 443), TlsHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
https_srv.socket = ctx.wrap_socket(https_srv.socket, server_side=True)
smtp_srv = Server((addr, 25), Smtp)
servers = [http_srv, https_srv, smtp_srv]
if addr6:
    class Server6(Server):
        address_family = socket.AF_INET6

    servers.append(Server6((addr6, 80), Handler6))
for s in servers:
    threading.Thread(target=s.serve_forever, daemon=True).start()
log("ready")
threading.Event().wait()
