package module

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/pipeline"
)

var httpKinds = []*pipeline.Kind{
	{
		Name:    "input.http",
		Summary: "accepts messages as HTTP POST bodies; replies 200 once the message is accepted downstream",
		Out:     []string{"outbox"},
		Args: []pipeline.Arg{
			{Name: "address", Type: pipeline.String, Default: "127.0.0.1:19284", Doc: "host:port to listen on"},
			{Name: "path", Type: pipeline.String, Default: "/", Doc: "URL path that accepts POSTs"},
			{Name: "max_body", Type: pipeline.Int, Default: 1 << 20, Doc: "largest accepted body in bytes (413 beyond)"},
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &httpIn{env: env, addr: a.String("address"), path: a.String("path"), maxBody: int64(a.Int("max_body"))}, nil
		},
	},
	{
		Name:    "output.http",
		Summary: "POSTs each message's body to a URL; a transport error or a non-2xx status raises",
		In:      []string{"inbox"},
		Args: []pipeline.Arg{
			{Name: "url", Type: pipeline.String, Required: true, Doc: "where to send (http:// or https://)"},
			{Name: "method", Type: pipeline.String, Default: "POST", Doc: "HTTP method"},
			{Name: "content_type", Type: pipeline.String, Default: "application/json", Doc: "Content-Type header"},
			{Name: "timeout", Type: pipeline.Duration, Default: 10 * time.Second, Doc: "whole-request timeout"},
		},
		Check: func(a pipeline.Args) error {
			if u := a.String("url"); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				return &pipeline.ArgError{Arg: "url", Msg: fmt.Sprintf("want an http:// or https:// URL, got %q", u)}
			}
			return nil
		},
		New: func(env *pipeline.Env, a pipeline.Args) (pipeline.Module, error) {
			return &httpOut{url: a.String("url"), method: a.String("method"), ctype: a.String("content_type"),
				client: &http.Client{Timeout: a.Duration("timeout")}}, nil
		},
	},
}

type httpIn struct {
	env     *pipeline.Env
	addr    string
	path    string
	maxBody int64
	seq     atomic.Uint64
}

// Run serves until ctx ends, then shuts the server down.
func (h *httpIn) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", h.addr)
	if err != nil {
		return fmt.Errorf("input.http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(h.path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST a message body", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("body over %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := fmt.Sprintf("%s-%d", h.env.Name, h.seq.Add(1))
		if err := h.env.Emit(ctx, "outbox", pipeline.NewMessage(id, body)); err != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Message-Id", id)
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	h.env.Log.Info("listening", "address", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("input.http: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

type httpOut struct {
	url, method, ctype string
	client             *http.Client
}

// ErrStatus is wrapped by output.http's error for a non-2xx reply.
var ErrStatus = errors.New("module: HTTP status")

// Handle sends one request.
func (h *httpOut) Handle(ctx context.Context, _ string, m *pipeline.Message) error {
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", h.ctype)
	req.Header.Set("X-Message-Id", m.ID)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w %s: %s", ErrStatus, resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}
