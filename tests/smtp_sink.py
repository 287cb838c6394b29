"""A minimal SMTP server for tests, on a free loopback port, one thread per connection.

Enough of RFC 5321 for Django's SMTP backend without TLS or login (EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT); Python 3.11 has no SMTP server in its standard library. A message counts as
delivered only once the sink has answered 250 to its end of data, as a real server takes
responsibility for a message only then. With `stall_data` set it never answers DATA: the client
waits there, mid-conversation, until it gives up or dies (`stalled` counts those).
"""

import email
import socket
import threading
from collections import Counter


class SmtpSink:
    def __init__(self):
        self.stall_data = False
        self.stalled = 0
        self.delivered: list[email.message.Message] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="smtp-sink").start()

    def recipients(self) -> Counter:
        """How many delivered messages each address received."""
        with self._lock:
            return Counter(message["To"] for message in self.delivered)

    def stalled_count(self) -> int:
        with self._lock:
            return self.stalled

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:

            def reply(text: str) -> None:
                connection.sendall(text.encode() + b"\r\n")

            reply("220 sink ESMTP")
            while line := reader.readline():
                command = line.strip().split(b" ", 1)[0].upper()
                if command == b"EHLO":
                    reply("250-sink\r\n250 8BITMIME")
                elif command in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    reply("250 OK")
                elif command == b"DATA":
                    if self.stall_data:
                        with self._lock:
                            self.stalled += 1
                        while reader.readline():  # until the client goes away
                            pass
                        return
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (data := reader.readline()) != b".\r\n":
                        if not data:  # the client went away before the end: nothing delivered
                            return
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    with self._lock:
                        self.delivered.append(email.message_from_bytes(b"".join(lines)))
                    reply("250 OK queued")
                elif command == b"QUIT":
                    reply("221 Bye")
                    return
                else:
                    reply("502 Command not implemented")
