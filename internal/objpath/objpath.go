// Package objpath reads fields of decoded JSON objects (nested
// map[string]any), such as Kubernetes objects from a Pulumi checkpoint or
// mock inputs.
package objpath

// Get walks nested maps by keys and returns the value found, or nil.
func Get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// String returns the string at path, or "".
func String(v any, path ...string) string {
	s, _ := Get(v, path...).(string)
	return s
}
