package testsvc

import (
	"context"
	"encoding/hex"
	"net"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
)

// OTLP receives traces over OTLP/gRPC on loopback, so that tests can read
// what the services' real exporters send. It stands in for the
// OpenTelemetry collector, which can't run here, and only keeps the spans.
type OTLP struct {
	// Endpoint is the value for OTEL_EXPORTER_OTLP_ENDPOINT (plain text).
	Endpoint string
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []Span
}

// Span is one received span, flattened.
type Span struct {
	Service, Name, Kind       string
	TraceID, SpanID, ParentID string
	Attrs                     map[string]string
}

// StartOTLP serves until the test ends.
func StartOTLP(t testing.TB) *OTLP {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &OTLP{Endpoint: "http://" + lis.Addr().String()}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, o)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return o
}

// Export implements the OTLP trace service.
func (o *OTLP) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.spans = append(o.spans, Span{
					Service: service, Name: s.GetName(), Kind: s.GetKind().String(),
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Attrs: attrs(s.GetAttributes()),
				})
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// Spans returns what was received so far.
func (o *OTLP) Spans() []Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Span(nil), o.spans...)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.GetKey()] = v.GetStringValue()
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}
