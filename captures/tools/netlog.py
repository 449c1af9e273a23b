#!/usr/bin/env python3
"""Print what a Chromium net log (--log-net-log=FILE) says about the connections to one
host, one line per fact, for record.sh to check with grep (browser_saw).

  netlog.py NETLOG HOST:PORT ADDRESS:PORT

HOST:PORT is the URL's, ADDRESS:PORT where Chromium resolves it (--host-resolver-rules).
Lines, in the order of the log:
  tcp_connect ADDRESS:PORT local=IP:PORT ssl=VERSION/PROTOCOL
    one per TCP connection Chromium made to ADDRESS:PORT (source SOCKET: TCP_CONNECT),
    with the outcome of its TLS handshake (SSL_CONNECT: the version and the protocol
    ALPN picked, or "net_error=N (NAME)"; "-" when the log has none); a connect that
    failed is "tcp_connect ADDRESS:PORT net_error=N (NAME)";
  quic_session HOST:PORT packets_sent=N packets_received=N[ close_on_error=NET_ERROR (NAME)]
      closed quic_error=N (NAME) from_peer=true|false details=...
    one per QUIC session (source QUIC_SESSION) to HOST:PORT: the packets it sent and
    received (QUIC_SESSION_PACKET_SENT, QUIC_SESSION_PACKET_RECEIVED), the net error it
    was closed on (QUIC_SESSION_CLOSE_ON_ERROR, when there is one) and its close
    (QUIC_SESSION_CLOSED; "closed -" when the log has none);
  quic_sessions N: how many there were;
  response URL via=h2|quic|http/1.1 STATUS-LINE
    one per response headers read for a URL on HOST:PORT (URL_REQUEST:
    HTTP_TRANSACTION_*READ_RESPONSE_HEADERS), "via" from the request headers the
    transaction sent (HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS: HTTP/2 over TCP,
    HTTP_TRANSACTION_QUIC_SEND_REQUEST_HEADERS: HTTP/3, HTTP_TRANSACTION_SEND_REQUEST_HEADERS:
    HTTP/1.1). Chromium writes the status line of every response as HTTP/1.1.
Event and error names come from the log's own constants. A log cut short (the browser
ended before it closed the file) is read up to its last complete event.
"""
import json
import sys


def load(path):
    text = open(path, errors="replace").read().rstrip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    # Events are written one per line, each ending in "},": keep the complete ones.
    return json.loads(text[: text.rfind("},") + 1] + "]}")


def main():
    path, target, address = sys.argv[1], sys.argv[2], sys.argv[3]
    log = load(path)
    consts = log["constants"]
    event = {v: k for k, v in consts["logEventTypes"].items()}
    source = {v: k for k, v in consts["logSourceType"].items()}
    net_error = {v: k for k, v in consts.get("netError", {}).items()}
    quic_error = {v: k for k, v in consts.get("quicError", {}).items()}
    sessions, requests, sockets, out = {}, {}, {}, []
    for e in log["events"]:
        name = event.get(e["type"], str(e["type"]))
        stype = source.get(e["source"]["type"], "")
        sid, p = e["source"]["id"], e.get("params") or {}
        if stype == "QUIC_SESSION":
            if name == "QUIC_SESSION" and e.get("phase") == 1:
                if f'{p.get("host")}:{p.get("port")}' == target:
                    sessions[sid] = {"sent": 0, "received": 0, "error": None, "closed": None}
                    out.append(("quic", sid))
            s = sessions.get(sid)
            if s is None:
                continue
            if name == "QUIC_SESSION_PACKET_SENT":
                s["sent"] += 1
            elif name == "QUIC_SESSION_PACKET_RECEIVED":
                s["received"] += 1
            elif name == "QUIC_SESSION_CLOSE_ON_ERROR":
                s["error"] = p.get("net_error")
            elif name == "QUIC_SESSION_CLOSED" and s["closed"] is None:
                s["closed"] = p
        elif stype == "SOCKET":
            if name == "TCP_CONNECT" and e.get("phase") == 1 and address in p.get("address_list", []):
                sockets[sid] = {"local": None, "error": None, "ssl": "-"}
                out.append(("tcp", sid))
            t = sockets.get(sid)
            if t is None or e.get("phase") != 2:
                continue
            if name == "TCP_CONNECT":
                t["local"], t["error"] = p.get("local_address"), p.get("net_error")
            elif name == "SSL_CONNECT":
                t["ssl"] = (f'net_error={p["net_error"]} ({net_error.get(p["net_error"], "?")})'
                            if p.get("net_error") else f'{p.get("version")}/{p.get("next_proto")}')
        elif stype == "URL_REQUEST":
            if name == "URL_REQUEST_START_JOB" and e.get("phase") == 1:
                requests[sid] = {"url": p.get("url", ""), "via": "-"}
            r = requests.get(sid)
            if r is None or f"//{target}/" not in r["url"]:
                continue
            if name == "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS":
                r["via"] = "h2"
            elif name == "HTTP_TRANSACTION_QUIC_SEND_REQUEST_HEADERS":
                r["via"] = "quic"
            elif name == "HTTP_TRANSACTION_SEND_REQUEST_HEADERS":
                r["via"] = "http/1.1"
            elif name.endswith("READ_RESPONSE_HEADERS") and p.get("headers"):
                out.append(("response", f'response {r["url"]} via={r["via"]} {p["headers"][0]}'))
    n = 0
    for kind, v in out:
        if kind == "response":
            print(v)
            continue
        if kind == "tcp":
            t = sockets[v]
            if t["error"]:
                print(f'tcp_connect {address} net_error={t["error"]} ({net_error.get(t["error"], "?")})')
            else:
                print(f'tcp_connect {address} local={t["local"]} ssl={t["ssl"]}')
            continue
        n += 1
        s = sessions[v]
        line = f'quic_session {target} packets_sent={s["sent"]} packets_received={s["received"]}'
        if s["error"] is not None:
            line += f' close_on_error={s["error"]} ({net_error.get(s["error"], "?")})'
        c = s["closed"]
        if c is None:
            line += " closed -"
        else:
            q = c.get("quic_error")
            line += (f' closed quic_error={q} ({quic_error.get(q, "?")})'
                     f' from_peer={str(c.get("from_peer")).lower()} details={c.get("details", "")}')
        print(line)
    print(f"quic_sessions {n}")


if __name__ == "__main__":
    main()
