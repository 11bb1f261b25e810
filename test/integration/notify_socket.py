"""A unix datagram socket standing in for systemd's $NOTIFY_SOCKET, for tests."""

import socket
import threading
import time


class NotifySocket:
    """A unix datagram socket standing in for systemd's $NOTIFY_SOCKET; records every
    message with its arrival time."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, text)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def texts(self):
        with self.lock:
            return [m for _, m in self.messages]

    def times(self, prefix):
        with self.lock:
            return [t for t, m in self.messages if m.startswith(prefix)]

    def wait_for(self, prefix, timeout, after=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, m in self.messages:
                    if t > after and m.startswith(prefix):
                        return t
            time.sleep(0.05)
        raise AssertionError(f"no {prefix!r} within {timeout} s; got {self.texts()[-10:]}")

    def close(self):
        self.running = False
        self.sock.close()
