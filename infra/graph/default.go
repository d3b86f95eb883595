package graph

// Default returns the platform's reference graph: the gateway routes to the
// order and user services; order checks users and charges payments.
func Default() Graph {
	const registry = "ghcr.io/bulwark-platform/"
	svc := func(name, ns string, postgres bool, calls ...Call) Service {
		return Service{
			Name: name, Namespace: ns, ServiceAccount: name,
			Port: 8080, MetricsPort: 9090,
			Image:    registry + name + ":0.1.0",
			Redis:    name != "payment",
			Postgres: postgres,
			Calls:    calls,
			// Each service is a confidential OAuth client; its database and
			// Redis logins follow from postgres and redis.
			Secrets: []Secret{{Name: OAuthClientSecret}},
		}
	}
	return Graph{
		Gateway: Gateway{
			Namespace:      "istio-ingress",
			ServiceAccount: "istio-ingressgateway",
			PodLabels:      map[string]string{"istio": "ingressgateway"},
			// Exactly the routes the services serve, each with the scope
			// the service asks for it (services/*/api.go; a test keeps
			// the two in step).
			Calls: []Call{
				{Target: "order", Methods: []string{"GET"}, Paths: []string{"/api/v1/orders", "/api/v1/orders/*"}, Scopes: []string{"orders:read"}},
				{Target: "order", Methods: []string{"POST"}, Paths: []string{"/api/v1/orders"}, Scopes: []string{"orders:write"}},
				{Target: "user", Methods: []string{"GET"}, Paths: []string{"/api/v1/users", "/api/v1/users/*"}, Scopes: []string{"users:read"}},
				{Target: "user", Methods: []string{"POST"}, Paths: []string{"/api/v1/users"}, Scopes: []string{"users:write"}},
				{Target: "user", Methods: []string{"PUT", "DELETE"}, Paths: []string{"/api/v1/users/*"}, Scopes: []string{"users:write"}},
			},
		},
		Services: []Service{
			svc("order", "shop", true,
				Call{Target: "payment", Methods: []string{"POST"}, Paths: []string{"/api/v1/payments"}, Scopes: []string{"payments:write"}},
				Call{Target: "user", Methods: []string{"GET"}, Paths: []string{"/api/v1/users/*"}, Scopes: []string{"users:read"}},
			),
			svc("payment", "payments", true),
			svc("user", "shop", true),
		},
	}
}
