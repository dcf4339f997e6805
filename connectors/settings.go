package connectors

import (
	"fmt"
	"math"
	"sort"
)

// Settings are a connector's settings by name, as the catalog declares
// them: string, int64 (a catalog Number), bool, []string and
// map[string]string values. A setting left out is absent.
type Settings map[string]any

// String returns a string setting, or "".
func (s Settings) String(name string) string {
	v, _ := s[name].(string)
	return v
}

// Int returns a number setting, or 0.
func (s Settings) Int(name string) int64 {
	switch v := s[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		if v == math.Trunc(v) {
			return int64(v)
		}
	}
	return 0
}

// Bool returns a bool setting, or false.
func (s Settings) Bool(name string) bool {
	v, _ := s[name].(bool)
	return v
}

// Has reports whether the setting is set.
func (s Settings) Has(name string) bool {
	_, ok := s[name]
	return ok
}

// Strings returns a list setting, or nil.
func (s Settings) Strings(name string) []string {
	v, _ := s[name].([]string)
	return v
}

// Map returns a map setting, or nil.
func (s Settings) Map(name string) map[string]string {
	v, _ := s[name].(map[string]string)
	return v
}

// Check reports a setting of a type this package does not hand out, so
// that a provider bug shows as an error rather than a setting silently
// ignored.
func (s Settings) Check() error {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		switch s[n].(type) {
		case string, int64, bool, []string, map[string]string:
		default:
			return fmt.Errorf("setting %s has type %T; settings are string, int64, bool, []string or map[string]string", n, s[n])
		}
	}
	return nil
}
