package opennebula

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// FuzzAnswer: whatever the endpoint answers, the connector does not panic
// (goca does, on an answer array shorter than OpenNebula's), and every
// error is a *connectors.Error naming the call.
func FuzzAnswer(f *testing.F) {
	var mu sync.Mutex
	var answer []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(answer)
	}))
	f.Cleanup(srv.Close)
	c, err := newConnector(connectors.Settings{"endpoint": srv.URL + "/RPC2", "username": "u", "password": "p"}, openNebula, noEnv, noHome)
	if err != nil {
		f.Fatal(err)
	}
	quick(c)
	array := func(vals string) []byte {
		return []byte("<methodResponse><params><param><value><array><data>" + vals + "</data></array></value></param></params></methodResponse>")
	}
	f.Add(array(""))
	f.Add(array("<value><boolean>1</boolean></value>"))
	f.Add(array("<value><boolean>1</boolean></value><value><string>&lt;VM&gt;&lt;ID&gt;1&lt;/ID&gt;&lt;STATE&gt;3&lt;/STATE&gt;&lt;LCM_STATE&gt;3&lt;/LCM_STATE&gt;&lt;/VM&gt;</string></value><value><i4>0</i4></value>"))
	f.Add(array("<value><boolean>0</boolean></value><value><string>[one.vm.info] Error getting virtual machine [1].</string></value><value><i4>1024</i4></value><value><i4>1</i4></value><value><i8>0</i8></value>"))
	f.Add(array("<value><boolean>1</boolean></value><value><string>&lt;USER&gt;&lt;VM_QUOTA&gt;&lt;VM&gt;&lt;CPU&gt;x&lt;/CPU&gt;&lt;/VM&gt;&lt;/VM_QUOTA&gt;&lt;/USER&gt;</string></value><value><i4>0</i4></value>"))
	f.Add([]byte("<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>-506</i4></value></member></struct></value></fault></methodResponse>"))
	f.Add([]byte("<html>502 Bad Gateway</html>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		mu.Lock()
		answer = body
		mu.Unlock()
		ctx := ctxFor(t)
		check := func(what string, err error) {
			t.Helper()
			var ce *connectors.Error
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("%s: %v (%T) is not a *connectors.Error", what, err, err)
			}
			if ce != nil && (ce.Cloud != Name || ce.Op == "") {
				t.Fatalf("%s: %+v does not name the cloud and the call", what, ce)
			}
		}
		_, err := c.Describe(ctx, "1")
		check("Describe", err)
		_, err = c.List(ctx, "dep")
		check("List", err)
		c.mu.Lock()
		c.offers = nil
		c.mu.Unlock()
		_, err = c.Offers(ctx)
		check("Offers", err)
	})
}
