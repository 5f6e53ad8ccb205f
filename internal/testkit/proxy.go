package testkit

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy for injecting database outages: a test points a store
// (or a server) at the proxy instead of at PostgreSQL, then
//   - cuts it: the listener and every connection through it close, as when
//     the database goes away, until Restore listens again on the same address;
//   - or stalls it: nothing is closed but no byte goes through, on open
//     connections or new ones, as in a network partition, until Resume.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	gone  chan struct{} // closed by Cut: the connections of this listener end
	flow  chan struct{} // closed while bytes may pass
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewProxy starts a proxy on 127.0.0.1 forwarding to target (host:port). It
// is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	flow := make(chan struct{})
	close(flow)
	p := &Proxy{target: target, addr: ln.Addr().String(), flow: flow, conns: map[net.Conn]bool{}}
	p.start(ln)
	t.Cleanup(p.Close)
	return p
}

// ProxyPostgres starts a proxy to the PostgreSQL server of dbURL and returns
// it with dbURL rewritten to go through it.
func ProxyPostgres(t testing.TB, dbURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("proxy: %q is not a URL: %v", dbURL, err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := NewProxy(t, target)
	u.Host = p.Addr()
	return p, u.String()
}

// Addr is the proxy's address (host:port); it stays the same across Cut and Restore.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) start(ln net.Listener) {
	gone := make(chan struct{})
	p.mu.Lock()
	p.ln, p.gone = ln, gone
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c, gone)
			}()
		}
	}()
}

// track records c as open; it returns false (and closes c) when the proxy
// was cut since c was accepted.
func (p *Proxy) track(c net.Conn, gone chan struct{}) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone != gone || p.ln == nil {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

// flowing waits until bytes may pass; false means the proxy was cut meanwhile.
func (p *Proxy) flowing(gone chan struct{}) bool {
	p.mu.Lock()
	flow := p.flow
	p.mu.Unlock()
	select {
	case <-flow:
		return true
	case <-gone:
		return false
	}
}

func (p *Proxy) forward(client net.Conn, gone chan struct{}) {
	if !p.track(client, gone) {
		return
	}
	if !p.flowing(gone) {
		p.drop(client)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.drop(client)
		return
	}
	if !p.track(server, gone) {
		p.drop(client)
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client, gone); done <- struct{}{} }()
	go func() { p.pipe(client, server, gone); done <- struct{}{} }()
	<-done
	p.drop(client)
	p.drop(server)
	<-done
}

func (p *Proxy) pipe(dst, src net.Conn, gone chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.flowing(gone) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Cut closes the listener and every connection through the proxy: new
// connections are refused and open ones fail, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	close(p.gone)
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore listens again on the proxy's address after Cut.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.start(ln)
}

// Stall stops every byte: open connections stay open but nothing passes,
// and new connections are accepted but not forwarded, until Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flow:
		p.flow = make(chan struct{})
	default: // already stalled
	}
}

// Resume lets bytes pass again after Stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flow:
	default:
		close(p.flow)
	}
}

// Close cuts the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.Cut()
	p.wg.Wait()
}
