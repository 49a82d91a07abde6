"""Minimal RFC 6455 server side for the fake ComfyUI.

Only what a ComfyUI client needs: the upgrade handshake on an HTTP
connection that ``http.server`` already parsed, unmasked text/binary frames
out, and masked client frames in (text, binary, continuation, ping, pong,
close).
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import queue
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler
from typing import Callable

log = logging.getLogger(__name__)

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_FRAME = 16 * 1024 * 1024


def is_upgrade_request(handler: BaseHTTPRequestHandler) -> bool:
    """True when the parsed request asks for a WebSocket upgrade."""
    upgrade = handler.headers.get("Upgrade", "")
    connection = handler.headers.get("Connection", "")
    return upgrade.lower() == "websocket" and "upgrade" in connection.lower()


def accept_key(key: str) -> str:
    digest = hashlib.sha1((key + _GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


class WebSocketConnection:
    """One accepted WebSocket. Sends are queued to a writer thread, so a client that
    does not read never blocks the server; reads run in ``serve``."""

    def __init__(self, sock: socket.socket, rfile) -> None:  # rfile: buffered reader of sock
        self.sock = sock
        self.rfile = rfile
        self.closed = threading.Event()
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="fake-comfy-ws-writer", daemon=True)
        self._writer.start()

    def _write_loop(self) -> None:
        while True:
            frame = self._out.get()
            if frame is None or self.closed.is_set():
                return
            try:
                self.sock.sendall(frame)
            except OSError as exc:
                log.debug("websocket send failed: %s", exc)
                self.closed.set()
                return

    @classmethod
    def accept(cls, handler: BaseHTTPRequestHandler) -> "tuple[WebSocketConnection, bytes] | None":
        """Check the upgrade request; return the connection and its unsent 101 answer, or reply 400.

        The caller queues the 101 with ``send_raw`` after registering the socket, so no
        message sent in between can be lost or overtake the handshake.
        """
        key = handler.headers.get("Sec-WebSocket-Key")
        version = handler.headers.get("Sec-WebSocket-Version")
        if not key or version != "13":
            handler.send_response(400)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii")
        handler.connection.settimeout(None)
        return cls(handler.connection, handler.rfile), answer

    def send_raw(self, data: bytes) -> None:
        self._out.put(data)

    # ---- sending -------------------------------------------------------
    def _send_frame(self, opcode: int, payload: bytes) -> bool:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(n)
        elif n < 65536:
            header.append(126)
            header += struct.pack("!H", n)
        else:
            header.append(127)
            header += struct.pack("!Q", n)
        if self.closed.is_set():
            return False
        self._out.put(bytes(header) + payload)
        return True

    def send_text(self, text: str) -> bool:
        return self._send_frame(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> bool:
        return self._send_frame(OP_BINARY, data)

    def close(self, code: int = 1000) -> None:
        """Polite close: flush queued frames and a close frame, then shut the socket down."""
        self._send_frame(OP_CLOSE, struct.pack("!H", code))
        self._finish()

    def _finish(self) -> None:
        self._out.put(None)
        if threading.current_thread() is not self._writer:
            self._writer.join(timeout=2)
        self.drop()

    def drop(self) -> None:
        """Abrupt close, as when the network or the server goes away (queued frames are lost)."""
        self.closed.set()
        self._out.put(None)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- receiving -----------------------------------------------------
    def _read_exact(self, n: int) -> bytes | None:
        data = self.rfile.read(n) if n else b""
        if data is None or len(data) < n:
            return None
        return data

    def _read_frame(self) -> tuple[bool, int, bytes] | None:
        head = self._read_exact(2)
        if head is None:
            return None
        fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        masked, length = bool(head[1] & 0x80), head[1] & 0x7F
        if length == 126:
            ext = self._read_exact(2)
            if ext is None:
                return None
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self._read_exact(8)
            if ext is None:
                return None
            length = struct.unpack("!Q", ext)[0]
        if length > _MAX_FRAME or not masked:
            return None  # clients must mask; refuse absurd frames
        mask = self._read_exact(4)
        payload = self._read_exact(length)
        if mask is None or payload is None:
            return None
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return fin, opcode, data

    def serve(self, on_text: Callable[[str], None]) -> None:
        """Read frames until the peer closes or the socket drops."""
        fragments: list[bytes] = []
        frag_op = OP_TEXT
        try:
            while not self.closed.is_set():
                frame = self._read_frame()
                if frame is None:
                    break
                fin, opcode, data = frame
                if opcode == OP_PING:
                    self._send_frame(OP_PONG, data)
                elif opcode == OP_PONG:
                    continue
                elif opcode == OP_CLOSE:
                    code = data[:2] if len(data) >= 2 else struct.pack("!H", 1000)
                    self._send_frame(OP_CLOSE, code)
                    break
                elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                    if opcode != OP_CONT:
                        fragments, frag_op = [], opcode
                    fragments.append(data)
                    if fin:
                        message = b"".join(fragments)
                        fragments = []
                        if frag_op == OP_TEXT:
                            on_text(message.decode("utf-8", errors="replace"))
                else:
                    break
        except OSError as exc:
            log.debug("websocket read ended: %s", exc)
        finally:
            self._finish()


class SocketHub:
    """Open sockets by clientId (sid), like ComfyUI's PromptServer.sockets."""

    def __init__(self, features: dict) -> None:
        self._lock = threading.RLock()
        self._sockets: dict[str, tuple[WebSocketConnection, dict]] = {}
        self._features = features

    def _targets(self, sid: str | None) -> list[tuple[WebSocketConnection, dict]]:
        with self._lock:
            if sid is None:
                return list(self._sockets.values())
            return [self._sockets[sid]] if sid in self._sockets else []

    def send(self, event: str, data: dict, sid: str | None) -> None:
        """To one client, or broadcast when sid is None (queued under the lock: one global order)."""
        text = json.dumps({"type": event, "data": data})
        with self._lock:
            for ws, _flags in self._targets(sid):
                ws.send_text(text)

    def send_preview(self, sid: str | None, prompt_id: str, node_id: str, jpeg: bytes) -> None:
        """Binary preview: type 1 + format 1 (JPEG), or type 4 with JSON metadata when negotiated."""
        for ws, flags in self._targets(sid):
            if flags.get("supports_preview_metadata"):
                meta = json.dumps({"node_id": node_id, "prompt_id": prompt_id, "display_node_id": node_id,
                                   "parent_node_id": None, "real_node_id": node_id,
                                   "image_type": "image/jpeg"}).encode()
                ws.send_binary(struct.pack(">II", 4, len(meta)) + meta + jpeg)
            else:
                ws.send_binary(struct.pack(">II", 1, 1) + jpeg)

    def drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = list(self._sockets.values()), {}
        for ws, _flags in sockets:
            ws.drop()

    def serve(self, handler: BaseHTTPRequestHandler, sid: str, greeting: list[dict]) -> None:
        """Upgrade, register under sid (replacing an older socket), greet, then read until closed."""
        accepted = WebSocketConnection.accept(handler)
        if accepted is None:
            return
        ws, answer = accepted
        flags: dict = {}
        entry = (ws, flags)
        with self._lock:  # register, answer 101 and greet before any other message can be queued
            self._sockets[sid] = entry
            ws.send_raw(answer)
            for message in greeting:
                ws.send_text(json.dumps(message))
        first = [True]

        def on_text(text: str) -> None:
            try:
                msg = json.loads(text)
            except ValueError:
                return
            if first[0] and isinstance(msg, dict) and msg.get("type") == "feature_flags":
                flags.update(msg.get("data") or {})
                ws.send_text(json.dumps({"type": "feature_flags", "data": self._features}))
            first[0] = False

        ws.serve(on_text)
        with self._lock:
            if self._sockets.get(sid) is entry:
                del self._sockets[sid]
