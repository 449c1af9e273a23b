#!/usr/bin/env python3
"""A QUIC client and server on aioquic, for the QUIC scenarios of captures/record.sh.

aioquic's own example programs (http3_client.py, http3_server.py) come with its source
distribution, not with the wheel that pip installs, so this is a small peer on its API.
Every packet is aioquic's: nothing here assembles QUIC or TLS bytes.

  quicpeer.py server --listen IP:PORT --cert PEM --key PEM [--alpn A]... [--version V]...
                     [--retry] [--keylog FILE]
  quicpeer.py client --connect IP:PORT --sni NAME [--alpn A]... [--cafile PEM | --insecure]
                     [--version V]... [--keylog FILE] [--timeout SECS] [--get PATH]
                     [--fallback-tcp]

--alpn: an ALPN protocol to offer (client) or accept (server); repeat for more.
    Default: h3.
--version: v1 (0x00000001), v2 (RFC 9369, 0x6b3343cf) or a number (0x...); repeat for
    more. The server answers an Initial of any other version with Version Negotiation
    listing these. The client's first one is the version of its first Initial; on a
    Version Negotiation it picks the first of its versions that the server lists, or
    gives up ("Could not find a common protocol version"). Default: v1.
--retry: the server answers every Initial without a token with a Retry (address
    validation), and accepts the Initial that carries the token.
--keylog FILE: the TLS secrets in the NSS key log format, appended to FILE
    (QuicConfiguration.secrets_log_file).
--cafile: the CAs the client trusts (it checks the chain and the name --sni);
    --insecure: no check. One of the two is required.
--timeout SECS: the client gives up the handshake after SECS (default 5), and its idle
    timeout is SECS too; the server's idle timeout is 10 s.
--get PATH: once connected with ALPN h3, an HTTP/3 GET of PATH, answered with the body
    read to its end (the server answers any GET with 200 and a line of text).
    Without --get the client closes (NO_ERROR) right after the handshake.
--fallback-tcp: when the QUIC handshake times out (no answer at all), the client does
    what browsers do: TLS over TCP to the same address and port (Python's ssl, the same
    SNI and CA, ALPN http/1.1) and an HTTP/1.1 GET of --get's path (default /).

The server prints "listening" once its socket is bound; both print one line per event
(connected, the version and ALPN, the response, the close and its error code).
The client exits 0 on success, 1 on a failed or refused handshake, 2 on a timeout.
"""
import argparse
import asyncio
import socket
import ssl
import sys

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.h3.connection import H3_ALPN, ErrorCode, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
)
from aioquic.quic.packet import QuicProtocolVersion

VERSIONS = {"v1": QuicProtocolVersion.VERSION_1, "v2": QuicProtocolVersion.VERSION_2}


def version(v):
    return int(VERSIONS.get(v, 0) or int(v, 16))


def say(*args):
    print(*args, flush=True)


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class Peer(QuicConnectionProtocol):
    """Logs the connection's events; speaks HTTP/3 once h3 is negotiated."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = None
        self.response = None  # client: the future of its GET's (status, body)
        self.status = None
        self.body = b""

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            say(f"alpn {event.alpn_protocol}")
            if event.alpn_protocol in H3_ALPN:
                self.h3 = H3Connection(self._quic)
        elif isinstance(event, HandshakeCompleted):
            say(f"connected: version 0x{self._quic._version:08x}, alpn {event.alpn_protocol}, "
                f"resumed {event.session_resumed}")
        elif isinstance(event, ConnectionTerminated):
            ft = "-" if event.frame_type is None else f"0x{event.frame_type:x}"
            say(f"closed: error 0x{event.error_code:x}, frame type {ft}, "
                f"reason {event.reason_phrase!r}")
            if self.response is not None and not self.response.done():
                self.response.set_exception(ConnectionError(event.reason_phrase))
        if self.h3 is not None:
            for e in self.h3.handle_event(event):
                self.h3_event(e)
        super().quic_event_received(event)

    def h3_event(self, e):
        if isinstance(e, HeadersReceived):
            headers = dict(e.headers)
            if self._quic.configuration.is_client:
                self.status = headers.get(b":status", b"").decode()
            else:  # server: answer any request
                say(f"request {headers.get(b':method', b'').decode()} "
                    f"{headers.get(b':path', b'').decode()}")
                body = b"hello from aioquic over HTTP/3\n"
                self.h3.send_headers(e.stream_id, [
                    (b":status", b"200"), (b"server", b"quicpeer"),
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode())])
                self.h3.send_data(e.stream_id, body, end_stream=True)
                self.transmit()
        elif isinstance(e, DataReceived):
            self.body += e.data
        if (getattr(e, "stream_ended", False) and self.response is not None
                and not self.response.done()):
            self.response.set_result((self.status, self.body))

    async def get(self, host, path):
        stream_id = self._quic.get_next_available_stream_id()
        self.response = self._loop.create_future()
        self.h3.send_headers(stream_id, [
            (b":method", b"GET"), (b":scheme", b"https"), (b":authority", host.encode()),
            (b":path", path.encode()), (b"user-agent", b"quicpeer (aioquic)")],
            end_stream=True)
        self.transmit()
        return await self.response


def configuration(args, is_client):
    cfg = QuicConfiguration(is_client=is_client, alpn_protocols=args.alpn or ["h3"])
    cfg.supported_versions = [version(v) for v in (args.version or ["v1"])]
    if args.keylog:
        cfg.secrets_log_file = open(args.keylog, "a", buffering=1)
    return cfg


async def server(args):
    cfg = configuration(args, False)
    cfg.idle_timeout = 10.0
    cfg.load_cert_chain(args.cert, args.key)
    host, port = addr(args.listen)
    await serve(host, port, configuration=cfg, create_protocol=Peer, retry=args.retry)
    say(f"listening on udp {host}:{port}: alpn {cfg.alpn_protocols}, versions "
        f"{[f'0x{v:08x}' for v in cfg.supported_versions]}, retry {args.retry}")
    await asyncio.Future()


async def client(args):
    cfg = configuration(args, True)
    cfg.server_name = args.sni
    cfg.idle_timeout = args.timeout
    if args.insecure:
        cfg.verify_mode = ssl.CERT_NONE
    else:
        cfg.load_verify_locations(args.cafile)
    host, port = addr(args.connect)
    try:
        async with asyncio.timeout(args.timeout):
            async with connect(host, port, configuration=cfg, create_protocol=Peer) as peer:
                if args.get is not None and peer.h3 is not None:
                    status, body = await peer.get(args.sni, args.get)
                    say(f"response {status}, {len(body)} bytes: {body[:60]!r}")
                # HTTP/3 closes with H3_NO_ERROR (0x100), anything else with NO_ERROR
                peer.close(error_code=ErrorCode.H3_NO_ERROR if peer.h3 else 0)
                await peer.wait_closed()
    except TimeoutError:
        say(f"timeout: no QUIC handshake with {host}:{port} within {args.timeout} s")
        if args.fallback_tcp:
            return tcp_fallback(args, host, port)
        return 2
    except ConnectionError as e:
        say(f"handshake failed: {e}")
        return 1
    return 0


def tcp_fallback(args, host, port):
    say(f"falling back to TLS over TCP to {host}:{port}")
    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    if args.keylog:
        ctx.keylog_filename = args.keylog
    with socket.create_connection((host, port), timeout=args.timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=args.sni) as s:
            say(f"tcp: {s.version()}, alpn {s.selected_alpn_protocol()}")
            s.sendall(f"GET {args.get or '/'} HTTP/1.1\r\nHost: {args.sni}\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            status = data.split(b"\r\n", 1)[0]
            say(f"tcp response: {status!r}, {len(data)} bytes")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--retry", action="store_true")
    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--sni", required=True)
    trust = c.add_mutually_exclusive_group(required=True)
    trust.add_argument("--cafile")
    trust.add_argument("--insecure", action="store_true")
    c.add_argument("--timeout", type=float, default=5.0)
    c.add_argument("--get")
    c.add_argument("--fallback-tcp", action="store_true")
    for p in (s, c):
        p.add_argument("--alpn", action="append")
        p.add_argument("--version", action="append")
        p.add_argument("--keylog")
    args = ap.parse_args()
    if args.mode == "server":
        try:
            asyncio.run(server(args))
        except KeyboardInterrupt:
            pass
        return 0
    return asyncio.run(client(args))


if __name__ == "__main__":
    sys.exit(main())
