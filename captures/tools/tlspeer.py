#!/usr/bin/env python3
"""Small TLS/TCP peers used by captures/record.sh to produce failure cases that the
stock tools (openssl, gnutls, nginx, curl, socat) cannot produce on their own.

Every ClientHello sent from here is a real one, produced by Python's ssl module
(OpenSSL) through a memory BIO; nothing here assembles TLS bytes by hand except the
deliberate corruption in `client-malformed`.

Only loopback addresses are accepted.

  tlspeer.py [--keylog FILE] COMMAND ARGS...

--keylog FILE: every TLS context of the command appends its secrets to FILE in the NSS
key log format (SSLContext.keylog_filename), so that the capture can be decrypted.

Servers print "ready" on stdout once they listen, then serve one connection (or N).

  server-silent  HOST PORT SECS [N]     accept (N connections at once), read, never
                                        answer; hold each SECS seconds or until the
                                        client closes
  server-reset   HOST PORT [N]          N times: accept, read the ClientHello record, close
                                        with SO_LINGER {1, 0} (RST)
  server-close   HOST PORT [N]          N times: accept, read the ClientHello record,
                                        shutdown(SHUT_WR) (FIN), drain, close
  server-backlog HOST PORT FILLER SECS  listen(0), fill the accept queue with one
                                        connection from FILLER (never accepted), so that
                                        the kernel drops every further SYN; hold SECS
  client-tls12-echo HOST PORT SNI CAFILE  TLS 1.2 client (verifying), send a line, read
                                          the echo, close_notify, close
  client-hello-abort HOST PORT SNI      send a real TLS 1.2 ClientHello, read the server's
                                        first flight up to ServerHelloDone, then close
                                        the socket without answering (FIN, no alert)
  client-connect-close HOST PORT        TCP connect, wait a moment, close (no ClientHello)
  client-probe HOST PORT SNI CAFILE     a certificate check the way Python scripts do it:
                                        TLS client (verifying chain and name), handshake,
                                        read the peer certificate, close the socket
                                        (FIN, no close_notify, no data)
  client-probe-resume HOST PORT SNI CAFILE
                                        TLS 1.2 client-probe (handshake, close the socket
                                        at once: FIN, no close_notify, no data), then a
                                        second connection resuming that session (session
                                        id or ticket, as the server offers) that sends a
                                        request line, reads the answer and closes
  client-poll-noverify HOST PORT SNI N SECS
                                        a health check that does not verify, the way
                                        Python monitors do it: N times, SECS apart, a
                                        TLS 1.2 client with CERT_NONE and no name check
                                        completes the handshake and closes the socket
                                        (FIN, no close_notify, no data)
  client-resume-bad-finished HOST PORT SNI CAFILE
                                        TLS 1.2 client (verifying): a first connection
                                        sends a request line, reads the answer and sends
                                        close_notify; a second one resumes that session
                                        through a memory BIO and has the last byte of its
                                        encrypted Finished record flipped on the way out
                                        (the server's answer: bad_record_mac, encrypted,
                                        since it has sent its ChangeCipherSpec). Print
                                        the answer
  client-malformed HOST PORT SNI        send a real ClientHello whose supported_groups
                                        extension has an inner list length one byte short
                                        (odd); every outer length is consistent, so the
                                        SNI still parses. Print the answer
"""
import ipaddress
import socket
import ssl
import struct
import sys
import threading
import time


KEYLOG = None


def keyed(ctx):
    """The context, logging its secrets to --keylog FILE if given."""
    if KEYLOG:
        ctx.keylog_filename = KEYLOG
    return ctx


def loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"refusing non-loopback address {host}")
    return host


def listen(host, port, backlog=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((loopback(host), int(port)))
    s.listen(backlog)
    print("ready", flush=True)
    return s


def read_record(conn, timeout=5.0):
    """Read one full TLS record (header + body) or whatever arrives before timeout."""
    conn.settimeout(timeout)
    buf = b""
    try:
        while True:
            if len(buf) >= 5:
                need = 5 + struct.unpack("!H", buf[3:5])[0]
                if len(buf) >= need:
                    break
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    return buf


def client_hello(sni, max_version=None):
    """A real ClientHello from Python's ssl module, via a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_version is not None:
        ctx.maximum_version = max_version
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def connect(host, port, src=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((loopback(src), 0))
    s.connect((loopback(host), int(port)))
    return s


def server_silent(host, port, secs, count="1"):
    def hold(conn):
        conn.settimeout(0.2)
        end = time.time() + float(secs)
        while time.time() < end:
            try:
                if not conn.recv(65536):
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
        conn.close()

    s = listen(host, port)
    threads = []
    for _ in range(int(count)):
        conn, _ = s.accept()
        t = threading.Thread(target=hold, args=(conn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def server_reset(host, port, count="1"):
    s = listen(host, port)
    for _ in range(int(count)):
        conn, _ = s.accept()
        read_record(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    s.close()


def server_close(host, port, count="1"):
    s = listen(host, port)
    for _ in range(int(count)):
        conn, _ = s.accept()
        read_record(conn)
        conn.shutdown(socket.SHUT_WR)
        # Drain what the client may still send so that close() does not turn into a RST.
        conn.settimeout(2.0)
        try:
            while conn.recv(65536):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
        conn.close()
    s.close()


def server_backlog(host, port, filler, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((loopback(host), int(port)))
    s.listen(0)
    f = connect(host, port, src=filler)  # completes, sits in the accept queue
    time.sleep(0.2)
    print("ready", flush=True)
    time.sleep(float(secs))
    f.close()
    s.close()


def client_tls12_echo(host, port, sni, cafile):
    ctx = keyed(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile)
    raw = connect(host, port)
    tls = ctx.wrap_socket(raw, server_hostname=sni)
    tls.sendall(b"hello tlswhy\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = tls.recv(4096)
        if not chunk:
            break
        got += chunk
    print("echo:", got.decode(errors="replace").strip(), tls.version(), tls.cipher()[0])
    try:
        tls.unwrap()  # send close_notify (and wait for the server's)
    except (ssl.SSLError, OSError):
        pass
    raw.close()


def parse_handshake_types(data):
    """Handshake message types in a stream of plaintext TLS records."""
    hs = b""
    pos = 0
    while pos + 5 <= len(data):
        ctype = data[pos]
        length = struct.unpack("!H", data[pos + 3:pos + 5])[0]
        if pos + 5 + length > len(data):
            break
        if ctype == 22:
            hs += data[pos + 5:pos + 5 + length]
        pos += 5 + length
    types = []
    i = 0
    while i + 4 <= len(hs):
        mlen = int.from_bytes(hs[i + 1:i + 4], "big")
        if i + 4 + mlen > len(hs):
            break
        types.append(hs[i])
        i += 4 + mlen
    return types


def client_hello_abort(host, port, sni):
    s = connect(host, port)
    s.sendall(client_hello(sni, ssl.TLSVersion.TLSv1_2))
    data = b""
    end = time.time() + 5
    s.settimeout(0.5)
    while time.time() < end and 14 not in parse_handshake_types(data):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    print("server handshake messages:", parse_handshake_types(data))
    time.sleep(0.3)
    s.close()


def client_connect_close(host, port):
    s = connect(host, port)
    time.sleep(0.3)
    s.close()


def client_probe(host, port, sni, cafile):
    ctx = keyed(ssl.create_default_context(cafile=cafile))
    raw = connect(host, port)
    tls = ctx.wrap_socket(raw, server_hostname=sni)
    cert = tls.getpeercert()
    print("handshake:", tls.version(), tls.cipher()[0], "notAfter:", cert.get("notAfter"))
    tls.close()  # no unwrap(): Python closes the socket without close_notify


def client_poll_noverify(host, port, sni, n, secs):
    ctx = keyed(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    for i in range(int(n)):
        if i:
            time.sleep(float(secs))
        tls = ctx.wrap_socket(connect(host, port), server_hostname=sni)
        print("poll", i + 1, tls.version(), tls.cipher()[0])
        tls.close()  # no unwrap(): FIN without close_notify


def client_probe_resume(host, port, sni, cafile):
    ctx = keyed(ssl.create_default_context(cafile=cafile))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    first = ctx.wrap_socket(connect(host, port), server_hostname=sni)
    session = first.session
    first.close()  # no unwrap(): FIN without close_notify
    time.sleep(0.5)
    second = ctx.wrap_socket(connect(host, port), server_hostname=sni, session=session)
    print("resumed:", second.session_reused, second.version())
    second.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        while second.recv(4096):
            pass
    except (ssl.SSLError, OSError):
        pass
    second.close()


def client_resume_bad_finished(host, port, sni, cafile):
    ctx = keyed(ssl.create_default_context(cafile=cafile))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    first = ctx.wrap_socket(connect(host, port), server_hostname=sni)
    first.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        while first.recv(4096):
            pass
    except (ssl.SSLError, OSError):
        pass
    session = first.session
    try:
        first.unwrap()
    except (ssl.SSLError, OSError):
        pass
    first.close()
    time.sleep(0.5)
    s = connect(host, port)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni, session=session)
    s.settimeout(3.0)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = out.read()
            if pending:
                s.sendall(pending)
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("server closed during the handshake")
            inc.write(chunk)
    if not obj.session_reused:
        sys.exit("the server did not resume the session")
    flight = bytearray(out.read())  # ChangeCipherSpec, then the encrypted Finished
    flight[-1] ^= 0x01
    s.sendall(bytes(flight))
    answer = read_record(s, timeout=3.0)
    print("resumed; answer to the damaged Finished:", answer.hex())
    time.sleep(0.3)
    s.close()


def client_malformed(host, port, sni):
    hello = bytearray(client_hello(sni))
    # record(5) | type(1) len(3) | version(2) random(32) | sid | suites | compression | exts
    p = 5 + 4 + 2 + 32
    p += 1 + hello[p]
    p += 2 + struct.unpack("!H", hello[p:p + 2])[0]
    p += 1 + hello[p]
    ext_end = p + 2 + struct.unpack("!H", hello[p:p + 2])[0]
    assert ext_end == len(hello), "unexpected ClientHello layout"
    p += 2
    while p < ext_end:
        etype, elen = struct.unpack("!HH", hello[p:p + 4])
        if etype == 10:  # supported_groups: make its list length odd and one byte short
            inner = struct.unpack("!H", hello[p + 4:p + 6])[0]
            hello[p + 4:p + 6] = struct.pack("!H", inner - 1)
            break
        p += 4 + elen
    else:
        sys.exit("no supported_groups extension to corrupt")
    s = connect(host, port)
    s.sendall(bytes(hello))
    answer = read_record(s, timeout=3.0)
    print("answer:", answer.hex())
    time.sleep(0.3)
    s.close()


def main(argv):
    global KEYLOG
    if len(argv) > 2 and argv[1] == "--keylog":
        KEYLOG = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    table = {
        "server-silent": server_silent,
        "server-reset": server_reset,
        "server-close": server_close,
        "server-backlog": server_backlog,
        "client-tls12-echo": client_tls12_echo,
        "client-hello-abort": client_hello_abort,
        "client-connect-close": client_connect_close,
        "client-probe": client_probe,
        "client-probe-resume": client_probe_resume,
        "client-poll-noverify": client_poll_noverify,
        "client-resume-bad-finished": client_resume_bad_finished,
        "client-malformed": client_malformed,
    }
    if cmd not in table:
        sys.exit(__doc__)
    table[cmd](*args)


if __name__ == "__main__":
    main(sys.argv)
