package sdkgo

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/common"
	vm "github.com/zenlayer/zenlayercloud-sdk-go/zenlayercloud/vm20260401"
)

// guideCommand returns the first line of a docs/clients page that starts
// with prefix, so that a test runs the command exactly as the page shows it.
func guideCommand(t *testing.T, page, prefix string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "clients", page))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	t.Fatalf("docs/clients/%s has no line starting with %q", page, prefix)
	return ""
}

// TestZenoSetupWithSSLCertFile follows docs/clients/zeno.md up to the zeno
// command itself: the certificate made by the page's openssl command, the
// server on HTTPS, and a client configured the way zeno configures the SDK
// (its defaults with only Domain set from ZENLAYER_ENDPOINT, so HTTPS and Go's
// default transport), which trusts the certificate only through
// SSL_CERT_FILE. Go reads SSL_CERT_FILE once per process, so the client runs
// in a child process: this test binary again, running TestZenoStyleClient.
func TestZenoSetupWithSSLCertFile(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed: the page's certificate command cannot run")
	}
	dir := t.TempDir()
	mk := exec.Command("sh", "-c", guideCommand(t, "zeno.md", "openssl req -x509 "))
	mk.Dir = dir
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("the page's openssl command: %v\n%s", err, out)
	}
	certFile := filepath.Join(dir, "cert.pem")
	s := startServer(t, "--tls-cert", certFile, "--tls-key", filepath.Join(dir, "key.pem"))
	zone := s.zones(t)[0]
	tn := s.newTenant(t, "zeno", zone)

	child := func(sslCertFile, expect string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestZenoStyleClient$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1",
			"ZENLAYER_ENDPOINT="+s.host, "ZENLAYER_ACCESS_KEY_ID="+tn.keyID, "ZENLAYER_ACCESS_KEY_SECRET="+tn.secret,
			"COMPAT_ZONE="+zone, "COMPAT_INSTANCE="+tn.instances[zone], "COMPAT_EXPECT="+expect)
		if sslCertFile != "" {
			cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+sslCertFile)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the client process failed: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestZenoStyleClient") {
			t.Fatalf("the client process did not pass TestZenoStyleClient:\n%s", out)
		}
		return string(out)
	}

	out := child(certFile, "trusted")
	for _, want := range []string{fmt.Sprintf("quota %s 0 5", zone), fmt.Sprintf("quota %s 1 5", zone)} {
		if !strings.Contains(out, want) {
			t.Errorf("the client printed no %q:\n%s", want, out)
		}
	}
	// Without SSL_CERT_FILE the same client refuses the self-signed server.
	child("", "untrusted")
}

// TestZenoStyleClient is the client side of TestZenoSetupWithSSLCertFile; it
// runs only in the child process that test starts.
func TestZenoStyleClient(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as the client process of TestZenoSetupWithSSLCertFile")
	}
	cfg := common.NewConfig()
	cfg.Domain = os.Getenv("ZENLAYER_ENDPOINT")
	c, err := vm.NewClient(cfg, os.Getenv("ZENLAYER_ACCESS_KEY_ID"), os.Getenv("ZENLAYER_ACCESS_KEY_SECRET"))
	if err != nil {
		t.Fatal(err)
	}
	c.WithRequestClient("zeno")
	zone := os.Getenv("COMPAT_ZONE")

	if os.Getenv("COMPAT_EXPECT") == "untrusted" {
		_, err := c.DescribeImageQuota(vm.NewDescribeImageQuotaRequest())
		if sdkCode(err) != common.NetworkError || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("without SSL_CERT_FILE: %v; want the SDK's %s about the certificate", err, common.NetworkError)
		}
		return
	}
	printQuota := func() {
		req := vm.NewDescribeImageQuotaRequest()
		req.ZoneIds = []string{zone}
		resp, err := c.DescribeImageQuota(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range resp.Response.Images {
			fmt.Printf("quota %s %d %d\n", deref(q.ZoneId), deref(q.Count), deref(q.MaxCount))
		}
	}
	printQuota()
	req := vm.NewCreateImageRequest()
	req.InstanceId = ptr(os.Getenv("COMPAT_INSTANCE"))
	req.ImageName = ptr("web-1")
	if _, err := c.CreateImage(req); err != nil {
		t.Fatal(err)
	}
	printQuota()
}
