package policyeval

import (
	"slices"
	"strings"

	"github.com/bulwark-platform/bulwark/infra/graph"
	"github.com/bulwark-platform/bulwark/infra/identity"
)

// Authorize fills the identity columns of the report's request rows from
// the identity model: for a row that is one graph call (caller, callee,
// methods and paths as the mesh allows them), the client whose token the
// caller sends (the browser client on the gateway's edges, the caller's
// confidential client otherwise) and the scopes the call requires. A
// scope the call requires and the client does not hold is named beside
// the client: the mesh lets such a request through, the callee refuses
// it. Rows that are no graph call (Prometheus, the platform peers, an
// opened namespace) keep empty columns.
func Authorize(r *Report, g *graph.Graph, m identity.Model) {
	type call struct {
		edge graph.Edge
		call graph.Call
	}
	calls := map[string][]call{}
	for _, e := range g.Edges() {
		key := e.From.Name + "." + e.From.Namespace + " " + e.To.Name + "." + e.To.Namespace
		for _, c := range e.Calls {
			calls[key] = append(calls[key], call{e, c})
		}
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		cs := calls[row.From+" "+row.To]
		j := slices.IndexFunc(cs, func(c call) bool {
			return row.Port == c.edge.To.Port && slices.Equal(c.call.Methods, row.Methods) && slices.Equal(c.call.Paths, row.Paths)
		})
		if j < 0 {
			continue
		}
		c := cs[j]
		client, held := clientOf(c.edge, m)
		row.Client, row.Scopes = client, slices.Clone(c.call.Scopes)
		var lacks []string
		for _, s := range c.call.Scopes {
			if !slices.Contains(held, s) {
				lacks = append(lacks, s)
			}
		}
		if len(lacks) > 0 {
			row.Client += " (lacks " + strings.Join(lacks, ",") + ")"
		}
	}
}

// clientOf is the client an edge's caller authenticates with, and the
// scopes the model grants it.
func clientOf(e graph.Edge, m identity.Model) (string, []string) {
	if e.From.Name == graph.GatewayName {
		return m.BrowserClient.ClientID, m.BrowserClient.Scopes
	}
	c, ok := m.Client(e.From.Name)
	if !ok {
		return "(no client)", nil
	}
	return c.ClientID, c.Scopes
}
