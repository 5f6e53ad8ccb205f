package sdkgo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/common"
	vm "github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/vm20260401"
)

func TestWrongSecretIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tn := s.newTenant(t, "auth")

	for _, tc := range []struct {
		name, keyID, secret, code string
	}{
		{"wrong secret", tn.keyID, tn.secret + "x", "AUTHFAILURE_SIGNATURE_FAILURE"},
		{"unknown key", "AK000000000000000000000000", tn.secret, "AUTHFAILURE_SIGNATURE_FAILURE"},
	} {
		c, err := vm.NewClient(s.config(), tc.keyID, tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.DescribeImageQuota(vm.NewDescribeImageQuotaRequest())
		t.Run(tc.name, func(t *testing.T) { wantCode(t, err, tc.code) })
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	zones := s.zones(t)
	tn := s.newTenant(t, "token", zones[0])
	c, err := vm.NewClientWithTokenAndConfig(s.config(), s.token(t, tn))
	if err != nil {
		t.Fatal(err)
	}
	req := vm.NewCreateImageRequest()
	req.InstanceId = ptr(tn.instances[zones[0]])
	req.ImageName = ptr("by-token")
	if _, err := c.CreateImage(req); err != nil {
		t.Fatalf("CreateImage with a bearer token: %v", err)
	}
	// The image belongs to the token's account: its key sees it counted.
	if q, _ := quota2026(t, client2026(t, s, tn), zones[0]); q[zones[0]] != [2]int{1, 5} {
		t.Errorf("quota after an image made with the token: %v; want [1 5]", q)
	}

	bad, err := vm.NewClientWithTokenAndConfig(s.config(), "zqt_notatoken")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.DescribeImageQuota(vm.NewDescribeImageQuotaRequest())
	if code := sdkCode(err); !strings.HasPrefix(code, "AUTHFAILURE_") {
		t.Errorf("an unknown token: %v; want an AUTHFAILURE_ code", err)
	}
}

// TestHTTPS serves with --tls-cert/--tls-key and a certificate made here, and
// trusts it through the SDK's own transport setting.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	certFile, keyFile := selfSignedCert(t)
	s := startServer(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if s.url[:8] != "https://" {
		t.Fatalf("serve with a certificate listens on %s; want https://", s.url)
	}
	tn := s.newTenant(t, "https")

	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	cfg := common.NewConfig()
	cfg.Scheme = "HTTPS"
	cfg.Domain = s.host
	cfg.HttpTransport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c, err := vm.NewClient(cfg, tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	if q, order := quota2026(t, c); len(order) == 0 || q[order[0]] != [2]int{0, 5} {
		t.Errorf("DescribeImageQuota over HTTPS: %v", q)
	}

	// Without the certificate trusted, the SDK refuses the server.
	untrusted := common.NewConfig()
	untrusted.Domain = s.host
	untrusted.HttpTransport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}
	c, err = vm.NewClient(untrusted, tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeImageQuota(vm.NewDescribeImageQuotaRequest())
	if sdkCode(err) != common.NetworkError {
		t.Errorf("an untrusted certificate: %v; want the SDK's %s", err, common.NetworkError)
	}
}

// TestRateLimitRetry has the server answer 429 REQUEST_LIMIT_EXCEEDED
// (--rate-limit 2 --rate-burst 1: a key's second call within half a second is
// refused) and checks that the SDK retries it, with its backoff injected, and
// that with retries off the code reaches the caller.
func TestRateLimitRetry(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--rate-limit", "2", "--rate-burst", "1")
	tn := s.newTenant(t, "throttled")

	// Each backoff waits long enough for a token to come back (0.5 s at 2/s).
	var mu sync.Mutex
	var waits []int
	cfg := s.config().WithRateLimitRetry(3, func(index int) time.Duration {
		mu.Lock()
		waits = append(waits, index)
		mu.Unlock()
		return 600 * time.Millisecond << index
	})
	c, err := vm.NewClient(cfg, tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	// Back-to-back pairs: the second call of a pair is throttled unless the
	// machine paused for half a second between them; a few pairs are enough.
	for pair := 0; pair < 20; pair++ {
		for i := 0; i < 2; i++ {
			if _, err := c.DescribeImageQuota(vm.NewDescribeImageQuotaRequest()); err != nil {
				t.Fatalf("pair %d call %d: %v; the SDK should have retried the 429", pair, i, err)
			}
		}
		mu.Lock()
		n := len(waits)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 {
		t.Fatal("no call was throttled in 20 back-to-back pairs")
	}
	if waits[0] != 0 {
		t.Errorf("the first backoff asked for retry index %d; want 0", waits[0])
	}

	noRetry, err := vm.NewClient(s.config().WithRateLimitRetry(0, nil), tn.keyID, tn.secret)
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 40 && sdkCode(last) != "REQUEST_LIMIT_EXCEEDED"; i++ {
		_, last = noRetry.DescribeImageQuota(vm.NewDescribeImageQuotaRequest())
	}
	wantCode(t, last, "REQUEST_LIMIT_EXCEEDED")
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost and its
// key into a temporary directory.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
