package coordinator

import "testing"

func TestQualify(t *testing.T) {
	web2 := &Instance{Node: "web", Index: 2}
	cases := []struct {
		raw    string
		caller *Instance
		want   string
		bad    bool
	}{
		{"hostname", web2, "web.2:hostname", false},
		{"url.service", web2, "web.2:url.service", false},
		{"db:password", web2, "db.1:password", false},
		{"db:ids", web2, "db:ids", false},
		{"db:multiplicity", nil, "db:multiplicity", false},
		{"db.3:password", web2, "db.3:password", false},
		{"ss:abort", web2, "ss:abort", false},
		{"hostname", nil, "", true},
		{"db.0:x", web2, "", true},
		{"db.01:x", web2, "", true},
		{"db.x:x", web2, "", true},
		{"db-1:x", web2, "", true},
		{"db:", web2, "", true},
		{"db:.x", web2, "", true},
		{"../etc:passwd", web2, "", true},
		{"db:a/b", web2, "", true},
	}
	for _, c := range cases {
		k, err := Qualify(c.raw, c.caller)
		if c.bad {
			if err == nil {
				t.Errorf("Qualify(%q) = %v, want an error", c.raw, k)
			}
			continue
		}
		if err != nil || k.String() != c.want {
			t.Errorf("Qualify(%q) = %v, %v; want %s", c.raw, k, err, c.want)
		}
	}
}
