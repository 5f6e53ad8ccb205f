package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCPU reads the CPU time of the PostgreSQL backends that serve one
// database, from /proc: the server runs on this machine in the benchmark
// setups, so its processes can be read like this one.
type pgCPU struct {
	conn *pgx.Conn
}

// openPGCPU connects to the database at url to list its backends.
func openPGCPU(ctx context.Context, url string) (*pgCPU, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &pgCPU{conn: c}, nil
}

func (p *pgCPU) Close() {
	if p != nil {
		_ = p.conn.Close(context.Background())
	}
}

// take returns the CPU time of each backend of the database but this
// monitor's own, by pid.
func (p *pgCPU) take(ctx context.Context) (map[int]time.Duration, error) {
	rows, err := p.conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		if d, ok := procCPU(int(pid)); ok {
			out[int(pid)] = d
		}
	}
	return out, nil
}

// since is the CPU the backends of now used after before was taken (a
// backend that started in between counts whole; one that ended is lost).
func pgSince(now, before map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range now {
		d += t - before[pid]
	}
	return d
}

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ), 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is the user + system CPU time of process pid.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// After the name: state is field 3, utime 14 and stime 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * clockTick, true
}
