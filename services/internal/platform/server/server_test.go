package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-platform/bulwark/services/internal/platform/health"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestShutdownDrainsInOrder(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	h := health.New(time.Second)
	h.Started()
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("done"))
	})
	var mu sync.Mutex
	var order []string
	closer := func(name string) Closer {
		return Closer{Name: name, Close: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return nil
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		result <- Run(ctx, Config{Addr: addr, MetricsAddr: metricsAddr, DrainDelay: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second},
			app, http.NotFoundHandler(), h, slog.New(slog.NewTextHandler(io.Discard, nil)), closer("telemetry"), closer("postgres"))
	}()
	waitUp(t, "http://"+addr+"/health/ready")

	inflight := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := http.Get("http://" + addr + "/work")
			if err != nil {
				inflight <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			inflight <- resp.StatusCode
		}()
	}
	time.Sleep(100 * time.Millisecond) // the requests are in flight
	cancel()                           // SIGTERM
	time.Sleep(50 * time.Millisecond)
	if !h.Draining() {
		t.Error("readiness did not fail at once")
	}
	resp, err := http.Get("http://" + addr + "/health/ready")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readiness during the drain delay: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	close(release)
	for range 3 {
		if code := <-inflight; code != http.StatusOK {
			t.Errorf("an in-flight request ended with %d", code)
		}
	}
	if err := <-result; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(order) != 2 || order[0] != "telemetry" || order[1] != "postgres" {
		t.Errorf("closers ran as %v", order)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

func TestRunReportsABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = Run(context.Background(), Config{Addr: l.Addr().String(), MetricsAddr: freeAddr(t)}, http.NotFoundHandler(), http.NotFoundHandler(),
		health.New(0), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("Run served on a busy port")
	}
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}
