// Command embedschema writes the compact schema-embed.json and
// terraform-mapping-embed.json that the Kubernetes provider's main embeds;
// upstream's generator writes them, and hack/tools.sh builds the provider
// from the module zip, which lacks them.
//
//	go run ./hack/embedschema <provider cmd dir> <version>
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "embedschema:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: embedschema <dir> <version>")
	}
	dir, version := args[0], args[1]
	raw, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		return err
	}
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(raw, &schema); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	v, err := json.Marshal(version)
	if err != nil {
		return err
	}
	schema["version"] = v
	out, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "schema-embed.json"), out, 0o644); err != nil {
		return err
	}
	mapping, err := os.ReadFile(filepath.Join(dir, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, mapping); err != nil {
		return fmt.Errorf("terraform-mapping.json: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "terraform-mapping-embed.json"), compact.Bytes(), 0o644)
}
