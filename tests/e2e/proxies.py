"""Two small forward proxies on loopback for the egress tests: an HTTP proxy
that tunnels with CONNECT and a SOCKS5 proxy (no authentication). Each records
the destinations it was asked for and relays bytes both ways; daemon threads,
bounded reads, everything ends when either side closes."""
import base64
import socket
import struct
import threading


class Proxy:
    def __init__(self, kind, auth=None):
        self.kind = kind
        self.auth = auth  # (user, password) the proxy demands, or None
        self.refused = 0
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
            if host is None:
                self.refused += 1
                client.close()
                return
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
        lines = head.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        if method != "CONNECT":
            raise ValueError("only CONNECT")
        if self.auth:
            expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            given = [line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("proxy-authorization:")]
            if given != [expected]:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
                return None, None
        host, port = target.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def _socks5(self, client):
        version, count = self._read_exactly(client, 2)
        methods = self._read_exactly(client, count)
        wanted = 2 if self.auth else 0
        if version != 5 or wanted not in methods:
            client.sendall(b"\x05\xff")
            return None, None
        client.sendall(bytes([5, wanted]))
        if self.auth:
            _, user_length = self._read_exactly(client, 2)
            user = self._read_exactly(client, user_length).decode()
            password = self._read_exactly(client, self._read_exactly(client, 1)[0]).decode()
            if (user, password) != tuple(self.auth):
                client.sendall(b"\x01\x01")
                return None, None
            client.sendall(b"\x01\x00")
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
