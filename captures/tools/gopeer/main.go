// gopeer: a TLS client and server on Go's crypto/tls, for captures/record.sh.
//
//	gopeer server -addr 127.0.0.1:4450 -cert C -key K [-alpn h2] [-min 1.2] [-max 1.3]
//	              [-clientca CA]            (require and verify a client certificate)
//	gopeer client -addr 127.0.0.1:4450 -sni NAME [-ca CA] [-alpn h2] [-min 1.2] [-max 1.3]
//	              [-mode get|probe|hold] [-hold SECS] [-timeout SECS]
//
// Client modes: get (an HTTP/1.0 GET, read the answer, close), probe (handshake, then
// Close, which sends close_notify: a health check), hold (handshake, then keep the
// connection open for -hold seconds without sending anything). -timeout bounds the
// connect and the handshake; when it expires the client gives up and closes.
//
// The server answers every request with a short HTTP/1.0 response and serves until it
// is killed. Only loopback addresses are accepted.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func version(s string) uint16 {
	switch s {
	case "", "0":
		return 0
	case "1.0":
		return tls.VersionTLS10
	case "1.1":
		return tls.VersionTLS11
	case "1.2":
		return tls.VersionTLS12
	case "1.3":
		return tls.VersionTLS13
	}
	fail("unknown TLS version %q", s)
	return 0
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gopeer: "+format+"\n", a...)
	os.Exit(1)
}

func loopback(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		fail("%v", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		fail("refusing non-loopback address %s", addr)
	}
	return addr
}

func pool(file string) *x509.CertPool {
	pem, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", file)
	}
	return p
}

func protos(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

func state(c *tls.Conn) string {
	st := c.ConnectionState()
	return fmt.Sprintf("%s %s alpn=%q", versionName(st.Version),
		tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol)
}

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "", "listen address")
	cert := fs.String("cert", "", "certificate chain (PEM)")
	key := fs.String("key", "", "private key (PEM)")
	alpn := fs.String("alpn", "", "ALPN protocols (comma-separated); a client must share one")
	min := fs.String("min", "", "lowest TLS version")
	max := fs.String("max", "", "highest TLS version")
	clientCA := fs.String("clientca", "", "require a client certificate issued by this CA")
	fs.Parse(args)
	kp, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fail("%v", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: protos(*alpn),
		MinVersion: version(*min), MaxVersion: version(*max)}
	if *clientCA != "" {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pool(*clientCA)
	}
	ln, err := tls.Listen("tcp", loopback(*addr), cfg)
	if err != nil {
		fail("%v", err)
	}
	fmt.Println("ready")
	for {
		c, err := ln.Accept()
		if err != nil {
			fail("%v", err)
		}
		go serve(c.(*tls.Conn))
	}
}

func serve(c *tls.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		fmt.Println("handshake failed:", err)
		return
	}
	fmt.Println("handshake:", state(c))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // the client closed without a request (a probe)
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from Go crypto/tls\n")
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	sni := fs.String("sni", "", "server name (SNI and verification)")
	ca := fs.String("ca", "", "trusted CA (PEM); without it the system store")
	alpn := fs.String("alpn", "", "ALPN protocols (comma-separated)")
	min := fs.String("min", "", "lowest TLS version")
	max := fs.String("max", "", "highest TLS version")
	mode := fs.String("mode", "get", "get, probe or hold")
	hold := fs.Float64("hold", 10, "seconds to keep the connection open (mode hold)")
	timeout := fs.Float64("timeout", 8, "seconds for connect + handshake")
	fs.Parse(args)
	cfg := &tls.Config{ServerName: *sni, NextProtos: protos(*alpn),
		MinVersion: version(*min), MaxVersion: version(*max)}
	if *ca != "" {
		cfg.RootCAs = pool(*ca)
	}
	d := &net.Dialer{Timeout: time.Duration(*timeout * float64(time.Second))}
	start := time.Now()
	c, err := tls.DialWithDialer(d, "tcp", loopback(*addr), cfg)
	if err != nil {
		fail("after %.1fs: %v", time.Since(start).Seconds(), err)
	}
	fmt.Println("handshake:", state(c))
	switch *mode {
	case "probe":
	case "hold":
		time.Sleep(time.Duration(*hold * float64(time.Second)))
	case "get":
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", *sni)
		body, _ := io.ReadAll(c)
		fmt.Printf("%s", body)
	default:
		fail("unknown mode %q", *mode)
	}
	c.Close()
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gopeer server|client ...")
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	default:
		fail("usage: gopeer server|client ...")
	}
}
