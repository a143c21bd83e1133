package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/idp"
	"rolegate/store"
)

// metricsOptions are serve's --metrics-addr and --metrics-allow.
type metricsOptions struct {
	addr, allow string
}

func (o *metricsOptions) flags(c *cobra.Command, a *app) {
	c.Flags().StringVar(&o.addr, "metrics-addr", a.env("ROLEGATE_METRICS_ADDR"),
		"serve /metrics on a listener of its own at HOST:PORT, to anyone who reaches it; the main listener then has no /metrics (env ROLEGATE_METRICS_ADDR)")
	c.Flags().StringVar(&o.allow, "metrics-allow", envOr(a.env, "ROLEGATE_METRICS_ALLOW", strings.Join(idp.DefaultMetricsAllow, ",")),
		"comma-separated IPs or CIDRs that may read /metrics on the main listener when --metrics-addr is not set; empty for nobody (env ROLEGATE_METRICS_ALLOW)")
}

// listen checks the options and opens the metrics listener when --metrics-addr is set (nil
// otherwise). It returns the addresses that may read /metrics on the main listener.
func (o *metricsOptions) listen() (net.Listener, []string, error) {
	allow := []string{} // empty, not nil: nobody, rather than the default
	for _, p := range strings.Split(o.allow, ",") {
		if p = strings.TrimSpace(p); p != "" {
			allow = append(allow, p)
		}
	}
	if err := idp.CheckMetricsAllow(allow); err != nil {
		return nil, nil, err
	}
	if o.addr == "" {
		return nil, allow, nil
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, nil, store.Errorf(store.Invalid, "cannot listen on %s for metrics: %v", o.addr, err)
	}
	return ln, allow, nil
}

// serveMetrics serves h at /metrics on ln, and nothing else, until the returned stop is called.
func serveMetrics(ln net.Listener, h http.Handler, log *slog.Logger, stdout io.Writer) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "Metrics: http://%s/metrics\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}
}
