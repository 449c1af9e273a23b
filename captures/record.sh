#!/usr/bin/env bash
# Tools (Debian 12, as root): install only what is missing.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"; _missing=$(for t in tcpdump:tcpdump nginx:nginx-light gnutls-serv:gnutls-bin gnutls-cli:gnutls-bin socat:socat curl:curl openssl:openssl tshark:tshark editcap:tshark mergecap:tshark python3:python3 ss:iproute2 setsid:util-linux go:golang-go node:nodejs java:openjdk-17-jdk-headless javac:openjdk-17-jdk-headless apache2:apache2 haproxy:haproxy caddy:caddy lighttpd:lighttpd sslh:sslh sshd:openssh-server ssh:openssh-client gtlsclient:ngtcp2-client gtlsserver:ngtcp2-server nft:nftables ethtool:ethtool vsftpd:vsftpd chromium:chromium firefox-esr:firefox-esr certutil:libnss3-tools; do command -v "${t%%:*}" >/dev/null 2>&1 || echo "${t#*:}"; done | sort -u); if [ -n "$_missing" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $_missing; fi; python3 -c 'import pyroute2' 2>/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pyroute2; }; [ -e /usr/lib/lighttpd/mod_openssl.so ] || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y lighttpd-mod-openssl; }; dpkg -s python3-venv >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; }
#
# record.sh — record tlswhy's sample captures from REAL TLS programs on loopback.
#
#   sudo bash captures/record.sh                 # every scenario (about 2 min)
#   sudo bash captures/record.sh sni_missing ... # only these (expected.json keeps the rest)
#   KEEP_WORK=1 sudo bash captures/record.sh     # keep the temp dir (certs, program logs)
#
# One capture per scenario, captures/<scenario>.pcap, recorded with
# `tcpdump -i lo -U --immediate-mode -s 0` (without --immediate-mode libpcap's TPACKET_V3
# ring keeps packets until its block times out, and a SIGINT then loses them) and a
# filter limited to the scenario's addresses and ports, then
# captures/expected.json: the expected verdict of every handshake attempt (tools/expected.py),
# after checking with tshark that each capture holds exactly the TCP connections listed,
# in that order, with those servers, SNIs and plaintext alerts. Any mismatch fails the run.
#
# Traffic goes only to 127.0.0.0/8, except in the tunnel scenarios, which make network
# namespaces (tw-*) joined by a veth pair, run the kernel's VXLAN between them, capture on
# the veth (CAP_NETNS, CAP_IFACE) and delete the namespaces afterwards. Certificates are
# made fresh in a temp dir each run.
#
# Besides OpenSSL, GnuTLS, nginx, curl and Python, the scenarios after `mixed` use Go
# crypto/tls, Node.js tls, Java JSSE and rustls (small peers in tools/: gopeer/, nodepeer.js,
# JavaPeer.java, rustlspeer/, built on first use), Apache httpd mod_ssl, HAProxy health
# checks and SNI routing, Caddy, OpenVPN over TCP, and the browsers Chromium and Firefox
# ESR, headless (browsers_*; certutil from libnss3-tools) (installed on first use). The rustls peer is a Cargo project built with `cargo build --locked`
# (crates from crates.io, Rust >= 1.78, e.g. from rustup: Debian 12's rustc is too old);
# its build is cached in $TLSWHY_RECORD_CACHE (default ~/.cache/tlswhy-record).
# erlang_stacks and botan_stacks use Erlang/OTP 25's ssl (tools/erlpeer.escript; packages
# erlang-base erlang-ssl erlang-public-key erlang-crypto) and Botan 2.19 (the botan CLI's
# tls_server/tls_client, and tools/botanpeer.cpp built with g++ into the temp dir; packages
# botan libbotan-2-dev g++), installed on first use, on 127.0.0.1 TCP 4560-4568, 4570-4577.
#
# The keys_* scenarios also keep the TLS secrets of their connections: captures/<name>.keys
# (NSS key log format, written by the clients and s_server) and captures/<name>.dsb.pcapng
# (the capture with that key log in a Decryption Secrets Block); expected.py checks that
# tshark decrypts them (see keylog/keys_finish).
#
# The quic_* scenarios record QUIC (UDP) from aioquic (tools/quicpeer.py, on aioquic from
# PyPI, pinned, installed on first use into a venv in $TLSWHY_RECORD_CACHE), ngtcp2's
# example client and server (Debian's ngtcp2-client/ngtcp2-server, on GnuTLS) and TQUIC's
# example server (tquic_server from the crate tquic_tools on crates.io, pinned, built on
# first use with `cargo install --locked` into $TLSWHY_RECORD_CACHE; its BoringSSL needs
# cmake), on 127.0.0.1 UDP 4600-4613 and 4618-4623, and in two network namespaces made
# here (tw-qc, tw-qs: a veth pair, 10.254.0.1 and 10.254.0.2) for the blocked cases
# (nftables dropping UDP to the server's ports 4614-4616 in tw-qs) and the stateless reset
# (UDP 4617, a slow uplink: a tbf qdisc on the client's end of the pair); quic_browser_race
# records Chromium racing QUIC against TCP (Alt-Svc from nginx, UDP dropped) in a third
# namespace, tw-qb (its own lo only; TCP and UDP 4624); quic_firefox records Firefox ESR
# speaking HTTP/3 to aioquic servers in a fourth, tw-qf (its own lo only; UDP 4625-4629),
# and quic_firefox_blocked Firefox ESR learning HTTP/3 from nginx's Alt-Svc while UDP is
# dropped, staying on HTTP/2, in a fifth, tw-qg (its own lo only; TCP and UDP 4630);
# quic_firefox_refused Firefox ESR told to use HTTP/3 where UDP is dropped and nothing
# listens on TCP, in a sixth, tw-qr (its own lo only; TCP and UDP 4631).
# Their attempts are UDP flows: `expect_quic` lines, verified by expected.py with tshark's
# QUIC dissector, go under "quic" in expected.json. Where the clients write their
# secrets, captures/<name>.keys holds them (see quic_keys_finish).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$HERE/tools
PEER=(python3 "$TOOLS/tlspeer.py")
[ "$(id -u)" -eq 0 ] || { echo "record.sh: run as root (tcpdump on lo)" >&2; exit 1; }

ALL=(ok_tls13 ok_nginx_curl ok_tls12 no_shared_cipher protocol_version_mismatch
     sni_missing sni_unrecognized relay_ip_sni cert_name_mismatch sni_hostile cert_unknown_ca
     cert_expired cert_self_signed cert_rejected_tls13 client_cert_required
     client_cert_rejected alpn_mismatch plaintext_to_tls_port tls_to_plaintext_port
     connection_refused connection_timeout no_response_timeout
     server_reset_after_client_hello server_closed_after_client_hello client_aborted
     fatal_alert malformed_handshake incomplete_capture mixed
     apache_httpd caddy haproxy_check client_cert_required_stacks cert_rejected_stacks
     alpn_mismatch_stacks
     probe_ok self_signed_trusted haproxy_check_tls13 tls13_ends_after_ticket
     no_response_timeout_stacks client_cert_required_gnutls_java client_cert_tls13_stacks tls13_flight_closes refused_hellos_stacks
     probes_and_early_data
     protocol_version_old_server
     protocol_version_tls11_refused sni_ip_literal_node node_tls12_drop health_checks
     nameless_hello_refused sni_router tls_in_openvpn
     cert_rejected_java_tls13 alpn_mismatch_tls13 snaplen_cut snaplen_96 starttls_ftp other_protocols_on_tls_ports
     sha1_signature virtual_hosts resumption_proves_acceptance lighttpd tunnel_vxlan tunnel_nested
     tso_big_tcp capture_losses alert_lost_in_transit keys_tls13 keys_tls13_suites keys_tls12
     browsers_tls12 browsers_tls13 erlang_stacks botan_stacks
     quic_ok quic_ok_ngtcp2 quic_alpn_mismatch quic_version_mismatch quic_cert_rejected
     quic_connection_refused quic_udp_blocked quic_tcp_fallback quic_stateless_reset
     quic_transport_error quic_migration quic_draft29 quic_browser_race quic_firefox
     quic_firefox_blocked quic_firefox_refused)
MIXED_INPUTS=(ok_tls12 no_shared_cipher sni_unrecognized cert_expired connection_refused)

WORK=$(mktemp -d /tmp/tlswhy-record.XXXXXX)
SPEC=$WORK/spec.tsv
QSPEC=$WORK/spec-quic.tsv
: >"$SPEC"
: >"$QSPEC"
PIDS=()
TCPDUMP_PID=

log() { printf '\n== %s\n' "$*" >&2; }
die() {
    printf 'record.sh: FAILED: %s\n' "$*" >&2
    exit 1
}
# apt_install NAME PACKAGE...: Debian packages a scenario installs on first use, apt's
# output in $WORK/apt-NAME.log.
apt_install() {
    local name=$1
    shift
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; } \
        >"$WORK/apt-$name.log" 2>&1 || die "apt-get install $* (see $WORK/apt-$name.log)"
}

# ---------------------------------------------------------------- processes -----------
# start NAME CMD...: a background program in its own process group, killed by stop_all.
start() {
    local name=$1
    shift
    setsid "$@" </dev/null >>"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=($!)
}

# stop_pid PID: end one program started by `start` (its process group) before the rest.
stop_pid() {
    kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# wait_log NAME PATTERN [SECS]: until the program's log shows PATTERN.
wait_log() {
    local i
    for i in $(seq 1 $((${3:-10} * 20))); do
        grep -Eq "$2" "$WORK/$1.log" 2>/dev/null && return 0
        sleep 0.05
    done
    die "$1: no '$2' in its log after ${3:-10} s (see $WORK/$1.log)"
}

stop_all() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}

# wait_listen IP PORT: until something listens there (checked with ss: no traffic), in
# the network namespace $QNS if set. Java listens on an IPv6 socket bound to the
# IPv4-mapped address ([::ffff:127.0.0.1]).
wait_listen() {
    local i
    for i in $(seq 1 200); do
        if ${QNS:+ip netns exec "$QNS"} ss -Hltn "sport = :$2" | awk '{print $4}' | grep -Eq "^(\\[::\\]|\\*|0\\.0\\.0\\.0|$1|\\[::ffff:$1\\]):$2\$"; then
            return 0
        fi
        sleep 0.05
    done
    die "nothing listens on $1:$2 (see $WORK/*.log)"
}

# run NAME SECS CMD...: a client, bounded in time, output to its log; failure is expected.
run() {
    local name=$1 secs=$2
    shift 2
    echo "+ $*" >>"$WORK/$name.log"
    timeout "$secs" "$@" >>"$WORK/$name.log" 2>&1 || true
}

# ---------------------------------------------------------------- capture --------------
# The capture is written in the temp dir and moved into captures/ only once tcpdump has
# stopped cleanly, so an interrupted run never leaves a truncated capture behind.
capture_start() { # NAME FILTER [DEST_DIR (default: captures/)]
    CAP_NAME=$1
    CAP_DEST=${3:-$HERE}
    local f=$WORK/cap/$1.pcap
    mkdir -p "$WORK/cap"
    rm -f "$f"
    timeout -s INT 120 ${CAP_NETNS:+ip netns exec "$CAP_NETNS"} tcpdump -i "${CAP_IFACE:-lo}" -U --immediate-mode -s "${CAP_SNAPLEN:-0}" -n -Z root -w "$f" "$2" \
        >"$WORK/tcpdump.$1.log" 2>&1 &
    TCPDUMP_PID=$!
    local i
    for i in $(seq 1 200); do
        grep -q 'listening on' "$WORK/tcpdump.$1.log" 2>/dev/null && { sleep 0.2; return 0; }
        sleep 0.05
    done
    die "tcpdump did not start: $(cat "$WORK/tcpdump.$1.log")"
}

capture_stop() { # [discard]
    [ -n "$TCPDUMP_PID" ] || return 0
    sleep 0.5
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=
    [ "${1:-}" != discard ] || return 0
    local l=$WORK/tcpdump.$CAP_NAME.log
    echo "   tcpdump: $(grep -E 'captured|dropped by kernel' "$l" | tr '\n' ' ')" >&2
    grep -q '^0 packets dropped by kernel' "$l" || die "tcpdump lost packets: $(cat "$l")"
    ! grep -q '^0 packets captured' "$l" || die "tcpdump captured nothing: $(cat "$l")"
    mv -f "$WORK/cap/$CAP_NAME.pcap" "$CAP_DEST/$CAP_NAME.pcap"
}

# ---------------------------------------------------------------- key logs -----------
# Keyed scenarios (keys_*): every TLS client, and s_server, writes its secrets in the NSS
# key log format to a file of its own under $WORK/keys/SCENARIO/ (`keylog SCENARIO WHO`
# prints the path). keys_finish SCENARIO, after capture_stop, keeps the lines of the
# capture's connections in captures/SCENARIO.keys (tools/keylog.py) and writes the twin
# captures/SCENARIO.dsb.pcapng: the same packets with the key log in a Decryption
# Secrets Block (editcap --inject-secrets), which tshark reads without being told.
keylog() { # SCENARIO WHO
    mkdir -p "$WORK/keys/$1"
    echo "$WORK/keys/$1/$2.keys"
}
keys_finish() { # SCENARIO
    python3 "$TOOLS/keylog.py" "$HERE/$1.pcap" "$HERE/$1.keys" "$WORK/keys/$1"/*.keys ||
        die "$1: key log"
    rm -f "$HERE/$1.dsb.pcapng"
    editcap --inject-secrets "tls,$HERE/$1.keys" "$HERE/$1.pcap" "$HERE/$1.dsb.pcapng" ||
        die "$1: editcap --inject-secrets"
}

cleanup() {
    local rc=$?
    capture_stop discard || true
    stop_all || true
    tun_ns_del || true
    rm -rf "$WORK/profiles"   # the browsers' homes and profiles, even when the logs are kept
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -eq 1 ]; then   # kept on failure, for the logs
        echo "record.sh: temp dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# expect SCENARIO SERVER CODE SNI ALERTS NOTE [KEYS_CODE DECRYPTED_ALERTS]: one handshake
# attempt, in connection order.
# SNI "-" = no server_name. ALERTS = every plaintext alert of the connection, in order:
# "server:40", "client:42", "-" for none (encrypted alerts are not listed); warnings as
# "client:warning:90"; a trailing "?" for an alert that a race may leave out of the capture.
# Keyed scenarios (captures with a key log, see keys_finish) add KEYS_CODE, the code with
# the keys ("-": the same as CODE), and DECRYPTED_ALERTS, every alert that tshark reads
# with the keys (plaintext and decrypted ones), in order, written like ALERTS.
expect() {
    local IFS=$'\t'
    printf '%s\n' "$1.pcap$IFS${*:2}" >>"$SPEC"
}

# ---------------------------------------------------------------- certificates ---------
C=$WORK/pki
make_certs() {
    mkdir -p "$C/newcerts"
    : >"$C/index.txt"
    echo 1000 >"$C/serial"
    export PKI=$C SAN=DNS:unused.invalid
    cat >"$C/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_int ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
[ v3_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca ]
default_ca = testca
[ testca ]
dir = $ENV::PKI
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
EOF
    local cnf=$C/openssl.cnf rsa=(-newkey rsa:2048) ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    (
        cd "$C"
        # CAs: the test CA (RSA), an intermediate under it, an unrelated CA (EC P-256).
        openssl req -config "$cnf" -x509 -new "${rsa[@]}" -nodes -keyout ca.key -out ca.pem \
            -days 3650 -sha256 -subj "/O=tlswhy/CN=tlswhy test CA" -extensions v3_ca
        openssl req -config "$cnf" -x509 -new "${ec[@]}" -nodes -keyout other-ca.key -out other-ca.pem \
            -days 3650 -sha256 -subj "/O=elsewhere/CN=unrelated test CA" -extensions v3_ca
        openssl req -config "$cnf" -new "${rsa[@]}" -nodes -keyout int.key -out int.csr \
            -subj "/O=tlswhy/CN=tlswhy test intermediate CA"
        openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out int.pem \
            -days 3650 -sha256 -extfile "$cnf" -extensions v3_int
        # emby.example.com (RSA: RSA key exchange must work), signed by the test CA.
        openssl req -config "$cnf" -new "${rsa[@]}" -nodes -keyout emby.key -out emby.csr \
            -subj "/CN=emby.example.com"
        SAN=DNS:emby.example.com openssl x509 -req -in emby.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out emby.pem -days 825 -sha256 -extfile "$cnf" -extensions v3_server
        # the same name with an EC P-256 key (ECDSA suites), signed by the test CA
        openssl req -config "$cnf" -new "${ec[@]}" -nodes -keyout emby-ec.key -out emby-ec.csr \
            -subj "/CN=emby.example.com"
        SAN=DNS:emby.example.com openssl x509 -req -in emby-ec.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -out emby-ec.pem -days 825 -sha256 -extfile "$cnf" -extensions v3_server
        # the same name and key, issued by the unrelated CA (no client here trusts it)
        SAN=DNS:emby.example.com openssl x509 -req -in emby.csr -CA other-ca.pem -CAkey other-ca.key \
            -CAcreateserial -out emby-other.pem -days 825 -sha256 -extfile "$cnf" -extensions v3_server
        # the same name, issued by the intermediate (served without it: incomplete chain)
        SAN=DNS:emby.example.com openssl x509 -req -in emby.csr -CA int.pem -CAkey int.key \
            -CAcreateserial -out emby-int.pem -days 825 -sha256 -extfile "$cnf" -extensions v3_server
        # expired: valid 2020-01-01 .. 2021-01-01, signed by the test CA
        openssl req -config "$cnf" -new "${rsa[@]}" -nodes -keyout expired.key -out expired.csr \
            -subj "/CN=emby.example.com"
        SAN=DNS:emby.example.com openssl ca -config "$cnf" -batch -notext -in expired.csr \
            -out expired.pem -startdate 20200101000000Z -enddate 20210101000000Z -extensions v3_server
        # self-signed leaf (EC P-256)
        SAN=DNS:emby.example.com openssl req -config "$cnf" -x509 -new "${ec[@]}" -nodes \
            -keyout selfsigned.key -out selfsigned.pem -days 825 -sha256 \
            -subj "/CN=emby.example.com" -extensions v3_server
        # a client certificate from the unrelated CA (EC P-256)
        openssl req -config "$cnf" -new "${ec[@]}" -nodes -keyout client-other.key \
            -out client-other.csr -subj "/CN=alice@elsewhere.example"
        openssl x509 -req -in client-other.csr -CA other-ca.pem -CAkey other-ca.key \
            -CAcreateserial -out client-other.pem -days 825 -sha256 -extfile "$cnf" -extensions v3_client
        # the emby key and certificate as PKCS#12, for the Java server
        openssl pkcs12 -export -in emby.pem -inkey emby.key -name emby -out emby.p12 -passout pass:tlswhy
    ) >"$WORK/pki.log" 2>&1 || die "certificate generation (see $WORK/pki.log)"
}

# ---------------------------------------------------------------- program helpers ------
get_req() { printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1"; }

# s_client reading nothing (stdin held open 1 s so the peer's answer is read)
sc_fail() { # LOG ARGS...
    local name=$1
    shift
    echo "+ openssl s_client $*" >>"$WORK/$name.log"
    { sleep 1 | timeout 10 openssl s_client -no-CApath -no-CAstore "$@"; } >>"$WORK/$name.log" 2>&1 || true
}
# s_client sending a GET and reading until the server closes
sc_get() { # LOG HOST ARGS...
    local name=$1 host=$2
    shift 2
    echo "+ openssl s_client $*" >>"$WORK/$name.log"
    { get_req "$host" | timeout 10 openssl s_client -no-CApath -no-CAstore -ign_eof "$@"; } \
        >>"$WORK/$name.log" 2>&1 || true
}

# gnutls-cli reading nothing (stdin held open 1 s)
gc_fail() { # LOG ARGS...
    local name=$1
    shift
    echo "+ gnutls-cli $*" >>"$WORK/$name.log"
    { sleep 1 | timeout 10 gnutls-cli "$@"; } >>"$WORK/$name.log" 2>&1 || true
}

s_server() { # ACCEPT ARGS...  (-www: answers GET, serves connection after connection)
    local acc=$1
    shift
    start s_server timeout 120 openssl s_server -accept "$acc" -www "$@"
    wait_listen "${acc%:*}" "${acc##*:}"
}

gnutls_serv() { # PORT ARGS...
    local port=$1
    shift
    start gnutls-serv timeout 120 gnutls-serv -p "$port" "$@"
    wait_listen 127.0.0.1 "$port"
}

# nginx_start NAME: nginx with the http{} body read from stdin; own prefix, pid, logs;
# in the network namespace $QNS if set.
nginx_start() {
    local d=$WORK/nginx-$1
    mkdir -p "$d/tmp"
    {
        cat <<EOF
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    default_type text/plain;
    ssl_protocols TLSv1.2 TLSv1.3;   # nginx 1.22's default has no TLSv1.3
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
        cat
        echo "}"
    } >"$d/nginx.conf"
    nginx -t -q -c "$d/nginx.conf" -p "$d/" -e "$d/error.log" >>"$WORK/nginx-$1.log" 2>&1 ||
        die "nginx config $d/nginx.conf: $(cat "$WORK/nginx-$1.log")"
    start "nginx-$1" ${QNS:+ip netns exec "$QNS"} timeout 120 nginx -c "$d/nginx.conf" -p "$d/" -e "$d/error.log"
}

# nginx_emby NAME IP PORT BODY: nginx serving emby.example.com (the RSA certificate) over
# TLS on IP:PORT, answering every request with the line BODY; returns once it listens.
nginx_emby() { # NAME IP PORT BODY [MORE DIRECTIVES]
    nginx_start "$1" <<EOF
    server {
        listen $2:$3 ssl;
        server_name emby.example.com;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        ${5:-}
        location / { return 200 "$4\n"; }
    }
EOF
    wait_listen "$2" "$3"
}

CURL=(curl -sS --max-time 8 --cacert "$C/ca.pem" -o /dev/null -w '%{http_code} %{ssl_verify_result}\n')

# ---------------------------------------------------------------- other TLS stacks -----
# Go, Java and rustls peers are built on first use (Go and Java into the temp dir, rustls
# into a cache, since its crates take a while to compile); Node runs its script directly.
BIN=$WORK/bin
CACHE=${TLSWHY_RECORD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tlswhy-record}
GOPEER=$BIN/gopeer
NODEPEER=(node "$TOOLS/nodepeer.js")
JAVAPEER=(java -cp "$BIN/java" JavaPeer)
RUSTLSPEER=$CACHE/rustlspeer/release/rustlspeer
RUSTLS_BUILT=

need_go() {
    [ -x "$GOPEER" ] && return 0
    mkdir -p "$BIN"
    (cd "$TOOLS/gopeer" && go build -o "$GOPEER" main.go) >"$WORK/build-go.log" 2>&1 ||
        die "go build of tools/gopeer (see $WORK/build-go.log)"
}

need_java() {
    [ -f "$BIN/java/JavaPeer.class" ] && return 0
    javac -d "$BIN/java" "$TOOLS/JavaPeer.java" >"$WORK/build-java.log" 2>&1 ||
        die "javac tools/JavaPeer.java (see $WORK/build-java.log)"
}

need_rustls() {
    [ -z "$RUSTLS_BUILT" ] || return 0
    local cargo
    cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
    [ -x "$cargo" ] || die "the rustls scenarios need cargo (Rust >= 1.78, e.g. rustup); none in PATH or ~/.cargo/bin"
    log "building tools/rustlspeer (cached in $CACHE)"
    CARGO_TARGET_DIR=$CACHE/rustlspeer "$cargo" build --release --locked \
        --manifest-path "$TOOLS/rustlspeer/Cargo.toml" >"$WORK/build-rustls.log" 2>&1 ||
        die "cargo build of tools/rustlspeer (see $WORK/build-rustls.log)"
    RUSTLS_BUILT=1
}

# go_server / node_server / java_server / rustls_server NAME ADDR ARGS...: a TLS server on
# that stack (options: see the usage at the top of each peer), started and listening.
go_server() {
    local name=$1 addr=$2
    shift 2
    need_go
    start "$name" timeout 120 "$GOPEER" server -addr "$addr" "$@"
    wait_listen "${addr%:*}" "${addr##*:}"
}
node_server() {
    local name=$1 addr=$2
    shift 2
    start "$name" timeout 120 "${NODEPEER[@]}" server --addr "$addr" "$@"
    wait_listen "${addr%:*}" "${addr##*:}"
}
java_server() { # serves emby.example.com (emby.p12)
    local name=$1 addr=$2
    shift 2
    need_java
    start "$name" timeout 120 "${JAVAPEER[@]}" server --addr "$addr" --p12 "$C/emby.p12" --pass tlswhy "$@"
    wait_listen "${addr%:*}" "${addr##*:}"
}
rustls_server() {
    local name=$1 addr=$2
    shift 2
    need_rustls
    start "$name" timeout 120 "$RUSTLSPEER" server --addr "$addr" "$@"
    wait_listen "${addr%:*}" "${addr##*:}"
}
# go_client / node_client / java_client / rustls_client LOG ARGS...: one client run,
# bounded in time, output to its log.
go_client() { need_go; run "$1" 10 "$GOPEER" client "${@:2}"; }
node_client() { run "$1" 10 "${NODEPEER[@]}" client "${@:2}"; }
java_client() { need_java; run "$1" 15 "${JAVAPEER[@]}" client "${@:2}"; }
rustls_client() { need_rustls; run "$1" 10 "$RUSTLSPEER" client "${@:2}"; }

# apache_start NAME: Apache httpd 2.4 (mod_ssl) in the foreground (-X), with the Listen
# lines and <VirtualHost> blocks read from stdin; its own ServerRoot, pid, logs, htdocs.
apache_start() {
    local d=$WORK/apache-$1
    mkdir -p "$d/htdocs" "$d/logs"
    echo "hello from Apache httpd" >"$d/htdocs/index.html"
    # requests are served as www-data, which must reach htdocs (the keys stay 0600)
    chmod 711 "$WORK" "$d"
    chmod 755 "$d/htdocs"
    chmod 644 "$d/htdocs/index.html"
    {
        cat <<APACHE
ServerRoot $d
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
TypesConfig /etc/mime.types
User www-data
Group www-data
ServerName localhost
PidFile $d/httpd.pid
DefaultRuntimeDir $d
Mutex file:$d default
ErrorLog $d/logs/error.log
LogLevel info
DocumentRoot $d/htdocs
SSLSessionCache shmcb:$d/ssl_scache(512000)
APACHE
        cat
    } >"$d/httpd.conf"
    apache2 -t -f "$d/httpd.conf" >>"$WORK/apache-$1.log" 2>&1 ||
        die "apache config $d/httpd.conf: $(cat "$WORK/apache-$1.log")"
    start "apache-$1" timeout 120 apache2 -X -f "$d/httpd.conf"
}

# caddy_start NAME: Caddy 2 with the site blocks read from stdin (no admin endpoint, no
# automatic HTTPS, HTTP/1.1 and HTTP/2 only: nothing on UDP); data and config in the temp dir.
caddy_start() {
    local d=$WORK/caddy-$1
    mkdir -p "$d"
    {
        cat <<CADDY
{
    admin off
    auto_https off
    storage file_system $d/data
    servers {
        protocols h1 h2
    }
}
CADDY
        cat
    } >"$d/Caddyfile"
    start "caddy-$1" env HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" \
        timeout 120 caddy run --config "$d/Caddyfile" --adapter caddyfile
}

# haproxy_check NAME FRONTEND_PORT SERVER_ADDR SERVER_OPTIONS...: HAProxy 2.6 with one
# backend server under `check` (the first check runs at start, the next 30 s later: one
# check per run); returns once the check's result is in the log. HAProxy keeps running
# (its frontend on 127.0.0.1:FRONTEND_PORT proxies HTTP to the server) until
# `stop_pid $HAPROXY_PID`.
haproxy_check() {
    local name=$1 fe=$2 addr=$3 d=$WORK/haproxy-$1
    shift 3
    mkdir -p "$d"
    cat >"$d/haproxy.cfg" <<HAPROXY
global
    log stdout format raw local0 info
defaults
    log global
    mode http
    option http-server-close
    timeout connect 2s
    timeout check 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:$fe
    default_backend be
backend be
    option log-health-checks
    server s1 $addr check inter 30s $*
HAPROXY
    haproxy -c -q -f "$d/haproxy.cfg" >>"$WORK/haproxy-$name.log" 2>&1 ||
        die "haproxy config $d/haproxy.cfg: $(cat "$WORK/haproxy-$name.log")"
    start "haproxy-$name" timeout 60 haproxy -db -f "$d/haproxy.cfg"
    HAPROXY_PID=$LAST_PID
    wait_log "haproxy-$name" "Health check for server be/s1 (succeeded|failed)"
}

# ---------------------------------------------------------------- scenarios ------------
sc_ok_tls13() {
    s_server 127.0.0.1:4433 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start ok_tls13 "tcp and host 127.0.0.1 and port 4433"
    expect ok_tls13 127.0.0.1:4433 ok emby.example.com - \
        "openssl s_client -> openssl s_server, TLS 1.3, certificate verified, HTTP GET answered by s_server -www, then close"
    sc_get c emby.example.com -connect 127.0.0.1:4433 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_hostname emby.example.com -verify_return_error
    capture_stop
}

sc_ok_nginx_curl() {
    nginx_start ok <<EOF
    server {
        listen 127.0.0.3:443 ssl;
        server_name emby.example.com;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "hello from emby.example.com\n"; }
    }
EOF
    wait_listen 127.0.0.3 443
    capture_start ok_nginx_curl "tcp and host 127.0.0.3 and port 443"
    expect ok_nginx_curl 127.0.0.3:443 ok emby.example.com - \
        "curl --resolve emby.example.com:443:127.0.0.3 -> nginx 1.22, TLS 1.3, HTTP/1.1 200"
    run c 10 "${CURL[@]}" --tlsv1.3 --resolve emby.example.com:443:127.0.0.3 https://emby.example.com/
    capture_stop
}

sc_ok_tls12() {
    gnutls_serv 4434 --echo -a --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
    capture_start ok_tls12 "tcp and host 127.0.0.1 and port 4434"
    expect ok_tls12 127.0.0.1:4434 ok emby.example.com - \
        "python3 ssl client (max TLS 1.2, verifying) -> gnutls-serv --echo: a line each way, close_notify both ways"
    run c 10 "${PEER[@]}" client-tls12-echo 127.0.0.1 4434 emby.example.com "$C/ca.pem"
    capture_stop
}

sc_no_shared_cipher() {
    nginx_start nsc <<EOF
    server {
        listen 127.0.0.1:4433 ssl;
        server_name emby.example.com;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        ssl_protocols TLSv1.2;
        ssl_ciphers AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256;
        location / { return 200 "plugin repository\n"; }
    }
EOF
    wait_listen 127.0.0.1 4433
    capture_start no_shared_cipher "tcp and host 127.0.0.1 and port 4433"
    expect no_shared_cipher 127.0.0.1:4433 ok emby.example.com - \
        "curl --tlsv1.2 --ciphers AES128-SHA256 succeeds: shows the server picks TLS_RSA_WITH_AES_128_CBC_SHA256"
    run c 10 "${CURL[@]}" --tlsv1.2 --tls-max 1.2 --ciphers AES128-SHA256 \
        --resolve emby.example.com:4433:127.0.0.1 https://emby.example.com:4433/
    expect no_shared_cipher 127.0.0.1:4433 ok emby.example.com - \
        "curl --tlsv1.2 --ciphers AES256-SHA succeeds: the server picks TLS_RSA_WITH_AES_256_CBC_SHA"
    run c 10 "${CURL[@]}" --tlsv1.2 --tls-max 1.2 --ciphers AES256-SHA \
        --resolve emby.example.com:4433:127.0.0.1 https://emby.example.com:4433/
    expect no_shared_cipher 127.0.0.1:4433 no_shared_cipher emby.example.com server:40 \
        "s_client -tls1_2 offering only ECDHE suites; nginx (ssl_ciphers AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256) answers handshake_failure(40), no ServerHello"
    sc_fail c -connect 127.0.0.1:4433 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem" \
        -cipher 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA'
    capture_stop
}

sc_protocol_version_mismatch() {
    s_server 127.0.0.1:4433 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4435 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start protocol_version_mismatch "tcp and host 127.0.0.1 and (port 4433 or port 4435)"
    expect protocol_version_mismatch 127.0.0.1:4433 protocol_version_mismatch emby.example.com server:70 \
        "client max TLS 1.2 (s_client -tls1_2) vs server TLS 1.3 only (s_server -tls1_3): protocol_version(70) from the server"
    sc_fail c -connect 127.0.0.1:4433 -tls1_2 -servername emby.example.com
    expect protocol_version_mismatch 127.0.0.1:4435 protocol_version_mismatch emby.example.com server:70 \
        "client TLS 1.3 only (s_client -tls1_3) vs server max TLS 1.2 (s_server -tls1_2): protocol_version(70) from the server"
    sc_fail c -connect 127.0.0.1:4435 -tls1_3 -servername emby.example.com
    capture_stop
}

nginx_sni() {
    nginx_start sni <<EOF
    server {
        listen 127.0.0.1:4436 ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen 127.0.0.1:4436 ssl;
        server_name emby.example.com;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        location / { return 200 "emby\n"; }
    }
EOF
    wait_listen 127.0.0.1 4436
}

sc_sni_missing() {
    nginx_sni
    capture_start sni_missing "tcp and host 127.0.0.1 and port 4436"
    expect sni_missing 127.0.0.1:4436 sni_missing - server:112 \
        "s_client -noservername -> nginx whose default server has ssl_reject_handshake on: unrecognized_name(112)"
    sc_fail c -connect 127.0.0.1:4436 -noservername -CAfile "$C/ca.pem"
    expect sni_missing 127.0.0.1:4436 sni_missing - server:112 \
        "curl https://127.0.0.1:4436/ (an IP: curl sends no SNI) -> same nginx: unrecognized_name(112)"
    run c 10 "${CURL[@]}" https://127.0.0.1:4436/
    capture_stop
}

# A server that takes hellos without a name refuses one for what it offers, not for the
# missing name: the scanners' case (sslscan, nmap's ssl-enum-ciphers and testssl send no
# name and try hellos a server refuses).
sc_nameless_hello_refused() {
    nginx_emby nameless 127.0.0.1 4496 "hello from emby.example.com"
    capture_start nameless_hello_refused "tcp and host 127.0.0.1 and port 4496"
    expect nameless_hello_refused 127.0.0.1:4496 ok - - \
        "s_client -noservername -tls1_2 -> nginx (RSA certificate, a default server): no name, and the server answers with its certificate; GET answered 200"
    sc_get c 127.0.0.1 -connect 127.0.0.1:4496 -noservername -tls1_2 -CAfile "$C/ca.pem"
    expect nameless_hello_refused 127.0.0.1:4496 no_shared_cipher - server:40 \
        "s_client -noservername -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -curves brainpoolP256r1 -> the same nginx: the suite it picked for the first client is offered, but the only group is one nginx does not enable: handshake_failure(40). The server took a name-less hello before, so the missing name is not the cause, nor the suite: no key-exchange group in common (no_shared_cipher, fix: a common group), not sni_missing"
    sc_fail c -connect 127.0.0.1:4496 -noservername -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 \
        -curves brainpoolP256r1 -CAfile "$C/ca.pem"
    capture_stop
}

# An SNI router: HAProxy in TCP mode sends each connection to the backend its ClientHello
# names (req_ssl_sni) and has no default backend, as SNI proxies (nginx ssl_preread,
# Traefik TCP routers, Envoy filter chains) are often set up. A hello without a host
# name has no route: HAProxy closes the connection without a TLS word.
sc_sni_router() {
    nginx_emby sniback 127.0.0.1 4498 "hello from emby.example.com"
    local d=$WORK/haproxy-sni
    mkdir -p "$d"
    cat >"$d/haproxy.cfg" <<HAPROXY
global
    log stdout format raw local0 info
defaults
    log global
    mode tcp
    option tcplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend sni
    bind 127.0.0.1:4497
    tcp-request inspect-delay 2s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend emby if { req_ssl_sni -i emby.example.com }
backend emby
    server s1 127.0.0.1:4498
HAPROXY
    haproxy -c -q -f "$d/haproxy.cfg" >>"$WORK/haproxy-sni.log" 2>&1 ||
        die "haproxy config $d/haproxy.cfg: $(cat "$WORK/haproxy-sni.log")"
    start haproxy-sni timeout 60 haproxy -db -f "$d/haproxy.cfg"
    wait_listen 127.0.0.1 4497
    capture_start sni_router "tcp and host 127.0.0.1 and port 4497"
    expect sni_router 127.0.0.1:4497 ok emby.example.com - \
        "curl https://emby.example.com:4497/ -> HAProxy routing by SNI (tcp mode, req_ssl_sni, no default backend) -> nginx: the name has a route, TLS 1.3 end to end, HTTP 200"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4497:127.0.0.1 https://emby.example.com:4497/
    expect sni_router 127.0.0.1:4497 sni_missing - client:50 \
        "s_client -noservername -> the same HAProxy: no name, no route; HAProxy closes the connection without a TLS word (OpenSSL then sends decode_error, its answer to the close). Other connections show the server answering hellos with a host name and none without: sni_missing"
    sc_fail c -connect 127.0.0.1:4497 -noservername -CAfile "$C/ca.pem"
    expect sni_router 127.0.0.1:4497 sni_missing - - \
        "curl https://127.0.0.1:4497/ (by address: curl sends no SNI) -> the same HAProxy: closed without a word, sni_missing"
    run c 10 "${CURL[@]}" https://127.0.0.1:4497/
    expect sni_router 127.0.0.1:4497 sni_ip_literal 127.0.0.1 client:50 \
        "s_client -servername 127.0.0.1 (an IP literal in server_name) -> the same HAProxy: no route for it, closed without a word: sni_ip_literal"
    sc_fail c -connect 127.0.0.1:4497 -servername 127.0.0.1 -CAfile "$C/ca.pem"
    capture_stop
}

sc_sni_unrecognized() {
    nginx_sni
    capture_start sni_unrecognized "tcp and host 127.0.0.1 and port 4436"
    expect sni_unrecognized 127.0.0.1:4436 sni_unrecognized wrong.example.net server:112 \
        "s_client -servername wrong.example.net -> nginx serving only emby.example.com (default server: ssl_reject_handshake on): unrecognized_name(112)"
    sc_fail c -connect 127.0.0.1:4436 -servername wrong.example.net -CAfile "$C/ca.pem"
    expect sni_unrecognized 127.0.0.1:4436 sni_unrecognized wrong.example.net server:112 \
        "curl --resolve wrong.example.net:4436:127.0.0.1 -> same nginx: unrecognized_name(112)"
    run c 10 "${CURL[@]}" --resolve wrong.example.net:4436:127.0.0.1 https://wrong.example.net:4436/
    capture_stop
}

sc_relay_ip_sni() {
    nginx_emby relay 127.0.0.3 443 "emby"
    start socat timeout 120 socat TCP-LISTEN:8080,bind=127.0.0.2,reuseaddr,fork TCP:127.0.0.3:443
    wait_listen 127.0.0.2 8080
    capture_start relay_ip_sni "tcp and ((host 127.0.0.2 and port 8080) or (host 127.0.0.3 and port 443))"
    local leg
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg sni_ip_literal 127.0.0.2 client:42 \
            "(a) s_client -tls1_2 -servername 127.0.0.2 via the socat relay 127.0.0.2:8080 -> nginx 127.0.0.3:443 (cert for emby.example.com only); client rejects the cert: bad_certificate(42) [leg ${leg}]"
    done
    sc_fail c -connect 127.0.0.2:8080 -servername 127.0.0.2 -tls1_2 -CAfile "$C/ca.pem" \
        -verify_ip 127.0.0.2 -verify_return_error
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg sni_missing - - \
            "(b) curl --tlsv1.2 --tls-max 1.2 https://127.0.0.2:8080/ (no SNI for an IP literal): handshake completes, curl rejects the name, encrypted alert, close, no application data [leg ${leg}]"
    done
    run c 10 "${CURL[@]}" --tlsv1.2 --tls-max 1.2 https://127.0.0.2:8080/
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg sni_missing - - \
            "(c) curl --tlsv1.3 https://127.0.0.2:8080/ (no SNI): TLS 1.3 handshake, curl rejects the name, encrypted alert, close [leg ${leg}]"
    done
    run c 10 "${CURL[@]}" --tlsv1.3 https://127.0.0.2:8080/
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg sni_ip_literal 127.0.0.2 client:42 \
            "(d) s_client -tls1_3 -servername 127.0.0.2: IP literal in SNI, TLS 1.3; OpenSSL rejects the cert with a PLAINTEXT bad_certificate(42) after the server's encrypted flight [leg ${leg}]"
    done
    sc_fail c -connect 127.0.0.2:8080 -servername 127.0.0.2 -tls1_3 -CAfile "$C/ca.pem" \
        -verify_ip 127.0.0.2 -verify_return_error
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg sni_ip_literal 127.0.0.2 - \
            "(e) gnutls-cli --sni-hostname 127.0.0.2 (TLS 1.3): IP literal in SNI; gnutls rejects the cert name with an ENCRYPTED alert (24-byte record) after its ChangeCipherSpec, FIN, RST [leg ${leg}]"
    done
    gc_fail c -p 8080 127.0.0.2 --sni-hostname 127.0.0.2 --verify-hostname 127.0.0.2 --x509cafile "$C/ca.pem"
    for leg in 127.0.0.2:8080 127.0.0.3:443; do
        expect relay_ip_sni $leg ok emby.example.com - \
            "(f) the fix: curl --resolve emby.example.com:8080:127.0.0.2 https://emby.example.com:8080/ through the same relay: HTTP 200 [leg ${leg}]"
    done
    run c 10 "${CURL[@]}" --resolve emby.example.com:8080:127.0.0.2 https://emby.example.com:8080/
    capture_stop
}

sc_cert_name_mismatch() {
    s_server 127.0.0.1:4437 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start cert_name_mismatch "tcp and host 127.0.0.1 and port 4437"
    expect cert_name_mismatch 127.0.0.1:4437 cert_name_mismatch other.example.org client:42 \
        "s_client -tls1_2 -servername/-verify_hostname other.example.org; certificate (test CA, trusted) names only emby.example.com: bad_certificate(42) from the client"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername other.example.org -CAfile "$C/ca.pem" \
        -verify_hostname other.example.org -verify_return_error
    capture_stop
}

# HTML markup as server_name, as the client really sends it: OpenSSL takes any bytes for
# -servername and -verify_hostname. The name check fails, so the verdict is the ordinary
# cert_name_mismatch; the capture tests that reports show packet text escaped. The names
# hold no tab or newline (expect's TSV) and no comma (tshark's aggregator in expected.py).
sc_sni_hostile() {
    local s1='<script>alert(1)</script>' s2=\''"><img src=x onerror=alert(2)>'
    s_server 127.0.0.1:4438 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start sni_hostile "tcp and host 127.0.0.1 and port 4438"
    expect sni_hostile 127.0.0.1:4438 cert_name_mismatch "$s1" client:42 \
        "s_client -tls1_2 -servername/-verify_hostname $s1 (a script element); certificate (test CA, trusted) names only emby.example.com: bad_certificate(42) from the client"
    sc_fail c -connect 127.0.0.1:4438 -tls1_2 -servername "$s1" -CAfile "$C/ca.pem" \
        -verify_hostname "$s1" -verify_return_error
    expect sni_hostile 127.0.0.1:4438 cert_name_mismatch "$s2" client:42 \
        "s_client -tls1_2 -servername/-verify_hostname $s2 (quotes closing an attribute, then an img element with an onerror handler); the same certificate: bad_certificate(42) from the client"
    sc_fail c -connect 127.0.0.1:4438 -tls1_2 -servername "$s2" -CAfile "$C/ca.pem" \
        -verify_hostname "$s2" -verify_return_error
    capture_stop
}

sc_cert_unknown_ca() {
    s_server 127.0.0.1:4437 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4441 -tls1_2 -cert "$C/emby-int.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4442 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start cert_unknown_ca "tcp and host 127.0.0.1 and (port 4437 or port 4441 or port 4442)"
    expect cert_unknown_ca 127.0.0.1:4437 cert_unknown_ca emby.example.com client:48 \
        "leaf signed by the test CA; client trusts only an unrelated CA: unknown_ca(48) from the client"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername emby.example.com -CAfile "$C/other-ca.pem" \
        -verify_hostname emby.example.com -verify_return_error
    expect cert_unknown_ca 127.0.0.1:4441 cert_unknown_ca emby.example.com client:48 \
        "server sends only its leaf (issued by an intermediate CA) without the intermediate; client trusts the root: unknown_ca(48)"
    sc_fail c -connect 127.0.0.1:4441 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem" \
        -verify_hostname emby.example.com -verify_return_error
    expect cert_unknown_ca 127.0.0.1:4442 cert_unknown_ca emby.example.com client:48 \
        "TLS 1.3, client (s_client) trusts only an unrelated CA: OpenSSL sends its unknown_ca(48) in PLAINTEXT (it has not switched to handshake keys for writing yet) after the server's encrypted flight"
    sc_fail c -connect 127.0.0.1:4442 -tls1_3 -servername emby.example.com -CAfile "$C/other-ca.pem" \
        -verify_hostname emby.example.com -verify_return_error
    capture_stop
}

sc_cert_expired() {
    s_server 127.0.0.1:4437 -tls1_2 -cert "$C/expired.pem" -key "$C/expired.key"
    capture_start cert_expired "tcp and host 127.0.0.1 and port 4437"
    expect cert_expired 127.0.0.1:4437 cert_expired emby.example.com client:45 \
        "leaf valid 2020-01-01..2021-01-01 signed by the trusted test CA: certificate_expired(45) from the client"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem" \
        -verify_hostname emby.example.com -verify_return_error
    capture_stop
}

sc_cert_self_signed() {
    s_server 127.0.0.1:4437 -tls1_2 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key"
    capture_start cert_self_signed "tcp and host 127.0.0.1 and port 4437"
    expect cert_self_signed 127.0.0.1:4437 cert_self_signed emby.example.com client:48 \
        "self-signed EC leaf for emby.example.com; client trusts the test CA: rejects it (OpenSSL sends unknown_ca(48))"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem" \
        -verify_hostname emby.example.com -verify_return_error
    capture_stop
}

sc_cert_rejected_tls13() {
    s_server 127.0.0.1:4437 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start cert_rejected_tls13 "tcp and host 127.0.0.1 and port 4437"
    expect cert_rejected_tls13 127.0.0.1:4437 cert_rejected emby.example.com - \
        "TLS 1.3, gnutls-cli does not trust the issuer: after the server's encrypted flight it sends ChangeCipherSpec and its alert ENCRYPTED (one 24-byte record: 19-byte application_data body) with FIN, then RST"
    gc_fail c -p 4437 127.0.0.1 --sni-hostname emby.example.com --verify-hostname emby.example.com \
        --x509cafile "$C/other-ca.pem"
    capture_stop
}

sc_client_cert_required() {
    s_server 127.0.0.1:4437 -Verify 1 -CAfile "$C/ca.pem" -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start client_cert_required "tcp and host 127.0.0.1 and port 4437"
    expect client_cert_required 127.0.0.1:4437 client_cert_required emby.example.com server:40 \
        "TLS 1.2: CertificateRequest, client sends an empty Certificate, server (s_server -Verify 1) answers handshake_failure(40)"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem"
    expect client_cert_required 127.0.0.1:4437 client_cert_required emby.example.com - \
        "TLS 1.3 variant: the server's certificate_required(116) is encrypted, sent after the client's flight"
    sc_fail c -connect 127.0.0.1:4437 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

sc_client_cert_rejected() {
    s_server 127.0.0.1:4437 -Verify 1 -verify_return_error -CAfile "$C/ca.pem" -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start client_cert_rejected "tcp and host 127.0.0.1 and port 4437"
    expect client_cert_rejected 127.0.0.1:4437 client_cert_rejected emby.example.com server:48 \
        "TLS 1.2: client presents a certificate from an unrelated CA; server trusts only the test CA: unknown_ca(48) from the server"
    sc_fail c -connect 127.0.0.1:4437 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem" \
        -cert "$C/client-other.pem" -key "$C/client-other.key"
    expect client_cert_rejected 127.0.0.1:4437 client_cert_rejected emby.example.com - \
        "TLS 1.3 variant: the server's unknown_ca alert is encrypted, sent after the client's flight"
    sc_fail c -connect 127.0.0.1:4437 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" \
        -cert "$C/client-other.pem" -key "$C/client-other.key"
    capture_stop
}

sc_alpn_mismatch() {
    gnutls_serv 4440 --http -a --alpn h2 --alpn-fatal --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
    capture_start alpn_mismatch "tcp and host 127.0.0.1 and port 4440"
    expect alpn_mismatch 127.0.0.1:4440 alpn_mismatch emby.example.com server:120 \
        "s_client -alpn http/1.1 (TLS 1.3) -> gnutls-serv --alpn h2 --alpn-fatal: no_application_protocol(120)"
    sc_fail c -connect 127.0.0.1:4440 -alpn http/1.1 -servername emby.example.com -CAfile "$C/ca.pem"
    expect alpn_mismatch 127.0.0.1:4440 alpn_mismatch emby.example.com server:120 \
        "the same with -tls1_2: no_application_protocol(120)"
    sc_fail c -connect 127.0.0.1:4440 -tls1_2 -alpn http/1.1 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

sc_plaintext_to_tls_port() {
    nginx_emby ptt 127.0.0.1 443 "emby"
    capture_start plaintext_to_tls_port "tcp and host 127.0.0.1 and port 443"
    expect plaintext_to_tls_port 127.0.0.1:443 plaintext_to_tls_port - - \
        "curl http://127.0.0.1:443/ (plain HTTP) to nginx's TLS port: HTTP/1.1 400 'The plain HTTP request was sent to HTTPS port'"
    run c 10 curl -sS --max-time 8 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:443/
    capture_stop
}

sc_tls_to_plaintext_port() {
    nginx_start tpp <<EOF
    server {
        listen 127.0.0.1:8443;
        server_name emby.example.com;
        location / { return 200 "emby over plain http\n"; }
    }
EOF
    wait_listen 127.0.0.1 8443
    start socat timeout 120 socat TCP-LISTEN:4422,bind=127.0.0.1,reuseaddr,fork \
        SYSTEM:"printf 'SSH-2.0-OpenSSH_9.2p1 Debian-2\\\\r\\\\n'; sleep 2"
    wait_listen 127.0.0.1 4422
    capture_start tls_to_plaintext_port "tcp and host 127.0.0.1 and (port 8443 or port 4422)"
    expect tls_to_plaintext_port 127.0.0.1:8443 tls_to_plaintext_port emby.example.com - \
        "curl https://emby.example.com:8443/ to nginx's plain-HTTP port 8443: ClientHello answered by HTTP/1.1 400"
    run c 10 "${CURL[@]}" --resolve emby.example.com:8443:127.0.0.1 https://emby.example.com:8443/
    expect tls_to_plaintext_port 127.0.0.1:4422 tls_to_plaintext_port - - \
        "s_client to an SSH-banner server (socat): ClientHello answered by 'SSH-2.0-OpenSSH_9.2p1 Debian-2'"
    sc_fail c -connect 127.0.0.1:4422
    capture_stop
}

sc_connection_refused() {
    capture_start connection_refused "tcp and host 127.0.0.1 and port 443"
    expect connection_refused 127.0.0.1:443 connection_refused - - \
        "curl https://127.0.0.1/ with nothing listening on 443: SYN answered by RST"
    run c 10 "${CURL[@]}" --connect-timeout 3 https://127.0.0.1:443/
    capture_stop
}

sc_connection_timeout() {
    # No firewall is needed: a listener with listen(0) whose accept queue is filled by one
    # connection (from 127.0.0.9, filtered out) makes the kernel drop every further SYN.
    start backlog timeout 60 "${PEER[@]}" server-backlog 127.0.0.5 443 127.0.0.9 30
    local i
    for i in $(seq 1 100); do grep -q ready "$WORK/backlog.log" 2>/dev/null && break; sleep 0.05; done
    capture_start connection_timeout "tcp and host 127.0.0.5 and port 443 and not host 127.0.0.9"
    expect connection_timeout 127.0.0.5:443 connection_timeout - - \
        "curl --connect-timeout 3 https://127.0.0.5/: SYN and its retransmissions, never answered (the listener's accept queue is full)"
    run c 10 "${CURL[@]}" --connect-timeout 3 https://127.0.0.5:443/
    capture_stop
}

sc_no_response_timeout() {
    start silent timeout 60 "${PEER[@]}" server-silent 127.0.0.6 443 30
    wait_listen 127.0.0.6 443
    capture_start no_response_timeout "tcp and host 127.0.0.6 and port 443"
    expect no_response_timeout 127.0.0.6:443 no_response_timeout emby.example.com - \
        "s_client -> a server that accepts and reads but never answers; the client gives up after 5 s of silence (FIN)"
    start c bash -c "sleep 30 | timeout 5 openssl s_client -connect 127.0.0.6:443 -servername emby.example.com"
    sleep 6
    capture_stop
}

sc_server_reset_after_client_hello() {
    start srv timeout 30 "${PEER[@]}" server-reset 127.0.0.1 4433 2
    wait_listen 127.0.0.1 4433
    capture_start server_reset_after_client_hello "tcp and host 127.0.0.1 and port 4433"
    expect server_reset_after_client_hello 127.0.0.1:4433 server_reset_after_client_hello emby.example.com - \
        "s_client -> a server that reads the ClientHello and closes with SO_LINGER{1,0}: RST, no TLS answer"
    sc_fail c -connect 127.0.0.1:4433 -servername emby.example.com
    expect server_reset_after_client_hello 127.0.0.1:4433 server_reset_after_client_hello emby.example.com - \
        "the same with gnutls-cli"
    gc_fail c -p 4433 127.0.0.1 --sni-hostname emby.example.com --x509cafile "$C/ca.pem"
    capture_stop
}

sc_server_closed_after_client_hello() {
    start srv timeout 30 "${PEER[@]}" server-close 127.0.0.1 4433 2
    wait_listen 127.0.0.1 4433
    capture_start server_closed_after_client_hello "tcp and host 127.0.0.1 and port 4433"
    expect server_closed_after_client_hello 127.0.0.1:4433 server_closed_after_client_hello emby.example.com client:50 \
        "s_client -> a server that reads the ClientHello and closes (FIN) without a word; OpenSSL 3 then reports the unexpected EOF with its own decode_error(50) from the CLIENT (a consequence, not the cause)"
    sc_fail c -connect 127.0.0.1:4433 -servername emby.example.com
    expect server_closed_after_client_hello 127.0.0.1:4433 server_closed_after_client_hello emby.example.com client:10 \
        "the same with gnutls-cli: server FIN after the ClientHello; gnutls-cli then sends unexpected_message(10) (a consequence) and closes"
    gc_fail c -p 4433 127.0.0.1 --sni-hostname emby.example.com --x509cafile "$C/ca.pem"
    capture_stop
}

sc_client_aborted() {
    s_server 127.0.0.1:4433 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    nginx_emby abort 127.0.0.3 443 "emby"
    capture_start client_aborted "tcp and ((host 127.0.0.1 and port 4433) or (host 127.0.0.3 and port 443))"
    expect client_aborted 127.0.0.1:4433 client_aborted emby.example.com server:50 \
        "python3 ssl ClientHello (TLS 1.2); s_server answers ServerHello..ServerHelloDone; the client closes (FIN) without answering; s_server (OpenSSL 3) then sends decode_error(50) for the unexpected EOF (a consequence), the client's socket answers RST"
    run c 10 "${PEER[@]}" client-hello-abort 127.0.0.1 4433 emby.example.com
    expect client_aborted 127.0.0.1:4433 not_tls - server:50 \
        "TCP connect to s_server and close after 0.3 s without sending a ClientHello; s_server answers the EOF with decode_error(50), then RST from the client. Rule 'Not every connection to a TLS port is a TLS attempt': a port probe; the server's alert answers the client's close: not a handshake attempt"
    run c 10 "${PEER[@]}" client-connect-close 127.0.0.1 4433
    expect client_aborted 127.0.0.3:443 client_aborted emby.example.com - \
        "the same ClientHello-then-FIN against nginx 1.22 (TLS 1.2 flight answered, then the client leaves)"
    run c 10 "${PEER[@]}" client-hello-abort 127.0.0.3 443 emby.example.com
    expect client_aborted 127.0.0.3:443 not_tls - - \
        "TCP connect to nginx on 443 and close without a byte either way (a port probe, a TCP health check). Rule 'Not every connection to a TLS port is a TLS attempt': not a handshake attempt"
    run c 10 "${PEER[@]}" client-connect-close 127.0.0.3 443
    capture_stop
}

sc_fatal_alert() {
    s_server 127.0.0.1:4433 -tls1_2 -nocert -psk aabbcc -cipher 'PSK-AES128-CBC-SHA:@SECLEVEL=0'
    capture_start fatal_alert "tcp and host 127.0.0.1 and port 4433"
    expect fatal_alert 127.0.0.1:4433 fatal_alert - server:20 \
        "TLS 1.2 PSK with different keys on each side (s_server -psk aabbcc, s_client -psk 001122): the server cannot decrypt the client's Finished: bad_record_mac(20)"
    sc_fail c -connect 127.0.0.1:4433 -tls1_2 -psk 001122 -cipher 'PSK-AES128-CBC-SHA:@SECLEVEL=0'
    capture_stop
}

sc_malformed_handshake() {
    s_server 127.0.0.1:4433 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start malformed_handshake "tcp and host 127.0.0.1 and port 4433"
    expect malformed_handshake 127.0.0.1:4433 malformed_handshake emby.example.com server:50 \
        "python3 sends a real ClientHello (SNI emby.example.com) whose supported_groups extension has an odd inner list length, one byte short of the extension: s_server answers decode_error(50)"
    run c 10 "${PEER[@]}" client-malformed 127.0.0.1 4433 emby.example.com
    capture_stop
}

sc_incomplete_capture() {
    s_server 127.0.0.1:4433 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start incomplete_full "tcp and host 127.0.0.1 and port 4433" "$WORK"
    sc_get c emby.example.com -connect 127.0.0.1:4433 -tls1_2 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_hostname emby.example.com -verify_return_error
    capture_stop
    local full=$WORK/incomplete_full.pcap hello
    hello=$(tshark -n -r "$full" -Y 'tls.handshake.type == 1' -T fields -e frame.number 2>/dev/null | head -1)
    [ -n "$hello" ] || die "incomplete_capture: no ClientHello in the recorded handshake"
    editcap -F pcap "$full" "$WORK/incomplete_capture.pcap" "1-$hello"
    mv -f "$WORK/incomplete_capture.pcap" "$HERE/incomplete_capture.pcap"
    expect incomplete_capture 127.0.0.1:4433 incomplete_capture - - \
        "a successful TLS 1.2 s_client/s_server handshake with its first $hello packets (SYN .. ClientHello) removed by editcap: the capture starts mid-handshake"
}

sc_mixed() {
    local f args=()
    for f in "${MIXED_INPUTS[@]}"; do
        grep -q "^$f\.pcap	" "$SPEC" || die "mixed: record $f in the same run"
        args+=("$HERE/$f.pcap")
    done
    mergecap -a -F pcap -w "$WORK/mixed.pcap" "${args[@]}"
    mv -f "$WORK/mixed.pcap" "$HERE/mixed.pcap"
    for f in "${MIXED_INPUTS[@]}"; do
        awk -F'\t' -v f="$f.pcap" 'BEGIN{OFS="\t"} $1==f {$1="mixed.pcap"; $6="[from " f "] " $6; print}' \
            "$SPEC" >>"$SPEC.mixed"
    done
    cat "$SPEC.mixed" >>"$SPEC"
}

# ---------------------------------------------------------------- other stacks ---------
# Go crypto/tls, Node.js tls, Java JSSE, rustls, Apache httpd, HAProxy and Caddy: their
# successes and failures, first those that the literal catalog already decides.

sc_apache_httpd() {
    apache_start web <<EOF
Listen 127.0.0.1:4450 https
<VirtualHost 127.0.0.1:4450>
    ServerName emby.example.com
    SSLEngine on
    SSLCertificateFile $C/emby.pem
    SSLCertificateKeyFile $C/emby.key
</VirtualHost>
EOF
    wait_listen 127.0.0.1 4450
    capture_start apache_httpd "tcp and host 127.0.0.1 and port 4450"
    expect apache_httpd 127.0.0.1:4450 ok emby.example.com - \
        "curl -I -> Apache httpd 2.4 mod_ssl, TLS 1.3: HEAD, HTTP 200 (Apache's session tickets follow the client's Finished)"
    run c 10 curl -sS -I --max-time 8 --cacert "$C/ca.pem" --resolve emby.example.com:4450:127.0.0.1 https://emby.example.com:4450/
    expect apache_httpd 127.0.0.1:4450 ok emby.example.com - \
        "curl GET --tls-max 1.2 -> Apache: ECDHE-RSA, HTTP 200"
    run c 10 "${CURL[@]}" --tls-max 1.2 --resolve emby.example.com:4450:127.0.0.1 https://emby.example.com:4450/
    expect apache_httpd 127.0.0.1:4450 ok emby.example.com - \
        "Java JSSE probe -> Apache, TLS 1.3: padded Finished (Java pads its encrypted records), then close() sends a padded close_notify (35-byte record), no data. Rule 'After a completed handshake': a probe is ok"
    java_client c --addr 127.0.0.1:4450 --sni emby.example.com --ca "$C/ca.pem" --mode probe
    expect apache_httpd 127.0.0.1:4450 cert_name_mismatch other.example.org client:42 \
        "s_client -tls1_2 -servername other.example.org -verify_hostname other.example.org: Apache has no such virtual host and answers with its only one (emby.example.com, no unrecognized_name alert): bad_certificate(42) from the client"
    sc_fail c -connect 127.0.0.1:4450 -tls1_2 -servername other.example.org -CAfile "$C/ca.pem" \
        -verify_hostname other.example.org -verify_return_error
    capture_stop
}

sc_caddy() {
    caddy_start web <<EOF
https://emby.example.com:4451 {
    bind 127.0.0.1
    tls $C/emby.pem $C/emby.key
    respond "hello from Caddy" 200
}
https://emby.example.com:4452 {
    bind 127.0.0.1
    tls $C/emby.pem $C/emby.key {
        client_auth {
            mode require_and_verify
            trusted_ca_cert_file $C/ca.pem
        }
    }
    respond "hello from Caddy, with a client certificate" 200
}
EOF
    wait_listen 127.0.0.1 4451
    wait_listen 127.0.0.1 4452
    capture_start caddy "tcp and host 127.0.0.1 and (port 4451 or port 4452)"
    expect caddy 127.0.0.1:4451 ok emby.example.com - \
        "curl -> Caddy 2.6 (Go crypto/tls), TLS 1.3, ALPN h2, HTTP/2 GET, 200"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4451:127.0.0.1 https://emby.example.com:4451/
    expect caddy 127.0.0.1:4451 ok emby.example.com - \
        "curl -I --http1.1 --tls-max 1.2 -> Caddy: HEAD, 200"
    run c 10 curl -sS -I --max-time 8 --http1.1 --tls-max 1.2 --cacert "$C/ca.pem" \
        --resolve emby.example.com:4451:127.0.0.1 https://emby.example.com:4451/
    expect caddy 127.0.0.1:4451 ok emby.example.com - \
        "rustls GET -> Caddy, TLS 1.3, HTTP/1.0 request answered"
    rustls_client c --addr 127.0.0.1:4451 --sni emby.example.com --ca "$C/ca.pem" --mode get
    expect caddy 127.0.0.1:4452 client_cert_required emby.example.com server:42 \
        "s_client -tls1_2 without a certificate -> Caddy with client_auth require_and_verify: CertificateRequest, empty client Certificate, Go answers bad_certificate(42). Rule 'Client certificates': any fatal alert after an empty client Certificate"
    sc_fail c -connect 127.0.0.1:4452 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem"
    expect caddy 127.0.0.1:4452 client_cert_required emby.example.com - \
        "curl (TLS 1.3, no certificate) -> the same Caddy site: the client's flight (empty Certificate, Finished) and its request, then Go's encrypted certificate_required alert"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4452:127.0.0.1 https://emby.example.com:4452/
    expect caddy 127.0.0.1:4451 sni_missing - server:80 \
        "s_client -noservername -> Caddy: Go's GetCertificate finds no certificate for a hello without a name and the server answers internal_error(80) before any ServerHello"
    sc_fail c -connect 127.0.0.1:4451 -noservername -CAfile "$C/ca.pem"
    expect caddy 127.0.0.1:4451 sni_unrecognized other.example.org server:80 \
        "s_client -servername other.example.org -> Caddy, which serves only emby.example.com: no certificate for the name, internal_error(80) before any ServerHello"
    sc_fail c -connect 127.0.0.1:4451 -servername other.example.org -CAfile "$C/ca.pem"
    capture_stop
}

sc_haproxy_check() {
    nginx_emby hap 127.0.0.1 4453 "hello from emby.example.com"
    go_server self 127.0.0.1:4454 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key" -max 1.2
    go_server emby 127.0.0.1:4455 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    local verify=(ssl verify required ca-file "$C/ca.pem")
    capture_start haproxy_check "tcp and host 127.0.0.1 and (port 4453 or port 4454 or port 4455)"
    expect haproxy_check 127.0.0.1:4453 ok emby.example.com - \
        "HAProxy 2.6 'check ssl verify required' with ssl-max-ver TLSv1.2 -> nginx: full TLS 1.2 handshake, then the check closes with a bare RST, no data, no alert ('Layer6 check passed'). Rule 'After a completed handshake': a health check is ok"
    haproxy_check up 4456 127.0.0.1:4453 "${verify[@]}" check-sni emby.example.com verifyhost emby.example.com \
        sni str\(emby.example.com\) ssl-max-ver TLSv1.2
    expect haproxy_check 127.0.0.1:4453 ok emby.example.com - \
        "the same HAProxy proxies one HTTP request (curl -> 127.0.0.1:4456 -> TLS 1.2 to nginx): data both ways, HTTP 200"
    run c 10 curl -sS --max-time 8 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:4456/
    stop_pid "$HAPROXY_PID"
    expect haproxy_check 127.0.0.1:4454 cert_self_signed emby.example.com client:48 \
        "HAProxy check (verify required, trusting the test CA) -> a Go crypto/tls server with the self-signed EC leaf, TLS 1.2: HAProxy's OpenSSL sends unknown_ca(48), the check fails ('Layer6 invalid response')"
    haproxy_check self 4456 127.0.0.1:4454 "${verify[@]}" check-sni emby.example.com verifyhost emby.example.com
    stop_pid "$HAPROXY_PID"
    expect haproxy_check 127.0.0.1:4455 sni_ip_literal 127.0.0.1 client:80 \
        "HAProxy check with check-sni 127.0.0.1 and verify required -> a Go crypto/tls server (TLS 1.2, certificate for emby.example.com only): IP literal in server_name, HAProxy's OpenSSL sends internal_error(80) ('certificate different from the expected one'). Rule 'IP literal as SNI': any client alert, internal_error included"
    haproxy_check ip 4456 127.0.0.1:4455 "${verify[@]}" check-sni 127.0.0.1
    stop_pid "$HAPROXY_PID"
    capture_stop
}

sc_client_cert_required_stacks() {
    go_server gsrv 127.0.0.1:4457 -cert "$C/emby.pem" -key "$C/emby.key" -clientca "$C/ca.pem"
    java_server jsrv 127.0.0.1:4458 --clientca "$C/ca.pem"
    rustls_server rsrv 127.0.0.1:4459 --cert "$C/emby.pem" --key "$C/emby.key" --clientca "$C/ca.pem"
    node_server nsrv 127.0.0.1:4460 --cert "$C/emby.pem" --key "$C/emby.key" --clientca "$C/ca.pem"
    apache_start cc <<EOF
Listen 127.0.0.1:4461 https
<VirtualHost 127.0.0.1:4461>
    ServerName emby.example.com
    SSLEngine on
    SSLCertificateFile $C/emby.pem
    SSLCertificateKeyFile $C/emby.key
    SSLVerifyClient require
    SSLCACertificateFile $C/ca.pem
</VirtualHost>
EOF
    wait_listen 127.0.0.1 4461
    capture_start client_cert_required_stacks "tcp and host 127.0.0.1 and portrange 4457-4461"
    local p
    local -A who=([4457]="Go crypto/tls (RequireAndVerifyClientCert): bad_certificate(42)"
        [4458]="Java JSSE (needClientAuth): bad_certificate(42)"
        [4459]="rustls (WebPkiClientVerifier, mandatory): certificate_required(116)"
        [4460]="Node.js tls (requestCert, rejectUnauthorized): handshake_failure(40)"
        [4461]="Apache httpd mod_ssl (SSLVerifyClient require): handshake_failure(40)")
    local -A alert=([4457]=42 [4458]=42 [4459]=116 [4460]=40 [4461]=40)
    for p in 4457 4458 4459 4460 4461; do
        expect client_cert_required_stacks "127.0.0.1:$p" client_cert_required emby.example.com "server:${alert[$p]}" \
            "s_client -tls1_2 without a certificate -> ${who[$p]}: CertificateRequest, empty client Certificate, then that alert from the server. Rule 'Client certificates': any fatal alert after an empty client Certificate"
        sc_fail c -connect "127.0.0.1:$p" -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem"
    done
    expect client_cert_required_stacks 127.0.0.1:4461 client_cert_required emby.example.com - \
        "curl -I (TLS 1.3, no certificate) -> Apache: the client's flight and its HEAD request, then Apache's encrypted certificate_required(116) and a close"
    run c 10 curl -sS -I --max-time 8 --cacert "$C/ca.pem" --resolve emby.example.com:4461:127.0.0.1 https://emby.example.com:4461/
    capture_stop
}

sc_cert_rejected_stacks() {
    apache_start rej <<EOF
Listen 127.0.0.1:4463 https
Listen 127.0.0.1:4464 https
<VirtualHost 127.0.0.1:4463>
    ServerName emby.example.com
    SSLEngine on
    SSLCertificateFile $C/emby.pem
    SSLCertificateKeyFile $C/emby.key
</VirtualHost>
<VirtualHost 127.0.0.1:4464>
    ServerName emby.example.com
    SSLEngine on
    SSLCertificateFile $C/expired.pem
    SSLCertificateKeyFile $C/expired.key
</VirtualHost>
EOF
    wait_listen 127.0.0.1 4463
    wait_listen 127.0.0.1 4464
    capture_start cert_rejected_stacks "tcp and host 127.0.0.1 and (port 4463 or port 4464)"
    expect cert_rejected_stacks 127.0.0.1:4463 cert_rejected emby.example.com - \
        "Go crypto/tls client trusting only the unrelated CA -> Apache, TLS 1.3: an encrypted alert (19-byte record) instead of its Finished, the certificate not visible -> cert_rejected"
    go_client c -addr 127.0.0.1:4463 -sni emby.example.com -ca "$C/other-ca.pem" -mode probe
    expect cert_rejected_stacks 127.0.0.1:4463 cert_rejected emby.example.com - \
        "rustls client trusting only the unrelated CA -> Apache, TLS 1.3: CCS and an encrypted alert (19-byte record) instead of its Finished -> cert_rejected"
    rustls_client c --addr 127.0.0.1:4463 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe
    expect cert_rejected_stacks 127.0.0.1:4463 cert_name_mismatch other.example.org client:46 \
        "Java JSSE client, SNI other.example.org, TLS 1.2: the certificate (visible) names only emby.example.com; Java sends certificate_unknown(46)"
    java_client c --addr 127.0.0.1:4463 --sni other.example.org --ca "$C/ca.pem" --mode probe --protocols TLSv1.2
    expect cert_rejected_stacks 127.0.0.1:4464 cert_expired emby.example.com client:45 \
        "Java JSSE client -> Apache serving the expired leaf (2020-01-01..2021-01-01), TLS 1.2: certificate_expired(45) from Java"
    java_client c --addr 127.0.0.1:4464 --sni emby.example.com --ca "$C/ca.pem" --mode probe --protocols TLSv1.2
    capture_stop
}

sc_alpn_mismatch_stacks() {
    node_server nsrv 127.0.0.1:4465 --cert "$C/emby.pem" --key "$C/emby.key" --alpn h2
    java_server jsrv 127.0.0.1:4466 --alpn h2
    capture_start alpn_mismatch_stacks "tcp and host 127.0.0.1 and (port 4465 or port 4466)"
    expect alpn_mismatch_stacks 127.0.0.1:4465 alpn_mismatch emby.example.com server:120 \
        "Node.js tls client (ALPN http/1.1) -> Node.js tls server (ALPN h2), TLS 1.3 offered: no_application_protocol(120) in plaintext, before any ServerHello"
    node_client c --addr 127.0.0.1:4465 --sni emby.example.com --ca "$C/ca.pem" --alpn http/1.1 --mode probe
    expect alpn_mismatch_stacks 127.0.0.1:4466 alpn_mismatch emby.example.com server:120 \
        "Java JSSE client (ALPN http/1.1) -> Java JSSE server (ALPN h2): no_application_protocol(120) in plaintext"
    java_client c --addr 127.0.0.1:4466 --sni emby.example.com --ca "$C/ca.pem" --alpn http/1.1 --mode probe
    capture_stop
}

# The cases of DIAGNOSES.md's "Rules that decide between neighbouring codes", recorded
# from these stacks.

# gnutls-serv limited to TLS 1.0/1.1 ignores supported_versions (it has no TLS 1.3 to
# negotiate) and answers a modern ClientHello with a TLS 1.1 ServerHello.
gnutls_tls11() { # PORT
    gnutls_serv "$1" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0' \
        --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
}

sc_protocol_version_old_server() {
    gnutls_tls11 4462
    local tail=(--sni emby.example.com --ca "$C/ca.pem" --mode probe)
    capture_start protocol_version_old_server "tcp and host 127.0.0.1 and port 4462"
    expect protocol_version_old_server 127.0.0.1:4462 protocol_version_mismatch emby.example.com 'client:70,server:70?' \
        "Go crypto/tls client (TLS 1.2..1.3) -> gnutls-serv limited to TLS 1.0/1.1: ServerHello TLS 1.1; Go sends protocol_version(70) and closes with a RST (unread records), which races GnuTLS's own protocol_version(70) answer"
    go_client c -addr 127.0.0.1:4462 -sni emby.example.com -ca "$C/ca.pem" -mode probe
    expect protocol_version_old_server 127.0.0.1:4462 protocol_version_mismatch emby.example.com client:70,server:70 \
        "Node.js tls client (minVersion TLS 1.2) -> the same: ServerHello TLS 1.1, protocol_version(70) from the client, GnuTLS answers with its own"
    node_client c --addr 127.0.0.1:4462 "${tail[@]}"
    expect protocol_version_old_server 127.0.0.1:4462 protocol_version_mismatch emby.example.com client:70,server:70 \
        "Java JSSE client (TLS 1.2, 1.3) -> the same: ServerHello TLS 1.1, protocol_version(70) from the client, GnuTLS answers with its own"
    java_client c --addr 127.0.0.1:4462 "${tail[@]}"
    capture_stop
}

sc_probe_ok() {
    nginx_emby probe 127.0.0.1 4467 "hello from emby.example.com"
    local tail=(--sni emby.example.com --ca "$C/ca.pem" --mode probe)
    capture_start probe_ok "tcp and host 127.0.0.1 and port 4467"
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "curl GET -> nginx, TLS 1.3, HTTP 200: a client that sends data after accepting this chain"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4467:127.0.0.1 https://emby.example.com:4467/
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "openssl s_client </dev/null (verifying), TLS 1.3: handshake, then an encrypted close_notify and FIN, no data. Rule 'After a completed handshake': a probe is ok"
    run c 10 openssl s_client -no-CApath -no-CAstore -connect 127.0.0.1:4467 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_hostname emby.example.com -verify_return_error </dev/null
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Go crypto/tls probe, TLS 1.3: Dial then Close (its Finished, then an encrypted close_notify, FIN), no data. Rule 'After a completed handshake': ok"
    go_client c -addr 127.0.0.1:4467 -sni emby.example.com -ca "$C/ca.pem" -mode probe
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Go crypto/tls probe, TLS 1.2: full handshake, encrypted close_notify, FIN, no data. Rule 'After a completed handshake': ok"
    go_client c -addr 127.0.0.1:4467 -sni emby.example.com -ca "$C/ca.pem" -mode probe -max 1.2
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Node.js tls probe, TLS 1.3: secureConnect then end() (Finished and close_notify in one segment, FIN), no data. Rule 'After a completed handshake': ok"
    node_client c --addr 127.0.0.1:4467 "${tail[@]}"
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Node.js tls probe, TLS 1.2: encrypted close_notify, FIN, no data. Rule 'After a completed handshake': ok"
    node_client c --addr 127.0.0.1:4467 "${tail[@]}" --max 1.2
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Java JSSE probe, TLS 1.3: startHandshake then close(); Java pads its records (Finished, and a 35-byte close_notify). Rules 'After a completed handshake' and 'TLS 1.3 without keys': ok"
    java_client c --addr 127.0.0.1:4467 "${tail[@]}"
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Java JSSE probe, TLS 1.2: full handshake, encrypted close_notify, FIN, no data. Rule 'After a completed handshake': ok"
    java_client c --addr 127.0.0.1:4467 "${tail[@]}" --protocols TLSv1.2
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "rustls probe, TLS 1.3: handshake, close_notify, close, no data. Rule 'After a completed handshake': ok"
    rustls_client c --addr 127.0.0.1:4467 "${tail[@]}"
    expect probe_ok 127.0.0.1:4467 ok emby.example.com - \
        "Python ssl certificate check, TLS 1.3: verifying handshake, getpeercert(), close() without close_notify (FIN, no alert), no data. Rule 'After a completed handshake': the certificate covers the SNI and is valid, and another client (curl, #1) sent data after accepting the same chain: ok"
    run c 10 "${PEER[@]}" client-probe 127.0.0.1 4467 emby.example.com "$C/ca.pem"
    capture_stop
}

sc_self_signed_trusted() {
    go_server srv 127.0.0.1:4468 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key"
    local tail=(--sni emby.example.com --ca "$C/selfsigned.pem" --mode probe)
    capture_start self_signed_trusted "tcp and host 127.0.0.1 and port 4468"
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "Go crypto/tls client trusting the self-signed EC leaf through its CA file (RootCAs) -> Go server, TLS 1.2 probe: the self-signed certificate is visible, Finished both ways, encrypted close_notify, FIN. Rule 'After a completed handshake': trust is not objective and the close is not abrupt: ok"
    go_client c -addr 127.0.0.1:4468 -sni emby.example.com -ca "$C/selfsigned.pem" -mode probe -max 1.2
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "the same Go probe with TLS 1.3 (the Go server sends its session ticket before the client's Finished), close_notify: ok (rule 'After a completed handshake')"
    go_client c -addr 127.0.0.1:4468 -sni emby.example.com -ca "$C/selfsigned.pem" -mode probe
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "Node.js tls client with the self-signed certificate as its ca, TLS 1.2 probe, close_notify: ok (rule 'After a completed handshake')"
    node_client c --addr 127.0.0.1:4468 "${tail[@]}" --max 1.2
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "Java JSSE client with the self-signed certificate in its trust store, TLS 1.2 probe, close_notify: ok (rule 'After a completed handshake')"
    java_client c --addr 127.0.0.1:4468 "${tail[@]}" --protocols TLSv1.2
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "rustls client with the self-signed certificate as its only root, TLS 1.2 probe, close_notify: ok (rule 'After a completed handshake')"
    rustls_client c --addr 127.0.0.1:4468 "${tail[@]}" --versions 1.2
    expect self_signed_trusted 127.0.0.1:4468 ok emby.example.com - \
        "curl -I --cacert selfsigned.pem --tls-max 1.2: HEAD answered by HTTP 200: ok"
    run c 10 curl -sS -I --max-time 8 --cacert "$C/selfsigned.pem" --tls-max 1.2 \
        --resolve emby.example.com:4468:127.0.0.1 https://emby.example.com:4468/
    capture_stop
}

sc_haproxy_check_tls13() {
    nginx_emby hap13 127.0.0.1 4469 "hello from emby.example.com"
    capture_start haproxy_check_tls13 "tcp and host 127.0.0.1 and port 4469"
    expect haproxy_check_tls13 127.0.0.1:4469 ok emby.example.com - \
        "HAProxy 2.6 'check ssl verify required' -> nginx, TLS 1.3: the check sends its Finished (by size) and closes at once with a bare RST, before nginx's session tickets; no data, no alert ('Layer6 check passed'). Rule 'After a completed handshake': a health check is ok"
    haproxy_check up13 4470 127.0.0.1:4469 ssl verify required ca-file "$C/ca.pem" \
        check-sni emby.example.com verifyhost emby.example.com
    stop_pid "$HAPROXY_PID"
    capture_stop
}

# Health checks that do not verify, against servers whose certificate the checker was
# not given a CA for: the handshake completes and the checker leaves without data. The
# trust rule must not call them rejections; a client that does reject (Node) must stay one.
sc_health_checks() {
    go_server hap 127.0.0.1:4492 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    go_server poll 127.0.0.1:4493 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    go_server node 127.0.0.1:4494 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    capture_start health_checks "tcp and host 127.0.0.1 and (port 4492 or port 4493 or port 4494)"
    expect health_checks 127.0.0.1:4492 ok emby.example.com - \
        "HAProxy 2.6 'check ssl verify none' (no CA file) -> a Go crypto/tls server, TLS 1.2, the leaf signed by the test CA and sent alone, no other client: the check completes the handshake and aborts the connection with a bare RST (SO_LINGER 0), no FIN, no data, no alert ('Layer6 check passed'). Rule 'After a completed handshake': a bare reset is a checker's, not a trust rejection (a client that checks after the handshake closes with a FIN)"
    haproxy_check nv 4495 127.0.0.1:4492 ssl verify none check-sni emby.example.com \
        sni str\(emby.example.com\) ssl-max-ver TLSv1.2
    stop_pid "$HAPROXY_PID"
    local i
    for i in 1 2 3 4; do
        expect health_checks 127.0.0.1:4493 ok emby.example.com - \
            "poll $i of 4, one second apart: a Python monitor (ssl CERT_NONE, no name check, tlspeer.py client-poll-noverify) -> a Go server, TLS 1.2: handshake, then the socket closed (FIN, no close_notify, no data), as Node does when it rejects a certificate. Rule 'After a completed handshake': the same client completing silent handshakes with the same leaf at a steady interval polls the server: ok"
    done
    run c 15 "${PEER[@]}" client-poll-noverify 127.0.0.1 4493 emby.example.com 4 1
    for i in 1 2 3; do
        expect health_checks 127.0.0.1:4494 cert_unknown_ca emby.example.com - \
            "attempt $i of 3, retried after a growing pause (0.2 s, then 1.5 s): Node.js tls client trusting only the unrelated CA -> a Go server, TLS 1.2: Node completes the handshake, rejects the certificate afterwards and destroys the socket (FIN, no alert, no data). Repeated, but not at a steady interval: each is a rejection (rule 'After a completed handshake')"
    done
    node_client c --addr 127.0.0.1:4494 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe --max 1.2
    sleep 0.2
    node_client c --addr 127.0.0.1:4494 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe --max 1.2
    sleep 1.5
    node_client c --addr 127.0.0.1:4494 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe --max 1.2
    capture_stop
}

# TLS carried in another protocol's packets: OpenVPN over TCP wraps each TLS record of
# its control channel in its own header (length, opcode, session id, acks, packet id),
# after a reset exchange of its own. Not a TLS connection to judge: its headers between
# the records are no TLS stack's fault. OpenVPN 2.6 with `--dev null` (no tun device).
sc_tls_in_openvpn() {
    command -v openvpn >/dev/null || apt_install openvpn openvpn
    cat "$C/ca.pem" "$C/other-ca.pem" >"$WORK/ovpn-cas.pem"
    start ovpn-server timeout 30 openvpn --dev null --proto tcp-server --local 127.0.0.1 --port 4499 \
        --tls-server --ca "$WORK/ovpn-cas.pem" --cert "$C/emby.pem" --key "$C/emby.key" --dh none --verb 3
    wait_listen 127.0.0.1 4499
    capture_start tls_in_openvpn "tcp and host 127.0.0.1 and port 4499"
    expect tls_in_openvpn 127.0.0.1:4499 not_tls - - \
        "OpenVPN 2.6 client -> OpenVPN server over TCP (--dev null): P_CONTROL_HARD_RESET_CLIENT_V2 / SERVER_V2, then the TLS 1.3 handshake inside P_CONTROL_V1 packets (client certificate of the unrelated CA, server certificate emby.example.com verified), 'Initialization Sequence Completed'. TLS inside another protocol's framing: not a handshake attempt (was malformed_handshake: OpenVPN's next header read as a record)"
    run c 15 timeout 6 openvpn --dev null --proto tcp-client --remote 127.0.0.1 4499 --tls-client \
        --ca "$C/ca.pem" --cert "$C/client-other.pem" --key "$C/client-other.key" --verb 3 \
        --remote-cert-tls server --verify-x509-name emby.example.com name
    capture_stop
}

sc_tls13_ends_after_ticket() {
    need_go
    need_java
    node_server nsrv 127.0.0.1:4471 --cert "$C/emby.pem" --key "$C/emby.key"
    rustls_server rsrv 127.0.0.1:4472 --cert "$C/emby.pem" --key "$C/emby.key"
    java_server jsrv 127.0.0.1:4473
    capture_start tls13_ends_after_ticket "tcp and host 127.0.0.1 and (port 4471 or port 4472 or port 4473)"
    # Each client completes the handshake and holds the connection; the capture stops while
    # all of them are still open, right after the servers' NewSessionTickets.
    expect tls13_ends_after_ticket 127.0.0.1:4471 ok emby.example.com - \
        "Go crypto/tls client -> Node.js tls server, TLS 1.3: the client's Finished, then two NewSessionTickets (encrypted); the capture ends there, the connection still open. Rule 'TLS 1.3 without keys': complete, ok"
    start hold1 "$GOPEER" client -addr 127.0.0.1:4471 -sni emby.example.com -ca "$C/ca.pem" -mode hold -hold 30
    wait_log hold1 "^handshake:"
    expect tls13_ends_after_ticket 127.0.0.1:4472 ok emby.example.com - \
        "Java JSSE client -> rustls server, TLS 1.3: Java's padded Finished, then the server's NewSessionTicket; the capture ends, the connection open: ok (rule 'TLS 1.3 without keys')"
    start hold2 "${JAVAPEER[@]}" client --addr 127.0.0.1:4472 --sni emby.example.com --ca "$C/ca.pem" --mode hold --hold 30
    wait_log hold2 "^handshake:"
    expect tls13_ends_after_ticket 127.0.0.1:4473 ok emby.example.com - \
        "Node.js tls client -> Java JSSE server, TLS 1.3: the client's Finished, then Java's NewSessionTicket; the capture ends, the connection open: ok (rule 'TLS 1.3 without keys')"
    start hold3 "${NODEPEER[@]}" client --addr 127.0.0.1:4473 --sni emby.example.com --ca "$C/ca.pem" --mode hold --hold 30
    wait_log hold3 "^handshake:"
    expect tls13_ends_after_ticket 127.0.0.1:4471 ok emby.example.com - \
        "rustls client -> Node.js tls server, TLS 1.3: Finished, NewSessionTickets, the capture ends: ok (rule 'TLS 1.3 without keys')"
    start hold4 "$RUSTLSPEER" client --addr 127.0.0.1:4471 --sni emby.example.com --ca "$C/ca.pem" --mode hold --hold 30
    wait_log hold4 "^handshake:"
    sleep 0.5
    capture_stop
}

sc_no_response_timeout_stacks() {
    need_go
    need_java
    need_rustls
    start silent timeout 60 "${PEER[@]}" server-silent 127.0.0.7 443 30 4
    wait_listen 127.0.0.7 443
    local tail=(--sni emby.example.com --ca "$C/ca.pem" --timeout 2.5)
    capture_start no_response_timeout_stacks "tcp and host 127.0.0.7 and port 443"
    # The four clients wait at the same time, started 0.8 s apart (connection order).
    expect no_response_timeout_stacks 127.0.0.7:443 no_response_timeout emby.example.com - \
        "Go crypto/tls client (Dialer timeout 2.5 s) -> a server that accepts, reads and never answers: the client closes (FIN) 2.5 s after its ClientHello. Rule 'Silence': no_response_timeout, not client_aborted"
    start to1 "$GOPEER" client -addr 127.0.0.7:443 -sni emby.example.com -ca "$C/ca.pem" -timeout 2.5
    sleep 0.8
    expect no_response_timeout_stacks 127.0.0.7:443 no_response_timeout emby.example.com - \
        "Node.js tls client (socket.setTimeout 2.5 s, then destroy) -> the same silent server: FIN 2.5 s after the ClientHello. Rule 'Silence'"
    start to2 "${NODEPEER[@]}" client --addr 127.0.0.7:443 "${tail[@]}"
    sleep 0.8
    expect no_response_timeout_stacks 127.0.0.7:443 no_response_timeout emby.example.com client:warning:90,client:warning:0 \
        "Java JSSE client (SO_TIMEOUT 2.5 s) -> the silent server: gives up after 2.5 s and closes with plaintext warning alerts user_canceled(90) and close_notify(0), then FIN. Rule 'Silence': the client closes 2.5 s after its ClientHello with nothing but ACKs from the server"
    start to3 "${JAVAPEER[@]}" client --addr 127.0.0.7:443 "${tail[@]}"
    sleep 0.8
    expect no_response_timeout_stacks 127.0.0.7:443 no_response_timeout emby.example.com - \
        "rustls client (read timeout 2.5 s) -> the silent server: gives up after 2.5 s, FIN. Rule 'Silence'"
    start to4 "$RUSTLSPEER" client --addr 127.0.0.7:443 "${tail[@]}"
    local t
    for t in to1 to2 to3 to4; do wait_log "$t" "giving up|after [0-9.]+s" 10; done
    capture_stop
}

sc_client_cert_required_gnutls_java() {
    gnutls_serv 4474 -r --x509cafile "$C/ca.pem" --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
    java_server jsrv 127.0.0.1:4475 --clientca "$C/ca.pem"
    capture_start client_cert_required_gnutls_java "tcp and host 127.0.0.1 and (port 4474 or port 4475)"
    expect client_cert_required_gnutls_java 127.0.0.1:4474 client_cert_required emby.example.com server:50 \
        "s_client -tls1_2 without a certificate -> gnutls-serv --require-client-cert: CertificateRequest, empty client Certificate, the client's Finished, then GnuTLS's decode_error(50). Rule 'Client certificates' (GnuTLS answers decode_error)"
    sc_fail c -connect 127.0.0.1:4474 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem"
    expect client_cert_required_gnutls_java 127.0.0.1:4475 client_cert_required emby.example.com - \
        "s_client -tls1_3 without a certificate -> Java JSSE (needClientAuth): the client's flight (empty Certificate, Finished), then Java's encrypted alert PADDED to a 35-byte record (not 19) and a close. Rules 'Client certificates' and 'TLS 1.3 without keys'"
    sc_fail c -connect 127.0.0.1:4475 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

sc_client_cert_tls13_stacks() {
    node_server nsrv 127.0.0.1:4530 --cert "$C/emby.pem" --key "$C/emby.key" --clientca "$C/ca.pem"
    java_server jsrv 127.0.0.1:4531 --clientca "$C/ca.pem"
    gnutls_serv 4532 --http --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key" \
        --x509cafile "$C/ca.pem" --require-client-cert --verify-client-cert
    capture_start client_cert_tls13_stacks "tcp and host 127.0.0.1 and portrange 4530-4532"
    expect client_cert_tls13_stacks 127.0.0.1:4530 client_cert_required emby.example.com - \
        "Java JSSE client without a certificate -> Node.js (requestCert, rejectUnauthorized), TLS 1.3: Java's empty Certificate alone in a record PADDED to 41 bytes (alert-sized), the server's encrypted alert before the client's Finished (85 bytes) arrives. Rule 'TLS 1.3 client certificates by size'"
    java_client c --addr 127.0.0.1:4530 --sni emby.example.com --ca "$C/ca.pem" --mode probe
    expect client_cert_tls13_stacks 127.0.0.1:4531 client_cert_required emby.example.com - \
        "rustls client without a certificate, sending a GET -> Java JSSE (needClientAuth), TLS 1.3: the empty Certificate and the Finished in ONE record (8 + 52 bytes of content), then Java's padded encrypted alert (35 bytes) and a close"
    rustls_client c --addr 127.0.0.1:4531 --sni emby.example.com --ca "$C/ca.pem"
    expect client_cert_tls13_stacks 127.0.0.1:4530 client_cert_rejected emby.example.com - \
        "s_client -tls1_3 with a certificate from an unrelated CA -> Node.js: OpenSSL writes Certificate, CertificateVerify and Finished in one record; Node checks the certificate after the handshake and drops the socket at once, no alert, no ticket"
    sc_get c emby.example.com -connect 127.0.0.1:4530 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" \
        -cert "$C/client-other.pem" -key "$C/client-other.key"
    expect client_cert_tls13_stacks 127.0.0.1:4532 client_cert_rejected emby.example.com - \
        "rustls client with a certificate from an unrelated CA -> gnutls-serv --verify-client-cert: a 19-byte encrypted alert after the client's flight, the client's request already on its way, another alert, then a close: no record longer than an alert from the server"
    rustls_client c --addr 127.0.0.1:4532 --sni emby.example.com --ca "$C/ca.pem" \
        --cert "$C/client-other.pem" --key "$C/client-other.key"
    capture_stop
}

sc_tls13_flight_closes() {
    s_server 127.0.0.1:4533 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    go_server gsrv 127.0.0.1:4534 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start tls13_flight_closes "tcp and host 127.0.0.1 and (port 4533 or port 4534)"
    expect tls13_flight_closes 127.0.0.1:4533 cert_rejected emby.example.com - \
        "Node.js client trusting only the unrelated CA -> s_server, TLS 1.3: Node checks the certificate itself and drops the socket (a FIN, no alert, no Finished) right after the server's encrypted flight. Rule 'TLS 1.3: a client that hangs up after the server's whole flight'"
    node_client c --addr 127.0.0.1:4533 --sni emby.example.com --ca "$C/other-ca.pem"
    expect tls13_flight_closes 127.0.0.1:4534 ok emby.example.com - \
        "s_client -quiet, idle -> Go crypto/tls server (10 s deadline), TLS 1.3: Go sends its ticket before the client's Finished; 10 s later its close_notify (a 19-byte record), the client's close_notify: an idle close, not a refusal of the client's flight"
    echo "+ openssl s_client -quiet (idle 12 s)" >>"$WORK/c.log"
    { sleep 12 | timeout 20 openssl s_client -no-CApath -no-CAstore -quiet -connect 127.0.0.1:4534 \
        -servername emby.example.com -CAfile "$C/ca.pem" -verify_return_error; } >>"$WORK/c.log" 2>&1 || true
    capture_stop
}

sc_refused_hellos_stacks() {
    nginx_emby groups 127.0.0.1 4535 "hello from emby.example.com" "ssl_ecdh_curve X25519:prime256v1;"
    go_server gsrv 127.0.0.1:4536 -cert "$C/emby.pem" -key "$C/emby.key"
    start gnutls-serv12 timeout 120 gnutls-serv -p 4538 --http --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" \
        --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
    wait_listen 127.0.0.1 4538
    capture_start refused_hellos_stacks "tcp and host 127.0.0.1 and portrange 4535-4538"
    expect refused_hellos_stacks 127.0.0.1:4535 no_shared_cipher emby.example.com server:40 \
        "s_client -tls1_3 -groups P-521 -> nginx (ssl_ecdh_curve X25519:prime256v1): handshake_failure(40) before any ServerHello although TLS_AES_128_GCM_SHA256 is offered: no key-exchange group in common (the fix names groups, not suites)"
    sc_fail c -connect 127.0.0.1:4535 -tls1_3 -groups P-521 -servername emby.example.com -CAfile "$C/ca.pem"
    expect refused_hellos_stacks 127.0.0.1:4536 no_shared_cipher emby.example.com server:40 \
        "gnutls-cli offering only X448 -> Go crypto/tls (X25519, P-256, P-384, P-521; no X448): handshake_failure(40), no group in common"
    gc_fail c -p 4536 127.0.0.1 --sni-hostname emby.example.com --x509cafile "$C/ca.pem" \
        --priority "NORMAL:-GROUP-ALL:+GROUP-X448"
    expect refused_hellos_stacks 127.0.0.1:4538 protocol_version_mismatch emby.example.com server:40 \
        "s_client -tls1_3 -> gnutls-serv speaking only TLS 1.2: a TLS 1.3-only hello carries only TLS 1.3 suites, none a TLS 1.2 server knows: handshake_failure(40)"
    sc_fail c -connect 127.0.0.1:4538 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

sc_probes_and_early_data() {
    # (-early_data cannot go with -www: s_server prints what it reads, connection after
    # connection, while its standard input stays open)
    start s_server-early timeout 120 sh -c "sleep 110 | exec openssl s_server -accept 127.0.0.1:4539 \
        -tls1_3 -early_data -cert '$C/emby.pem' -key '$C/emby.key'"
    wait_listen 127.0.0.1 4539
    nginx_emby probes 127.0.0.1 4540 "hello from emby.example.com"
    # A request short enough that its 0-RTT record (35 bytes) is as short as an alert.
    printf 'GET / HTTP/1.0\r\n\r\n' >"$WORK/early.txt"
    capture_start probes_and_early_data "tcp and host 127.0.0.1 and (port 4539 or port 4540)"
    expect probes_and_early_data 127.0.0.1:4539 ok emby.example.com - \
        "s_client -tls1_3 -sess_out -> s_server -early_data: a full handshake that leaves a ticket allowing early data"
    echo "+ openssl s_client -sess_out" >>"$WORK/c.log"
    { sleep 1 | timeout 10 openssl s_client -no-CApath -no-CAstore -connect 127.0.0.1:4539 \
        -servername emby.example.com -CAfile "$C/ca.pem" -sess_out "$WORK/early.sess"; } >>"$WORK/c.log" 2>&1 || true
    expect probes_and_early_data 127.0.0.1:4539 ok emby.example.com - \
        "s_client -sess_in -early_data: a PSK resumption whose GET goes as 0-RTT early data, a 35-byte record (alert-sized) before the ServerHello (s_server accepts and prints it); then EndOfEarlyData (21 bytes) and the Finished. Not an alert: client records before the ServerHello are early data"
    echo "+ openssl s_client -sess_in -early_data" >>"$WORK/c.log"
    { sleep 1 | timeout 10 openssl s_client -no-CApath -no-CAstore -connect 127.0.0.1:4539 \
        -servername emby.example.com -CAfile "$C/ca.pem" -sess_in "$WORK/early.sess" \
        -early_data "$WORK/early.txt"; } >>"$WORK/c.log" 2>&1 || true
    expect probes_and_early_data 127.0.0.1:4540 ok - - \
        "s_client -tls1_2 -noservername </dev/null -> nginx (certificate for emby.example.com only, not 127.0.0.1): a probe naming no host and no application protocol completes the handshake and says goodbye with an encrypted close_notify: ok, not sni_missing"
    echo "+ openssl s_client -tls1_2 -noservername </dev/null" >>"$WORK/c.log"
    timeout 10 openssl s_client -no-CApath -no-CAstore -connect 127.0.0.1:4540 -tls1_2 -noservername \
        -CAfile "$C/ca.pem" </dev/null >>"$WORK/c.log" 2>&1 || true
    capture_stop
}

sc_protocol_version_tls11_refused() {
    gnutls_tls11 4476
    capture_start protocol_version_tls11_refused "tcp and host 127.0.0.1 and port 4476"
    expect protocol_version_tls11_refused 127.0.0.1:4476 protocol_version_mismatch emby.example.com client:80 \
        "curl (OpenSSL 3 at SECLEVEL 2; its hello still lists TLS 1.0 and 1.1) -> gnutls-serv limited to TLS 1.0/1.1: ServerHello TLS 1.1, then the client's internal_error(80) (no legacy signature algorithm allowed). Rule 'Old versions': a ServerHello picking TLS 1.1, answered by any client alert"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4476:127.0.0.1 https://emby.example.com:4476/
    expect protocol_version_tls11_refused 127.0.0.1:4476 protocol_version_mismatch emby.example.com server:40 \
        "rustls client (TLS 1.2/1.3 only, AEAD suites only) -> the same server: GnuTLS finds no TLS 1.1 suite among them and sends handshake_failure(40), no ServerHello. The version ranges do not overlap (this server picks TLS 1.1, #1) and version comes before cipher in the catalog's order"
    rustls_client c --addr 127.0.0.1:4476 --sni emby.example.com --ca "$C/ca.pem" --mode probe
    capture_stop
}

sc_sni_ip_literal_node() {
    go_server srv 127.0.0.1:4477 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    capture_start sni_ip_literal_node "tcp and host 127.0.0.1 and port 4477"
    expect sni_ip_literal_node 127.0.0.1:4477 sni_ip_literal 127.0.0.1 - \
        "Node.js tls client with servername 127.0.0.1 (Node still sends it, DEP0123) -> Go server, TLS 1.2: the certificate names only emby.example.com; Node completes the handshake, checkServerIdentity fails, the socket is destroyed (FIN, no alert). Rule 'IP literal as SNI': an abort"
    node_client c --addr 127.0.0.1:4477 --sni 127.0.0.1 --ca "$C/ca.pem" --mode probe
    capture_stop
}

sc_node_tls12_drop() {
    go_server srv 127.0.0.1:4478 -cert "$C/emby.pem" -key "$C/emby.key" -max 1.2
    go_server self 127.0.0.1:4479 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key" -max 1.2
    go_server exp 127.0.0.1:4480 -cert "$C/expired.pem" -key "$C/expired.key" -max 1.2
    capture_start node_tls12_drop "tcp and host 127.0.0.1 and portrange 4478-4480"
    local why="Node completes the TLS 1.2 handshake, rejects the certificate in JavaScript afterwards and destroys the socket: FIN, no alert, no data (the Go server's close_notify then meets a RST)"
    expect node_tls12_drop 127.0.0.1:4478 cert_name_mismatch other.example.org - \
        "Node.js tls client, servername other.example.org, certificate for emby.example.com only (trusted CA): $why. Rule 'After a completed handshake': the certificate does not cover the SNI"
    node_client c --addr 127.0.0.1:4478 --sni other.example.org --ca "$C/ca.pem" --mode probe
    expect node_tls12_drop 127.0.0.1:4478 cert_unknown_ca emby.example.com - \
        "Node.js tls client trusting only the unrelated CA; the chain holds only the leaf: $why. Rule 'After a completed handshake': an abrupt close, and no other client of this server sent data"
    node_client c --addr 127.0.0.1:4478 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe
    expect node_tls12_drop 127.0.0.1:4479 cert_self_signed emby.example.com - \
        "Node.js tls client (trusts the test CA) -> the self-signed EC leaf: $why. Rule 'After a completed handshake': an abrupt close, and no other client of this server sent data"
    node_client c --addr 127.0.0.1:4479 --sni emby.example.com --ca "$C/ca.pem" --mode probe
    expect node_tls12_drop 127.0.0.1:4480 cert_expired emby.example.com - \
        "Node.js tls client -> the leaf valid 2020-01-01..2021-01-01: $why. Rule 'After a completed handshake': outside its validity period at capture time"
    node_client c --addr 127.0.0.1:4480 --sni emby.example.com --ca "$C/ca.pem" --mode probe
    capture_stop
}

sc_cert_rejected_java_tls13() {
    apache_start rej13 <<EOF
Listen 127.0.0.1:4481 https
<VirtualHost 127.0.0.1:4481>
    ServerName emby.example.com
    SSLEngine on
    SSLCertificateFile $C/emby.pem
    SSLCertificateKeyFile $C/emby.key
</VirtualHost>
EOF
    wait_listen 127.0.0.1 4481
    capture_start cert_rejected_java_tls13 "tcp and host 127.0.0.1 and port 4481"
    expect cert_rejected_java_tls13 127.0.0.1:4481 cert_rejected emby.example.com - \
        "Java JSSE client trusting only the unrelated CA -> Apache, TLS 1.3: after the server's encrypted flight Java sends CCS and an encrypted alert PADDED to a 35-byte record (not 19), then FIN; no Finished. Rule 'TLS 1.3 without keys': an encrypted record too short to be a Finished is an alert -> cert_rejected (the certificate is not visible)"
    java_client c --addr 127.0.0.1:4481 --sni emby.example.com --ca "$C/other-ca.pem" --mode probe
    expect cert_rejected_java_tls13 127.0.0.1:4481 cert_rejected other.example.org - \
        "Java JSSE client, SNI other.example.org, TLS 1.3: Apache answers with its emby.example.com certificate (encrypted, not visible); Java's padded 35-byte alert instead of a Finished. Rule 'TLS 1.3 without keys' -> cert_rejected"
    java_client c --addr 127.0.0.1:4481 --sni other.example.org --ca "$C/ca.pem" --mode probe
    capture_stop
}

sc_alpn_mismatch_tls13() {
    go_server gsrv 127.0.0.1:4482 -cert "$C/emby.pem" -key "$C/emby.key" -alpn dot
    rustls_server rsrv 127.0.0.1:4483 --cert "$C/emby.pem" --key "$C/emby.key" --alpn dot
    capture_start alpn_mismatch_tls13 "tcp and host 127.0.0.1 and (port 4482 or port 4483)"
    expect alpn_mismatch_tls13 127.0.0.1:4482 alpn_mismatch emby.example.com - \
        "curl (ALPN h2, http/1.1) -> a Go crypto/tls server that speaks only ALPN 'dot', TLS 1.3: ServerHello, CCS and Go's ENCRYPTED no_application_protocol alert (19-byte record) in ONE segment, then FIN. Rule 'TLS 1.3 without keys': a server alert can arrive in the same segment as its ServerHello"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4482:127.0.0.1 https://emby.example.com:4482/
    expect alpn_mismatch_tls13 127.0.0.1:4483 alpn_mismatch emby.example.com - \
        "curl -> a rustls server that speaks only ALPN 'dot', TLS 1.3: ServerHello, CCS and the encrypted no_application_protocol alert in one segment, then FIN. Rule 'TLS 1.3 without keys'"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4483:127.0.0.1 https://emby.example.com:4483/
    capture_stop
}

sc_snaplen_cut() {
    gnutls_serv 4484 --echo -a --x509certfile "$C/emby.pem" --x509keyfile "$C/emby.key"
    CAP_SNAPLEN=300
    capture_start snaplen_cut "tcp and host 127.0.0.1 and port 4484"
    CAP_SNAPLEN=
    expect snaplen_cut 127.0.0.1:4484 incomplete_capture emby.example.com - \
        "the ok_tls12 exchange (python3 ssl client, TLS 1.2, verifying -> gnutls-serv --echo) captured with tcpdump -s 300: the server's first flight (ServerHello, Certificate, ...) is cut by the snap length. Rule 'Not every connection to a TLS port is a TLS attempt': a snap-length-truncated TLS record is incomplete_capture, the snap length in the evidence"
    run c 10 "${PEER[@]}" client-tls12-echo 127.0.0.1 4484 emby.example.com "$C/ca.pem"
    capture_stop
}

sc_snaplen_96() {
    s_server 127.0.0.1:4485 -cert "$C/emby.pem" -key "$C/emby.key"
    CAP_SNAPLEN=96
    capture_start snaplen_96 "tcp and host 127.0.0.1 and port 4485"
    CAP_SNAPLEN=
    expect snaplen_96 127.0.0.1:4485 incomplete_capture - - \
        "curl -> openssl s_server on 4485 (not a TLS port), verified, HTTP 200, captured with tcpdump -s 96 (the default of old tcpdump versions): every segment is cut, the ClientHello after its first 30 bytes. The start of a ClientHello still makes it a handshake attempt (was no record at all); the evidence names the snap length"
    run c 10 "${CURL[@]}" --resolve emby.example.com:4485:127.0.0.1 https://emby.example.com:4485/
    capture_stop
}

# STARTTLS: vsftpd (OpenSSL) on 4506 upgrades an FTP control connection after AUTH TLS;
# openssl s_client -starttls ftp as the client. The server's banner and its "234" before
# the ClientHello are the FTP conversation, not an answer to TLS.
sc_starttls_ftp() {
    mkdir -p "$WORK/vsftpd-empty"
    printf '%s\n' listen=YES listen_ipv6=NO listen_address=127.0.0.1 listen_port=4506 \
        background=NO anonymous_enable=YES local_enable=NO ssl_enable=YES allow_anon_ssl=YES \
        force_anon_logins_ssl=NO force_anon_data_ssl=NO ssl_tlsv1=YES ssl_sslv2=NO \
        ssl_sslv3=NO "rsa_cert_file=$C/emby.pem" "rsa_private_key_file=$C/emby.key" \
        "secure_chroot_dir=$WORK/vsftpd-empty" run_as_launching_user=YES \
        seccomp_sandbox=NO >"$WORK/vsftpd.conf"
    start vsftpd timeout 60 vsftpd "$WORK/vsftpd.conf"
    wait_listen 127.0.0.1 4506
    local ftp=(-starttls ftp -connect 127.0.0.1:4506 -servername emby.example.com -CAfile "$C/ca.pem")
    capture_start starttls_ftp "tcp and host 127.0.0.1 and port 4506"
    expect starttls_ftp 127.0.0.1:4506 ok emby.example.com - \
        "openssl s_client -starttls ftp, verified: FTP banner, AUTH TLS, 234, then the TLS 1.3 handshake, and the client leaves (a probe)"
    sc_fail c "${ftp[@]}" -verify_return_error
    expect starttls_ftp 127.0.0.1:4506 no_shared_cipher emby.example.com server:40 \
        "s_client -starttls ftp -tls1_2 offering only ECDHE-ECDSA-AES128-GCM-SHA256 to vsftpd's RSA certificate: after AUTH TLS and 234, the server's handshake_failure(40). The FTP text before the ClientHello was the upgrade, not the server's answer (was tls_to_plaintext_port: the server's TLS alert was not read)"
    sc_fail c "${ftp[@]}" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
    capture_stop
}

sc_other_protocols_on_tls_ports() {
    mkdir -p /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/sshd_host_key"
    start sshd /usr/sbin/sshd -D -e -f /dev/null -o ListenAddress=127.0.0.1 -p 4486 \
        -h "$WORK/sshd_host_key" -o PidFile=none
    wait_listen 127.0.0.1 4486
    s_server 127.0.0.1:4487 -cert "$C/emby.pem" -key "$C/emby.key"
    start sslh sslh -f -n -p 127.0.0.1:443 --ssh 127.0.0.1:4486 --tls 127.0.0.1:4487
    wait_listen 127.0.0.1 443
    mkdir -p "$WORK/www"
    echo hello >"$WORK/www/index.html"
    start http python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" 8443
    wait_listen 127.0.0.1 8443
    start dtls timeout 60 openssl s_server -dtls -accept 127.0.0.1:4505 -cert "$C/emby.pem" -key "$C/emby.key"
    capture_start other_protocols_on_tls_ports "host 127.0.0.1 and (tcp port 443 or tcp port 8443 or udp port 4505)"
    expect other_protocols_on_tls_ports 127.0.0.1:443 not_tls - - \
        "OpenSSH client to port 443, where sslh hands SSH to sshd and TLS to openssl s_server: SSH banners both ways, key exchange, authentication refused (BatchMode). Rule 'Not every connection to a TLS port is a TLS attempt': neither side speaks TLS and the server answers in kind -> not a handshake attempt"
    run c 10 ssh -p 443 -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null nobody@127.0.0.1 true
    expect other_protocols_on_tls_ports 127.0.0.1:443 ok emby.example.com - \
        "curl through the same sslh on 443 -> openssl s_server -www: TLS 1.3, GET and response"
    run c 10 "${CURL[@]}" --resolve emby.example.com:443:127.0.0.1 https://emby.example.com/
    expect other_protocols_on_tls_ports 127.0.0.1:8443 not_tls - - \
        "curl http:// to a plain HTTP server (python3 http.server) on 8443: a request and a 200 response in plain text. Rule 'Not every connection to a TLS port is a TLS attempt' -> not a handshake attempt"
    run c 10 curl -sS --max-time 8 -o /dev/null http://127.0.0.1:8443/
    # DTLS over UDP: counted and named in the report ("not analyzed"), not a TCP attempt.
    { sleep 1 | timeout 10 openssl s_client -dtls -connect 127.0.0.1:4505 -no-CApath -no-CAstore \
        -CAfile "$C/ca.pem" -servername emby.example.com; } >>"$WORK/c.log" 2>&1 || true
    capture_stop
}

sc_sha1_signature() {
    # emby.example.com signed by the test CA with SHA-1; both peers at OpenSSL's security
    # level 0, the only one that still accepts such a signature.
    (cd "$C" && SAN=DNS:emby.example.com openssl x509 -req -in emby.csr -CA ca.pem \
        -CAkey ca.key -CAcreateserial -out emby-sha1.pem -days 825 -sha1 \
        -extfile openssl.cnf -extensions v3_server) >>"$WORK/pki.log" 2>&1
    s_server 127.0.0.1:4488 -cert "$C/emby-sha1.pem" -key "$C/emby.key" -cipher 'DEFAULT@SECLEVEL=0'
    capture_start sha1_signature "tcp and host 127.0.0.1 and port 4488"
    expect sha1_signature 127.0.0.1:4488 ok emby.example.com - \
        "curl --tls-max 1.2 --ciphers DEFAULT@SECLEVEL=0 (trusts the test CA) -> openssl s_server -www whose certificate is signed with sha1WithRSAEncryption: completed, GET answered. Warning sha1_signature"
    run c 10 "${CURL[@]}" --tls-max 1.2 --ciphers 'DEFAULT@SECLEVEL=0' \
        --resolve emby.example.com:4488:127.0.0.1 https://emby.example.com:4488/
    capture_stop
}

sc_virtual_hosts() {
    # media.example.org: a second virtual host, its certificate from the unrelated CA.
    (cd "$C" && openssl req -config openssl.cnf -new -newkey rsa:2048 -nodes -keyout media.key \
        -out media.csr -subj "/CN=media.example.org" &&
        SAN=DNS:media.example.org openssl x509 -req -in media.csr -CA other-ca.pem \
            -CAkey other-ca.key -CAcreateserial -out media.pem -days 825 -sha256 \
            -extfile openssl.cnf -extensions v3_server) >>"$WORK/pki.log" 2>&1
    nginx_start vhosts <<EOF
    server {
        listen 127.0.0.1:4489 ssl default_server;
        server_name emby.example.com;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        location / { return 200 "emby\n"; }
    }
    server {
        listen 127.0.0.1:4489 ssl;
        server_name media.example.org;
        ssl_certificate $C/media.pem;
        ssl_certificate_key $C/media.key;
        location / { return 200 "media\n"; }
    }
EOF
    wait_listen 127.0.0.1 4489
    capture_start virtual_hosts "tcp and host 127.0.0.1 and port 4489"
    expect virtual_hosts 127.0.0.1:4489 ok emby.example.com - \
        "curl --tls-max 1.2 -> nginx, virtual host emby.example.com (test CA): completed, GET answered; its certificate (emby.example.com) is visible"
    run c 10 "${CURL[@]}" --tls-max 1.2 --resolve emby.example.com:4489:127.0.0.1 https://emby.example.com:4489/
    expect virtual_hosts 127.0.0.1:4489 cert_rejected media.example.org - \
        "Go crypto/tls client (TLS 1.3, trusts only the test CA) -> the same nginx, virtual host media.example.org whose certificate comes from the unrelated CA: an encrypted alert instead of its Finished. Rule 'Virtual hosts': the emby.example.com certificate other clients got belongs to another virtual host, so this is not cert_name_mismatch; the certificate is encrypted -> cert_rejected"
    go_client c -addr 127.0.0.1:4489 -sni media.example.org -ca "$C/ca.pem" -mode probe
    expect virtual_hosts 127.0.0.1:4489 cert_unknown_ca media.example.org client:48 \
        "curl --tls-max 1.2 (trusts only the test CA) -> virtual host media.example.org: the certificate from the unrelated CA is visible; curl answers unknown_ca(48)"
    run c 10 "${CURL[@]}" --tls-max 1.2 --resolve media.example.org:4489:127.0.0.1 https://media.example.org:4489/
    capture_stop
}

sc_resumption_proves_acceptance() {
    # The self-signed EC leaf, trusted by the client through its CA file. One server
    # resumes by session ticket, the other (--noticket) by session id.
    s_server 127.0.0.1:4490 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key"
    # (OpenSSL's server drops a session whose connection ended without close_notify;
    # GnuTLS keeps it.)
    gnutls_serv 4491 --echo --noticket --x509certfile "$C/selfsigned.pem" --x509keyfile "$C/selfsigned.key"
    capture_start resumption_proves_acceptance "tcp and host 127.0.0.1 and (port 4490 or port 4491)"
    local why="the client completes TLS 1.2 with the self-signed leaf (trusted through its CA file) and closes the socket at once: FIN, no alert, no data, a leaf no other client sent data after"
    expect resumption_proves_acceptance 127.0.0.1:4490 ok emby.example.com - \
        "python3 ssl probe -> openssl s_server: $why. Alone that is the trust rule's cert_self_signed; rule 'Cross-connection proof': the next connection resumes this session by its ticket, so the client accepted the certificate -> ok"
    expect resumption_proves_acceptance 127.0.0.1:4490 ok emby.example.com - \
        "the same client resuming by session ticket (abbreviated handshake, no certificate), a GET and its answer"
    run c 10 "${PEER[@]}" client-probe-resume 127.0.0.1 4490 emby.example.com "$C/selfsigned.pem"
    expect resumption_proves_acceptance 127.0.0.1:4491 ok emby.example.com - \
        "python3 ssl probe -> gnutls-serv --noticket: $why. Rule 'Cross-connection proof': the next connection resumes it by session id -> ok"
    expect resumption_proves_acceptance 127.0.0.1:4491 ok emby.example.com - \
        "the same client resuming by session id, a request line echoed back"
    run c 10 "${PEER[@]}" client-probe-resume 127.0.0.1 4491 emby.example.com "$C/selfsigned.pem"
    capture_stop
}

sc_lighttpd() {
    local d=$WORK/lighttpd
    mkdir -p "$d/www"
    echo lighttpd >"$d/www/index.html"
    cat "$C/emby.pem" "$C/emby.key" >"$d/emby-both.pem"
    cat >"$d/lighttpd.conf" <<EOF
server.modules = ("mod_openssl")
server.document-root = "$d/www"
server.bind = "127.0.0.1"
server.port = 9443
server.errorlog = "$d/error.log"
ssl.engine = "enable"
ssl.pemfile = "$d/emby-both.pem"
EOF
    start lighttpd timeout 120 lighttpd -D -f "$d/lighttpd.conf"
    wait_listen 127.0.0.1 9443
    capture_start lighttpd "tcp and host 127.0.0.1 and port 9443"
    expect lighttpd 127.0.0.1:9443 ok emby.example.com - \
        "curl -> lighttpd mod_openssl, TLS 1.3: GET answered"
    run c 10 "${CURL[@]}" --resolve emby.example.com:9443:127.0.0.1 https://emby.example.com:9443/
    expect lighttpd 127.0.0.1:9443 ok emby.example.com - \
        "openssl s_client -brief </dev/null (a certificate check), TLS 1.3: completes, reads the session tickets, closes. Rule 'After a completed handshake': ok"
    run c 10 openssl s_client -brief -connect 127.0.0.1:9443 -servername emby.example.com \
        -CAfile "$C/ca.pem" </dev/null
    expect lighttpd 127.0.0.1:9443 ok emby.example.com - \
        "python3 ssl probe, TLS 1.2 (verifying chain and name), socket dropped at once: the leaf is the one curl accepted over TLS 1.2 next. Rule 'After a completed handshake': ok"
    run c 10 "${PEER[@]}" client-probe 127.0.0.1 9443 emby.example.com "$C/ca.pem"
    expect lighttpd 127.0.0.1:9443 ok emby.example.com - \
        "curl --tls-max 1.2: GET answered (the leaf accepted over TLS 1.2)"
    run c 10 "${CURL[@]}" --tls-max 1.2 --resolve emby.example.com:9443:127.0.0.1 https://emby.example.com:9443/
    expect lighttpd 127.0.0.1:9443 cert_name_mismatch other.example.org - \
        "curl --tls-max 1.2 asking for other.example.org: lighttpd sends its only certificate (emby.example.com); curl checks the name after the handshake and closes without a plaintext alert. Rule 'After a completed handshake': the certificate does not cover the SNI"
    run c 10 "${CURL[@]}" --tls-max 1.2 --resolve other.example.org:9443:127.0.0.1 https://other.example.org:9443/
    expect lighttpd 127.0.0.1:9443 cert_unknown_ca emby.example.com client:48 \
        "curl --tls-max 1.2 trusting only the unrelated CA: unknown_ca(48)"
    run c 10 curl -sS --max-time 8 --cacert "$C/other-ca.pem" -o /dev/null --tls-max 1.2 \
        --resolve emby.example.com:9443:127.0.0.1 https://emby.example.com:9443/
    expect lighttpd 127.0.0.1:9443 plaintext_to_tls_port - - \
        "curl http:// (plain HTTP) to lighttpd's TLS port 9443: lighttpd closes without an HTTP answer"
    run c 10 curl -sS --max-time 8 -o /dev/null http://127.0.0.1:9443/
    capture_stop
}

# ---------------------------------------------------------------- capture losses -------
# Real handshakes recorded between network namespaces made here (tw-la client
# 10.251.0.1, tw-lr a router, tw-lb server 10.251.0.2; veth pairs, MTU 1500, segmentation
# offloads off so that tcpdump sees wire-sized segments). The servers send the leaf and
# its intermediate, so that their flights take more than one segment.
loss_path() {
    tun_ns tw-la tw-lr tw-lb
    veth_pair tw-la la0 10.251.0.1/24 tw-lr lr0 10.251.0.254/24
    veth_pair tw-lr lr1 10.251.1.254/24 tw-lb lb0 10.251.0.2/32
    ip -n tw-lb route add 10.251.1.254/32 dev lb0
    ip -n tw-lb route add 10.251.0.0/24 via 10.251.1.254 dev lb0
    ip -n tw-lr route add 10.251.0.2/32 dev lr1
    ip -n tw-la route add 10.251.0.2/32 via 10.251.0.254 dev la0
    ip netns exec tw-lr sysctl -qw net.ipv4.ip_forward=1
    local nd
    for nd in tw-la:la0 tw-lr:lr0 tw-lr:lr1 tw-lb:lb0; do
        ip netns exec "${nd%%:*}" ethtool -K "${nd#*:}" tso off gso off gro off >/dev/null 2>&1 || true
    done
}
loss_server() { # NAME PORT VERSION
    tun_s_server "$1" tw-lb "10.251.0.2:$2" "-$3" -cert "$C/emby-int.pem" \
        -cert_chain "$C/int.pem" -key "$C/emby.key"
}

# Segments the CAPTURE lost (not the network): captured on the client's interface, then
# single frames removed with editcap, as a tap or a busy capture host drops them. The
# peers saw every byte; only the capture did not.
sc_capture_losses() {
    loss_path
    loss_server loss13 4501 tls1_3
    loss_server loss12 4502 tls1_2
    # A server that reads the start of the ClientHello and closes without a word.
    start lossclose ip netns exec tw-lb timeout 30 socat TCP-LISTEN:4503,bind=10.251.0.2,reuseaddr \
        SYSTEM:'head -c 1 >/dev/null'
    local i
    for i in $(seq 1 200); do
        ip netns exec tw-lb ss -Hltn "sport = :4503" | grep -q . && break
        sleep 0.05
    done
    CAP_NETNS=tw-la CAP_IFACE=la0 capture_start capture_losses_full "tcp" "$WORK"
    expect capture_losses 10.251.0.2:4501 incomplete_capture emby.example.com - \
        "curl -> s_server -tls1_3, verified, HTTP 200; the capture lost the server's first segment (ServerHello and the start of its encrypted flight), which the client acknowledges before the next one arrives: that one starts inside a record. Was malformed_handshake (the server blamed for bytes the capture lost)"
    run c 10 ip netns exec tw-la "${CURL[@]}" --resolve emby.example.com:4501:10.251.0.2 \
        https://emby.example.com:4501/
    expect capture_losses 10.251.0.2:4502 cert_unknown_ca emby.example.com client:48 \
        "curl --tls-max 1.2 without the private CA -> s_server -tls1_2: the capture lost the server's first segment (ServerHello, the start of the Certificate); the client's unknown_ca(48), whole in its own direction, still decides. Was malformed_handshake"
    run c 10 ip netns exec tw-la curl -sS --max-time 8 -o /dev/null --tls-max 1.2 \
        --resolve emby.example.com:4502:10.251.0.2 https://emby.example.com:4502/
    expect capture_losses 10.251.0.2:4501 incomplete_capture - - \
        "curl -> s_server -tls1_3 again, verified, HTTP 200; the capture lost the client's ClientHello (the only client segment before the server's flight), on a port that is not a TLS port: the ServerHello still makes it a handshake attempt. Was no record at all"
    run c 10 ip netns exec tw-la "${CURL[@]}" --resolve emby.example.com:4501:10.251.0.2 \
        https://emby.example.com:4501/
    expect capture_losses 10.251.0.2:4503 incomplete_capture emby.example.com client:50 \
        "s_client -> a server (socat) that reads the start of the ClientHello and closes (FIN); the capture lost the server's FIN, which the client's decode_error(50) segment acknowledges: that alert answers an end of stream the capture does not show, and who closed first is not in it. Was malformed_handshake (the server blamed)"
    { sleep 1 | timeout 10 ip netns exec tw-la openssl s_client -no-CApath -no-CAstore \
        -connect 10.251.0.2:4503 -servername emby.example.com; } >>"$WORK/c.log" 2>&1 || true
    capture_stop
    stop_all
    tun_ns_del
    local full=$WORK/capture_losses_full.pcap fields=(-T fields -e frame.number)
    local sh12 sh13 ch fin multi
    # The server's first data segment of the first connection to 4501 and of 4502; the
    # ClientHello of the second connection to 4501; the server's FIN on 4503.
    sh13=$(tshark -n -r "$full" -Y 'tcp.srcport == 4501 && tcp.len > 0' "${fields[@]}" | head -1)
    sh12=$(tshark -n -r "$full" -Y 'tcp.srcport == 4502 && tcp.len > 0' "${fields[@]}" | head -1)
    ch=$(tshark -n -r "$full" -Y 'tcp.dstport == 4501 && tls.handshake.type == 1' "${fields[@]}" | sed -n 2p)
    fin=$(tshark -n -r "$full" -Y 'tcp.srcport == 4503 && tcp.flags.fin == 1' "${fields[@]}" | head -1)
    [ -n "$sh13" ] && [ -n "$sh12" ] && [ -n "$ch" ] && [ -n "$fin" ] ||
        die "capture_losses: frames to cut not found ($sh13 $sh12 $ch $fin)"
    multi=$(tshark -n -r "$full" -Y 'tcp.srcport == 4502 && tcp.len > 0' "${fields[@]}" | wc -l)
    [ "$multi" -ge 2 ] || die "capture_losses: the server's TLS 1.2 flight fits one segment"
    editcap -F pcap "$full" "$WORK/capture_losses.pcap" "$sh13" "$sh12" "$ch" "$fin"
    mv -f "$WORK/capture_losses.pcap" "$HERE/capture_losses.pcap"
}

# Bytes the NETWORK lost and nobody resent: nftables in the router drops the client's
# alert (the only 59-byte IP packet to port 4504: a 7-byte record), and the client
# resets at once, so the alert is never retransmitted; captured on the server's
# interface, which never sees it.
sc_alert_lost_in_transit() {
    loss_path
    loss_server lossalert 4504 tls1_2
    ip netns exec tw-lr nft -f - <<'NFT'
table inet tlswhy_loss {
    chain drop_alert {
        type filter hook forward priority 0;
        tcp dport 4504 ip length 59 drop
    }
}
NFT
    CAP_NETNS=tw-lb CAP_IFACE=lb0 capture_start alert_lost_in_transit "tcp"
    expect alert_lost_in_transit 10.251.0.2:4504 incomplete_capture emby.example.com - \
        "curl --tls-max 1.2 without the private CA -> s_server -tls1_2; the router drops the client's unknown_ca alert and the client resets: the reset is numbered past bytes that never appear, so the close is not a client leaving without a word. Was client_aborted"
    run c 10 ip netns exec tw-la curl -sS --max-time 8 -o /dev/null --tls-max 1.2 \
        --resolve emby.example.com:4504:10.251.0.2 https://emby.example.com:4504/
    capture_stop
    stop_all
    tun_ns_del
}

# ---------------------------------------------------------------- tunnels --------------
# TLS through the kernel's VXLAN (the tunnel this kernel offers; GRE, Geneve, GTP-U,
# IP-in-IP and MPLS routing need modules that may be missing) between network
# namespaces made here: tw-ua and tw-ub hold the underlay (veth ua0 <-> ub0,
# 10.250.0.1/.2 and fd25::1/::2); tenant namespaces hold the tunnels' inner ends. The
# capture is taken on ua0, so it holds the encapsulated packets.
TUN_NS=()
tun_ns() { # NAME...: fresh namespaces with lo up, deleted by tun_ns_del
    local n
    for n in "$@"; do
        ip netns del "$n" 2>/dev/null || true
        ip netns add "$n"
        TUN_NS+=("$n")
        ip -n "$n" link set lo up
    done
}
tun_ns_del() {
    local n
    for n in "${TUN_NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    TUN_NS=()
}
tun_underlay() {
    tun_ns tw-ua tw-ub
    veth_pair tw-ua ua0 10.250.0.1/24 tw-ub ub0 10.250.0.2/24
    tun_addr tw-ua ua0 fd25::1/64
    tun_addr tw-ub ub0 fd25::2/64
}
tun_addr() { # NS DEV ADDR/LEN
    if [[ $3 == *:* ]]; then ip -n "$1" addr add "$3" dev "$2" nodad; else ip -n "$1" addr add "$3" dev "$2"; fi
    ip -n "$1" link set "$2" up
}
veth_pair() { # NS_A DEV_A ADDR_A NS_B DEV_B ADDR_B: a veth pair between two namespaces, both ends addressed and up
    ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
    tun_addr "$1" "$2" "$3"
    tun_addr "$4" "$5" "$6"
}
# tun_vxlan VNI LOCAL REMOTE MTU ADDR_A ADDR_B [NS_A NS_B]: a VXLAN segment (UDP 4789)
# from $TUN_A (LOCAL; default tw-ua) to $TUN_B (REMOTE; default tw-ub); its two ends,
# addressed ADDR_A and ADDR_B, moved into NS_A and NS_B when given (their tunnel sockets
# stay where they were made).
tun_vxlan() {
    local ua=${TUN_A:-tw-ua} ub=${TUN_B:-tw-ub}
    local vni=$1 local=$2 remote=$3 mtu=$4 a=$5 b=$6 nsa=${7:-$ua} nsb=${8:-$ub}
    ip -n "$ua" link add "vx$vni" mtu "$mtu" type vxlan id "$vni" local "$local" remote "$remote" dstport 4789
    ip -n "$ub" link add "vx$vni" mtu "$mtu" type vxlan id "$vni" local "$remote" remote "$local" dstport 4789
    [ "$nsa" = "$ua" ] || ip -n "$ua" link set "vx$vni" netns "$nsa"
    [ "$nsb" = "$ub" ] || ip -n "$ub" link set "vx$vni" netns "$nsb"
    tun_addr "$nsa" "vx$vni" "$a"
    tun_addr "$nsb" "vx$vni" "$b"
}
tun_s_server() { # NAME NS ACCEPT(ip:port or [ip6]:port) ARGS...
    local name=$1 ns=$2 acc=$3 port=${3##*:} i
    shift 3
    start "$name" ip netns exec "$ns" timeout 60 openssl s_server -accept "$acc" -www "$@"
    for i in $(seq 1 200); do
        ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    die "$name: nothing listens on $acc in $ns"
}

sc_tunnel_vxlan() {
    tun_underlay
    tun_ns tw-c1 tw-s1 tw-c2 tw-s2
    # Two tenants with the SAME inner addresses, VNI 100 and VNI 200; a third segment
    # (VNI 300) over the IPv6 underlay carries IPv6.
    tun_vxlan 100 10.250.0.1 10.250.0.2 1450 10.1.0.1/24 10.1.0.2/24 tw-c1 tw-s1
    tun_vxlan 200 10.250.0.1 10.250.0.2 1450 10.1.0.1/24 10.1.0.2/24 tw-c2 tw-s2
    tun_vxlan 300 fd25::1 fd25::2 1430 fd01::1/64 fd01::2/64 tw-c1 tw-s1
    tun_s_server srv1 tw-s1 10.1.0.2:4433 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    tun_s_server srv2 tw-s2 10.1.0.2:4433 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    tun_s_server srv3 tw-s1 '[fd01::2]:4434' -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    CAP_NETNS=tw-ua CAP_IFACE=ua0 capture_start tunnel_vxlan "udp port 4789"
    expect tunnel_vxlan 10.1.0.2:4433 ok emby.example.com - \
        "TENANT 1, VXLAN VNI 100 (kernel vxlan between network namespaces, captured on the underlay veth): openssl s_client -bind 10.1.0.1:40000 -> openssl s_server -tls1_3, verified; the GET waits 1.5 s, so tenant 2's handshake on the same inner 5-tuple happens meanwhile. The VNI keys the flow"
    { sleep 1.5; get_req emby.example.com; } | timeout 10 ip netns exec tw-c1 openssl s_client \
        -no-CApath -no-CAstore -ign_eof -bind 10.1.0.1:40000 -connect 10.1.0.2:4433 -tls1_3 \
        -servername emby.example.com -CAfile "$C/ca.pem" -verify_return_error >>"$WORK/c1.log" 2>&1 &
    local t1=$!
    sleep 0.5
    expect tunnel_vxlan 10.1.0.2:4433 protocol_version_mismatch emby.example.com server:70 \
        "TENANT 2, VXLAN VNI 200, the same inner 5-tuple as tenant 1 (10.1.0.1:40000 -> 10.1.0.2:4433) while tenant 1's connection is open: s_client -tls1_3 -> s_server -tls1_2 answers protocol_version(70)"
    { sleep 1 | timeout 10 ip netns exec tw-c2 openssl s_client -no-CApath -no-CAstore \
        -bind 10.1.0.1:40000 -connect 10.1.0.2:4433 -tls1_3 -servername emby.example.com; } \
        >>"$WORK/c2.log" 2>&1 || true
    wait "$t1" || true
    expect tunnel_vxlan '[fd01::2]:4434' ok emby.example.com - \
        "VXLAN VNI 300 over the IPv6 underlay, IPv6 inside: curl -> openssl s_server -tls1_3 -www, HTTP/1.0 200"
    run c3 10 ip netns exec tw-c1 "${CURL[@]}" --resolve 'emby.example.com:4434:[fd01::2]' \
        https://emby.example.com:4434/
    capture_stop
    stop_all
    tun_ns_del
}

sc_tunnel_nested() {
    tun_underlay
    # VXLAN in VXLAN, five deep (VNI k carried by VNI k-1): 10.251.k.1 <-> 10.251.k.2.
    # The kernel refuses to nest tunnel transmits more than 3 deep in one call chain
    # ("Dead loop on virtual device"), so VNIs 4 and 5 start in namespaces tw-xa/tw-xb
    # behind a veth hop (10.252.0.0/30, 10.253.0.0/30) that tw-ua/tw-ub route into VNI 3.
    tun_vxlan 1 10.250.0.1 10.250.0.2 1450 10.251.1.1/24 10.251.1.2/24
    tun_vxlan 2 10.251.1.1 10.251.1.2 1400 10.251.2.1/24 10.251.2.2/24
    tun_vxlan 3 10.251.2.1 10.251.2.2 1350 10.251.3.1/24 10.251.3.2/24
    tun_ns tw-xa tw-xb
    local side peer ns x
    for side in a b; do
        ns=tw-u$side x=tw-x$side
        [ $side = a ] && peer=b || peer=a
        ip -n "$ns" link add "u${side}1" mtu 1350 type veth peer name "x${side}0" netns "$x" mtu 1350
        tun_addr "$ns" "u${side}1" "10.25$([ $side = a ] && echo 2 || echo 3).0.1/30"
        tun_addr "$x" "x${side}0" "10.25$([ $side = a ] && echo 2 || echo 3).0.2/30"
        ip -n "$x" route add default via "10.25$([ $side = a ] && echo 2 || echo 3).0.1"
        ip -n "$ns" route add "10.25$([ $peer = a ] && echo 2 || echo 3).0.0/30" \
            via "10.251.3.$([ $peer = a ] && echo 1 || echo 2)" dev vx3
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
    done
    TUN_A=tw-xa TUN_B=tw-xb tun_vxlan 4 10.252.0.2 10.253.0.2 1300 10.251.4.1/24 10.251.4.2/24
    TUN_A=tw-xa TUN_B=tw-xb tun_vxlan 5 10.251.4.1 10.251.4.2 1250 10.251.5.1/24 10.251.5.2/24
    tun_s_server srv4 tw-xb 10.251.4.2:4433 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    tun_s_server srv5 tw-xb 10.251.5.2:4433 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    CAP_NETNS=tw-ua CAP_IFACE=ua0 capture_start tunnel_nested "udp port 4789"
    expect tunnel_nested 10.251.4.2:4433 ok emby.example.com - \
        "VXLAN nested FOUR deep (kernel vxlan between network namespaces, captured on the underlay veth): curl -> openssl s_server -tls1_3 -www, HTTP/1.0 200; decoded (the bound is 4). A second curl, to 10.251.5.2 five tunnels deep, is not listed: its packets are counted in the capture's warning 'tunnels nested more than 4 deep'"
    run c4 10 ip netns exec tw-xa "${CURL[@]}" --resolve emby.example.com:4433:10.251.4.2 \
        https://emby.example.com:4433/
    run c5 10 ip netns exec tw-xa "${CURL[@]}" --resolve emby.example.com:4433:10.251.5.2 \
        https://emby.example.com:4433/
    capture_stop
    stop_all
    tun_ns_del
}

# TLS across a veth pair between two namespaces made here (tw-ta: client 10.251.0.1,
# tw-tb: server 10.251.0.2) with BIG TCP on: the server's kernel hands its device GSO
# packets of up to 185000 bytes whose IPv4 total length is 0, and the capture on tb0
# shows them as they are.
sc_tso_big_tcp() {
    tun_ns tw-ta tw-tb
    veth_pair tw-ta ta0 10.251.0.1/24 tw-tb tb0 10.251.0.2/24
    python3 "$TOOLS/bigtcp.py" 185000 tw-ta:ta0 tw-tb:tb0 >>"$WORK/tso.log" 2>&1 ||
        die "BIG TCP: $(cat "$WORK/tso.log")"
    mkdir -p "$WORK/www-tso"
    head -c 600000 /dev/urandom >"$WORK/www-tso/big"
    start tso ip netns exec tw-tb sh -c 'cd "$1" && exec timeout 120 openssl s_server \
        -accept 10.251.0.2:4493 -WWW -cert "$2" -key "$3"' _ "$WORK/www-tso" "$C/emby.pem" "$C/emby.key"
    local i
    for i in $(seq 1 100); do
        ip netns exec tw-tb ss -Hltn "sport = :4493" | grep -q 4493 && break
        sleep 0.05
    done
    CAP_NETNS=tw-tb CAP_IFACE=tb0 capture_start tso_big_tcp "tcp port 4493"
    expect tso_big_tcp 10.251.0.2:4493 ok emby.example.com - \
        "curl (TLS 1.3) downloads 600 kB from openssl s_server -WWW across a veth pair with BIG TCP on: the server's data leaves as GSO packets of up to 185000 bytes whose IPv4 total length field is 0 (segmentation offload on the capturing host). Rule 'Capture quirks': the captured bytes are trusted, no segment is lost -> ok"
    run c 15 ip netns exec tw-ta "${CURL[@]}" --resolve emby.example.com:4493:10.251.0.2 \
        https://emby.example.com:4493/big
    capture_stop
    stop_all
    tun_ns_del
}

# ---------------------------------------------------------------- keyed captures -------
# Captures with their key logs (captures/NAME.keys) and twins with the keys inside
# (captures/NAME.dsb.pcapng): see keylog/keys_finish. Every client writes its secrets
# (s_client -keylogfile, SSLKEYLOGFILE for curl and gnutls-cli, tlspeer.py --keylog) and
# so does s_server; keys_finish keeps one copy of each line. expect's 7th column is the
# code with the keys, its 8th every alert tshark reads with them.
# s_server -www answers a GET and closes with close_notify; the clients answer with theirs.
BYE="server:warning:0,client:warning:0"

# TLS 1.3: the certificate cases, client certificates, a probe, HelloRetryRequest and
# resumption, each on openssl s_server, from curl, gnutls-cli, s_client and Python.
sc_keys_tls13() {
    local k=keys_tls13 srv
    local sk=(-keylogfile "$(keylog $k s_server)")
    local osk=(-keylogfile "$(keylog $k openssl)") ck gk pk
    ck=$(keylog $k curl) gk=$(keylog $k gnutls) pk=$(keylog $k python)
    s_server 127.0.0.1:4520 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key" "${sk[@]}"
    s_server 127.0.0.1:4521 -tls1_3 -cert "$C/expired.pem" -key "$C/expired.key" "${sk[@]}"
    s_server 127.0.0.1:4522 -tls1_3 -cert "$C/selfsigned.pem" -key "$C/selfsigned.key" "${sk[@]}"
    s_server 127.0.0.1:4523 -tls1_3 -Verify 1 -verify_return_error -CAfile "$C/ca.pem" \
        -cert "$C/emby.pem" -key "$C/emby.key" "${sk[@]}"
    s_server 127.0.0.1:4524 -tls1_3 -groups P-256 -cert "$C/emby.pem" -key "$C/emby.key" "${sk[@]}"
    capture_start $k "tcp and host 127.0.0.1 and (port 4520 or port 4521 or port 4522 or port 4523 or port 4524)"
    expect $k 127.0.0.1:4520 ok emby.example.com - \
        "curl GET -> openssl s_server -tls1_3 -www, certificate verified, HTTP/1.0 200" \
        - "$BYE"
    SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --resolve emby.example.com:4520:127.0.0.1 https://emby.example.com:4520/
    expect $k 127.0.0.1:4520 ok other.example.org - \
        "curl https://other.example.org:4520/ (same server, certificate for emby.example.com only): curl completes the handshake, then checks the name and closes with an encrypted close_notify, no data (rule 'After a completed handshake': ok without keys). With keys the certificate shows the name mismatch" \
        cert_name_mismatch "client:warning:0,server:warning:0?"
    SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --resolve other.example.org:4520:127.0.0.1 https://other.example.org:4520/
    expect $k 127.0.0.1:4520 cert_rejected other.example.org - \
        "gnutls-cli --verify-hostname other.example.org, same server: CCS and an encrypted alert instead of its Finished; decrypted: bad_certificate(42). With keys the certificate shows the name mismatch" \
        cert_name_mismatch client:42
    SSLKEYLOGFILE=$gk gc_fail c -p 4520 127.0.0.1 --sni-hostname other.example.org \
        --verify-hostname other.example.org --x509cafile "$C/ca.pem"
    expect $k 127.0.0.1:4521 cert_rejected emby.example.com - \
        "gnutls-cli -> s_server with the expired leaf (2020-01-01..2021-01-01, trusted CA): encrypted alert instead of its Finished; decrypted: bad_certificate(42) (GnuTLS sends 42 for every certificate failure). With keys the certificate shows the dates" \
        cert_expired client:42
    SSLKEYLOGFILE=$gk gc_fail c -p 4521 127.0.0.1 --sni-hostname emby.example.com \
        --verify-hostname emby.example.com --x509cafile "$C/ca.pem"
    expect $k 127.0.0.1:4521 cert_expired emby.example.com client:45 \
        "s_client -> the expired leaf: OpenSSL's certificate_expired(45) in PLAINTEXT after the server's encrypted flight" \
        - client:45
    sc_fail c -connect 127.0.0.1:4521 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" \
        -verify_hostname emby.example.com -verify_return_error "${osk[@]}"
    expect $k 127.0.0.1:4520 cert_unknown_ca emby.example.com client:48 \
        "Python ssl client (verifying) trusting only the unrelated CA -> s_server: unknown_ca(48) in PLAINTEXT" \
        - client:48
    run c 10 "${PEER[@]}" --keylog "$pk" client-probe 127.0.0.1 4520 emby.example.com "$C/other-ca.pem"
    expect $k 127.0.0.1:4520 cert_rejected emby.example.com - \
        "gnutls-cli trusting only the unrelated CA -> s_server: encrypted alert instead of its Finished; decrypted: bad_certificate(42). With keys the chain shows an issuer the client was not given" \
        cert_unknown_ca client:42
    SSLKEYLOGFILE=$gk gc_fail c -p 4520 127.0.0.1 --sni-hostname emby.example.com \
        --verify-hostname emby.example.com --x509cafile "$C/other-ca.pem"
    expect $k 127.0.0.1:4522 cert_rejected emby.example.com - \
        "gnutls-cli -> s_server with the self-signed EC leaf: encrypted alert instead of its Finished; decrypted: bad_certificate(42). With keys the certificate shows subject = issuer" \
        cert_self_signed client:42
    SSLKEYLOGFILE=$gk gc_fail c -p 4522 127.0.0.1 --sni-hostname emby.example.com \
        --verify-hostname emby.example.com --x509cafile "$C/ca.pem"
    expect $k 127.0.0.1:4522 cert_unknown_ca emby.example.com client:48 \
        "s_client -> the self-signed leaf: OpenSSL's unknown_ca(48) in PLAINTEXT (OpenSSL reports a self-signed leaf as unknown_ca); without keys the certificate is not visible, with keys it shows subject = issuer" \
        cert_self_signed client:48
    sc_fail c -connect 127.0.0.1:4522 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" \
        -verify_hostname emby.example.com -verify_return_error "${osk[@]}"
    expect $k 127.0.0.1:4523 client_cert_required emby.example.com - \
        "s_client without a certificate -> s_server -Verify 1: an empty client Certificate in the client's flight, then the server's encrypted certificate_required(116)" \
        - server:116
    sc_fail c -connect 127.0.0.1:4523 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" "${osk[@]}"
    expect $k 127.0.0.1:4523 client_cert_rejected emby.example.com - \
        "s_client with a client certificate from the unrelated CA -> s_server -Verify 1 -verify_return_error: the server's encrypted unknown_ca(48) after the client's flight" \
        - server:48
    sc_fail c -connect 127.0.0.1:4523 -tls1_3 -servername emby.example.com -CAfile "$C/ca.pem" \
        -cert "$C/client-other.pem" -key "$C/client-other.key" "${osk[@]}"
    expect $k 127.0.0.1:4520 ok emby.example.com - \
        "probe: openssl s_client </dev/null (verifying): handshake, then an encrypted close_notify and FIN, no data; the server answers with its close_notify" \
        - "client:warning:0,server:warning:0?"
    run c 10 openssl s_client -no-CApath -no-CAstore -connect 127.0.0.1:4520 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_hostname emby.example.com -verify_return_error "${osk[@]}" </dev/null
    expect $k 127.0.0.1:4524 ok emby.example.com - \
        "HelloRetryRequest: s_client -groups X25519:P-256 (key share X25519 only) -> s_server -groups P-256: HRR, a second ClientHello with a P-256 share, GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4524 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -groups X25519:P-256 "${osk[@]}"
    expect $k 127.0.0.1:4520 ok emby.example.com - \
        "s_client -sess_out, GET, HTTP/1.0 200 (the session tickets arrive after the handshake)" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4520 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -sess_out "$WORK/keys/$k.sess" "${osk[@]}"
    expect $k 127.0.0.1:4520 ok emby.example.com - \
        "s_client -sess_in: PSK resumption (pre_shared_key, no certificate), GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4520 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -sess_in "$WORK/keys/$k.sess" "${osk[@]}"
    capture_stop
    keys_finish $k
}

# TLS 1.3: one connection per cipher suite, to one s_server that accepts all five.
sc_keys_tls13_suites() {
    local k=keys_tls13_suites
    local osk=(-keylogfile "$(keylog $k openssl)") ck gk
    ck=$(keylog $k curl) gk=$(keylog $k gnutls)
    s_server 127.0.0.1:4525 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key" -keylogfile "$(keylog $k s_server)" \
        -ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256
    capture_start $k "tcp and host 127.0.0.1 and port 4525"
    expect $k 127.0.0.1:4525 ok emby.example.com - \
        "curl --tls13-ciphers TLS_AES_128_GCM_SHA256 -> s_server -tls1_3 -www: GET, HTTP/1.0 200" \
        - "$BYE"
    SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --tls13-ciphers TLS_AES_128_GCM_SHA256 \
        --resolve emby.example.com:4525:127.0.0.1 https://emby.example.com:4525/
    expect $k 127.0.0.1:4525 ok emby.example.com - \
        "s_client -ciphersuites TLS_AES_256_GCM_SHA384: GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4525 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -ciphersuites TLS_AES_256_GCM_SHA384 "${osk[@]}"
    expect $k 127.0.0.1:4525 ok emby.example.com - \
        "gnutls-cli --priority ...:+CHACHA20-POLY1305 (TLS_CHACHA20_POLY1305_SHA256): GET, HTTP/1.0 200; gnutls-cli answers the server's close_notify with a FIN only" \
        - "server:warning:0"
    { get_req emby.example.com; sleep 1; } | SSLKEYLOGFILE=$gk timeout 10 gnutls-cli -p 4525 127.0.0.1 \
        --sni-hostname emby.example.com --verify-hostname emby.example.com --x509cafile "$C/ca.pem" \
        --priority NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305 >>"$WORK/c.log" 2>&1 || true
    expect $k 127.0.0.1:4525 ok emby.example.com - \
        "s_client -ciphersuites TLS_AES_128_CCM_SHA256: GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4525 -tls1_3 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -ciphersuites TLS_AES_128_CCM_SHA256 "${osk[@]}"
    expect $k 127.0.0.1:4525 ok emby.example.com - \
        "curl --tls13-ciphers TLS_AES_128_CCM_8_SHA256 (8-byte tags: a Finished record is 45 bytes): GET, HTTP/1.0 200" \
        - "$BYE"
    SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --tls13-ciphers TLS_AES_128_CCM_8_SHA256 \
        --resolve emby.example.com:4525:127.0.0.1 https://emby.example.com:4525/
    capture_stop
    keys_finish $k
}

# TLS 1.2: AEAD and CBC suites (encrypt-then-MAC on and off), session-id resumption, a
# server alert encrypted after its ChangeCipherSpec, and curl's name check after the
# handshake.
# keys12_sc SUITE WHY [S_CLIENT_ARGS...]: s_client GET to :4526 with that TLS 1.2 suite
keys12_sc() {
    local suite=$1 why=$2
    shift 2
    expect keys_tls12 127.0.0.1:4526 ok emby.example.com - \
        "s_client -cipher $suite$why: GET, HTTP/1.0 200" - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4526 -tls1_2 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -cipher "$suite" "$@" \
        -keylogfile "$(keylog keys_tls12 openssl)"
}
sc_keys_tls12() {
    local k=keys_tls12
    local sk=(-keylogfile "$(keylog $k s_server)")
    local osk=(-keylogfile "$(keylog $k openssl)") ck pk
    ck=$(keylog $k curl) pk=$(keylog $k python)
    s_server 127.0.0.1:4526 -tls1_2 -cipher ALL -cert "$C/emby.pem" -key "$C/emby.key" \
        -dcert "$C/emby-ec.pem" -dkey "$C/emby-ec.key" "${sk[@]}"
    s_server 127.0.0.1:4527 -tls1_2 -no_ticket -cert "$C/emby.pem" -key "$C/emby.key" "${sk[@]}"
    capture_start $k "tcp and host 127.0.0.1 and (port 4526 or port 4527)"
    local suite
    for suite in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES256-SHA384; do
        expect $k 127.0.0.1:4526 ok emby.example.com - \
            "curl --tls-max 1.2 --ciphers $suite -> s_server -tls1_2 -www: GET, HTTP/1.0 200" \
            - "$BYE"
        SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --tlsv1.2 --tls-max 1.2 --ciphers "$suite" \
            --resolve emby.example.com:4526:127.0.0.1 https://emby.example.com:4526/
    done
    keys12_sc ECDHE-RSA-AES256-GCM-SHA384 ""
    keys12_sc AES128-CCM " (RSA key exchange, AES-CCM)"
    keys12_sc ECDHE-ECDSA-AES128-CCM " (the server's EC certificate, AES-CCM)"
    keys12_sc ECDHE-RSA-AES128-SHA " (CBC + HMAC-SHA1, encrypt-then-MAC negotiated, OpenSSL's default)"
    keys12_sc ECDHE-RSA-AES128-SHA " -no_etm (CBC + HMAC-SHA1, MAC-then-encrypt: no encrypt_then_mac offered)" -no_etm
    expect $k 127.0.0.1:4527 ok emby.example.com - \
        "s_client -sess_out -> s_server -tls1_2 -no_ticket: full handshake, GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4527 -tls1_2 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -sess_out "$WORK/keys/$k.sess" "${osk[@]}"
    expect $k 127.0.0.1:4527 ok emby.example.com - \
        "s_client -sess_in: resumption by session id (abbreviated handshake, no certificate), GET, HTTP/1.0 200" \
        - "$BYE"
    sc_get c emby.example.com -connect 127.0.0.1:4527 -tls1_2 -servername emby.example.com \
        -CAfile "$C/ca.pem" -verify_return_error -sess_in "$WORK/keys/$k.sess" "${osk[@]}"
    expect $k 127.0.0.1:4526 ok emby.example.com - \
        "Python ssl client, TLS 1.2 (verifying): GET, HTTP/1.0 200, close_notify both ways; its session is resumed next" \
        - "$BYE"
    expect $k 127.0.0.1:4526 fatal_alert emby.example.com - \
        "the same client resumes that session (abbreviated handshake: the server's ServerHello, CCS, Finished) and its own Finished record has its last byte flipped on the way out (tlspeer.py client-resume-bad-finished): the server answers the client's Finished with an ENCRYPTED alert (it has sent its ChangeCipherSpec) and FIN, no data either way; decrypted: bad_record_mac(20)" \
        - server:20
    run c 10 "${PEER[@]}" --keylog "$pk" client-resume-bad-finished 127.0.0.1 4526 emby.example.com "$C/ca.pem"
    expect $k 127.0.0.1:4526 cert_name_mismatch other.example.org - \
        "curl --tls-max 1.2 https://other.example.org:4526/ (certificate for emby.example.com): curl completes the handshake, checks the name, closes with an encrypted close_notify, no data (the certificate is readable in TLS 1.2)" \
        - "client:warning:0,server:warning:0?"
    SSLKEYLOGFILE=$ck run c 10 "${CURL[@]}" --tlsv1.2 --tls-max 1.2 \
        --resolve other.example.org:4526:127.0.0.1 https://other.example.org:4526/
    capture_stop
    keys_finish $k
}

# ---------------------------------------------------------------- browsers -------------
# Chromium (Debian's chromium) and Firefox ESR (firefox-esr), both headless, against nginx
# (HTTP/2, `listen ... ssl http2`). Each browser run gets a fresh HOME and profile under
# $WORK/profiles (removed after the run, and by cleanup) whose NSS database (certutil)
# trusts the test CA, and loads one URL, https://emby.example.com:PORT/, one run per
# server port. Nothing may leave loopback: Chromium resolves emby.example.com to 127.0.0.1
# and no other name (--host-resolver-rules ... MAP * ~NOTFOUND: the update, time and
# account requests it still makes end at name resolution), with its background services
# off (flags below); Firefox resolves every name to 127.0.0.1 (network.dns.forceResolve:
# its remote-settings requests are refused on 127.0.0.1:443) with updates, telemetry, Safe
# Browsing, captive-portal and connectivity checks, DNS over HTTPS, push, remote settings
# and OCSP off (firefox_prefs). The captures' filters keep the test ports only.
# A browser run lasts a fixed time: Chromium --dump-dom exits once the page has loaded or
# failed (at most BROWSER_SECS), Firefox stays on its page (or error page) and is ended
# after BROWSER_SECS with its whole process group. What a browser reported is checked in
# its own log (browser_saw): Chromium's page-load error or its net log's net_error,
# Firefox's NSS error in its MOZ_LOG (pipnss, nsHttp), as nsresult 0x805aXXXX (an NSS error
# -N is 0x805a0000 + N) or a network nsresult.
# The number of connections is the browser's and has been steady over repeated runs:
# Chromium opens a spare connection beside the one it uses (2 per page load), Firefox
# connects 3 times to a server whose certificate it refuses (the document load and its
# retries); asked for a client certificate, both drop connections before going on without
# one (3 connections in all), but which of them they drop can vary (expect_cert_request).
BROWSER_SECS=8
CHROMIUM_FLAGS=(--headless --no-sandbox --no-first-run --no-default-browser-check
    --disable-background-networking --disable-component-update --disable-sync
    --disable-domain-reliability --disable-client-side-phishing-detection --disable-default-apps
    --disable-extensions --metrics-recording-only --no-pings --no-proxy-server --disable-gpu
    --disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater
    --host-resolver-rules="MAP emby.example.com 127.0.0.1, MAP * ~NOTFOUND"
    --enable-logging=stderr --v=0)

firefox_prefs() {
    cat <<'EOF'
user_pref("network.dns.forceResolve", "127.0.0.1");
user_pref("network.trr.mode", 5);
user_pref("network.proxy.type", 0);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.notify.checkForProxies", false);
user_pref("network.http.http3.enable", false);
user_pref("app.update.enabled", false);
user_pref("app.update.auto", false);
user_pref("app.update.disabledForTesting", true);
user_pref("app.normandy.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("browser.startup.homepage", "about:blank");
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.newtabpage.activity-stream.feeds.topsites", false);
user_pref("browser.newtabpage.activity-stream.feeds.section.topstories", false);
user_pref("browser.newtabpage.activity-stream.telemetry", false);
user_pref("browser.ping-centre.telemetry", false);
user_pref("browser.region.update.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("browser.search.update", false);
user_pref("browser.search.geoip.url", "");
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.downloads.remote.enabled", false);
user_pref("browser.safebrowsing.blockedURIs.enabled", false);
user_pref("browser.safebrowsing.provider.google4.updateURL", "");
user_pref("browser.safebrowsing.provider.google.updateURL", "");
user_pref("browser.safebrowsing.provider.mozilla.updateURL", "");
user_pref("browser.contentblocking.category", "custom");
user_pref("privacy.trackingprotection.enabled", false);
user_pref("browser.discovery.enabled", false);
user_pref("browser.topsites.contile.enabled", false);
user_pref("browser.urlbar.suggest.quicksuggest.sponsored", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("toolkit.telemetry.server", "");
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("toolkit.telemetry.archive.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("extensions.systemAddon.update.enabled", false);
user_pref("extensions.blocklist.enabled", false);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("messaging-system.rsexperimentloader.enabled", false);
user_pref("identity.fxaccounts.enabled", false);
user_pref("dom.push.enabled", false);
user_pref("dom.push.connection.enabled", false);
user_pref("geo.enabled", false);
user_pref("media.gmp-manager.url", "");
user_pref("media.gmp-gmpopenh264.enabled", false);
user_pref("security.OCSP.enabled", 0);
user_pref("security.remote_settings.crlite_filters.enabled", false);
user_pref("security.remote_settings.intermediates.enabled", false);
user_pref("security.certerrors.mitm.priming.enabled", false);
user_pref("security.certerrors.mitm.auto_enable_enterprise_roots", false);
user_pref("security.enterprise_roots.enabled", false);
EOF
}

# browser_profile DIR: a fresh directory with an NSS database trusting the test CA.
browser_profile() {
    rm -rf "$1"
    mkdir -p "$1"
    { certutil -d "sql:$1" -N --empty-password &&
        certutil -d "sql:$1" -A -n "tlswhy test CA" -t "C,," -i "$C/ca.pem"; } >>"$WORK/certutil.log" 2>&1 ||
        die "certutil (see $WORK/certutil.log)"
}

# browser_run NAME CMD...: a browser in its own process group (start), given BROWSER_SECS
# seconds, then ended with its group (SIGTERM; SIGKILL after 5 s if any is left).
browser_run() {
    local name=$1 pid i
    shift
    echo "+ $*" >>"$WORK/$name.log"
    start "$name" "$@"
    pid=$LAST_PID
    for i in $(seq 1 $((BROWSER_SECS * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM -- "-$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# chromium_get NAME PORT [KEYLOG]: headless Chromium loads https://emby.example.com:PORT/
# (--dump-dom); its log is $WORK/NAME.log, its net log $WORK/NAME.netlog.json.
chromium_get() {
    local name=$1 port=$2 keys=${3:-} d=$WORK/profiles/$1
    browser_profile "$d/home/.pki/nssdb"
    browser_run "$name" env HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config" XDG_CACHE_HOME="$d/home/.cache" \
        chromium "${CHROMIUM_FLAGS[@]}" --user-data-dir="$d/data" --log-net-log="$WORK/$name.netlog.json" \
        ${keys:+--ssl-key-log-file="$keys"} --dump-dom "https://emby.example.com:$port/"
    rm -rf "$d"
}

# firefox_get NAME PORT [KEYLOG]: headless Firefox ESR opens https://emby.example.com:PORT/
# and stays BROWSER_SECS; its MOZ_LOG is $WORK/NAME.moz.log*.
firefox_get() {
    local name=$1 port=$2 keys=${3:-} d=$WORK/profiles/$1
    browser_profile "$d/profile"
    mkdir -p "$d/home"
    firefox_prefs >"$d/profile/user.js"
    browser_run "$name" env HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config" XDG_CACHE_HOME="$d/home/.cache" \
        MOZ_HEADLESS=1 MOZ_CRASHREPORTER_DISABLE=1 ${keys:+SSLKEYLOGFILE="$keys"} \
        MOZ_LOG=timestamp,nsHttp:4,nsSocketTransport:5,pipnss:5 MOZ_LOG_FILE="$WORK/$name.moz.log" \
        firefox-esr --headless --no-remote --profile "$d/profile" "https://emby.example.com:$port/"
    rm -rf "$d"
}

# browser_saw NAME ERE WHAT: the browser's logs (its output, net log and its summary
# NAME.netlog.txt where there is one (chromium_ns), MOZ_LOG) show ERE.
browser_saw() {
    grep -Eqs -- "$2" "$WORK/$1.log" "$WORK/$1".netlog.json "$WORK/$1".netlog.txt "$WORK/$1".moz.log* ||
        die "$1: the browser did not report $3 ('$2' not in $WORK/$1.*)"
}

# expect_n N SCENARIO ARGS...: N alike attempts (see expect).
expect_n() {
    local i
    for i in $(seq 1 "$1"); do expect "${@:2}"; done
}

# nginx_browsers NAME "PORT:CERT:KEY:DIRECTIVES"...: one nginx, a server per port on
# 127.0.0.1 (HTTP/2), name emby.example.com, $C/CERT.pem with $C/KEY.key.
nginx_browsers() {
    local name=$1 spec port cert key more body=
    shift
    for spec in "$@"; do
        IFS=: read -r port cert key more <<<"$spec"
        body+="
    server {
        listen 127.0.0.1:$port ssl http2;
        server_name emby.example.com;
        ssl_certificate $C/$cert.pem;
        ssl_certificate_key $C/$key.key;
        $more
        location / { return 200 \"hello from emby.example.com\\n\"; }
    }"
    done
    for spec in "$@"; do
        ! ss -Hltn "sport = :${spec%%:*}" | grep -q . || die "port ${spec%%:*} is taken: $(ss -Hltnp "sport = :${spec%%:*}")"
    done
    nginx_start "$name" <<<"$body"   # not in a pipeline: start must record nginx in PIDS (stop_all)
    for spec in "$@"; do wait_listen 127.0.0.1 "${spec%%:*}"; done
}

# expect_cert_request SCENARIO PORT: after capture_stop, the expect lines of a browser asked
# for a client certificate on 127.0.0.1:PORT, one per connection, in order: a connection
# whose client sent nothing after its ClientHello (no ChangeCipherSpec: it dropped the
# connection at the CertificateRequest) gets the columns of CC_DROPPED, one whose client
# went on (its ChangeCipherSpec, empty Certificate, Finished) those of CC_WENT_ON. The
# browsers drop 2 connections before going on without a certificate, but Firefox, in TLS
# 1.3, sometimes goes on from the second: tshark reads which the browser did. Dies unless
# it dropped one or more and then went on.
expect_cert_request() {
    local k=$1 port=$2 stream went n_drop=0 n_on=0 ccs
    ccs=$(tshark -n -r "$HERE/$k.pcap" -d "tcp.port==$port,tls" -Y "tcp.dstport==$port" \
        -T fields -E separator=';' -e tcp.stream -e tls.record.content_type 2>>"$WORK/tshark.log" |
        awk -F';' '!($1 in seen) { seen[$1] = 1; order[++n] = $1; on[$1] = 0 }
            $2 ~ /(^|,)20(,|$)/ { on[$1] = 1 }
            END { for (i = 1; i <= n; i++) print order[i], on[order[i]] }') ||
        die "$k: tshark on port $port (see $WORK/tshark.log)"
    while read -r stream went; do
        if [ "$went" = 1 ]; then
            expect "$k" "127.0.0.1:$port" "${CC_WENT_ON[@]}"
            n_on=$((n_on + 1))
        else
            [ "$n_on" -eq 0 ] || die "$k: 127.0.0.1:$port: connection $stream dropped after one went on"
            expect "$k" "127.0.0.1:$port" "${CC_DROPPED[@]}"
            n_drop=$((n_drop + 1))
        fi
    done <<<"$ccs"
    [ "$n_drop" -ge 1 ] && [ "$n_on" -ge 1 ] || die "$k: 127.0.0.1:$port: $n_drop dropped, $n_on went on"
    echo "   127.0.0.1:$port: $n_drop connection(s) dropped at the CertificateRequest, $n_on went on" >&2
}

# TLS 1.2: Firefox refusing certificates (NSS alerts encrypted, after its own Finished),
# Chromium's spare connection, and both browsers asked for a client certificate.
sc_browsers_tls12() {
    local k=browsers_tls12 t12="ssl_protocols TLSv1.2;"
    local cc="ssl_verify_client on; ssl_client_certificate $C/ca.pem;"
    nginx_browsers b12 "4541:emby-int:emby:$t12" "4542:expired:expired:$t12" \
        "4543:selfsigned:selfsigned:$t12" "4544:emby:emby:$t12" "4545:emby:emby:$t12 $cc" \
        "4546:emby:emby:$t12 $cc"
    capture_start $k "tcp and host 127.0.0.1 and portrange 4541-4546"
    local ff="Firefox ESR (NSS), TLS 1.2 -> nginx"
    local nss="NSS checks the certificate beside the handshake: it sends its ClientKeyExchange, ChangeCipherSpec and Finished, then an ENCRYPTED alert (a 31-byte record: 26 bytes of type 21), then FIN or RST; no data. The server's NewSessionTicket, ChangeCipherSpec and Finished come before that alert in some connections, after it in others (a race)"
    expect_n 3 $k 127.0.0.1:4541 cert_unknown_ca emby.example.com - \
        "$ff serving only the leaf issued by the intermediate CA (not sent; the browser trusts the root): SEC_ERROR_UNKNOWN_ISSUER. Firefox connects 3 times (the document load and its retries), each the same: $nss"
    firefox_get ff12-unknown-ca 4541
    browser_saw ff12-unknown-ca '805a1ff3' "SEC_ERROR_UNKNOWN_ISSUER (0x805a1ff3)"
    expect_n 3 $k 127.0.0.1:4542 cert_expired emby.example.com - \
        "$ff serving the expired leaf (2020-01-01..2021-01-01, the trusted CA): SEC_ERROR_EXPIRED_CERTIFICATE. 3 connections, each: $nss"
    firefox_get ff12-expired 4542
    browser_saw ff12-expired '805a1ff5' "SEC_ERROR_EXPIRED_CERTIFICATE (0x805a1ff5)"
    expect_n 3 $k 127.0.0.1:4543 cert_self_signed emby.example.com - \
        "$ff serving the self-signed EC leaf: MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT. 3 connections, each: $nss"
    firefox_get ff12-self-signed 4543
    browser_saw ff12-self-signed '805a3ff2' "MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT (0x805a3ff2)"
    expect_n 2 $k 127.0.0.1:4544 ok emby.example.com - \
        "Chromium, TLS 1.2 -> nginx, the page loads (HTTP/2 GET, 200): two connections; one carries the page, the other (Chromium's spare) sends its Finished and closes at once (FIN or RST, the server's last flight unread), unused. Both ok: a client that closes right after its own Finished accepted what it saw"
    chromium_get cr12-ok 4544
    browser_saw cr12-ok 'hello from emby.example.com' "the page"
    chromium_get cr12-client-cert 4545
    browser_saw cr12-client-cert '"net_error":-110' "ERR_SSL_CLIENT_AUTH_CERT_NEEDED (-110)"
    firefox_get ff12-client-cert 4546
    browser_saw ff12-client-cert '804b0014' "NS_ERROR_NET_RESET (0x804b0014)"
    capture_stop
    local req="-> nginx ssl_verify_client on, TLS 1.2: CertificateRequest"
    CC_DROPPED=(client_cert_required emby.example.com - "Chromium (headless, no client certificate) $req; ERR_SSL_CLIENT_AUTH_CERT_NEEDED (-110) in its net log: it drops the connection (FIN: no Certificate, no alert) to ask its user; the page's connection and its spare alike")
    CC_WENT_ON=(ok emby.example.com - "then Chromium goes on without a certificate: an empty Certificate, its Finished, the GET; nginx's HTTP 400 ('No required SSL certificate was sent') is above TLS")
    expect_cert_request $k 4545
    CC_DROPPED=(client_cert_required emby.example.com - "Firefox ESR (headless, no client certificate) $req; Firefox closes (FIN: no Certificate, no alert), NS_ERROR_NET_RESET (0x804b0014) in its log, and connects again")
    CC_WENT_ON=(ok emby.example.com - "then Firefox goes on without a certificate: an empty Certificate, its Finished; the handshake completes (the GET and nginx's HTTP 400, above TLS)")
    expect_cert_request $k 4546
}

# TLS 1.3, with the browsers' key logs: Chromium's spare connection, and both browsers
# asked for a client certificate (the CertificateRequest is encrypted: without keys the
# dropped connections are clients hanging up after the server's flight).
sc_browsers_tls13() {
    local k=browsers_tls13 t13="ssl_protocols TLSv1.3;" ck fk
    local cc="ssl_verify_client on; ssl_client_certificate $C/ca.pem;"
    ck=$(keylog $k chromium) fk=$(keylog $k firefox)
    nginx_browsers b13 "4547:emby:emby:$t13" "4548:emby:emby:$t13 $cc" "4549:emby:emby:$t13 $cc"
    capture_start $k "tcp and host 127.0.0.1 and portrange 4547-4549"
    expect_n 2 $k 127.0.0.1:4547 ok emby.example.com - \
        "Chromium, TLS 1.3 -> nginx, the page loads (HTTP/2 GET, 200): two connections; one carries the page, the other (Chromium's spare) sends its Finished and closes at once (RST: the server's tickets unread), unused. Both ok, with keys too (the server's leaf was taken by the page's connection)" \
        - -
    chromium_get cr13-ok 4547 "$ck"
    browser_saw cr13-ok 'hello from emby.example.com' "the page"
    chromium_get cr13-client-cert 4548 "$ck"
    browser_saw cr13-client-cert '"net_error":-110' "ERR_SSL_CLIENT_AUTH_CERT_NEEDED (-110)"
    firefox_get ff13-client-cert 4549 "$fk"
    browser_saw ff13-client-cert '804b0014' "NS_ERROR_NET_RESET (0x804b0014)"
    capture_stop
    keys_finish $k
    local req="-> nginx ssl_verify_client on, TLS 1.3: the server's flight holds an encrypted CertificateRequest"
    local why="Without keys a client hanging up after the server's whole flight (rule 'TLS 1.3: a client that hangs up after the server's whole flight'); with keys the CertificateRequest shows: client_cert_required"
    CC_DROPPED=(cert_rejected emby.example.com - "Chromium (headless, no client certificate) $req; ERR_SSL_CLIENT_AUTH_CERT_NEEDED (-110) in its net log: it drops the connection (FIN: no Finished, no alert), the page's connection and its spare alike. $why" client_cert_required -)
    CC_WENT_ON=(ok emby.example.com - "then Chromium goes on without a certificate: an empty Certificate, its Finished, the HTTP/2 GET; nginx's HTTP 400 is above TLS" - -)
    expect_cert_request $k 4548
    CC_DROPPED=(cert_rejected emby.example.com - "Firefox ESR (headless, no client certificate) $req; Firefox closes (FIN: no Finished, no alert), NS_ERROR_NET_RESET (0x804b0014) in its log, and connects again. $why" client_cert_required -)
    CC_WENT_ON=(ok emby.example.com - "then Firefox goes on without a certificate (its choice remembered): an empty Certificate, its Finished; the handshake completes. The last connection carries the GET (nginx's HTTP 400, above TLS); in some runs the one before it also goes on and is closed unused, with a close_notify (decrypted alerts as tshark reads them)" -)
    expect_cert_request $k 4549
}

# ---------------------------------------------------------------- Erlang/OTP and Botan --
# Erlang/OTP 25's own TLS (the ssl application; tools/erlpeer.escript, run by escript) and
# Botan 2.19 (Debian's botan CLI, `botan tls_server` / `botan tls_client`, and
# tools/botanpeer.cpp, a small client on libbotan-2-dev compiled with g++ on first use:
# the CLI client reports a bad certificate and carries on, the library's default
# verification rejects it with an alert). Their packages are installed on first use.
# Every connection has a server (and a port) of its own, 4560-4568 and 4570-4577.
ERLPEER=(escript "$TOOLS/erlpeer.escript")
BOTANPEER=$BIN/botanpeer

need_erlang() {
    local p=(erlang-base erlang-ssl erlang-public-key erlang-crypto)
    dpkg -s "${p[@]}" >/dev/null 2>&1 && command -v escript >/dev/null && return 0
    apt_install erlang "${p[@]}"
}

need_botan() {
    [ -x "$BOTANPEER" ] && return 0
    local p=(botan libbotan-2-dev g++)
    dpkg -s "${p[@]}" >/dev/null 2>&1 && command -v botan g++ >/dev/null || apt_install botan "${p[@]}"
    mkdir -p "$BIN"
    # shellcheck disable=SC2046
    g++ -O1 -std=c++17 -o "$BOTANPEER" "$TOOLS/botanpeer.cpp" \
        $(pkg-config --cflags --libs botan-2 2>/dev/null || echo -I/usr/include/botan-2 -lbotan-2) \
        >"$WORK/build-botan.log" 2>&1 || die "g++ tools/botanpeer.cpp (see $WORK/build-botan.log)"
}

# erl_server NAME PORT ARGS...: an Erlang/OTP ssl server on 127.0.0.1:PORT, one connection.
erl_server() {
    local name=$1 port=$2
    shift 2
    start "$name" timeout 120 "${ERLPEER[@]}" server 127.0.0.1 "$port" "$@"
}
# erl_client LOG PORT ARGS...: an Erlang/OTP ssl client to 127.0.0.1:PORT.
erl_client() { run "$1" 15 "${ERLPEER[@]}" client 127.0.0.1 "$2" "${@:3}"; }

# botan_cli LOG HOST PORT ARGS...: `botan tls_client HOST` (stdin held open 2 s, then EOF:
# it sends nothing and closes). It resolves HOST and sends it as SNI: it runs in a private
# mount namespace (unshare -m) whose /etc/hosts maps the test names to 127.0.0.1; the
# system's /etc/hosts is not touched.
botan_cli() {
    local name=$1 host=$2 port=$3
    shift 3
    [ -f "$WORK/botan-hosts" ] ||
        printf '127.0.0.1 localhost\n127.0.0.1 emby.example.com\n127.0.0.1 wrong.example.com\n' >"$WORK/botan-hosts"
    echo "+ botan tls_client $host --port=$port $*" >>"$WORK/$name.log"
    { sleep 2 | timeout 10 unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec botan tls_client "$@"' \
        "$WORK/botan-hosts" "$host" --port="$port" --skip-system-cert-store --trusted-cas="$C/ca.pem" "$@"; } \
        >>"$WORK/$name.log" 2>&1 || true
}

# botan_server NAME PORT ARGS...: `botan tls_server` for emby.example.com on PORT (it binds
# every address; only 127.0.0.1 is used). It does not set SO_REUSEADDR, so its bind fails
# while a connection of a previous run on that port is in TIME-WAIT (up to 60 s): wait.
botan_server() {
    local name=$1 port=$2 i
    shift 2
    for i in $(seq 1 150); do
        ss -Htan state time-wait "( sport = :$port )" | grep -q . || break
        [ "$i" -gt 1 ] || log "port $port: waiting for TIME-WAIT of an earlier run to end (botan tls_server)"
        sleep 0.5
    done
    start "$name" timeout 120 botan tls_server "$C/emby.pem" "$C/emby.key" --port="$port" "$@"
}

sc_erlang_stacks() {
    need_erlang
    local k=erlang_stacks p
    s_server 127.0.0.1:4560 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4561 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4562 -tls1_2 -cert "$C/emby-other.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4563 -tls1_2 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4564 -tls1_2 -cert "$C/expired.pem" -key "$C/expired.key"
    erl_server esrv-cipher 4565 cert="$C/emby.pem" key="$C/emby.key" versions=tlsv1.2 \
        ciphers=ECDHE-RSA-AES256-GCM-SHA384
    erl_server esrv-tls13 4566 cert="$C/emby.pem" key="$C/emby.key" versions=tlsv1.3
    erl_server esrv-cc12 4567 cert="$C/emby.pem" key="$C/emby.key" versions=tlsv1.2 \
        require_client_cert=true cacert="$C/ca.pem"
    erl_server esrv-cc13 4568 cert="$C/emby.pem" key="$C/emby.key" \
        require_client_cert=true cacert="$C/ca.pem"
    for p in 4565 4566 4567 4568; do wait_listen 127.0.0.1 $p; done
    capture_start $k "tcp and host 127.0.0.1 and portrange 4560-4568"
    expect $k 127.0.0.1:4560 ok emby.example.com - \
        "Erlang/OTP 25 ssl client (verify_peer, test CA) -> s_server, TLS 1.3: the handshake completes, the client closes at once (close_notify, encrypted)"
    erl_client c 4560 sni=emby.example.com cacert="$C/ca.pem"
    expect $k 127.0.0.1:4561 ok emby.example.com - \
        "Erlang/OTP ssl client limited to TLS 1.2 -> s_server: the handshake completes, the client closes at once (close_notify, encrypted)"
    erl_client c 4561 sni=emby.example.com cacert="$C/ca.pem" versions=tlsv1.2
    expect $k 127.0.0.1:4562 cert_unknown_ca emby.example.com client:48 \
        "Erlang/OTP ssl client trusting the test CA -> s_server -tls1_2 serving emby.example.com issued by the unrelated CA: unknown_ca(48) from the client"
    erl_client c 4562 sni=emby.example.com cacert="$C/ca.pem" versions=tlsv1.2
    expect $k 127.0.0.1:4563 cert_name_mismatch wrong.example.com client:40 \
        "Erlang/OTP ssl client, SNI wrong.example.com -> s_server -tls1_2 (certificate for emby.example.com only, visible): OTP's hostname check fails ({bad_cert,hostname_check_failed}) and it sends handshake_failure(40), not a certificate alert; the certificate not covering the SNI decides"
    erl_client c 4563 sni=wrong.example.com cacert="$C/ca.pem" versions=tlsv1.2
    expect $k 127.0.0.1:4564 cert_expired emby.example.com client:45 \
        "Erlang/OTP ssl client -> s_server -tls1_2 serving the expired leaf (2020-01-01..2021-01-01): certificate_expired(45) from the client"
    erl_client c 4564 sni=emby.example.com cacert="$C/ca.pem" versions=tlsv1.2
    expect $k 127.0.0.1:4565 no_shared_cipher emby.example.com server:71 \
        "s_client -tls1_2 -cipher AES128-SHA -> Erlang/OTP ssl server with only ECDHE-RSA-AES256-GCM-SHA384: insufficient_security(71) ('no_suitable_ciphers') right after the ClientHello, no ServerHello"
    sc_fail c -connect 127.0.0.1:4565 -tls1_2 -cipher AES128-SHA -servername emby.example.com
    expect $k 127.0.0.1:4566 protocol_version_mismatch emby.example.com server:70 \
        "s_client -tls1_2 -> Erlang/OTP ssl server limited to TLS 1.3: protocol_version(70) right after the ClientHello"
    sc_fail c -connect 127.0.0.1:4566 -tls1_2 -servername emby.example.com
    expect $k 127.0.0.1:4567 client_cert_required emby.example.com server:40 \
        "s_client -tls1_2 without a certificate -> Erlang/OTP ssl server (verify_peer, fail_if_no_peer_cert): CertificateRequest, empty client Certificate, then handshake_failure(40) ('no_client_certificate_provided'). Rule 'Client certificates'"
    sc_fail c -connect 127.0.0.1:4567 -tls1_2 -servername emby.example.com -CAfile "$C/ca.pem"
    expect $k 127.0.0.1:4568 client_cert_required emby.example.com - \
        "s_client (TLS 1.3) without a certificate -> Erlang/OTP ssl server (verify_peer, fail_if_no_peer_cert): the client's flight (empty Certificate, Finished), then the server's encrypted certificate_required(116) and a close. Rules 'Client certificates' and 'TLS 1.3 without keys'"
    sc_fail c -connect 127.0.0.1:4568 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

sc_botan_stacks() {
    need_botan
    local k=botan_stacks p
    printf 'ciphers = AES-256/GCM\nkey_exchange_methods = ECDH\n' >"$WORK/botan-aes256gcm.policy"
    printf 'require_client_certificate_authentication = true\n' >"$WORK/botan-client-cert.policy"
    s_server 127.0.0.1:4570 -cert "$C/emby-other.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4571 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4572 -cert "$C/expired.pem" -key "$C/expired.key"
    s_server 127.0.0.1:4573 -cert "$C/emby.pem" -key "$C/emby.key"
    s_server 127.0.0.1:4574 -cert "$C/emby.pem" -key "$C/emby.key"
    botan_server bsrv-cipher 4575 --policy="$WORK/botan-aes256gcm.policy"
    botan_server bsrv 4576
    botan_server bsrv-cc 4577 --policy="$WORK/botan-client-cert.policy"
    for p in 4575 4576 4577; do wait_listen 127.0.0.1 $p; done
    capture_start $k "tcp and host 127.0.0.1 and portrange 4570-4577"
    expect $k 127.0.0.1:4570 cert_unknown_ca emby.example.com client:42 \
        "Botan 2.19 library client (tools/botanpeer.cpp, default verification, trusting the test CA) -> s_server serving emby.example.com issued by the unrelated CA, TLS 1.2: 'Certificate issuer not found', and Botan sends bad_certificate(42) whatever the reason; the issuer (visible) decides"
    run c 10 "$BOTANPEER" emby.example.com 127.0.0.1 4570 "$C/ca.pem"
    expect $k 127.0.0.1:4571 cert_name_mismatch wrong.example.com client:42 \
        "Botan library client, SNI wrong.example.com -> s_server (certificate for emby.example.com only, visible), TLS 1.2: 'Certificate does not match provided name', bad_certificate(42)"
    run c 10 "$BOTANPEER" wrong.example.com 127.0.0.1 4571 "$C/ca.pem"
    expect $k 127.0.0.1:4572 cert_expired emby.example.com client:42 \
        "Botan library client -> s_server serving the expired leaf (2020-01-01..2021-01-01), TLS 1.2: 'Certificate has expired', bad_certificate(42), not certificate_expired(45); the validity period (visible) decides"
    run c 10 "$BOTANPEER" emby.example.com 127.0.0.1 4572 "$C/ca.pem"
    expect $k 127.0.0.1:4573 ok emby.example.com - \
        "botan tls_client (CLI, trusting the test CA) -> s_server, TLS 1.2: 'Verified', the handshake completes; no data, close_notify (encrypted) when its stdin ends 2 s later"
    botan_cli c emby.example.com 4573
    expect $k 127.0.0.1:4574 cert_name_mismatch wrong.example.com - \
        "botan tls_client (CLI), SNI wrong.example.com -> s_server (certificate for emby.example.com only, visible), TLS 1.2: the CLI prints 'Certificate does not match provided name' but ACCEPTS it: the handshake completes, no data, close_notify (encrypted) 2 s later. Rule 'After a completed handshake': the certificate does not cover the SNI"
    botan_cli c wrong.example.com 4574
    expect $k 127.0.0.1:4575 no_shared_cipher emby.example.com server:40 \
        "s_client -tls1_2 -cipher AES128-SHA -> botan tls_server (policy: AES-256/GCM with ECDH only): handshake_failure(40) right after the ClientHello ('Can't agree on a ciphersuite with client'), no ServerHello"
    sc_fail c -connect 127.0.0.1:4575 -tls1_2 -cipher AES128-SHA -servername emby.example.com
    expect $k 127.0.0.1:4576 protocol_version_mismatch emby.example.com server:70 \
        "s_client -tls1_3 -> botan tls_server (Botan 2: TLS 1.2 at most): protocol_version(70) right after the ClientHello ('No shared TLS version')"
    sc_fail c -connect 127.0.0.1:4576 -tls1_3 -servername emby.example.com
    expect $k 127.0.0.1:4577 client_cert_required emby.example.com server:40 \
        "s_client without a certificate -> botan tls_server (require_client_certificate_authentication), TLS 1.2: CertificateRequest, empty client Certificate, then handshake_failure(40). Rule 'Client certificates'"
    sc_fail c -connect 127.0.0.1:4577 -servername emby.example.com -CAfile "$C/ca.pem"
    capture_stop
}

# ---------------------------------------------------------------- QUIC -----------------
# QUIC from three stacks: aioquic (tools/quicpeer.py, a client and a server on its API: its
# example programs are not in the wheel), ngtcp2's example programs on GnuTLS
# (gtlsclient, gtlsserver: HTTP/3 only, the client does not check the certificate) and
# TQUIC's example server (tquic_server, on BoringSSL: the one server here that sends
# stateless resets; ngtcp2 0.12's example server and aioquic do not).
# Debian 12 has no aioquic package: it comes from PyPI, pinned, into a venv cached in
# $CACHE; tquic_tools comes from crates.io, pinned, built into $CACHE. QUIC attempts are
# UDP flows, not TCP connections: expect_quic writes them to a spec of their own, which
# tools/expected.py verifies with tshark's QUIC dissector.
AIOQUIC_VERSION=1.7.2
QVENV=$CACHE/aioquic-venv
QUICPEER=("$QVENV/bin/python3" "$TOOLS/quicpeer.py")
AIOQUIC_READY=

need_aioquic() {
    [ -z "$AIOQUIC_READY" ] || return 0
    if ! "$QVENV/bin/python3" -c "import importlib.metadata as m, sys
sys.exit(m.version('aioquic') != '$AIOQUIC_VERSION')" 2>/dev/null; then
        log "installing aioquic $AIOQUIC_VERSION from PyPI into $QVENV"
        rm -rf "$QVENV"
        { python3 -m venv "$QVENV" &&
            "$QVENV/bin/pip" install --disable-pip-version-check -q "aioquic==$AIOQUIC_VERSION"; } \
            >"$WORK/pip-aioquic.log" 2>&1 || die "pip install aioquic (see $WORK/pip-aioquic.log)"
    fi
    AIOQUIC_READY=1
}

# expect_quic SCENARIO CLIENT SERVER CODE SNI NOTE VERSIONS ALPN EVENTS CLOSE [CODE_WITH_KEYS]:
# one QUIC attempt (a UDP flow: the client's address and port with the server's), in the
# order the flows start. CLIENT: "-", an IP or IP:PORT. The facts tshark must read:
# VERSIONS, the QUIC versions of the flow's long headers ("0x00000001,..."); ALPN,
# "OFFERED/SELECTED" (SELECTED only with keys, else "-"); EVENTS, "retry", "vn=V+V..."
# (Version Negotiation and its versions), "icmp" (port unreachable), "undecrypted" (keys
# that do not open the handshake), "stateless_reset" (a server datagram that tshark, with
# the keys, reads as a Stateless Reset), comma-separated, or "-"; CLOSE, every
# CONNECTION_CLOSE as SIDE:FRAME:ERROR:TRIGGER:SPACES, e.g. server:0x1c:0x178:0x6:I, or
# "-" (details: tools/expected.py). Keyed scenarios add CODE_WITH_KEYS ("-": the same).
expect_quic() {
    local IFS=$'\t'
    printf '%s\n' "$1.pcap$IFS${*:2}" >>"$QSPEC"
}
# quic_keys_finish SCENARIO PORTS: captures/SCENARIO.keys from the key logs of its clients
# ($WORK/keys/SCENARIO/, see keylog), for the QUIC servers on PORTS (comma-separated).
quic_keys_finish() {
    python3 "$TOOLS/keylog.py" --quic "$2" "$HERE/$1.pcap" "$HERE/$1.keys" "$WORK/keys/$1"/*.keys ||
        die "$1: key log"
}

# $QNS: the network namespace the next QUIC program runs in (none: this one).
# wait_udp IP PORT: until a UDP socket is bound there (checked with ss: no traffic).
wait_udp() {
    local i
    for i in $(seq 1 200); do
        if ${QNS:+ip netns exec "$QNS"} ss -Hlun "sport = :$2" | awk '{print $4}' |
            grep -Eq "^(\\*|0\\.0\\.0\\.0|$1):$2\$"; then
            return 0
        fi
        sleep 0.05
    done
    die "nothing bound to udp $1:$2 (see $WORK/*.log)"
}
# aioquic_server NAME IP:PORT ARGS...: tools/quicpeer.py server for emby.example.com
# (later --cert/--key in ARGS replace it); ALPN h3 and QUIC v1 unless ARGS say otherwise.
aioquic_server() {
    local name=$1 addr=$2
    shift 2
    need_aioquic
    start "$name" ${QNS:+ip netns exec "$QNS"} timeout 120 "${QUICPEER[@]}" server --listen "$addr" \
        --cert "$C/emby.pem" --key "$C/emby.key" "$@"
    wait_log "$name" '^listening on udp'
}
# ngtcp2_server NAME IP PORT ARGS...: gtlsserver for emby.example.com (HTTP/3, QUIC v1),
# serving a one-line index.html.
ngtcp2_server() {
    local name=$1 ip=$2 port=$3
    shift 3
    mkdir -p "$WORK/www-quic"
    echo "hello from ngtcp2 over HTTP/3" >"$WORK/www-quic/index.html"
    start "$name" ${QNS:+ip netns exec "$QNS"} timeout 120 gtlsserver -q -d "$WORK/www-quic" "$@" \
        "$ip" "$port" "$C/emby.key" "$C/emby.pem"
    wait_udp "$ip" "$port"
}
# need_tquic: tquic_server and tquic_client from the crate tquic_tools, pinned, built with
# `cargo install --locked` into $CACHE (a few minutes, once; BoringSSL's build needs cmake).
TQUIC_VERSION=1.6.0
TQUIC=$CACHE/tquic-$TQUIC_VERSION/bin
need_tquic() {
    [ ! -x "$TQUIC/tquic_server" ] || return 0
    local cargo
    cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
    [ -x "$cargo" ] || die "TQUIC's server needs cargo (Rust >= 1.70, e.g. rustup); none in PATH or ~/.cargo/bin"
    command -v cmake >/dev/null || apt_install cmake cmake
    log "building tquic_tools $TQUIC_VERSION from crates.io (cached in $CACHE)"
    "$cargo" install --locked --root "$CACHE/tquic-$TQUIC_VERSION" "tquic_tools@$TQUIC_VERSION" \
        >"$WORK/build-tquic.log" 2>&1 || die "cargo install tquic_tools (see $WORK/build-tquic.log)"
}
# tquic_server NAME IP PORT ARGS...: tquic_server for emby.example.com (HTTP/3, QUIC v1,
# stateless resets on, their key tquic's default, so the same in every run of the
# program), serving the one-line index.html, logging at debug level: one line per
# datagram it reads ("socket recv N bytes from ...").
tquic_server() {
    local name=$1 ip=$2 port=$3
    shift 3
    need_tquic
    mkdir -p "$WORK/www-quic"
    echo "hello from ngtcp2 over HTTP/3" >"$WORK/www-quic/index.html"
    start "$name" ${QNS:+ip netns exec "$QNS"} timeout 120 "$TQUIC/tquic_server" --listen "$ip:$port" \
        --cert "$C/emby.pem" --key "$C/emby.key" --root "$WORK/www-quic" --log-level debug "$@"
    wait_udp "$ip" "$port"
}
# aioquic_client LOG ARGS...: one tools/quicpeer.py client run (see its usage).
aioquic_client() {
    need_aioquic
    run "$1" 20 ${QNS:+ip netns exec "$QNS"} "${QUICPEER[@]}" client "${@:2}"
}
# ngtcp2_client LOG KEYLOG IP PORT ARGS...: gtlsclient GET https://emby.example.com:PORT/
# to IP:PORT, giving up a handshake after 5 s; GnuTLS writes its secrets to KEYLOG
# (SSLKEYLOGFILE; "" for none). gtlsclient 0.12 on GnuTLS ignores --sni and sends
# "localhost" for a numeric host, so it is given the name, and resolves it through an
# /etc/hosts of its own (bind-mounted in a private mount namespace: unshare -m).
# NGTCP2_DEBUG=1: its debug output in the log (without -q).
ngtcp2_client() {
    local name=$1 keys=$2 ip=$3 port=$4 quiet=-q
    shift 4
    [ -z "${NGTCP2_DEBUG:-}" ] || quiet=
    echo "$ip emby.example.com" >"$WORK/hosts.$port"
    run "$name" 20 ${QNS:+ip netns exec "$QNS"} unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
        "$WORK/hosts.$port" env ${keys:+SSLKEYLOGFILE="$keys"} gtlsclient $quiet \
        --exit-on-all-streams-close --handshake-timeout=5s "$@" \
        emby.example.com "$port" "https://emby.example.com:$port/"
}

V1=0x00000001
V2=0x6b3343cf

sc_quic_ok() {
    local k=quic_ok ak
    ak=$(keylog $k aioquic)
    aioquic_server q1 127.0.0.1:4600 --version v1 --version v2
    aioquic_server q2 127.0.0.1:4601 --retry
    capture_start $k "udp and host 127.0.0.1 and (port 4600 or port 4601)"
    expect_quic $k 127.0.0.1 127.0.0.1:4600 ok emby.example.com \
        "aioquic client -> aioquic server (tools/quicpeer.py, versions v1 and v2), QUIC v1, ALPN h3, certificate verified (test CA): HTTP/3 GET answered 200, then the client closes with an application CONNECTION_CLOSE (H3_NO_ERROR) in a 1-RTT packet" \
        $V1 h3/h3 - "client:0x1d:0x100:-:1" -
    aioquic_client c --connect 127.0.0.1:4600 --sni emby.example.com --cafile "$C/ca.pem" --get / --keylog "$ak"
    expect_quic $k 127.0.0.1 127.0.0.1:4601 ok emby.example.com \
        "the same with Retry (quicpeer server --retry): the server answers the first Initial with a Retry, the client's second Initial carries its token; then as above. aioquic starts a fresh ClientHello after the Retry and sends it at CRYPTO offset 0 again, which tshark 4.0 takes for a retransmission: it reads the first ClientHello only, so the key log (which has the second's secrets) does not open the handshake for tshark" \
        $V1 h3/- retry,undecrypted - -
    aioquic_client c --connect 127.0.0.1:4601 --sni emby.example.com --cafile "$C/ca.pem" --get / --keylog "$ak"
    expect_quic $k 127.0.0.1 127.0.0.1:4600 ok emby.example.com \
        "QUIC v2 (RFC 9369, 0x6b3343cf): the aioquic client starts in v2 (its versions v2, v1), the server (v1, v2) answers in v2; HTTP/3 GET answered 200, H3_NO_ERROR close" \
        $V2 h3/h3 - "client:0x1d:0x100:-:1" -
    aioquic_client c --connect 127.0.0.1:4600 --sni emby.example.com --cafile "$C/ca.pem" --get / \
        --version v2 --version v1 --keylog "$ak"
    capture_stop
    quic_keys_finish $k 4600,4601
}

sc_quic_ok_ngtcp2() {
    local k=quic_ok_ngtcp2 ak nk
    ak=$(keylog $k aioquic) nk=$(keylog $k ngtcp2)
    ngtcp2_server n1 127.0.0.1 4602
    ngtcp2_server n2 127.0.0.1 4603 -V
    capture_start $k "udp and host 127.0.0.1 and (port 4602 or port 4603)"
    expect_quic $k 127.0.0.1 127.0.0.1:4602 ok emby.example.com \
        "ngtcp2 client -> ngtcp2 server (gtlsclient/gtlsserver 0.12, GnuTLS), QUIC v1, ALPN h3: HTTP/3 GET answered 200 (index.html), then the client's application CONNECTION_CLOSE (H3_NO_ERROR). gtlsclient does not check the certificate" \
        $V1 h3/h3 - "client:0x1d:0x100:-:1" -
    ngtcp2_client c "$nk" 127.0.0.1 4602
    expect_quic $k 127.0.0.1 127.0.0.1:4603 ok emby.example.com \
        "ngtcp2 client -> ngtcp2 server with address validation (gtlsserver -V): Retry, the client's second Initial with the token (the same ClientHello), then HTTP/3 GET answered 200" \
        $V1 h3/h3 retry "client:0x1d:0x100:-:1" -
    ngtcp2_client c "$nk" 127.0.0.1 4603
    expect_quic $k 127.0.0.1 127.0.0.1:4602 ok emby.example.com \
        "aioquic client (verifying, test CA) -> ngtcp2 server, QUIC v1, ALPN h3: HTTP/3 GET answered 200, H3_NO_ERROR close" \
        $V1 h3/h3 - "client:0x1d:0x100:-:1" -
    aioquic_client c --connect 127.0.0.1:4602 --sni emby.example.com --cafile "$C/ca.pem" --get / --keylog "$ak"
    capture_stop
    quic_keys_finish $k 4602,4603
}

sc_quic_alpn_mismatch() {
    aioquic_server q1 127.0.0.1:4604 --alpn hq-interop
    ngtcp2_server n1 127.0.0.1 4605
    capture_start quic_alpn_mismatch "udp and host 127.0.0.1 and (port 4604 or port 4605)"
    expect_quic quic_alpn_mismatch 127.0.0.1 127.0.0.1:4604 alpn_mismatch emby.example.com \
        "aioquic client offering only h3 -> aioquic server accepting only hq-interop: the server's CONNECTION_CLOSE, crypto error 0x178 (no_application_protocol), in an Initial packet (readable without keys), instead of a ServerHello" \
        $V1 h3/- - "server:0x1c:0x178:0x6:I"
    aioquic_client c --connect 127.0.0.1:4604 --sni emby.example.com --cafile "$C/ca.pem"
    expect_quic quic_alpn_mismatch 127.0.0.1 127.0.0.1:4604 alpn_mismatch emby.example.com \
        "ngtcp2 client (ALPN h3) -> the same aioquic server: its Initial CONNECTION_CLOSE 0x178 no_application_protocol" \
        $V1 h3/- - "server:0x1c:0x178:0x6:I"
    ngtcp2_client c "" 127.0.0.1 4604
    expect_quic quic_alpn_mismatch 127.0.0.1 127.0.0.1:4605 alpn_mismatch emby.example.com \
        "aioquic client offering only hq-interop -> ngtcp2 server (h3 only): ngtcp2's CONNECTION_CLOSE 0x178 in an Initial packet, trigger frame type 0 and no reason phrase" \
        $V1 hq-interop/- - "server:0x1c:0x178:0x0:I"
    aioquic_client c --connect 127.0.0.1:4605 --sni emby.example.com --cafile "$C/ca.pem" --alpn hq-interop
    capture_stop
}

sc_quic_version_mismatch() {
    aioquic_server q1 127.0.0.1:4606 --version v1
    aioquic_server q2 127.0.0.1:4607 --version v2
    ngtcp2_server n1 127.0.0.1 4608
    capture_start quic_version_mismatch "udp and host 127.0.0.1 and (port 4606 or port 4607 or port 4608)"
    expect_quic quic_version_mismatch 127.0.0.1 127.0.0.1:4606 quic_version_mismatch emby.example.com \
        "aioquic client that speaks only QUIC v2 -> aioquic server that speaks only v1: Version Negotiation listing 0x00000001; no common version, the client gives up (no further packet)" \
        $V2 h3/- "vn=$V1" -
    aioquic_client c --connect 127.0.0.1:4606 --sni emby.example.com --cafile "$C/ca.pem" --version v2
    expect_quic quic_version_mismatch 127.0.0.1 127.0.0.1:4607 quic_version_mismatch emby.example.com \
        "ngtcp2 client (QUIC v1; ngtcp2 0.12 knows v1 and a v2 draft, not RFC 9369's v2) -> aioquic server that speaks only v2: Version Negotiation listing 0x6b3343cf; the client gives up" \
        $V1 h3/- "vn=$V2" -
    ngtcp2_client c "" 127.0.0.1 4607
    expect_quic quic_version_mismatch 127.0.0.1 127.0.0.1:4608 quic_version_mismatch emby.example.com \
        "aioquic client that speaks only QUIC v2 -> ngtcp2 server: Version Negotiation listing a version reserved for greasing (0x?a?a?a?a, random) and 0x00000001 (not ngtcp2's v2 draft); the client gives up" \
        $V2 h3/- "vn=0x?a?a?a?a+$V1" -
    aioquic_client c --connect 127.0.0.1:4608 --sni emby.example.com --cafile "$C/ca.pem" --version v2
    capture_stop
}

sc_quic_cert_rejected() {
    local k=quic_cert_rejected ak
    ak=$(keylog $k aioquic)
    aioquic_server q1 127.0.0.1:4609
    aioquic_server q2 127.0.0.1:4610 --cert "$C/expired.pem" --key "$C/expired.key"
    ngtcp2_server n1 127.0.0.1 4611
    capture_start $k "udp and host 127.0.0.1 and (port 4609 or port 4610 or port 4611)"
    expect_quic $k 127.0.0.1 127.0.0.1:4609 cert_rejected emby.example.com \
        "aioquic client trusting only the unrelated CA -> aioquic server: the client's CONNECTION_CLOSE, crypto error 0x12a (bad_certificate: aioquic sends it for every chain or name failure), reason 'unable to get local issuer certificate'. Without keys: only encrypted packets after the server's flight. With keys the certificate shows an issuer the client was not given" \
        $V1 h3/h3 - "client:0x1c:0x12a:0x6:H" cert_unknown_ca
    aioquic_client c --connect 127.0.0.1:4609 --sni emby.example.com --cafile "$C/other-ca.pem" --keylog "$ak"
    expect_quic $k 127.0.0.1 127.0.0.1:4609 cert_rejected other.example.org \
        "aioquic client asking for other.example.org (certificate for emby.example.com, trusted CA): CONNECTION_CLOSE 0x12a bad_certificate, reason \"hostname 'other.example.org' doesn't match ...\". With keys the certificate shows the name mismatch" \
        $V1 h3/h3 - "client:0x1c:0x12a:0x6:H" cert_name_mismatch
    aioquic_client c --connect 127.0.0.1:4609 --sni other.example.org --cafile "$C/ca.pem" --keylog "$ak"
    expect_quic $k 127.0.0.1 127.0.0.1:4610 cert_rejected emby.example.com \
        "aioquic client -> aioquic server with the expired leaf (2020-01-01..2021-01-01, trusted CA): CONNECTION_CLOSE 0x12d (certificate_expired), reason 'Certificate is no longer valid'. With keys the certificate shows the dates" \
        $V1 h3/h3 - "client:0x1c:0x12d:0x6:H" cert_expired
    aioquic_client c --connect 127.0.0.1:4610 --sni emby.example.com --cafile "$C/ca.pem" --keylog "$ak"
    expect_quic $k 127.0.0.1 127.0.0.1:4611 cert_rejected emby.example.com \
        "aioquic client trusting only the unrelated CA -> ngtcp2 server: CONNECTION_CLOSE 0x12a bad_certificate. With keys the certificate shows an issuer the client was not given" \
        $V1 h3/h3 - "client:0x1c:0x12a:0x6:H" cert_unknown_ca
    aioquic_client c --connect 127.0.0.1:4611 --sni emby.example.com --cafile "$C/other-ca.pem" --keylog "$ak"
    capture_stop
    quic_keys_finish $k 4609,4610,4611
}

sc_quic_connection_refused() {
    capture_start quic_connection_refused "(udp and host 127.0.0.1 and (port 4612 or port 4613)) or (icmp and icmp[icmptype] == icmp-unreach and (icmp[30:2] == 4612 or icmp[30:2] == 4613))"
    expect_quic quic_connection_refused 127.0.0.1 127.0.0.1:4612 connection_refused emby.example.com \
        "aioquic client (--timeout 3) -> 127.0.0.1:4612, nothing bound there: every Initial answered by ICMP port unreachable, which aioquic does not act on (its socket is not connected): it retransmits its Initial at 0.2, 0.6, 1.4 s and at 3 s gives up with a CONNECTION_CLOSE in an Initial (its application close, sent as 0x1c APPLICATION_ERROR 0xc as RFC 9000 10.2.3 asks before the handshake), also answered by ICMP" \
        $V1 h3/- icmp "client:0x1c:0xc:0x0:I"
    aioquic_client c --connect 127.0.0.1:4612 --sni emby.example.com --cafile "$C/ca.pem" --timeout 3
    expect_quic quic_connection_refused 127.0.0.1 127.0.0.1:4613 connection_refused emby.example.com \
        "ngtcp2 client (--handshake-timeout=3s) -> 127.0.0.1:4613, nothing bound there: ICMP port unreachable for each Initial; gtlsclient does not act on it either, retransmits its Initial at 1 s and at 3 s gives up with a CONNECTION_CLOSE PROTOCOL_VIOLATION (0xa) in an Initial" \
        $V1 h3/- icmp "client:0x1c:0xa:0x0:I"
    ngtcp2_client c "" 127.0.0.1 4613 --handshake-timeout=3s
    capture_stop
}

# Two namespaces made here, joined by a veth pair: tw-qc (client, qc0 10.254.0.1) and
# tw-qs (server, qs0 10.254.0.2), where nftables drops UDP to ports 4614-4616 on input.
# The capture is taken on qc0.
quic_blocked_ns() {
    tun_ns tw-qc tw-qs
    veth_pair tw-qc qc0 10.254.0.1/24 tw-qs qs0 10.254.0.2/24
    ip netns exec tw-qs nft -f - <<'NFT'
table inet tlswhy_block_quic {
    chain input {
        type filter hook input priority filter; policy accept;
        udp dport 4614-4616 drop
    }
}
NFT
}

sc_quic_udp_blocked() {
    quic_blocked_ns
    QNS=tw-qs aioquic_server q1 10.254.0.2:4614
    QNS=tw-qs ngtcp2_server n1 10.254.0.2 4615
    CAP_NETNS=tw-qc CAP_IFACE=qc0 capture_start quic_udp_blocked "udp and (port 4614 or port 4615)"
    expect_quic quic_udp_blocked 10.254.0.1 10.254.0.2:4614 udp_blocked emby.example.com \
        "aioquic client (--timeout 5) -> aioquic server whose host drops UDP to its port (nftables in the server's namespace, across a veth pair; captured on the client's side): the Initial and its retransmissions at 0.2, 0.6, 1.4 and 3.0 s, never answered; at 5 s the client gives up with a CONNECTION_CLOSE in an Initial (APPLICATION_ERROR 0xc)" \
        $V1 h3/- - "client:0x1c:0xc:0x0:I"
    QNS=tw-qc aioquic_client c --connect 10.254.0.2:4614 --sni emby.example.com --cafile "$C/ca.pem" --timeout 5
    expect_quic quic_udp_blocked 10.254.0.1 10.254.0.2:4615 udp_blocked emby.example.com \
        "ngtcp2 client -> ngtcp2 server behind the same firewall: the Initial retransmitted at 1 and 3 s, never answered; at its 5 s handshake timeout the client gives up with a CONNECTION_CLOSE PROTOCOL_VIOLATION (0xa) in an Initial" \
        $V1 h3/- - "client:0x1c:0xa:0x0:I"
    QNS=tw-qc ngtcp2_client c "" 10.254.0.2 4615
    capture_stop
    stop_all
    tun_ns_del
}

sc_quic_tcp_fallback() {
    quic_blocked_ns
    QNS=tw-qs aioquic_server q1 10.254.0.2:4616
    tun_s_server s1 tw-qs 10.254.0.2:4616 -tls1_3 -cert "$C/emby.pem" -key "$C/emby.key"
    CAP_NETNS=tw-qc CAP_IFACE=qc0 capture_start quic_tcp_fallback "port 4616"
    expect_quic quic_tcp_fallback 10.254.0.1 10.254.0.2:4616 quic_blocked_fell_back_to_tcp emby.example.com \
        "aioquic client (quicpeer --timeout 3 --fallback-tcp) -> 10.254.0.2:4616, where an aioquic server listens but the host drops UDP to the port (nftables): the Initial and its retransmissions, never answered; at 3 s the client's CONNECTION_CLOSE (APPLICATION_ERROR 0xc) in an Initial, then it falls back to TLS over TCP to the same address and port (the TCP attempt in handshakes)" \
        $V1 h3/- - "client:0x1c:0xc:0x0:I"
    expect quic_tcp_fallback 10.254.0.2:4616 ok emby.example.com - \
        "the fallback, 0.6 s after the QUIC attempt gave up: Python ssl (verifying, ALPN http/1.1) -> openssl s_server -tls1_3 -www on TCP 10.254.0.2:4616 of the same server, HTTP/1.1 GET answered with HTTP/1.0 200, then FIN both ways"
    QNS=tw-qc aioquic_client c --connect 10.254.0.2:4616 --sni emby.example.com --cafile "$C/ca.pem" \
        --timeout 3 --fallback-tcp --get /
    capture_stop
    stop_all
    tun_ns_del
}

# The stateless reset (RFC 9000 10.3): a server that restarts between its handshake flight
# and the client's answer. tw-qc and tw-qs as above, without the firewall; the client's
# uplink is slow (tbf on qc0, 3 kbit/s: what its bucket holds goes out at once, the rest
# waits), so its answer to the server's flight is still on the way when the server
# (tquic_server) is killed (SIGKILL) and started again on the same port; then the uplink is
# made fast (1 Gbit/s). The new process knows no connection, drops the client's Initial and
# Handshake packets and answers each datagram that holds only a 1-RTT packet with a
# Stateless Reset whose token is the one the first process gave in its transport
# parameters (the reset key is tquic's default, the same in both). The kernel here has no
# netem, so the slow link is a rate, not a delay. The capture is taken on qc0, after the
# qdisc: the client's datagrams as they leave.
quic_slow_ns() {
    tun_ns tw-qc tw-qs
    veth_pair tw-qc qc0 10.254.0.1/24 tw-qs qs0 10.254.0.2/24
}
# quic_reset_attempt TAG retry|noretry CLIENT_FUNCTION ARGS...: one attempt of
# quic_stateless_reset (servers r1TAG, r2TAG), the client run in tw-qc in the background.
# A new tquic_server makes a connection of any Initial of 1200 bytes, and then routes the
# client's 1-RTT packets to it instead of resetting them: the client's Initial ACK must not
# reach it. "retry": both servers send a Retry first (--enable-retry), so the client's later
# Initials carry the first server's token, which the second refuses (its token key is new);
# the bucket (2600 bytes) lets the client's two Initials through, and the server is killed
# as soon as it has written its flight (the Retry and two datagrams). "noretry" (for a
# client that answers each datagram of the flight on its own, Initial ACK first): the
# bucket (1300 bytes) lets the first Initial through, and the server is killed once it has
# read the client's second datagram (its Initial ACK). A qdisc whose rate goes up does not
# send what it holds until something is queued behind it: one datagram to the discard port
# (not captured) does.
quic_reset_attempt() {
    local tag=$1 mode=$2 s1 c i burst=1300 retry=() what='socket recv [0-9]+ bytes' n=2
    shift 2
    [ "$mode" = noretry ] || { burst=2600 retry=(--enable-retry) what='written [0-9]+ bytes' n=3; }
    QNS=tw-qs tquic_server "r1$tag" 10.254.0.2 4617 "${retry[@]}"
    s1=$LAST_PID
    ip netns exec tw-qc tc qdisc replace dev qc0 root tbf rate 3kbit burst "$burst" latency 60s
    QNS=tw-qc "$@" &
    c=$!
    for i in $(seq 1 300); do
        [ "$(grep -Ec "$what" "$WORK/r1$tag.log")" -lt "$n" ] || break
        sleep 0.05
    done
    [ "$(grep -Ec "$what" "$WORK/r1$tag.log")" -ge "$n" ] ||
        die "r1$tag: no $n lines '$what' in its log after 15 s (see $WORK/r1$tag.log)"
    kill -KILL -- "-$s1" 2>/dev/null || true
    wait "$s1" 2>/dev/null || true
    QNS=tw-qs tquic_server "r2$tag" 10.254.0.2 4617 "${retry[@]}"
    ip netns exec tw-qc tc qdisc change dev qc0 root tbf rate 1gbit burst 256kb latency 60s
    ip netns exec tw-qc bash -c 'echo kick >/dev/udp/10.254.0.2/9' || true
    wait "$c" || true
    grep -Eq 'socket recv [0-9]+ bytes' "$WORK/r2$tag.log" ||
        die "r2$tag: the restarted server read nothing (see $WORK/r2$tag.log)"
    stop_pid "$LAST_PID"
}

sc_quic_stateless_reset() {
    local k=quic_stateless_reset nk ak
    nk=$(keylog $k ngtcp2) ak=$(keylog $k aioquic)
    need_tquic
    need_aioquic
    quic_slow_ns
    CAP_NETNS=tw-qc CAP_IFACE=qc0 capture_start $k "udp and port 4617"
    expect_quic $k 10.254.0.1 10.254.0.2:4617 quic_stateless_reset emby.example.com \
        "ngtcp2 client (gtlsclient, HTTP/3 GET) -> tquic_server 1.6.0 (TQUIC) with --enable-retry on 10.254.0.2:4617, the client's uplink slow (tbf, 3 kbit/s), captured on the client's side: its Initial, the server's Retry, its Initial with the token (both let through at once), the server's flight (Initial+Handshake, Handshake). The server process is then killed (SIGKILL) and started again on the same port, and the uplink made fast: the datagrams the link held (the client's Initial ACK; its Finished in a Handshake packet coalesced with 1-RTT; datagrams holding only 1-RTT packets: HTTP/3 streams, PMTU probes of 1414 bytes; Handshake PTO probes) reach a process that knows no connection. It drops the Initial (its token is the old process's) and Handshake packets and answers each datagram holding only a 1-RTT packet with a Stateless Reset within 1 ms: 42 bytes, first byte 01xxxxxx, 25 random bytes (not the client's connection ID), then the 16-byte token the first process gave in its stateless_reset_token transport parameter (tquic derives it from the connection ID with a fixed key). The client, its handshake not yet confirmed (no HANDSHAKE_DONE), recognizes the token (its log: 'pkt rx 0 SR token=0x...', ngtcp2_conn_read_pkt ERR_DRAINING) and stops at once, without a CONNECTION_CLOSE. Without keys tshark reads each reset as a short-header packet of an unknown connection; with the key log it shows the token (quic.stateless_reset_token)" \
        $V1 h3/h3 retry,stateless_reset - -
    NGTCP2_DEBUG=1 quic_reset_attempt a retry ngtcp2_client ca "$nk" 10.254.0.2 4617
    grep -Eq 'pkt rx 0 SR token=0x[0-9a-f]{32}' "$WORK/ca.log" ||
        die "gtlsclient did not take a Stateless Reset (see $WORK/ca.log)"
    expect_quic $k 10.254.0.1 10.254.0.2:4617 quic_stateless_reset emby.example.com \
        "aioquic client (tools/quicpeer.py --timeout 8, verifying) -> the same server, here without Retry, uplink 3 kbit/s: its Initial, the server's flight and the server's retransmissions of it at 1 and 2 s (the client's acknowledgement is held by the slow link); at about 3.2 s the client's Initial ACK (padded to 1200 bytes) reaches the server, which is then killed and started again, and the uplink made fast: the rest (its Finished in a Handshake packet coalesced with 1-RTT, a datagram holding only a 1-RTT packet with the HTTP/3 GET, Handshake PTO probes and ACKs) reaches the new process, which answers the 1-RTT datagram with a Stateless Reset (42 bytes, first byte 01xxxxxx, ending in the stateless_reset_token of the first process's transport parameters). aioquic 1.7.2 does not look for stateless reset tokens (RFC 9000 10.3.1 says it MUST): it drops the reset as a packet it cannot decrypt and, its handshake complete on its side (it read the server's Finished) but not confirmed, sends Handshake PTO probes on and waits for the answer to its GET; at 8 s (--timeout) it gives up with a CONNECTION_CLOSE 0x1c APPLICATION_ERROR (0xc) in a Handshake packet coalesced with 0x1d (0x0) in a 1-RTT packet, both encrypted" \
        $V1 h3/h3 stateless_reset "client:0x1c:0xc:0x0:H,client:0x1d:0x0:-:1" -
    quic_reset_attempt b noretry aioquic_client cb --connect 10.254.0.2:4617 --sni emby.example.com \
        --cafile "$C/ca.pem" --get / --keylog "$ak" --timeout 8
    capture_stop
    stop_all
    tun_ns_del
    quic_keys_finish $k 4617
}

# A CONNECTION_CLOSE with a transport error (0x1c, TRANSPORT_PARAMETER_ERROR 0x8) during
# the handshake: transport parameters that RFC 9000 18.2 forbids, from a client
# (initial_max_streams_bidi above 2^60) and from a server (max_udp_payload_size below
# 1200), refused by the other side.
sc_quic_transport_error() {
    local k=quic_transport_error nk ak
    nk=$(keylog $k ngtcp2) ak=$(keylog $k aioquic)
    aioquic_server q1 127.0.0.1:4618
    ngtcp2_server n1 127.0.0.1 4619
    tquic_server t1 127.0.0.1 4620 --recv-udp-payload-size 1000
    capture_start $k "udp and host 127.0.0.1 and (port 4618 or port 4619 or port 4620)"
    expect_quic $k 127.0.0.1 127.0.0.1:4618 quic_transport_error emby.example.com \
        "ngtcp2 client with --max-streams-bidi=1152921504606846977 (initial_max_streams_bidi 2^60+1, which RFC 9000 4.6 forbids) -> aioquic server (tools/quicpeer.py): instead of a ServerHello, the server's CONNECTION_CLOSE 0x1c TRANSPORT_PARAMETER_ERROR (0x8), triggering frame 0x06 (CRYPTO), reason 'initial_max_streams_bidi cannot exceed 2^60', in an Initial packet (readable without keys)" \
        $V1 h3/- - "server:0x1c:0x8:0x6:I" -
    ngtcp2_client c "$nk" 127.0.0.1 4618 --max-streams-bidi=1152921504606846977
    expect_quic $k 127.0.0.1 127.0.0.1:4619 quic_transport_error emby.example.com \
        "the same ngtcp2 client (initial_max_streams_bidi 2^60+1) -> ngtcp2 server (gtlsserver): instead of a ServerHello, ngtcp2's CONNECTION_CLOSE 0x1c TRANSPORT_PARAMETER_ERROR (0x8) in an Initial packet, triggering frame type 0, no reason phrase" \
        $V1 h3/- - "server:0x1c:0x8:0x0:I" -
    ngtcp2_client c "$nk" 127.0.0.1 4619 --max-streams-bidi=1152921504606846977
    expect_quic $k 127.0.0.1 127.0.0.1:4620 quic_transport_error emby.example.com \
        "aioquic client (verifying, HTTP/3) -> tquic_server --recv-udp-payload-size 1000 (its max_udp_payload_size transport parameter 1000, below the 1200 that RFC 9000 18.2 requires): the server's flight (Initial+Handshake, Handshake), then the client's CONNECTION_CLOSE 0x1c TRANSPORT_PARAMETER_ERROR (0x8), triggering frame 0x06 (CRYPTO), reason 'max_udp_payload_size must be >= 1200', sent in an Initial packet and a Handshake packet of one datagram (the Initial one readable without keys)" \
        $V1 h3/h3 - "client:0x1c:0x8:0x6:I+H" -
    aioquic_client c --connect 127.0.0.1:4620 --sni emby.example.com --cafile "$C/ca.pem" --get / \
        --keylog "$ak"
    capture_stop
    quic_keys_finish $k 4618,4619,4620
}

# Connection migration: a NAT rebinding. gtlsclient --change-local-addr --nat-rebinding
# moves to a new UDP socket (a new source port) without path validation of its own and
# goes on with the same connection IDs; the server validates the new path.
sc_quic_migration() {
    local k=quic_migration nk
    nk=$(keylog $k ngtcp2)
    ngtcp2_server n1 127.0.0.1 4621 --max-gso-dgrams=1
    capture_start $k "udp and host 127.0.0.1 and port 4621"
    expect_quic $k 127.0.0.1 127.0.0.1:4621 ok emby.example.com \
        "ngtcp2 client -> ngtcp2 server (gtlsserver --max-gso-dgrams=1: one packet per datagram, no GSO super-datagrams on lo), QUIC v1, h3: the handshake from the client's first UDP port; then (gtlsclient --change-local-addr=1s --nat-rebinding --delay-stream=2s) the client moves to a new socket, a second ephemeral port, without path validation of its own (a NAT rebinding), and 2 s after the handshake sends its HTTP/3 GET from there with the same connection IDs (its DCID still the server's SCID from the handshake). The server's first packets to the new port are two PATH_CHALLENGEs (1-RTT, 52-byte datagrams), then the answer (200) at once (before the path is validated); the client closes with H3_NO_ERROR from the new port, in some runs after two PATH_RESPONSEs (1-RTT, padded to 1452 bytes), in others at once (gtlsclient exits as soon as its stream is done). One connection, two client ports (client_paths 2)" \
        $V1 h3/h3 - "client:0x1d:0x100:-:1" -
    ngtcp2_client c "$nk" 127.0.0.1 4621 --change-local-addr=1s --nat-rebinding --delay-stream=2s
    capture_stop
    quic_keys_finish $k 4621
}

# QUIC draft-29 (0xff00001d), what Chrome, Cloudflare, Google and most servers spoke in
# 2020-2021 before RFC 9000: captures of that time hold it. Its Initials are protected as
# version 1's with draft-29's own salt (RFC 9001's predecessor, draft-ietf-quic-tls-29
# §5.2); its hellos carry the transport parameters under codepoint 0xffa5.
# ngtcp2 0.12 still speaks it.
sc_quic_draft29() {
    local k=quic_draft29 nk
    nk=$(keylog $k ngtcp2)
    ngtcp2_server n1 127.0.0.1 4622
    ngtcp2_server n2 127.0.0.1 4623 -V
    capture_start $k "udp and host 127.0.0.1 and (port 4622 or port 4623)"
    expect_quic $k 127.0.0.1 127.0.0.1:4622 ok emby.example.com \
        "ngtcp2 client -> ngtcp2 server, QUIC draft-29 (gtlsclient -v 0xff00001d), ALPN h3 (ngtcp2 0.12 offers h3 under every version): HTTP/3 GET answered 200, then the client's application CONNECTION_CLOSE (H3_NO_ERROR) in a 1-RTT packet. The Initials open with draft-29's salt: the ClientHello (SNI, offer) and the ServerHello are read without keys" \
        0xff00001d h3/h3 - "client:0x1d:0x100:-:1" -
    ngtcp2_client c "$nk" 127.0.0.1 4622 -v 0xff00001d
    expect_quic $k 127.0.0.1 127.0.0.1:4623 ok emby.example.com \
        "the same with address validation (gtlsserver -V): a draft-29 Retry, the client's second Initial with the token (new Initial keys from the Retry's connection ID, same salt), then the HTTP/3 GET answered 200" \
        0xff00001d h3/h3 retry "client:0x1d:0x100:-:1" -
    ngtcp2_client c "$nk" 127.0.0.1 4623 -v 0xff00001d
    capture_stop
    quic_keys_finish $k 4622,4623
}

# ---------------------------------------------------------------- QUIC from a browser --
# Chromium racing QUIC against TCP when UDP is dropped. All of it in a network namespace
# made here, tw-qb (only its own lo: 127.0.0.1), deleted afterwards; tcpdump on that lo.
# nginx serves emby.example.com over TLS 1.3 on TCP 127.0.0.1:4624 (HTTP/2) and
# advertises HTTP/3 on the same port (Alt-Svc: h3=":4624"), where an aioquic server
# listens on UDP, but nftables drops UDP to the port on input (nft_drop_udp: no ICMP; the
# capture still holds the datagrams, which tcpdump on lo sees as they are sent). Two
# headless Chromium runs share one profile (chromium_ns): the first loads a page over TCP
# and learns the Alt-Svc, the second knows it from the start. What Chromium did is read
# from its net log (tools/netlog.py: its TCP connections and their TLS, its QUIC sessions
# and how each was closed, the responses and over what they came), and from nginx's access
# log; the expect lines follow from them.

# nginx_altsvc NAME PORT WWW LINE...: nginx (in the network namespace $QNS if set) serving
# WWW as emby.example.com over TLS 1.3 and HTTP/2 on 127.0.0.1:PORT and advertising
# HTTP/3 on the same port (Alt-Svc h3); each LINE goes into its server block. Returns
# once it listens.
nginx_altsvc() {
    local name=$1 port=$2 www=$3 line extra=""
    shift 3
    for line in "$@"; do extra+="        $line"$'\n'; done
    nginx_start "$name" <<EOF
    server {
        listen 127.0.0.1:$port ssl http2;
        server_name emby.example.com;
        ssl_protocols TLSv1.3;
        ssl_certificate $C/emby.pem;
        ssl_certificate_key $C/emby.key;
        add_header Alt-Svc 'h3=":$port"; ma=86400' always;
        root $www;
$extra    }
EOF
    wait_listen 127.0.0.1 "$port"
}

# nft_drop_udp NS PORT: nftables in the namespace NS drops UDP to PORT on input, silently
# (no ICMP), counting what it drops.
nft_drop_udp() {
    ip netns exec "$1" nft -f - <<NFT
table inet tlswhy_drop_udp {
    chain input {
        type filter hook input priority filter; policy accept;
        udp dport $2 counter drop
    }
}
NFT
}

# nft_dropped_udp NS: DROPPED, the UDP datagrams that nft_drop_udp's table in the namespace
# NS dropped; dies when it dropped none.
nft_dropped_udp() {
    DROPPED=$(ip netns exec "$1" nft list table inet tlswhy_drop_udp | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
    [ "${DROPPED:-0}" -gt 0 ] || die "nftables dropped no UDP datagram"
}

# chromium_ns NAME PROFILE URL: headless Chromium, in the network namespace $QNS, loads
# URL (--dump-dom: it exits once the page has loaded, at most BROWSER_SECS) with QUIC on
# (--enable-quic) and the profile PROFILE: its HOME, with an NSS database trusting the test
# CA (browser_profile), and its user data, made by the first run and kept for the next
# (which then knows what the runs before it learned, such as a server's Alt-Svc; removed
# by the caller, or with $WORK/profiles by cleanup). Its log is $WORK/NAME.log, its net log
# $WORK/NAME.netlog.json, and what the net log says about emby.example.com:PORT (URL's
# port; tools/netlog.py) $WORK/NAME.netlog.txt, which browser_saw reads.
chromium_ns() {
    local name=$1 d=$2 url=$3 port
    port=${url#https://emby.example.com:}
    port=${port%%/*}
    [ -d "$d/home/.pki/nssdb" ] || browser_profile "$d/home/.pki/nssdb"
    browser_run "$name" ${QNS:+ip netns exec "$QNS"} env HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config" \
        XDG_CACHE_HOME="$d/home/.cache" chromium "${CHROMIUM_FLAGS[@]}" --enable-quic --user-data-dir="$d/data" \
        --log-net-log="$WORK/$name.netlog.json" --dump-dom "$url"
    python3 "$TOOLS/netlog.py" "$WORK/$name.netlog.json" "emby.example.com:$port" "127.0.0.1:$port" \
        >"$WORK/$name.netlog.txt" 2>>"$WORK/$name.log" || die "$name: its net log $WORK/$name.netlog.json does not read"
}

# expect_chromium_tcp SCENARIO NAME PORT NOTE: one expect line (ok) for each TCP connection
# Chromium's net log (run NAME) shows to 127.0.0.1:PORT, in order, the first noted "NOTE
# (connection 1 of N)" and so on. Dies unless there is one at least and every one had a
# TLS 1.3 handshake that ALPN took to HTTP/2.
expect_chromium_tcp() {
    local k=$1 name=$2 port=$3 note=$4 all n i
    all=$(grep -c '^tcp_connect ' "$WORK/$name.netlog.txt" || true)
    n=$(grep -c "^tcp_connect 127\\.0\\.0\\.1:$port local=127\\.0\\.0\\.1:[0-9]* ssl=TLS 1\\.3/h2\$" "$WORK/$name.netlog.txt" || true)
    [ "$n" -ge 1 ] && [ "$n" = "$all" ] ||
        die "$name: $n of $all TCP connections with TLS 1.3 and h2 in its net log (see $WORK/$name.netlog.txt)"
    for i in $(seq 1 "$n"); do
        expect "$k" "127.0.0.1:$port" ok emby.example.com - "$note (connection $i of $n)"
    done
    echo "   $name: $n TCP connection(s) in its net log" >&2
}

# Two behaviours of Chromium's QUIC. (1) The cancelled attempt: the first run (no Alt-Svc
# known) loads / over TCP, reads the Alt-Svc in the response, starts a QUIC attempt beside
# its HTTP/2 connection for the page's next request (the stylesheet it links, which the
# HTTP/2 connection carries at once) and exits (--dump-dom: the page has loaded) 0.1 to
# 0.2 s later: the attempt is closed at once, unanswered, before its first retransmission
# (its net log: 3 packets sent, the two Initials of its ClientHello and the close). The
# favicon, requested once the page has loaded, may come too late for it: the stylesheet
# makes the attempt happen in every run. (2) The race: the second run knows the Alt-Svc
# and starts a TCP connection and a QUIC attempt together (within some 30 ms, either
# first); the QUIC Initials are retransmitted, never answered, and Chromium closes the
# attempt after 4 s of silence. Its page, /slow.html (6 KB, sent at 1 KB/s: limit_rate),
# comes over TCP in about 6 s, so the browser stays until the attempt is closed and exits
# by itself soon after (a browser killed instead loses the end of its net log).
sc_quic_browser_race() {
    local k=quic_browser_race port=4624 prof=$WORK/profiles/quic-browser-race www=$WORK/www-qb
    mkdir -p "$www"
    echo '<html><head><link rel="stylesheet" href="/style.css"></head><body>hello from emby.example.com</body></html>' \
        >"$www/index.html"
    echo 'body { color: black; }' >"$www/style.css"
    printf '<html><body>hello from emby.example.com, slowly<!-- %s --></body></html>\n' \
        "$(head -c 6000 /dev/zero | tr '\0' x)" >"$www/slow.html"
    tun_ns tw-qb
    QNS=tw-qb aioquic_server qb1 127.0.0.1:$port
    QNS=tw-qb nginx_altsvc qb $port "$www" "types { text/html html; text/css css; }" \
        "location = /slow.html { limit_rate 1k; }"
    nft_drop_udp tw-qb $port
    CAP_NETNS=tw-qb capture_start $k "port $port"
    QNS=tw-qb chromium_ns cr-race1 "$prof" "https://emby.example.com:$port/"
    browser_saw cr-race1 'hello from emby\.example\.com$' "the page"
    browser_saw cr-race1 "^response https://emby\\.example\\.com:$port/ via=h2 HTTP/1\\.1 200\$" \
        "the page over HTTP/2 (TCP), 200"
    browser_saw cr-race1 "^response https://emby\\.example\\.com:$port/style\\.css via=h2 HTTP/1\\.1 200\$" \
        "the stylesheet over HTTP/2 (TCP), 200"
    browser_saw cr-race1 '^quic_sessions 1$' "one QUIC session"
    browser_saw cr-race1 "^quic_session emby\\.example\\.com:$port packets_sent=3 packets_received=0 close_on_error=-3 \\(ERR_ABORTED\\) closed quic_error=70 \\(QUIC_CONNECTION_CANCELLED\\) from_peer=false details=net error\$" \
        "its QUIC session closed unanswered (3 packets sent: no retransmission) on ERR_ABORTED (-3), quic_error 70 'net error'"
    BROWSER_SECS=15 QNS=tw-qb chromium_ns cr-race2 "$prof" "https://emby.example.com:$port/slow.html"
    browser_saw cr-race2 'hello from emby.example.com, slowly' "the page"
    browser_saw cr-race2 "^response https://emby\\.example\\.com:$port/slow\\.html via=h2 HTTP/1\\.1 200\$" \
        "the page over HTTP/2 (TCP), 200"
    browser_saw cr-race2 '^quic_sessions 1$' "one QUIC session"
    browser_saw cr-race2 "^quic_session emby\\.example\\.com:$port packets_sent=[0-9]+ packets_received=0 closed quic_error=25 \\(QUIC_NETWORK_IDLE_TIMEOUT\\) from_peer=false details=No recent network activity after [0-9]+us\\. Timeout:4s" \
        "its QUIC session closed unanswered after 4 s of silence, quic_error 25 'No recent network activity ... Timeout:4s'"
    capture_stop
    grep -q '"GET / HTTP/2.0" 200 ' "$WORK/nginx-qb/access.log" &&
        grep -q '"GET /slow.html HTTP/2.0" 200 ' "$WORK/nginx-qb/access.log" ||
        die "nginx did not serve both pages over HTTP/2 (see $WORK/nginx-qb/access.log)"
    nft_dropped_udp tw-qb
    echo "   nftables dropped $DROPPED UDP datagram(s) to port $port" >&2
    expect_chromium_tcp $k cr-race1 $port \
        "Chromium (headless, first run, no Alt-Svc known) -> nginx (TLS 1.3, HTTP/2, Alt-Svc h3 on the same port) in the namespace tw-qb, UDP to the port dropped: GET / and its stylesheet answered 200 over TCP (its net log: TLS 1.3, h2); Chromium opens a spare connection beside the page's, and both complete"
    expect_chromium_tcp $k cr-race2 $port \
        "Chromium (headless, second run, the same profile: the Alt-Svc known) -> the same server: the TCP connection it races against its QUIC attempt, started within some 30 ms of the first Initial (before or after it, as it happens); GET /slow.html comes over it, 200 (its net log: TLS 1.3, h2), 6 KB at 1 KB/s"
    expect_quic $k 127.0.0.1 127.0.0.1:$port client_aborted emby.example.com \
        "Chromium's first run, once the page has loaded over TCP and its Alt-Svc (h3 on the same port) is read: a QUIC attempt beside the HTTP/2 connection, for the page's stylesheet (which that connection carries at once), its ClientHello in two Initials; 0.1 to 0.2 s later --dump-dom ends the browser and the attempt is closed, unanswered and never retransmitted: its net log shows QUIC_SESSION_CLOSE_ON_ERROR net_error -3 (ERR_ABORTED), then a CONNECTION_CLOSE 0x1c NO_ERROR (quic_error 70 QUIC_CONNECTION_CANCELLED, reason '70:net error') in an Initial. The client gave up on QUIC, not on an answer" \
        $V1 h3/- - "client:0x1c:0x0:0x0:I"
    expect_quic $k 127.0.0.1 127.0.0.1:$port quic_blocked_fell_back_to_tcp emby.example.com \
        "Chromium's second run, the Alt-Svc known: it races a QUIC attempt against a TCP connection to the same port (started within some 30 ms of each other, either first); UDP to the port is dropped (nftables, no ICMP), so the Initials (the ClientHello in two, then retransmissions at about 0.3, 0.9 and 2.1 s) are never answered, while the page loads over TCP; at 4 s Chromium closes the attempt: CONNECTION_CLOSE 0x1c NO_ERROR in an Initial, reason '25:No recent network activity after ...us. Timeout:4s ...' (its net log: quic_error 25 QUIC_NETWORK_IDLE_TIMEOUT)" \
        $V1 h3/- - "client:0x1c:0x0:0x0:I"
    stop_all
    tun_ns_del
    rm -rf "$prof"
}

# firefox_quic NAME URL KEYLOG: headless Firefox ESR, in the network namespace $QNS, opens
# URL (https://HOST:PORT/) over HTTP/3 from the first request: a fresh profile
# (browser_profile, firefox_prefs) with HTTP/3 on and Firefox's testing Alt-Svc mapping
# sending HOST to h3 on UDP PORT of the same address (no TCP first, no Alt-Svc header
# needed). HTTP/3 is kept on although the profile trusts a root of its own (the test CA:
# Firefox turns HTTP/3 off when it finds third-party roots), and without a QPACK dynamic
# table (aioquic 1.7.2 ends a request blocked on its dynamic table with no response).
# Firefox writes its secrets to KEYLOG (SSLKEYLOGFILE) and its MOZ_LOG to
# $WORK/NAME.moz.log* (nsHttp at level 5: Http3Session's Authenticated and
# ConnectionClosed lines, with the NSS error; neqo's at 4); it is ended after BROWSER_SECS.
# KEYLOG "-": no key log. FF_ALTSVC=learn: no testing mapping, HTTP/3 only where a server's
# Alt-Svc header (read over TCP) offers it.
firefox_quic() {
    local name=$1 url=$2 keys=$3 d=$WORK/profiles/$1 hostport
    hostport=${url#https://}
    hostport=${hostport%%/*}
    browser_profile "$d/profile"
    mkdir -p "$d/home"
    {
        firefox_prefs
        cat <<EOP
user_pref("network.http.http3.enable", true);
user_pref("network.http.http3.disable_when_third_party_roots_found", false);
user_pref("network.http.http3.default-qpack-table-size", 0);
EOP
        [ "${FF_ALTSVC:-}" = learn ] || cat <<EOP
user_pref("network.http.http3.alt-svc-mapping-for-testing", "${hostport%:*};h3=:${hostport##*:}");
user_pref("network.http.http3.force-use-alt-svc-mapping-for-testing", true);
EOP
    } >"$d/profile/user.js"
    [ "$keys" != - ] || keys=
    browser_run "$name" ${QNS:+ip netns exec "$QNS"} env HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config" \
        XDG_CACHE_HOME="$d/home/.cache" MOZ_HEADLESS=1 MOZ_CRASHREPORTER_DISABLE=1 ${keys:+SSLKEYLOGFILE="$keys"} \
        MOZ_LOG=timestamp,sync,nsHttp:5,neqo_transport::*:4,neqo_http3::*:4,neqo_crypto::*:4,pipnss:5 \
        MOZ_LOG_FILE="$WORK/$name.moz.log" firefox-esr --headless --no-remote --profile "$d/profile" "$url"
    rm -rf "$d"
}

# expect_firefox_quic SCENARIO PORT MIN MAX CODE SNI NOTE ALPN CLOSE [CODE_WITH_KEYS]: after
# capture_stop, one expect_quic line (client 127.0.0.1, QUIC v1, no events) for each UDP
# flow to 127.0.0.1:PORT that tshark finds in the capture (Firefox starts over from a new
# port when it retries), in order, the NOTE of each ending "(connection I of N)". Dies
# unless there are MIN to MAX of them. Without CODE_WITH_KEYS (a capture with no key log)
# the lines have no code with keys.
expect_firefox_quic() {
    local k=$1 port=$2 min=$3 max=$4 n i
    n=$(tshark -n -r "$HERE/$k.pcap" -Y "udp.dstport == $port" -T fields -e udp.srcport \
        2>>"$WORK/tshark.log" | awk '!seen[$1]++' | wc -l) || die "$k: tshark on port $port (see $WORK/tshark.log)"
    [ "$n" -ge "$min" ] && [ "$n" -le "$max" ] || die "$k: $n QUIC flow(s) to 127.0.0.1:$port, expected $min to $max"
    for i in $(seq 1 "$n"); do
        expect_quic "$k" 127.0.0.1 "127.0.0.1:$port" "$5" "$6" "$7 (connection $i of $n)" $V1 "$8" - "$9" "${@:10}"
    done
    echo "   127.0.0.1:$port: $n QUIC connection(s)" >&2
}

# Firefox ESR speaking HTTP/3 (neqo, its QUIC stack, on NSS) to aioquic servers, one fresh
# profile and browser run per server, all in the namespace tw-qf (its own loopback only).
# Firefox's first flight is one UDP GSO buffer: two 1252-byte Initials that tcpdump sees
# as a single 2512-byte datagram (the receiver gets two); its ClientHello (1887 bytes:
# X25519MLKEM768, X25519 and P-256 key shares) is spread over them and a third Initial
# in shuffled CRYPTO ranges, and some attempts have a range in the second segment only
# (tshark reads those from a cut copy: tools/gso_split.py). Like every NSS client, Firefox checks the
# certificate beside the handshake: it acknowledges the server's flight, then closes
# in a Handshake packet (0x1c with the TLS alert), so without keys the client stops after
# the server's flight. Refused, it connects once more from a new port (the page's retry):
# expect_firefox_quic reads the number of connections from the capture.
sc_quic_firefox() {
    local k=quic_firefox ports=4625,4626,4627,4628,4629
    tun_ns tw-qf
    QNS=tw-qf aioquic_server qf1 127.0.0.1:4625
    QNS=tw-qf aioquic_server qf2 127.0.0.1:4626 --cert "$C/emby-other.pem" --key "$C/emby.key"
    QNS=tw-qf aioquic_server qf3 127.0.0.1:4627 --cert "$C/expired.pem" --key "$C/expired.key"
    QNS=tw-qf aioquic_server qf4 127.0.0.1:4628
    QNS=tw-qf aioquic_server qf5 127.0.0.1:4629 --alpn hq-interop
    CAP_NETNS=tw-qf capture_start $k "udp and host 127.0.0.1 and portrange 4625-4629"
    BROWSER_SECS=6 QNS=tw-qf firefox_quic ffq-ok "https://emby.example.com:4625/" "$(keylog $k ffq-ok)"
    browser_saw ffq-ok 'Http3Session::Authenticated error=0x0 ' "the certificate accepted over HTTP/3"
    grep -q '^request GET /$' "$WORK/qf1.log" || die "the aioquic server on :4625 logged no GET / (see $WORK/qf1.log)"
    BROWSER_SECS=6 QNS=tw-qf firefox_quic ffq-unknown-ca "https://emby.example.com:4626/" "$(keylog $k ffq-unknown-ca)"
    browser_saw ffq-unknown-ca 'Http3Session::Authenticated psm-error=0x805a1ff3 ' "SEC_ERROR_UNKNOWN_ISSUER (0x805a1ff3)"
    BROWSER_SECS=6 QNS=tw-qf firefox_quic ffq-expired "https://emby.example.com:4627/" "$(keylog $k ffq-expired)"
    browser_saw ffq-expired 'Http3Session::Authenticated psm-error=0x805a1ff5 ' "SEC_ERROR_EXPIRED_CERTIFICATE (0x805a1ff5)"
    BROWSER_SECS=6 QNS=tw-qf firefox_quic ffq-mismatch "https://other.example.org:4628/" "$(keylog $k ffq-mismatch)"
    browser_saw ffq-mismatch 'Http3Session::Authenticated psm-error=0x805a2ff4 ' "SSL_ERROR_BAD_CERT_DOMAIN (0x805a2ff4)"
    BROWSER_SECS=6 QNS=tw-qf firefox_quic ffq-alpn "https://emby.example.com:4629/" "$(keylog $k ffq-alpn)"
    browser_saw ffq-alpn 'Http3Session::ProcessEvents - ConnectionClosed error=804b0054' "its HTTP/3 connection closed with error 0x804b0054"
    capture_stop
    quic_keys_finish $k $ports
    local ff="Firefox ESR (neqo on NSS, headless, HTTP/3 forced by its testing Alt-Svc mapping) -> aioquic server in the namespace tw-qf"
    local gso="its first flight one UDP GSO buffer (two 1252-byte Initials, one 2512-byte datagram in the capture), the ClientHello in shuffled CRYPTO ranges over them and a third Initial"
    expect_firefox_quic $k 4625 1 1 ok emby.example.com \
        "$ff, the leaf from the test CA, which its profile trusts: $gso; Http3Session::Authenticated error=0x0 in its MOZ_LOG, the page (GET /) over HTTP/3. Firefox is ended with the connection open" \
        h3/h3 - -
    expect_firefox_quic $k 4626 1 3 cert_rejected emby.example.com \
        "$ff serving a leaf for emby.example.com from the unrelated CA: SEC_ERROR_UNKNOWN_ISSUER (psm-error=0x805a1ff3 in its MOZ_LOG). $gso; Firefox acknowledges the server's flight, then closes in a Handshake packet: without keys it stops after the server's flight; with keys its CONNECTION_CLOSE carries unknown_ca and the certificate shows an issuer it was not given. Refused, Firefox connects once more from a new port" \
        h3/h3 "client:0x1c:0x130:0x0:H" cert_unknown_ca
    expect_firefox_quic $k 4627 1 3 cert_rejected emby.example.com \
        "$ff serving the expired leaf (2020-01-01..2021-01-01, the test CA): SEC_ERROR_EXPIRED_CERTIFICATE (psm-error=0x805a1ff5). As above: its close in a Handshake packet, certificate_expired; with keys the certificate shows the dates" \
        h3/h3 "client:0x1c:0x12d:0x0:H" cert_expired
    expect_firefox_quic $k 4628 1 3 cert_rejected other.example.org \
        "$ff, Firefox asking for other.example.org (every name resolves to 127.0.0.1), the server's leaf for emby.example.com from the trusted CA: SSL_ERROR_BAD_CERT_DOMAIN (psm-error=0x805a2ff4). As above: its close in a Handshake packet, bad_certificate; with keys the certificate shows the name mismatch" \
        h3/h3 "client:0x1c:0x12a:0x0:H" cert_name_mismatch
    expect_firefox_quic $k 4629 1 3 alpn_mismatch emby.example.com \
        "$ff accepting only hq-interop (Firefox offers h3 only): the server's CONNECTION_CLOSE 0x178 no_application_protocol in an Initial, reason 'No common ALPN protocols', no ServerHello; Firefox answers with a CONNECTION_CLOSE of its own in an Initial and logs ConnectionClosed error=804b0054. No secrets: nothing to open" \
        h3/- "server:0x1c:0x178:0x6:I,client:0x1c:0x0:0x1c:I" -
    stop_all
    tun_ns_del
}

# Firefox ESR learning HTTP/3 from an Alt-Svc header over TCP while UDP is dropped, in a
# namespace of its own, tw-qg (its own lo only): nginx serves emby.example.com over TLS 1.3
# on TCP 127.0.0.1:4630 (HTTP/2) with `Alt-Svc: h3=":4630"`, a page that reloads itself
# every 4 s (meta refresh, Cache-Control no-store: every load is a request); an aioquic
# server listens on UDP 4630, but nftables drops UDP to the port (no ICMP). One fresh
# profile, HTTP/3 on without the testing mapping (FF_ALTSVC=learn). Firefox loads the page
# over HTTP/2, reads the Alt-Svc and opens an HTTP/3 connection in the background
# (Http3Session::Init) some 0.3 s after its TCP connection; its first flight is
# retransmitted (neqo's "Lost crypto frame") 0.3, 0.9, 2.2, 4.6 and 9.5 s after it (the
# gap doubling from 0.3 s), never answered, while the reloads go over the HTTP/2
# connection it keeps. Firefox does not give up on the attempt while it runs (no
# CONNECTION_CLOSE) and opens no other TCP connection; it is ended after 13 s (the last
# retransmission comes some 11 s after its start), and the capture ends with the attempt
# still open (about 12 s of packets). No key log: nothing of the attempt to open,
# and tests/keys.rs wants every keyed handshake to decrypt.
sc_quic_firefox_blocked() {
    local k=quic_firefox_blocked port=4630 www=$WORK/www-qg n i h2
    mkdir -p "$www"
    echo '<html><head><meta http-equiv="refresh" content="4"></head><body>hello from emby.example.com</body></html>' \
        >"$www/index.html"
    tun_ns tw-qg
    QNS=tw-qg aioquic_server qg1 127.0.0.1:$port
    QNS=tw-qg nginx_altsvc qg $port "$www" "types { text/html html; }" \
        "add_header Cache-Control no-store always;"
    nft_drop_udp tw-qg $port
    CAP_NETNS=tw-qg capture_start $k "port $port"
    BROWSER_SECS=13 FF_ALTSVC=learn QNS=tw-qg firefox_quic ffqg "https://emby.example.com:$port/" -
    browser_saw ffqg "AltSvcMapping ctor [0-9a-f]+ https://emby\\.example\\.com:$port to :$port" \
        "the Alt-Svc (h3 on :$port) it read over TCP"
    browser_saw ffqg 'Http3Session::Init origin=emby\.example\.com, alpn=h3' "an HTTP/3 connection started"
    browser_saw ffqg 'Lost crypto frame space=in offset=0 ' "its Initials lost (retransmitted)"
    ! grep -Eqs 'Http3Session::Authenticated|isHttp3=1\]' "$WORK"/ffqg.moz.log* ||
        die "ffqg: Firefox's HTTP/3 connection got an answer or a request (see $WORK/ffqg.moz.log*)"
    h2=$(cat "$WORK"/ffqg.moz.log* | grep -Ec "DispatchTransaction \\[ent-ci=[^ ]*emby\\.example\\.com:$port[^ ]* .* isHttp2=1 isHttp3=0\\]" || true)
    [ "$h2" -ge 2 ] || die "ffqg: $h2 request(s) dispatched over HTTP/2 in its MOZ_LOG, expected 2 at least"
    capture_stop
    n=$(grep -c '"GET / HTTP/2.0" 200 ' "$WORK/nginx-qg/access.log" || true)
    [ "$n" -ge 2 ] || die "nginx served the page $n time(s) over HTTP/2, expected 2 at least (see $WORK/nginx-qg/access.log)"
    nft_dropped_udp tw-qg
    echo "   Firefox: $h2 request(s) over HTTP/2; nginx served the page $n time(s); nftables dropped $DROPPED UDP datagram(s)" >&2
    n=$(tshark -n -r "$HERE/$k.pcap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == $port" \
        2>>"$WORK/tshark.log" | wc -l) || die "$k: tshark (see $WORK/tshark.log)"
    [ "$n" -ge 1 ] || die "$k: no TCP connection to 127.0.0.1:$port"
    for i in $(seq 1 "$n"); do
        expect $k "127.0.0.1:$port" ok emby.example.com - \
            "Firefox ESR (headless, HTTP/3 on, no testing mapping) -> nginx (TLS 1.3, HTTP/2, Alt-Svc h3 on the same port, a page reloading itself every 4 s) in the namespace tw-qg, UDP to the port dropped: the page over HTTP/2 (its MOZ_LOG: isHttp2=1; nginx: GET / HTTP/2.0 200), then its reloads over the same connection while the QUIC attempt goes unanswered; Firefox is ended with it open (connection $i of $n)"
    done
    expect_firefox_quic $k $port 1 1 quic_blocked_fell_back_to_tcp emby.example.com \
        "Firefox ESR, once it has read the Alt-Svc (h3 on the same port) over HTTP/2: an HTTP/3 connection in the background (Http3Session::Init), its first flight one UDP GSO buffer (two Initials in one datagram in the capture); UDP to the port is dropped (nftables, no ICMP), so the first flight is retransmitted about 0.3, 0.9, 2.2, 4.6 and 9.5 s after it, the gap doubling from 0.3 s (neqo: 'Lost crypto frame'), never answered, while the reloads go over the HTTP/2 connection, which carries data after the attempt started. Firefox sends no CONNECTION_CLOSE and is ended with the attempt open" \
        h3/- -
    stop_all
    tun_ns_del
}

# Firefox ESR told to use HTTP/3 (the testing mapping) for a port where UDP is dropped
# and nothing listens on TCP, in a namespace of its own, tw-qr (its own lo only): an
# aioquic server listens on UDP 4631, but nftables drops UDP to the port (no ICMP), and no
# server listens on TCP 4631. Firefox opens a TCP connection beside its HTTP/3 attempt at
# once, and another when its HTTP/3 backup timer fires (OnHttp3BackupTimer,
# DoFallbackConnection) some 0.15 s after its first Initial: both are refused (RST). Its
# first flight (one UDP GSO buffer) is retransmitted 0.3, 0.9, 2.1 and 4.5 s after it
# (neqo: "Lost crypto frame"), never answered; Firefox is ended after 8 s with the attempt
# open. The client got no further over TCP than over UDP: the attempt is udp_blocked, not a
# fallback (a fallback counts once the server answers its SYN). The refused TCP connections
# carried no TLS to a port that is not a TLS one: no record. No key log: nothing to open.
sc_quic_firefox_refused() {
    local k=quic_firefox_refused port=4631 syns rsts i
    tun_ns tw-qr
    QNS=tw-qr aioquic_server qr1 127.0.0.1:$port
    nft_drop_udp tw-qr $port
    CAP_NETNS=tw-qr capture_start $k "port $port"
    BROWSER_SECS=8 QNS=tw-qr firefox_quic ffqr "https://emby.example.com:$port/" -
    browser_saw ffqr 'Http3Session::Init origin=emby\.example\.com, alpn=h3' "an HTTP/3 connection started"
    browser_saw ffqr 'Lost crypto frame space=in offset=0 ' "its Initials lost (retransmitted)"
    browser_saw ffqr 'OnHttp3BackupTimer' "its HTTP/3 backup timer (a TCP connection beside the attempt)"
    ! grep -Eqs 'Http3Session::Authenticated|isHttp3=1\]' "$WORK"/ffqr.moz.log* ||
        die "ffqr: Firefox's HTTP/3 connection got an answer or a request (see $WORK/ffqr.moz.log*)"
    capture_stop
    nft_dropped_udp tw-qr
    syns=$(tshark -n -r "$HERE/$k.pcap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == $port" \
        2>>"$WORK/tshark.log" | wc -l) || die "$k: tshark (see $WORK/tshark.log)"
    rsts=$(tshark -n -r "$HERE/$k.pcap" -Y "tcp.flags.reset == 1 && tcp.srcport == $port" \
        2>>"$WORK/tshark.log" | wc -l) || die "$k: tshark (see $WORK/tshark.log)"
    [ "$syns" -ge 1 ] && [ "$rsts" -eq "$syns" ] ||
        die "$k: $syns TCP SYN(s) to 127.0.0.1:$port and $rsts RST(s) back, expected every SYN refused"
    ! tshark -n -r "$HERE/$k.pcap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 1" 2>>"$WORK/tshark.log" | grep -q . ||
        die "$k: a TCP SYN was answered (SYN-ACK)"
    echo "   Firefox: $syns TCP connection(s) refused; nftables dropped $DROPPED UDP datagram(s)" >&2
    for i in $(seq 1 "$syns"); do
        expect $k "127.0.0.1:$port" not_tls - - \
            "Firefox ESR's TCP connection beside its HTTP/3 attempt (forced), refused: SYN, RST; no TLS, to a port that is not a TLS one (connection $i of $syns)"
    done
    expect_firefox_quic $k $port 1 1 udp_blocked emby.example.com \
        "Firefox ESR (headless, HTTP/3 forced by its testing Alt-Svc mapping) -> an aioquic server on UDP 127.0.0.1:$port in the namespace tw-qr, UDP to the port dropped (nftables, no ICMP) and no TCP listener: its first flight one UDP GSO buffer, retransmitted about 0.3, 0.9, 2.1 and 4.5 s after it (neqo: 'Lost crypto frame'), never answered; beside it Firefox opens $syns TCP connection(s) to the same port (one at once, one when its HTTP/3 backup timer fires), every one refused (RST): no fallback, the client got no further over TCP. Firefox is ended with the attempt open" \
        h3/- -
    stop_all
    tun_ns_del
}

# ---------------------------------------------------------------- main -----------------
if [ $# -gt 0 ]; then SELECTED=("$@"); else SELECTED=("${ALL[@]}"); fi
for s in "${SELECTED[@]}"; do
    declare -F "sc_$s" >/dev/null || die "unknown scenario: $s (known: ${ALL[*]})"
done

log "certificates"
make_certs
for s in "${ALL[@]}"; do
    for t in "${SELECTED[@]}"; do
        if [ "$s" = "$t" ]; then
            log "$s"
            "sc_$s"
            capture_stop
            stop_all
        fi
    done
done

log "expected.json + verification with tshark"
order=$(printf '%s.pcap,' "${ALL[@]}")
python3 "$TOOLS/expected.py" "$SPEC" "$HERE" "${order%,}" "$QSPEC"
python3 "$TOOLS/ja3_tshark.py" "$HERE"
for s in "${SELECTED[@]}"; do
    printf '%-36s %6s bytes\n' "$s.pcap" "$(stat -c %s "$HERE/$s.pcap")"
done
log "format variants for tests/formats.rs"
bash "$HERE/formats.sh" >/dev/null
echo "record.sh: done"
