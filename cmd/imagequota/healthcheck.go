package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const healthcheckUsage = `imagequota healthcheck: probe a server's health endpoint.

Usage: imagequota healthcheck [--url http://127.0.0.1:8080/healthz] [--timeout 5s]

It exits 0 when the URL answers 200 within the timeout, and 1 otherwise,
saying why on stderr. It is the container's HEALTHCHECK, whose image has no
curl: /healthz says the process serves; /readyz also that its store answers.
`

func runHealthcheck(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	c := newConfig("healthcheck", healthcheckUsage, env, stdout, stderr)
	var target string
	var timeout time.Duration
	var insecure bool
	c.String(&target, "url", "IMAGEQUOTA_HEALTHCHECK_URL", "http://127.0.0.1:8080/healthz", "the `URL` to probe")
	c.Duration(&timeout, "timeout", "", 5*time.Second, "how long to wait for the answer")
	c.Bool(&insecure, "insecure", "", false, "with https, do not verify the server's certificate")
	pos, err := c.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Problem("--url %q is not an http:// or https:// URL", target)
	}
	if timeout <= 0 {
		c.Problem("--timeout must be positive")
	}
	if err := c.Err(); err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	hc := &http.Client{Timeout: timeout, Transport: tr}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", target, resp.Status)
	return nil
}
