package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/secrets"
	"github.com/imagequota/imagequota/internal/store/seed"
)

const seedUsage = `imagequota-bench seed: bulk-load accounts, access keys, instances and images.

Usage: imagequota-bench seed (--data-dir DIR | --db URL) [--accounts 100000] [--images 1000000]
                             [--tokens] [--key-file FILE]

Every account gets one access key and one instance per location its images are
in; images are spread so that no account holds more than the default limit (5)
in any location. With --key-file the credentials are written in the format
"imagequota-bench --key-file" reads, so the seeded store can be served with
"imagequota serve --data-dir DIR --image-build-time 0" and driven with --endpoint.

Flags:
`

func runSeed(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, seedUsage); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", "", "directory of the SQLite store (DIR/imagequota.db)")
	dbURL := fs.String("db", "", "database URL (postgres://… or sqlite:PATH); overrides --data-dir")
	accounts := fs.Int("accounts", 100_000, "accounts to create, each with one access key")
	images := fs.Int("images", 1_000_000, "custom images to create, spread evenly over the accounts")
	tokens := fs.Bool("tokens", false, "also create one bearer token per account (valid 24h)")
	keyFile := fs.String("key-file", "", "write the credentials to this file")
	masterKeyFile := fs.String("master-key-file", "", "master key sealing the passwords, as serve's --master-key-file (default DIR/master.key, generated when absent)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	if *dataDir == "" && *dbURL == "" {
		problems = append(problems, "--data-dir or --db is required")
	}
	if *accounts < 0 || *images < 0 {
		problems = append(problems, "--accounts and --images must not be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	url := *dbURL
	if url == "" {
		url = "sqlite:" + filepath.Join(*dataDir, "imagequota.db")
	}
	keyPath := *masterKeyFile
	if keyPath == "" {
		if *dataDir == "" {
			return fmt.Errorf("configuration:\n  --master-key-file is required with --db (the servers must share it)")
		}
		keyPath = filepath.Join(*dataDir, "master.key")
	}
	box, _, err := secrets.LoadOrGenerate(keyPath)
	if err != nil {
		return err
	}
	db, err := openStoreWith(ctx, url, box)
	if err != nil {
		return err
	}
	defer db.Close()
	opts := seed.Options{Accounts: *accounts, Images: *images}
	if *tokens {
		opts.TokenTTL = 24 * time.Hour
	}
	opts.Progress = seedProgress(stderr, time.Now(), time.Second)
	res, err := seed.Seed(ctx, db, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s in %.2fs: %d accounts, %d access keys, %d tokens, %d instances, %d images (%.0f rows/s)\n",
		redactURL(url), res.Elapsed.Seconds(), res.Accounts, res.AccessKeys, res.Tokens, res.Instances, res.Images,
		float64(res.Accounts+res.AccessKeys+res.Tokens+res.Instances+res.Images)/res.Elapsed.Seconds())
	if *keyFile != "" {
		if err := writeKeyFile(*keyFile, credentialsOf(res.Seeded)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "credentials written to %s\n", *keyFile)
	}
	return nil
}

// seedProgress returns a SeedOptions.Progress that prints how far a seed has
// got to w, at most once per interval and not for the last transaction (the
// summary line follows it).
func seedProgress(w io.Writer, start time.Time, interval time.Duration) func(done, total int) {
	last := start
	return func(done, total int) {
		now := time.Now()
		if done >= total || now.Sub(last) < interval {
			return
		}
		last = now
		fmt.Fprintf(w, "seeding: %d of %d accounts committed (%.0f%%) after %.1fs\n",
			done, total, 100*float64(done)/float64(total), now.Sub(start).Seconds())
	}
}

// writeKeyFile writes credentials, one per line, readable by readKeyFile.
func writeKeyFile(path string, creds []credential) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# imagequota-bench credentials: key=ACCESS_KEY_ID secret=SECRET [token=TOKEN] [instance=INSTANCE_ID]")
	for _, c := range creds {
		var parts []string
		if c.keyID != "" {
			parts = append(parts, "key="+c.keyID, "secret="+c.secret)
		}
		if c.token != "" {
			parts = append(parts, "token="+c.token)
		}
		if c.instance != "" {
			parts = append(parts, "instance="+c.instance)
		}
		fmt.Fprintln(w, strings.Join(parts, " "))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readKeyFile reads credentials: one per line as key=… secret=… token=…
// instance=… (any order; key with secret, or token, or both); blank lines and
// lines starting with # are skipped.
func readKeyFile(path string) ([]credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []credential
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var c credential
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok || v == "" {
				return nil, fmt.Errorf("%s:%d: %q is not name=value", path, i+1, f)
			}
			switch k {
			case "key":
				c.keyID = v
			case "secret":
				c.secret = v
			case "token":
				c.token = v
			case "instance":
				c.instance = v
			default:
				return nil, fmt.Errorf("%s:%d: unknown field %q (want key, secret, token or instance)", path, i+1, k)
			}
		}
		if (c.keyID == "") != (c.secret == "") {
			return nil, fmt.Errorf("%s:%d: key and secret go together", path, i+1)
		}
		if c.keyID == "" && c.token == "" {
			return nil, fmt.Errorf("%s:%d: neither key nor token", path, i+1)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no credentials", path)
	}
	return out, nil
}

// credentialsOf turns seeded accounts into credentials, each with its first instance.
func credentialsOf(seeded []seed.Account) []credential {
	out := make([]credential, 0, len(seeded))
	for _, a := range seeded {
		c := credential{keyID: a.AccessKeyID, secret: a.Secret, token: a.Token}
		if len(a.Instances) > 0 {
			c.instance = a.Instances[0].ID
		}
		out = append(out, c)
	}
	return out
}
