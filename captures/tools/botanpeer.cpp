// botanpeer.cpp — for captures/record.sh (botan_stacks): a minimal Botan 2 TLS client
// (libbotan-2-dev; record.sh compiles it with g++ on first use) that ENFORCES certificate
// verification (Botan's default TLS::Callbacks::tls_verify_cert_chain, which throws and
// makes the library send an alert), unlike `botan tls_client` (2.19), which only prints
// "Certificate validation status: ..." and carries on.
//   botanpeer SNI IP PORT CAFILE
// Connects to IP:PORT (numeric, no DNS), sends SNI, verifies against CAFILE only,
// closes (close_notify) after the handshake. Exit 0 = handshake ok, 1 = failure.
#include <botan/tls_client.h>
#include <botan/tls_callbacks.h>
#include <botan/tls_session_manager.h>
#include <botan/tls_policy.h>
#include <botan/tls_exceptn.h>
#include <botan/credentials_manager.h>
#include <botan/certstor.h>
#include <botan/auto_rng.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <memory>

static int g_fd = -1;
static bool g_done = false;

class Callbacks : public Botan::TLS::Callbacks {
 public:
  void tls_emit_data(const uint8_t data[], size_t size) override {
    while (size > 0) {
      ssize_t n = ::send(g_fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      data += n; size -= n;
    }
  }
  void tls_record_received(uint64_t, const uint8_t[], size_t size) override {
    std::cout << "received " << size << " bytes of application data\n";
  }
  void tls_alert(Botan::TLS::Alert alert) override {
    std::cout << "alert from server: " << alert.type_string() << "\n";
    if (alert.is_fatal() || alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) g_done = true;
  }
  bool tls_session_established(const Botan::TLS::Session& s) override {
    std::cout << "Handshake complete, " << s.version().to_string() << " using "
              << s.ciphersuite().to_string() << "\n";
    return false;
  }
};

// Botan's default policy, except that revocation info (CRL/OCSP) is not required: the
// test PKI has none (like `botan tls_client`, which is also run with this default).
class Policy : public Botan::TLS::Policy {
 public:
  bool require_cert_revocation_info() const override { return false; }
};

class Creds : public Botan::Credentials_Manager {
 public:
  explicit Creds(const std::string& ca) { m_store.add_certificate(Botan::X509_Certificate(ca)); }
  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
      const std::string&, const std::string&) override { return {&m_store}; }
 private:
  Botan::Certificate_Store_In_Memory m_store;
};

int main(int argc, char** argv) {
  if (argc != 5) { std::cerr << "usage: " << argv[0] << " SNI IP PORT CAFILE\n"; return 2; }
  std::string sni = argv[1];
  int port = std::stoi(argv[3]);
  g_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{}; sa.sin_family = AF_INET; sa.sin_port = htons(port);
  if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) { std::cerr << "bad IP\n"; return 2; }
  if (::connect(g_fd, (sockaddr*)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
  try {
    Botan::AutoSeeded_RNG rng;
    Botan::TLS::Session_Manager_Noop sessions;
    Creds creds(argv[4]);
    Policy policy;
    Callbacks cb;
    Botan::TLS::Client client(cb, sessions, creds, policy, rng,
                              Botan::TLS::Server_Information(sni, port));
    uint8_t buf[16384];
    bool closed = false;
    while (!g_done) {
      if (client.is_active() && !closed) { client.close(); closed = true; }
      ssize_t n = ::recv(g_fd, buf, sizeof buf, 0);
      if (n <= 0) { std::cout << "EOF on socket\n"; break; }
      client.received_data(buf, n);
      if (client.is_closed()) break;
    }
  } catch (std::exception& e) {
    std::cout << "error: " << e.what() << "\n";
    ::close(g_fd);
    return 1;
  }
  ::close(g_fd);
  return 0;
}
