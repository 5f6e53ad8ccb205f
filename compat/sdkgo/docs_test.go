package sdkgo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTerraformExampleIsFormatted checks docs/clients/terraform/main.tf with
// terraform fmt, which parses it as HCL and needs no provider, so it runs
// where the provider cannot be downloaded. It also checks that the file uses
// the resource and arguments docs/clients/terraform.md describes.
func TestTerraformExampleIsFormatted(t *testing.T) {
	t.Parallel()
	file := filepath.Join("..", "..", "docs", "clients", "terraform", "main.tf")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`source = "zenlayer/zenlayercloud"`, `resource "zenlayercloud_zvm_image"`, "instance_id", "image_name",
		"ZENLAYERCLOUD_DOMAIN", "ZENLAYERCLOUD_SCHEME"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("main.tf has no %s", want)
		}
	}
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	out, err := exec.Command(tf, "fmt", "-check", "-diff", "-no-color", file).CombinedOutput()
	if err != nil {
		t.Fatalf("terraform fmt -check %s: %v\n%s", file, err, out)
	}
}
