// JavaPeer: a TLS client and server on Java's JSSE (SSLSocket), for captures/record.sh.
//
//   java JavaPeer server --addr 127.0.0.1:4452 --p12 FILE --pass PW [--alpn h2]
//                        [--protocols TLSv1.2,TLSv1.3] [--clientca CA]  (require a client cert)
//   java JavaPeer client --addr 127.0.0.1:4452 --sni NAME [--ca CA] [--alpn h2]
//                        [--protocols TLSv1.3] [--mode get|probe|hold] [--hold SECS]
//                        [--timeout SECS]
//
// Client modes: get (an HTTP/1.0 GET, read the answer, close), probe (handshake, then
// close(): close_notify, a health check), hold (handshake, then keep the connection open
// for --hold seconds). The client checks the chain against --ca (PEM) and the host name
// (endpoint identification "HTTPS"). --timeout bounds connect + handshake (SO_TIMEOUT);
// when it expires the client gives up and closes.
//
// The server answers each request with a short HTTP/1.0 response and serves until killed.
// Only loopback addresses are accepted.
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.KeyStore;
import java.security.cert.*;
import java.util.*;
import javax.net.ssl.*;

public class JavaPeer {
    static void fail(String msg) {
        System.err.println("JavaPeer: " + msg);
        System.exit(1);
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> o = new HashMap<>();
        for (int i = 1; i < argv.length; i += 2) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) fail("bad argument " + argv[i]);
            o.put(argv[i].substring(2), argv[i + 1]);
        }
        return o;
    }

    static InetSocketAddress address(String addr) throws Exception {
        int i = addr.lastIndexOf(':');
        InetAddress host = InetAddress.getByName(addr.substring(0, i).replaceAll("^\\[|\\]$", ""));
        if (!host.isLoopbackAddress()) fail("refusing non-loopback address " + addr);
        return new InetSocketAddress(host, Integer.parseInt(addr.substring(i + 1)));
    }

    static TrustManager[] trust(String caFile) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        int n = 0;
        try (InputStream in = new FileInputStream(caFile)) {
            for (java.security.cert.Certificate c : cf.generateCertificates(in)) ks.setCertificateEntry("ca" + n++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        return tmf.getTrustManagers();
    }

    static String state(SSLSocket s) {
        SSLSession ss = s.getSession();
        return ss.getProtocol() + " " + ss.getCipherSuite() + " alpn=" + s.getApplicationProtocol();
    }

    static void server(Map<String, String> o) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        char[] pw = o.get("pass").toCharArray();
        try (InputStream in = new FileInputStream(o.get("p12"))) {
            ks.load(in, pw);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), o.containsKey("clientca") ? trust(o.get("clientca")) : null, null);
        SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket();
        ss.setReuseAddress(true);
        ss.bind(address(o.get("addr")));
        SSLParameters p = ss.getSSLParameters();
        if (o.containsKey("protocols")) p.setProtocols(o.get("protocols").split(","));
        if (o.containsKey("alpn")) p.setApplicationProtocols(o.get("alpn").split(","));
        if (o.containsKey("clientca")) p.setNeedClientAuth(true);
        ss.setSSLParameters(p);
        System.out.println("ready");
        while (true) {
            SSLSocket s = (SSLSocket) ss.accept();
            new Thread(() -> serve(s)).start();
        }
    }

    static void serve(SSLSocket s) {
        try (s) {
            s.setSoTimeout(10000);
            s.startHandshake();
            System.out.println("handshake: " + state(s));
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            String line;
            while ((line = r.readLine()) != null && !line.isEmpty()) {}
            if (line == null) return; // the client closed without a request (a probe)
            OutputStream out = s.getOutputStream();
            out.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from Java JSSE\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        } catch (Exception e) {
            System.out.println("connection failed: " + e);
        }
    }

    static void client(Map<String, String> o) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, o.containsKey("ca") ? trust(o.get("ca")) : null, null);
        String sni = o.get("sni"), mode = o.getOrDefault("mode", "get");
        int timeout = (int) (Double.parseDouble(o.getOrDefault("timeout", "8")) * 1000);
        long start = System.nanoTime();
        Socket raw = new Socket();
        raw.connect(address(o.get("addr")), timeout);
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, sni, raw.getPort(), true);
        SSLParameters p = s.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        p.setServerNames(List.of(new SNIHostName(sni)));
        if (o.containsKey("protocols")) p.setProtocols(o.get("protocols").split(","));
        if (o.containsKey("alpn")) p.setApplicationProtocols(o.get("alpn").split(","));
        s.setSSLParameters(p);
        s.setSoTimeout(timeout);
        try {
            s.startHandshake();
        } catch (SocketTimeoutException e) {
            System.out.printf("no answer after %.1fs: giving up%n", (System.nanoTime() - start) / 1e9);
            s.close();
            System.exit(1);
        } catch (IOException e) {
            System.out.println("handshake failed: " + e);
            s.close();
            System.exit(1);
        }
        System.out.println("handshake: " + state(s));
        switch (mode) {
            case "probe":
                break;
            case "hold":
                Thread.sleep((long) (Double.parseDouble(o.getOrDefault("hold", "10")) * 1000));
                break;
            case "get": {
                s.setSoTimeout(5000);
                s.getOutputStream().write(("GET / HTTP/1.0\r\nHost: " + sni + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                System.out.write(s.getInputStream().readAllBytes());
                System.out.flush();
                break;
            }
            default:
                fail("unknown mode " + mode);
        }
        s.close();
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length < 1) fail("usage: JavaPeer server|client --option value ...");
        if (argv[0].equals("server")) server(parse(argv));
        else if (argv[0].equals("client")) client(parse(argv));
        else fail("usage: JavaPeer server|client --option value ...");
    }
}
