#!/usr/bin/env node
// nodepeer.js: a TLS client and server on Node.js's tls module, for captures/record.sh.
//
//   node nodepeer.js server --addr 127.0.0.1:4451 --cert C --key K [--alpn h2] [--min 1.2]
//                           [--max 1.3] [--clientca CA]   (require a client certificate)
//   node nodepeer.js client --addr 127.0.0.1:4451 --sni NAME [--ca CA] [--alpn h2]
//                           [--min 1.2] [--max 1.3] [--mode get|probe|hold] [--hold SECS]
//                           [--timeout SECS]
//
// Client modes: get (an HTTP/1.0 GET, read the answer, end), probe (handshake, then end():
// close_notify and FIN, a health check), hold (handshake, then keep the connection open
// for --hold seconds). The client verifies the certificate and the name the way Node does:
// OpenSSL checks the chain during the handshake, Node checks the name (checkServerIdentity)
// after it and destroys the socket on a mismatch (FIN, no alert). --timeout: when the
// handshake has not finished after SECS seconds the client gives up and destroys the socket.
// --sni may be an IP literal: Node then still sends it as server_name (deprecated, DEP0123).
//
// The server answers each request with a short HTTP/1.0 response and serves until killed.
// Only loopback addresses are accepted.
'use strict';
const fs = require('fs');
const net = require('net');
const tls = require('tls');

function fail(msg) {
  console.error('nodepeer: ' + msg);
  process.exit(1);
}

function parse(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) fail('bad argument ' + argv[i]);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  return o;
}

function version(v) {
  if (v === undefined) return undefined;
  const m = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' }[v];
  if (!m) fail('unknown TLS version ' + v);
  return m;
}

function address(addr) {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  const loop = net.isIPv4(host) ? host.startsWith('127.') : host === '::1';
  if (!loop) fail('refusing non-loopback address ' + addr);
  return { host, port };
}

function server(o) {
  const { host, port } = address(o.addr);
  const opts = {
    key: fs.readFileSync(o.key),
    cert: fs.readFileSync(o.cert),
    minVersion: version(o.min),
    maxVersion: version(o.max),
  };
  if (o.alpn) opts.ALPNProtocols = o.alpn.split(',');
  if (o.clientca) {
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
    opts.ca = fs.readFileSync(o.clientca);
  }
  const srv = tls.createServer(opts, (s) => {
    console.log('handshake:', s.getProtocol(), s.getCipher().name, 'alpn=' + s.alpnProtocol);
    let buf = '';
    s.setTimeout(10000, () => s.destroy());
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n\r\n')) s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from Node.js tls\n');
    });
    s.on('end', () => s.end());
    s.on('error', (e) => console.log('connection error:', e.message));
  });
  srv.on('tlsClientError', (e) => console.log('handshake failed:', e.message));
  srv.listen(port, host, () => console.log('ready'));
}

function client(o) {
  const { host, port } = address(o.addr);
  const mode = o.mode || 'get';
  const opts = {
    host, port,
    servername: o.sni,
    minVersion: version(o.min),
    maxVersion: version(o.max),
    rejectUnauthorized: true,
  };
  if (o.ca) opts.ca = fs.readFileSync(o.ca);
  if (o.alpn) opts.ALPNProtocols = o.alpn.split(',');
  const start = Date.now();
  const s = tls.connect(opts, () => {
    s.setTimeout(0);
    console.log('handshake:', s.getProtocol(), s.getCipher().name, 'alpn=' + s.alpnProtocol);
    if (mode === 'probe') {
      s.end();
    } else if (mode === 'hold') {
      setTimeout(() => s.end(), Number(o.hold || 10) * 1000);
    } else {
      s.write(`GET / HTTP/1.0\r\nHost: ${o.sni}\r\n\r\n`);
    }
  });
  if (o.timeout) {
    s.setTimeout(Number(o.timeout) * 1000, () => {
      console.log(`no answer after ${(Date.now() - start) / 1000}s: giving up`);
      s.destroy();
    });
  }
  s.on('data', (d) => process.stdout.write(d));
  s.on('error', (e) => {
    console.log('error:', e.code || '', e.message);
    process.exitCode = 1;
  });
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'server') server(parse(rest));
else if (cmd === 'client') client(parse(rest));
else fail('usage: nodepeer.js server|client --option value ...');
