// Package seed bulk-loads test data — accounts with keys and tokens,
// instances and custom images — into a store, for benchmarks and tests.
package seed

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imagequota/imagequota/internal/quota"
	"github.com/imagequota/imagequota/internal/store"
	"github.com/imagequota/imagequota/internal/store/engine"
)

// Options describe a bulk load of test data, for benchmarks.
type Options struct {
	// Accounts is how many accounts to create, each with one access key.
	Accounts int
	// Images is how many custom images to create in all, spread as evenly as
	// possible over the accounts (the first Images%Accounts accounts get one more).
	Images int
	// Locations are the location ids images and instances go to; nil means
	// the enabled locations of the default catalogue.
	Locations []string
	// MaxPerLocation is the most images an account gets in one location; 0
	// means quota.DefaultMaxCount, so the default limit is never exceeded.
	MaxPerLocation int
	// LocationsPerAccount is how many locations each account's images are
	// spread over; 0 picks enough to stay at or under about half of
	// MaxPerLocation per location, and at least 2 when an account has 2 or
	// more images.
	LocationsPerAccount int
	// TokenTTL, when positive, also creates one bearer token per account,
	// valid for that long.
	TokenTTL time.Duration
	// BatchRows bounds the rows of one multi-row INSERT; 0 means up to 1000
	// (fewer for wide tables, to stay under the engines' parameter limits).
	BatchRows int
	// TxAccounts is how many accounts (with their keys, instances and images)
	// one transaction holds; 0 means 5000.
	TxAccounts int
	// Progress, when set, is called after each committed transaction with
	// the accounts committed so far and the accounts to create in all.
	Progress func(done, total int)
}

// Account is the credentials and instances of one seeded account.
type Account struct {
	ID          string
	AccessKeyID string
	Secret      string
	// Token is the bearer token, when Options.TokenTTL was set.
	Token string
	// Instances are the account's instances: one per location its images are
	// in, or one (in a rotating location) when it has no image.
	Instances []quota.Instance
}

// Result says what Seed created.
type Result struct {
	Accounts, AccessKeys, Tokens, Instances, Images int
	Elapsed                                         time.Duration
	// Seeded holds every created account, in creation order.
	Seeded []Account
}

// seedIDs makes ids that look like the store's own (same prefixes and
// lengths) but ascend within one seed, so that bulk inserts append to the
// primary-key indexes instead of scattering over them.
type seedIDs struct {
	run string // 8 random hex digits, so that two seeds practically never collide
	n   uint64
}

func (s *seedIDs) next(prefix string) string {
	s.n++
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = "0123456789abcdef"[(s.n>>(4*(7-i)))&0xf]
	}
	return prefix + s.run + string(b[:])
}

// Seed bulk-loads accounts (each with an access key, optionally a bearer
// token), instances and custom images into db, with multi-row INSERTs in large
// transactions. Images are spread over the locations so that no account ever
// holds more than MaxPerLocation in one location. On SQLite the writer
// connection runs with synchronous=OFF and a large page cache while seeding
// and is restored afterwards; a crash during a seed may lose the seed but not
// older data. It is meant for benchmarks and tests, not for production data.
func Seed(ctx context.Context, db *store.DB, o Options) (Result, error) {
	start := time.Now()
	res := Result{}
	if o.Accounts < 0 || o.Images < 0 {
		return res, fmt.Errorf("seed: negative counts")
	}
	if o.Images > 0 && o.Accounts == 0 {
		return res, fmt.Errorf("seed: %d images need at least one account", o.Images)
	}
	locs := o.Locations
	if len(locs) == 0 {
		for _, l := range quota.DefaultCatalog().Enabled() {
			locs = append(locs, l.ID)
		}
	}
	maxPer := o.MaxPerLocation
	if maxPer <= 0 {
		maxPer = quota.DefaultMaxCount
	}
	perAccount := 0
	if o.Accounts > 0 {
		perAccount = (o.Images + o.Accounts - 1) / o.Accounts
	}
	spread := o.LocationsPerAccount
	if spread <= 0 {
		half := (maxPer + 1) / 2
		spread = (perAccount + half - 1) / half
		if perAccount >= 2 && spread < 2 {
			spread = 2
		}
	}
	spread = min(max(spread, 1), len(locs))
	if need := (perAccount + spread - 1) / spread; need > maxPer {
		return res, fmt.Errorf("seed: %d images per account over %d locations is more than %d per location",
			perAccount, spread, maxPer)
	}
	txAccounts := o.TxAccounts
	if txAccounts <= 0 {
		txAccounts = 5000
	}

	rb := make([]byte, 4)
	_, _ = rand.Read(rb)
	ids := &seedIDs{run: hex.EncodeToString(rb)}

	now := time.Now().UTC()
	nowMicros := now.UnixMicro()
	res.Seeded = make([]Account, 0, o.Accounts)
	base, extra := 0, 0
	if o.Accounts > 0 {
		base, extra = o.Images/o.Accounts, o.Images%o.Accounts
	}
	batchRows := o.BatchRows
	if batchRows <= 0 {
		batchRows = 1000
	}
	// Rows are generated and inserted a group of accounts at a time, each
	// table's rows after its parents', so memory stays small and the
	// statements keep the same few sizes (prepared once per transaction).
	group := max(1, batchRows/max(perAccount, 1))

	// account generates one account with its key, token, instances and images.
	account := func(ins *seedInserters, i int) error {
		n := base
		if i < extra {
			n++
		}
		acc := Account{ID: ids.next("acc-")}
		if err := ins.accounts.add(acc.ID, "seed-"+strconv.Itoa(i), false, nowMicros); err != nil {
			return err
		}
		acc.AccessKeyID = "AK" + strings.ToUpper(ids.next("")+ids.run[:6])
		acc.Secret = store.NewSecret(24)
		if err := ins.keys.add(acc.AccessKeyID, acc.ID, db.SealSecret(acc.AccessKeyID, acc.Secret), false, nowMicros); err != nil {
			return err
		}
		res.AccessKeys++
		if o.TokenTTL > 0 {
			acc.Token = "zqt_" + store.NewSecret(32)
			if err := ins.tokens.add(store.TokenHash(acc.Token), acc.ID, now.Add(o.TokenTTL).UnixMicro(), nowMicros); err != nil {
				return err
			}
			res.Tokens++
		}
		used := spread
		if n < used {
			used = max(n, 1)
		}
		acc.Instances = make([]quota.Instance, 0, used)
		for j := 0; j < used; j++ {
			in := quota.Instance{
				ID: ids.next("ins-"), AccountID: acc.ID, LocationID: locs[(i+j)%len(locs)],
				DiskGB: 40, OSCategory: "Ubuntu", OSType: "linux", OSVersion: "22.04", CreatedAt: time.UnixMicro(nowMicros).UTC(),
			}
			if err := ins.instances.add(in.ID, in.AccountID, in.LocationID, in.DiskGB, in.OSCategory, in.OSType, in.OSVersion, nowMicros); err != nil {
				return err
			}
			acc.Instances = append(acc.Instances, in)
			res.Instances++
		}
		for k := 0; k < n; k++ {
			in := acc.Instances[k%used]
			// Older images first, a microsecond apart, so listings have a stable order.
			created := nowMicros - int64(n-k)
			if err := ins.images.add(ids.next("img-"), acc.ID, in.LocationID, in.ID, "seed-"+strconv.Itoa(k), nil,
				in.DiskGB, in.OSCategory, in.OSType, in.OSVersion, false, created, created); err != nil {
				return err
			}
			res.Images++
		}
		res.Seeded = append(res.Seeded, acc)
		res.Accounts++
		return nil
	}

	err := db.Bulk(ctx, func(ctx context.Context, conn *sql.Conn) error {
		for first := 0; first < o.Accounts; first += txAccounts {
			last := min(first+txAccounts, o.Accounts)
			err := seedTx(ctx, db, conn, batchRows, func(ins *seedInserters) error {
				for g := first; g < last; g += group {
					for i := g; i < min(g+group, last); i++ {
						if err := account(ins, i); err != nil {
							return err
						}
					}
					if err := ins.flush(ctx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if o.Progress != nil {
				o.Progress(last, o.Accounts)
			}
		}
		return seedTx(ctx, db, conn, batchRows, func(ins *seedInserters) error {
			after, _ := json.Marshal(map[string]int{
				"accounts": res.Accounts, "accessKeys": res.AccessKeys, "tokens": res.Tokens,
				"instances": res.Instances, "images": res.Images,
			})
			if err := ins.audit.add(time.Now().UnixMicro(), "", "admin", "", "Seed", "store", nil, string(after)); err != nil {
				return err
			}
			return ins.flush(ctx)
		})
	})
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	return res, nil
}

// seedInserters batch the rows of each table within one transaction.
type seedInserters struct {
	accounts, keys, tokens, instances, images, audit *batchInsert
}

// flush inserts every collected row, parents before children (for the foreign keys).
func (ins *seedInserters) flush(ctx context.Context) error {
	for _, b := range []*batchInsert{ins.accounts, ins.keys, ins.tokens, ins.instances, ins.images, ins.audit} {
		if err := b.insert(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (ins *seedInserters) close() {
	for _, b := range []*batchInsert{ins.accounts, ins.keys, ins.tokens, ins.instances, ins.images, ins.audit} {
		b.close()
	}
}

// seedTx runs fn, which adds rows to the inserters and flushes them, in one
// transaction on conn.
func seedTx(ctx context.Context, db *store.DB, conn *sql.Conn, batchRows int, fn func(*seedInserters) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	mk := func(table, cols string) *batchInsert { return newBatchInsert(db, tx, table, cols, batchRows) }
	ins := &seedInserters{
		accounts:  mk("accounts", "id, name, disabled, created_at"),
		keys:      mk("access_keys", "id, account_id, secret, disabled, created_at"),
		tokens:    mk("tokens", "hash, account_id, expires_at, created_at"),
		instances: mk("instances", "id, account_id, location_id, disk_gb, os_category, os_type, os_version, created_at"),
		images:    mk("images", "id, account_id, location_id, instance_id, name, description, size_gb, category, os_type, version, unavailable, created_at, ready_at"),
		audit:     mk("audit", "at, account_id, actor, request_id, action, target, before, after"),
	}
	err = fn(ins)
	ins.close()
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// batchInsert collects rows of one table and inserts them with multi-row
// INSERTs of at most rows rows, each size prepared once per transaction.
type batchInsert struct {
	db    *store.DB
	tx    *sql.Tx
	table string
	cols  string
	ncols int
	rows  int // most rows per statement
	args  []any
	stmts map[int]*sql.Stmt // by row count
}

// maxSeedParams stays under SQLite's default limit of 32766 bound parameters
// and PostgreSQL's 65535.
const maxSeedParams = 32000

func newBatchInsert(db *store.DB, tx *sql.Tx, table, cols string, rows int) *batchInsert {
	n := strings.Count(cols, ",") + 1
	rows = max(1, min(rows, maxSeedParams/n))
	return &batchInsert{db: db, tx: tx, table: table, cols: cols, ncols: n, rows: rows, stmts: map[int]*sql.Stmt{}}
}

func (b *batchInsert) add(vals ...any) error {
	if len(vals) != b.ncols {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.table, len(vals), b.ncols)
	}
	b.args = append(b.args, vals...)
	return nil
}

func (b *batchInsert) statement(rows int) string {
	one := "(" + engine.Placeholders(b.ncols) + ")"
	var sb strings.Builder
	sb.Grow(len(b.table) + len(b.cols) + rows*(len(one)+1) + 32)
	sb.WriteString("INSERT INTO ")
	sb.WriteString(b.table)
	sb.WriteString(" (")
	sb.WriteString(b.cols)
	sb.WriteString(") VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(one)
	}
	return b.db.Rebind(sb.String())
}

// insert sends every collected row, in statements of at most b.rows rows.
func (b *batchInsert) insert(ctx context.Context) error {
	for off := 0; off < len(b.args); {
		n := min((len(b.args)-off)/b.ncols, b.rows)
		stmt := b.stmts[n]
		if stmt == nil {
			var err error
			if stmt, err = b.tx.PrepareContext(ctx, b.statement(n)); err != nil {
				return fmt.Errorf("insert into %s: %w", b.table, err)
			}
			b.stmts[n] = stmt
		}
		end := off + n*b.ncols
		if _, err := stmt.ExecContext(ctx, b.args[off:end]...); err != nil {
			return fmt.Errorf("insert into %s: %w", b.table, err)
		}
		off = end
	}
	clear(b.args)
	b.args = b.args[:0]
	return nil
}

func (b *batchInsert) close() {
	for _, s := range b.stmts {
		_ = s.Close()
	}
}
