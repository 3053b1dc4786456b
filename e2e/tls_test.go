package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "setbridge.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// readSIP reads one SIP message from a stream connection.
func readSIP(t *testing.T, r *bufio.Reader) (start string, headers string, body string) {
	t.Helper()
	var hdr strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if start == "" {
			if line == "" {
				continue
			}
			start = line
			continue
		}
		if line == "" {
			break
		}
		hdr.WriteString(line + "\r\n")
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	b := make([]byte, length)
	if _, err := readFull(r, b); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return start, hdr.String(), string(b)
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestSIPOverTLS(t *testing.T) {
	cert, key := writeCert(t)
	s := startServer(t, fmt.Sprintf("sip:\n  tls: 127.0.0.1:0\n  cert_file: %s\n  key_file: %s\n", cert, key))
	var tlsAddr string
	s.mu.Lock()
	for _, l := range s.logs {
		if i := strings.Index(l, `"sip_tls":"`); i >= 0 {
			tlsAddr = strings.SplitN(l[i+len(`"sip_tls":"`):], `"`, 2)[0]
		}
	}
	s.mu.Unlock()
	if tlsAddr == "" {
		t.Fatal("no TLS listener in the ready line")
	}
	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	local := conn.LocalAddr().String()
	tlsify := func(m string) string {
		m = strings.ReplaceAll(m, "SIP/2.0/UDP 127.0.0.1:5999", "SIP/2.0/TLS "+local)
		return strings.ReplaceAll(m, "<sip:caller@127.0.0.1:5999>", "<sip:caller@"+local+";transport=tls>")
	}
	fmt.Fprint(conn, tlsify(options(tlsAddr, "tls1")))
	if st, _, _ := readSIP(t, r); st != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS over TLS: %q", st)
	}
	fmt.Fprint(conn, tlsify(invite(tlsAddr, "tlscall", "1000", "", 1)))
	var st, hdrs, body string
	for st, hdrs, body = readSIP(t, r); strings.HasPrefix(st, "SIP/2.0 1"); st, hdrs, body = readSIP(t, r) {
	}
	if st != "SIP/2.0 200 OK" || !strings.Contains(body, "m=audio") || !strings.Contains(header(hdrs, "Contact"), "transport=tls") {
		t.Fatalf("INVITE over TLS: %q contact %q\n%s", st, header(hdrs, "Contact"), body)
	}
	waitFor(t, 5*time.Second, "the TLS call", func() bool { return s.metric("setbridge_sip_active_calls") == 1 })
}
