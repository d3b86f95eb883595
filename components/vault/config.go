package vault

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ServerConfig is an HA server's configuration file, typed; HCL renders
// it. The chart passes the text through Helm's tpl and then replaces the
// words HOSTNAME, POD_IP, HOST_IP, API_ADDR, RAFT_ADDR and TRANSIT_ADDR
// in it; nothing rendered here contains "{{" or those words (every value
// is a fixed path, a DNS name or a fixed description).
type ServerConfig struct {
	// DisableMlock is HashiCorp Vault's: its containers hold no IPC_LOCK.
	DisableMlock bool
	Listener     TCPListener
	Raft         RaftStorage
	// KubernetesRegistration labels each pod active or standby, sealed or
	// not, which the chart's -active and -standby Services select on.
	KubernetesRegistration bool
	// Audit are the devices declared in the configuration (OpenBao).
	Audit []AuditDevice
}

// TCPListener is the API listener (8200) and its cluster port (8201).
type TCPListener struct {
	Address, ClusterAddress string
	// CertFile and KeyFile are the mounted certificate of the private CA.
	CertFile, KeyFile string
	MinVersion        string
}

// RaftStorage is integrated storage; each peer joins the others.
type RaftStorage struct {
	Path      string
	RetryJoin []RetryJoin
}

// RetryJoin is one peer a starting node tries to join, over TLS checked
// against the private CA.
type RetryJoin struct {
	LeaderAPIAddr, LeaderCACertFile string
}

// AuditDevice is a declared audit device, `audit "<type>" "<path>"`.
type AuditDevice struct {
	Type, Path, Description string
	Options                 map[string]string
}

// HAConfig is the HA server configuration for a (defaulted, valid) Args.
func HAConfig(a *Args) ServerConfig {
	d := distributionOf(a.Distribution)
	c := ServerConfig{
		DisableMlock: d.mlock,
		Listener: TCPListener{
			Address: fmt.Sprintf("[::]:%d", APIPort), ClusterAddress: fmt.Sprintf("[::]:%d", APIPort+1),
			CertFile: d.tlsDir() + "/tls.crt", KeyFile: d.tlsDir() + "/tls.key",
			// Every client is Bulwark's own (agents, External Secrets,
			// the Vault layer, peers): all speak TLS 1.3.
			MinVersion: "tls13",
		},
		Raft:                   RaftStorage{Path: d.home + "/data"},
		KubernetesRegistration: true,
	}
	for i := range a.Replicas {
		c.Raft.RetryJoin = append(c.Raft.RetryJoin, RetryJoin{
			LeaderAPIAddr:    fmt.Sprintf("https://%s-%d.%s-internal.%s.svc:%d", d.release, i, d.release, a.Namespace, APIPort),
			LeaderCACertFile: d.tlsDir() + "/ca.crt",
		})
	}
	if a.Audit && d.declarativeAudit {
		c.Audit = []AuditDevice{{
			Type: "file", Path: "stdout",
			Description: "every request and response, secrets HMAC-ed, to the container log",
			Options:     map[string]string{"file_path": "stdout", "format": "json"},
		}}
	}
	return c
}

// HCL renders the configuration.
func (c ServerConfig) HCL() string {
	var b strings.Builder
	attrs := func(indent string, kv ...string) {
		width := 0
		for i := 0; i < len(kv); i += 2 {
			width = max(width, len(kv[i]))
		}
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, "%s%-*s = %s\n", indent, width, kv[i], kv[i+1])
		}
	}
	q := strconv.Quote
	if c.DisableMlock {
		b.WriteString("disable_mlock = true\n\n")
	}
	l := c.Listener
	b.WriteString("listener \"tcp\" {\n")
	attrs("  ", "address", q(l.Address), "cluster_address", q(l.ClusterAddress),
		"tls_cert_file", q(l.CertFile), "tls_key_file", q(l.KeyFile), "tls_min_version", q(l.MinVersion))
	b.WriteString("}\n\nstorage \"raft\" {\n")
	attrs("  ", "path", q(c.Raft.Path))
	for _, j := range c.Raft.RetryJoin {
		b.WriteString("\n  retry_join {\n")
		attrs("    ", "leader_api_addr", q(j.LeaderAPIAddr), "leader_ca_cert_file", q(j.LeaderCACertFile))
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	if c.KubernetesRegistration {
		b.WriteString("\nservice_registration \"kubernetes\" {}\n")
	}
	for _, d := range c.Audit {
		fmt.Fprintf(&b, "\naudit %s %s {\n", q(d.Type), q(d.Path))
		attrs("  ", "description", q(d.Description))
		b.WriteString("\n  options {\n")
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(d.Options)) {
			kv = append(kv, k, q(d.Options[k]))
		}
		attrs("    ", kv...)
		b.WriteString("  }\n}\n")
	}
	return b.String()
}
