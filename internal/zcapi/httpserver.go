package zcapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts bound what a client can hold: a connection that sends its headers
// or body slowly, a response it reads slowly, or an idle keep-alive connection.
type Timeouts struct {
	ReadHeader time.Duration // 0 means 5s
	Read       time.Duration // the whole request, body included; 0 means 15s
	Write      time.Duration // 0 means the request timeout plus 5s
	Idle       time.Duration // 0 means 120s
}

// MaxHeaderBytes bounds the request headers.
const MaxHeaderBytes = 64 << 10

// HTTPServer returns an http.Server for the handler with the timeouts and
// the header size limit set.
func (s *Server) HTTPServer(t Timeouts) *http.Server {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 5 * time.Second
	}
	if t.Read <= 0 {
		t.Read = 15 * time.Second
	}
	if t.Write <= 0 {
		t.Write = s.cfg.RequestTimeout + 5*time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 120 * time.Second
	}
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		// "OPTIONS *" would otherwise get net/http's empty 200; it gets the
		// API's JSON 404 like any other path.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
}
