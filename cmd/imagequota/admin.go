package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"imagequota/internal/quota"
	"imagequota/internal/secrets"
	"imagequota/internal/store"
)

const adminUsage = `imagequota admin: manage the store directly (also while a server runs on it).

Usage: imagequota admin [--data-dir DIR | --db URL] COMMAND [flags]

Commands:
  account create --name NAME            create an account
  account list                          list accounts
  account disable ID | account enable ID
  key create --account ID               create an access key (prints its password once)
  key list --account ID                 list an account's access keys
  key disable KEYID | key enable KEYID
  token create --account ID [--ttl 24h] create a bearer token (printed once)
  quota set [--account ID] [--location LOC] --max N
                                        set a limit: both selectors for that pair, one for
                                        account-wide or location-wide, none for the default
  quota unset [--account ID] [--location LOC]
  quota show --account ID               resolved limit, its source and the count per location
  quota list                            every limit that is set
  location list                         the location catalogue
  instance create --account ID --location LOC [--id ins-…] [--disk-gb 40]
           [--os-category Ubuntu] [--os-type linux] [--os-version 22.04]
  instance list [--account ID]
  instance delete ID
  audit list [--account ID] [--since RFC3339] [--limit N]
  master-key rotate --new-key-file F    re-seal every access key password under the key in F
                                        (generated when F does not exist), in one transaction;
                                        then make F the --master-key-file and restart servers

Every command takes --output table|json (default table) and --help.
`

// adminCtx is what an admin command works with.
type adminCtx struct {
	db     *store.DB
	cat    *quota.Catalog
	out    io.Writer
	stderr io.Writer
	json   bool
	// defaultMax is the server's configured default limit.
	defaultMax int
}

func runAdmin(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	top := newConfig("admin", adminUsage, env, stdout, stderr)
	addStoreFlags(top)
	top.fs.Usage = func() { fmt.Fprint(top.fs.Output(), adminUsage) }
	if err := parseFlags(top.fs, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	rest := top.fs.Args()
	switch {
	case len(rest) == 0:
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	case rest[0] == "help" || (len(rest) > 1 && isHelpFlag(rest[1])):
		fmt.Fprint(stdout, adminUsage)
		return nil
	case len(rest) == 1:
		fmt.Fprintf(stderr, "imagequota admin: unknown command %q\n\n%s", rest[0], adminUsage)
		return errUsage
	}
	group, verb := rest[0], rest[1]
	name := group + " " + verb
	c := newConfig("admin "+name, "Usage: imagequota admin [--data-dir DIR | --db URL] "+name+" [flags]\n\nSee \"imagequota admin --help\" for every command.", env, stdout, stderr)
	sf := addStoreFlags(c)
	// Flags given before the command are the defaults of the same flags after it.
	c.fs.VisitAll(func(f *flag.Flag) {
		if tf := top.fs.Lookup(f.Name); tf != nil {
			f.DefValue = tf.Value.String()
			_ = f.Value.Set(tf.Value.String())
		}
	})
	var output string
	c.String(&output, "output", "", "table", "output format: table or json")
	var (
		account, location, id, keyName, since, osCategory, osType, osVersion, newKeyFile string
		max, diskGB, limit                                                               int
		ttl                                                                              time.Duration
	)
	needsID := false
	switch name {
	case "account create":
		c.String(&keyName, "name", "", "", "account name (required)")
	case "account list", "location list", "quota list":
	case "account disable", "account enable", "key disable", "key enable", "instance delete":
		needsID = true
	case "key create", "key list", "quota show":
		c.String(&account, "account", "", "", "account id (required)")
	case "token create":
		c.String(&account, "account", "", "", "account id (required)")
		c.Duration(&ttl, "ttl", "", 24*time.Hour, "how long the token is valid")
	case "quota set", "quota unset":
		c.String(&account, "account", "", "", "account id (omit for every account)")
		c.String(&location, "location", "", "", "location id (omit for every location)")
		if verb == "set" {
			c.Int(&max, "max", "", 0, "the limit (required, 0-1000000)")
		}
	case "instance create":
		c.String(&account, "account", "", "", "account id (required)")
		c.String(&location, "location", "", "", "location id (required)")
		c.String(&id, "id", "", "", "instance id (default: a new ins-… id)")
		c.Int(&diskGB, "disk-gb", "", 40, "system disk size in GB: the size of images made from it")
		c.String(&osCategory, "os-category", "", "Ubuntu", "operating system category")
		c.String(&osType, "os-type", "", "linux", "operating system type: linux or windows")
		c.String(&osVersion, "os-version", "", "22.04", "operating system version")
	case "instance list":
		c.String(&account, "account", "", "", "account id (omit for every account)")
	case "master-key rotate":
		c.String(&newKeyFile, "new-key-file", "", "", "file of the new master key (required; generated with mode 0600 when absent)")
	case "audit list":
		c.String(&account, "account", "", "", "account id (omit for every account)")
		c.String(&since, "since", "", "", "only records at or after this time (RFC 3339)")
		c.Int(&limit, "limit", "", 1000, "at most this many records (0: all)")
	default:
		fmt.Fprintf(stderr, "imagequota admin: unknown command %q\n\n%s", name, adminUsage)
		return errUsage
	}
	pos, err := c.Parse(rest[2:])
	if err != nil {
		return err
	}
	if needsID {
		if len(pos) != 1 {
			c.Problem("%s takes exactly one id", name)
		} else {
			id = pos[0]
		}
	} else if len(pos) > 0 {
		c.Problem("unexpected arguments: %s", strings.Join(pos, " "))
	}
	if output != "table" && output != "json" {
		c.Problem("--output must be table or json; it is %q", output)
	}
	required := func(flagName, v string) {
		if v == "" {
			c.Problem("--%s is required", flagName)
		}
	}
	var sinceT time.Time
	switch name {
	case "account create":
		required("name", keyName)
	case "key create", "key list", "quota show", "token create", "instance create":
		required("account", account)
	case "master-key rotate":
		required("new-key-file", newKeyFile)
	}
	switch name {
	case "token create":
		if ttl <= 0 {
			c.Problem("--ttl must be positive")
		}
	case "quota set":
		if !isSet(c.fs, "max") {
			c.Problem("--max is required (0-%d)", quota.MaxLimit)
		} else if max < 0 || max > quota.MaxLimit {
			c.Problem("--max must be 0-%d; it is %d", quota.MaxLimit, max)
		}
	case "instance create":
		required("location", location)
		if diskGB < 1 || diskGB > 65536 {
			c.Problem("--disk-gb must be 1-65536")
		}
		if osType != "linux" && osType != "windows" {
			c.Problem("--os-type must be linux or windows")
		}
		if id != "" && (!strings.HasPrefix(id, "ins-") || len(id) > 64) {
			c.Problem("--id must start with ins- and be at most 64 characters")
		}
	case "audit list":
		if since != "" {
			if sinceT, err = time.Parse(time.RFC3339, since); err != nil {
				c.Problem("--since %q is not an RFC 3339 time like 2026-01-02T15:04:05Z", since)
			}
		}
	}
	cat := sf.loadCatalog(c)
	if err := c.Err(); err != nil {
		return err
	}
	sf.notices = stderr
	db, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	a := &adminCtx{db: db, cat: cat, out: stdout, stderr: stderr, json: output == "json", defaultMax: sf.defaultMax}
	if location != "" {
		if _, ok := cat.Lookup(location); !ok {
			return fmt.Errorf("location %q is not in the catalogue (see: imagequota admin location list)", location)
		}
	}

	switch name {
	case "account create":
		acct, err := db.CreateAccount(ctx, keyName)
		if err != nil {
			return err
		}
		return a.print(map[string]any{"accountId": acct.ID, "name": acct.Name},
			[]string{"ACCOUNT ID", "NAME"}, [][]string{{acct.ID, acct.Name}})
	case "account list":
		accts, err := db.ListAccounts(ctx)
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, x := range accts {
			rows = append(rows, []string{x.ID, x.Name, enabled(!x.Disabled), x.CreatedAt.Format(time.RFC3339)})
		}
		return a.print(accts, []string{"ACCOUNT ID", "NAME", "STATE", "CREATED"}, rows)
	case "account disable", "account enable":
		if err := db.SetAccountDisabled(ctx, id, verb == "disable"); err != nil {
			return err
		}
		return a.print(map[string]any{"accountId": id, "disabled": verb == "disable"},
			[]string{"ACCOUNT ID", "STATE"}, [][]string{{id, enabled(verb == "enable")}})
	case "key create":
		k, err := db.CreateAccessKey(ctx, account)
		if err != nil {
			return err
		}
		return a.print(map[string]any{"accessKeyId": k.ID, "accessKeyPassword": k.Secret, "accountId": k.AccountID},
			[]string{"ACCESS KEY ID", "ACCESS KEY PASSWORD", "ACCOUNT ID"}, [][]string{{k.ID, k.Secret, k.AccountID}})
	case "key list":
		if _, err := db.GetAccount(ctx, account); err != nil {
			return err
		}
		keys, err := db.ListAccessKeys(ctx, account)
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, k := range keys {
			rows = append(rows, []string{k.ID, k.AccountID, enabled(!k.Disabled), k.CreatedAt.Format(time.RFC3339)})
		}
		return a.print(keys, []string{"ACCESS KEY ID", "ACCOUNT ID", "STATE", "CREATED"}, rows)
	case "key disable", "key enable":
		if err := db.SetAccessKeyDisabled(ctx, id, verb == "disable"); err != nil {
			return err
		}
		return a.print(map[string]any{"accessKeyId": id, "disabled": verb == "disable"},
			[]string{"ACCESS KEY ID", "STATE"}, [][]string{{id, enabled(verb == "enable")}})
	case "token create":
		tok, exp, err := db.CreateToken(ctx, account, ttl)
		if err != nil {
			return err
		}
		return a.print(map[string]any{"token": tok, "expiresAt": exp.Format(time.RFC3339), "accountId": account},
			[]string{"TOKEN", "EXPIRES AT"}, [][]string{{tok, exp.Format(time.RFC3339)}})
	case "quota set":
		return a.quotaSet(ctx, account, location, max)
	case "quota unset":
		if err := a.checkAccount(ctx, account); err != nil {
			return err
		}
		prev, err := db.UnsetLimit(ctx, account, location, quota.AdminActor)
		if err != nil {
			return err
		}
		if prev == nil {
			fmt.Fprintf(stderr, "note: no limit was set for %s; nothing changed\n", scopeName(account, location))
		}
		return a.print(map[string]any{"accountId": account, "location": location, "removed": prev != nil, "previous": prev},
			[]string{"SCOPE", "REMOVED", "PREVIOUS"}, [][]string{{scopeName(account, location), fmt.Sprint(prev != nil), intOrDash(prev)}})
	case "quota show":
		return a.quotaShow(ctx, account)
	case "quota list":
		ls, err := db.ListLimits(ctx)
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, l := range ls {
			rows = append(rows, []string{orStar(l.AccountID), orStar(l.LocationID), fmt.Sprint(l.MaxCount)})
		}
		return a.print(ls, []string{"ACCOUNT", "LOCATION", "MAX COUNT"}, rows)
	case "location list":
		locs := cat.All()
		rows := [][]string{}
		for _, l := range locs {
			rows = append(rows, []string{l.ID, l.Name, enabled(!l.Disabled)})
		}
		return a.print(locs, []string{"LOCATION", "NAME", "STATE"}, rows)
	case "instance create":
		inst, err := db.CreateInstance(ctx, quota.Instance{ID: id, AccountID: account, LocationID: location, DiskGB: diskGB,
			OSCategory: osCategory, OSType: osType, OSVersion: osVersion})
		if err != nil {
			return err
		}
		return a.print(map[string]any{"instanceId": inst.ID, "accountId": inst.AccountID, "location": inst.LocationID},
			[]string{"INSTANCE ID", "ACCOUNT ID", "LOCATION"}, [][]string{{inst.ID, inst.AccountID, inst.LocationID}})
	case "instance list":
		if err := a.checkAccount(ctx, account); err != nil {
			return err
		}
		insts, err := db.ListInstances(ctx, account)
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, i := range insts {
			rows = append(rows, []string{i.ID, i.AccountID, i.LocationID, fmt.Sprint(i.DiskGB), i.OSCategory + " " + i.OSVersion + " (" + i.OSType + ")"})
		}
		return a.print(insts, []string{"INSTANCE ID", "ACCOUNT ID", "LOCATION", "DISK GB", "OS"}, rows)
	case "instance delete":
		if err := db.DeleteInstance(ctx, id); err != nil {
			return err
		}
		return a.print(map[string]any{"instanceId": id, "deleted": true}, []string{"INSTANCE ID", "DELETED"}, [][]string{{id, "true"}})
	case "master-key rotate":
		next, created, err := secrets.LoadOrGenerate(newKeyFile)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stderr, "Generated a new master key in %s (mode 0600).\n", newKeyFile)
		}
		n, err := db.RotateSecrets(ctx, next, quota.AdminActor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Every access key password is now sealed under %s. Make it the master key file (for example: mv %s %s) and restart the servers.\n", newKeyFile, newKeyFile, sf.keyPath())
		return a.print(map[string]any{"masterKeyId": next.ID(), "accessKeys": n, "newKeyFile": newKeyFile},
			[]string{"MASTER KEY ID", "ACCESS KEYS RE-SEALED", "NEW KEY FILE"}, [][]string{{next.ID(), fmt.Sprint(n), newKeyFile}})
	case "audit list":
		if err := a.checkAccount(ctx, account); err != nil {
			return err
		}
		recs, err := db.ListAudit(ctx, quota.AuditFilter{AccountID: account, Since: sinceT, Limit: limit})
		if err != nil {
			return err
		}
		rows := [][]string{}
		for _, r := range recs {
			rows = append(rows, []string{r.At.Format(time.RFC3339Nano), orStar(r.AccountID), r.Actor, r.RequestID, r.Action, r.Target, compact(r.Before), compact(r.After)})
		}
		return a.print(recs, []string{"TIME", "ACCOUNT", "ACTOR", "REQUEST ID", "ACTION", "TARGET", "BEFORE", "AFTER"}, rows)
	}
	return nil
}

// checkAccount returns an error when account is given and does not exist.
func (a *adminCtx) checkAccount(ctx context.Context, account string) error {
	if account == "" {
		return nil
	}
	_, err := a.db.GetAccount(ctx, account)
	return err
}

// quotaSet sets a limit and warns when it is below current usage.
func (a *adminCtx) quotaSet(ctx context.Context, account, location string, max int) error {
	var accounts []string
	if account != "" {
		if _, err := a.db.GetAccount(ctx, account); err != nil {
			return err
		}
		accounts = []string{account}
	} else {
		all, err := a.db.ListAccounts(ctx)
		if err != nil {
			return err
		}
		for _, x := range all {
			accounts = append(accounts, x.ID)
		}
	}
	prev, err := a.db.SetLimit(ctx, quota.LimitOverride{AccountID: account, LocationID: location, MaxCount: max}, quota.AdminActor)
	if err != nil {
		return err
	}
	// Warn for every (account, location) where the limit just set is the one
	// in effect and the count is over it.
	source := quota.SourceDefault
	switch {
	case account != "" && location != "":
		source = quota.SourceAccountLocation
	case account != "":
		source = quota.SourceAccount
	case location != "":
		source = quota.SourceLocation
	}
	type excess struct {
		Account  string `json:"accountId"`
		Location string `json:"location"`
		Count    int    `json:"count"`
		MaxCount int    `json:"maxCount"`
		Excess   int    `json:"excess"`
	}
	warnings := []excess{}
	for _, acct := range accounts {
		u, err := a.db.Usage(ctx, acct)
		if err != nil {
			return err
		}
		locs := make([]string, 0, len(u.Counts))
		for loc := range u.Counts {
			locs = append(locs, loc)
		}
		sort.Strings(locs)
		for _, loc := range locs {
			n := u.Counts[loc]
			if location != "" && loc != location {
				continue
			}
			m, src := quota.ResolveLimit(u.Overrides, acct, loc, a.defaultMax)
			if src == source && n > m {
				warnings = append(warnings, excess{acct, loc, n, m, n - m})
				fmt.Fprintf(a.stderr, "warning: account %s has %d images in %s, %d over the limit of %d; creating images there is refused until %d are deleted\n",
					acct, n, loc, n-m, m, n-m+1)
			}
		}
	}
	return a.print(map[string]any{"accountId": account, "location": location, "maxCount": max, "previous": prev, "overLimit": warnings},
		[]string{"SCOPE", "MAX COUNT", "PREVIOUS"}, [][]string{{scopeName(account, location), fmt.Sprint(max), intOrDash(prev)}})
}

// quotaShow prints the resolved limit, its source and the count for every location.
func (a *adminCtx) quotaShow(ctx context.Context, account string) error {
	if _, err := a.db.GetAccount(ctx, account); err != nil {
		return err
	}
	u, err := a.db.Usage(ctx, account)
	if err != nil {
		return err
	}
	type row struct {
		Location string `json:"location"`
		MaxCount int    `json:"maxCount"`
		Source   string `json:"source"`
		Count    int    `json:"count"`
	}
	out := []row{}
	rows := [][]string{}
	for _, l := range a.cat.Enabled() {
		m, src := quota.ResolveLimit(u.Overrides, account, l.ID, a.defaultMax)
		out = append(out, row{l.ID, m, src, u.Counts[l.ID]})
		rows = append(rows, []string{l.ID, fmt.Sprint(u.Counts[l.ID]), fmt.Sprint(m), src})
	}
	return a.print(out, []string{"LOCATION", "COUNT", "MAX COUNT", "SOURCE"}, rows)
}

// print writes v as JSON, or the rows as a table.
func (a *adminCtx) print(v any, header []string, rows [][]string) error {
	if a.json {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func intOrDash(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func scopeName(account, location string) string {
	switch {
	case account != "" && location != "":
		return "account " + account + " in " + location
	case account != "":
		return "account " + account
	case location != "":
		return "location " + location
	}
	return "default"
}

func compact(v any) string {
	if v == nil {
		return "-"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
