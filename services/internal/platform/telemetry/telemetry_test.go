package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

func TestSetupHonoursTheSamplerAndPropagatesW3C(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	shutdown, err := Setup(context.Background(), "order")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	_, span := otel.Tracer("t").Start(context.Background(), "op")
	if span.SpanContext().IsSampled() {
		t.Error("a 0 ratio from OTEL_TRACES_SAMPLER_ARG still sampled")
	}
	span.End()
	carrier := propagation.MapCarrier{}
	ctx, span := otel.Tracer("t").Start(context.Background(), "op2")
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	span.End()
	if carrier.Get("traceparent") == "" {
		t.Error("no traceparent propagated")
	}
}
