package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// ReadStackFile reads stacks/Pulumi.<stack>.yaml into the flat map of
// full keys to values that Pulumi hands a program: objects and lists as
// JSON, scalars as text. Tools that compile a stack without Pulumi (the
// unit tests, the policy report) read configuration through it.
func ReadStackFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]string, len(doc.Config))
	for k, v := range doc.Config {
		switch x := v.(type) {
		case string:
			out[k] = x
		case map[string]any, []any:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			out[k] = string(b)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}

// MapGetter serves configuration from a map of full keys.
func MapGetter(m map[string]string) Getter {
	return func(key string) (string, bool) {
		v, ok := m[key]
		return v, ok
	}
}

// Keys lists the keys of a configuration map.
func Keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// LoadStack reads and validates the configuration of stack from the stack
// file of the checkout at root (stacks/Pulumi.<stack>.yaml), as the
// program would see it: for the tools that compile a stack without Pulumi.
func LoadStack(root, stack string) (*Config, error) {
	values, err := ReadStackFile(filepath.Join(root, "stacks", "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	cfg, err := Load(MapGetter(values), Keys(values))
	if err != nil {
		return nil, fmt.Errorf("stack %s: invalid configuration:\n%w", stack, err)
	}
	return cfg, nil
}
