#!/usr/bin/env python3
"""HTTPS server for the namespace test: one certificate whose SANs are the Microsoft endpoint
names, answers every request with a small body. usage: tlsd.py CERT KEY"""
import http.server
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    srv = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("tlsd ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
