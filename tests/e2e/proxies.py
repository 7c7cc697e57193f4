"""Two small forward proxies on loopback for the egress tests: an HTTP proxy
that tunnels with CONNECT and a SOCKS5 proxy (no authentication). Each records
the destinations it was asked for and relays bytes both ways; daemon threads,
bounded reads, everything ends when either side closes."""
import socket
import struct
import threading


class Proxy:
    def __init__(self, kind):
        self.kind = kind
        self.destinations = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"{'http' if kind == 'http' else 'socks5'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        client.settimeout(30)
        try:
            host, port = self._http(client) if self.kind == "http" else self._socks5(client)
            self.destinations.append((host, port))
            upstream = socket.create_connection((host, port), timeout=30)
        except (OSError, ValueError):
            client.close()
            return
        if self.kind == "http":
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", port))
        threading.Thread(target=_relay, args=(upstream, client), daemon=True).start()
        _relay(client, upstream)

    @staticmethod
    def _read_exactly(sock, count):
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ValueError("closed")
            data += chunk
        return data

    def _http(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(1024)
            if not chunk or len(head) > 8192:
                raise ValueError("no request head")
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            raise ValueError("only CONNECT")
        host, port = target.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def _socks5(self, client):
        version, count = self._read_exactly(client, 2)
        methods = self._read_exactly(client, count)
        if version != 5 or 0 not in methods:
            raise ValueError("no acceptable method")
        client.sendall(b"\x05\x00")
        version, command, _, kind = self._read_exactly(client, 4)
        if version != 5 or command != 1:
            raise ValueError("only CONNECT")
        if kind == 1:
            host = socket.inet_ntoa(self._read_exactly(client, 4))
        elif kind == 3:
            host = self._read_exactly(client, self._read_exactly(client, 1)[0]).decode()
        else:
            raise ValueError("address type")
        (port,) = struct.unpack(">H", self._read_exactly(client, 2))
        return host, port


def _relay(source, destination):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            destination.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, destination):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
