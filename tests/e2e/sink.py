#!/usr/bin/env python3
"""sink.py - a minimal SMTP sink for mqsift's end-to-end tests.

Listens on ADDR:PORT (loopback only), accepts every message, and stores each one
as DIR/<n>.eml: the raw DATA (dot-unstuffed, CRLF kept as received) preceded by
three lines of envelope:
    X-Sink-Mail-From: <sender>
    X-Sink-Rcpt-To: <rcpt1> <rcpt2> ...
    X-Sink-Helo: <name>
and a blank line.  Exits by itself after --lifetime seconds.
"""
import argparse, os, socket, socketserver, threading, time, sys

class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink.test.local ESMTP sink")
        mail_from, rcpts, helo = None, [], ""
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                helo = cmd[5:]
                if verb == "EHLO":
                    self.reply("250-sink.test.local")
                    self.reply("250-8BITMIME")
                    self.reply("250-DSN")
                    self.reply("250 PIPELINING")
                else:
                    self.reply("250 sink.test.local")
            elif verb == "MAIL":
                arg = cmd[10:].strip()
                mail_from = arg.split(" ")[0]
                rcpts = []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip().split(" ")[0])
                self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = bytearray()
                while True:
                    l = self.rfile.readline(1 << 20)
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    data += l
                self.server.store(mail_from, rcpts, helo, bytes(data))
                self.reply("250 2.0.0 stored")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 ok")
            elif verb == "NOOP":
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")

class Sink(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, outdir):
        super().__init__(addr, Handler)
        self.outdir = outdir
        self.lock = threading.Lock()
        self.count = len(os.listdir(outdir))

    def store(self, mail_from, rcpts, helo, data):
        with self.lock:
            self.count += 1
            name = os.path.join(self.outdir, "%06d.eml" % self.count)
        head = ("X-Sink-Mail-From: %s\r\nX-Sink-Rcpt-To: %s\r\nX-Sink-Helo: %s\r\n\r\n"
                % (mail_from, " ".join(rcpts), helo)).encode("latin-1")
        with open(name + ".tmp", "wb") as f:
            f.write(head + data)
        os.rename(name + ".tmp", name)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.2")
    ap.add_argument("--port", type=int, default=2526)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    srv = Sink((a.addr, a.port), a.dir)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever(poll_interval=0.2)

if __name__ == "__main__":
    main()
