package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-platform/bulwark/internal/fielderr"
)

var durationType = reflect.TypeFor[time.Duration]()

// decodeStrict decodes the JSON value raw into out, which holds defaults
// already: only the fields present in raw change. Unlike encoding/json it
// rejects unknown keys and values of the wrong type with the full key path,
// so a typo in a stack file is an error that says where, never a silently
// ignored setting. Durations are written as Go durations ("720h") and
// land in time.Duration fields.
func decodeStrict(path string, raw string, out any) error {
	var v any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fieldErr(fielderr.ErrInvalid, path, "not a valid value: %v", err)
	}
	if err := checkShape(path, &v, reflect.TypeOf(out).Elem()); err != nil {
		return err
	}
	// encoding/json decodes a list into the elements already there and a
	// map into the keys already there, so defaults would leak into the
	// stack's values: a list or map in the stack file replaces the default whole.
	clearLists(v, reflect.ValueOf(out).Elem())
	normalized, err := json.Marshal(v)
	if err != nil {
		return fieldErr(fielderr.ErrInvalid, path, "cannot encode: %v", err)
	}
	if err := json.Unmarshal(normalized, out); err != nil {
		// checkShape accepts only what decodes; reaching here is a bug in it.
		return fieldErr(fielderr.ErrInvalid, path, "cannot decode: %v", err)
	}
	return nil
}

func fieldErr(kind error, path, format string, args ...any) error {
	return &fielderr.Error{Path: path, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// checkShape walks *pv against the Go type t, and rewrites each duration
// string in it to the nanoseconds encoding/json decodes a time.Duration from.
func checkShape(path string, pv *any, t reflect.Type) error {
	v := *pv
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return nil
		}
		t = t.Elem()
	}
	if v == nil {
		return fieldErr(fielderr.ErrRequired, path, "must not be null")
	}
	want := func(kind string) error {
		return fieldErr(fielderr.ErrInvalid, path, "must be %s, got %s", kind, describe(v))
	}
	if t == durationType {
		s, ok := v.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil {
			return want(`a duration such as "720h"`)
		}
		*pv = json.Number(fmt.Sprint(int64(d)))
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return want("an object")
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				return fieldErr(fielderr.ErrUnknown, path+"."+k, "unknown key (known keys: %s)", strings.Join(known, ", "))
			}
			item := m[k]
			if err := checkShape(path+"."+k, &item, f.Type); err != nil {
				return err
			}
			m[k] = item
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return want("a list")
		}
		for i := range items {
			if err := checkShape(fmt.Sprintf("%s[%d]", path, i), &items[i], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return want("an object")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			item := m[k]
			if err := checkShape(path+"."+k, &item, t.Elem()); err != nil {
				return err
			}
			m[k] = item
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return want("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return want("true or false")
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return want("an integer")
		}
		if _, err := n.Int64(); err != nil {
			return want("an integer")
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return want("a number")
		}
		if _, err := n.Float64(); err != nil {
			return want("a number")
		}
	default:
		return fieldErr(fielderr.ErrUnsupported, path, "unsupported configuration type %s", t)
	}
	return nil
}

// clearLists sets to nil every list and map in target that v sets.
func clearLists(v any, target reflect.Value) {
	if target.Kind() == reflect.Pointer {
		if target.IsNil() {
			return
		}
		target = target.Elem()
	}
	switch target.Kind() {
	case reflect.Slice:
		if _, ok := v.([]any); ok {
			target.Set(reflect.Zero(target.Type()))
		}
	case reflect.Map:
		if _, ok := v.(map[string]any); ok {
			target.Set(reflect.Zero(target.Type()))
		}
	case reflect.Struct:
		m, _ := v.(map[string]any)
		fields := jsonFields(target.Type())
		for k, item := range m {
			if f, ok := fields[k]; ok {
				clearLists(item, target.FieldByIndex(f.Index))
			}
		}
	}
}

// jsonFields maps the JSON names of t's exported fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case json.Number:
		return "the number " + x.String()
	default:
		return fmt.Sprintf("%T", v)
	}
}
