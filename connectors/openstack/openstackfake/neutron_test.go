package openstackfake

import (
	"testing"
)

func TestNeutronOnTheWire(t *testing.T) {
	tf := newTestFake(t, Options{})
	nets := tf.do("GET", "/network/v2.0/networks", tf.token, "").body["networks"].([]any)
	var private, public string
	for _, n := range nets {
		n := n.(map[string]any)
		if n["router:external"] == true {
			public = n["id"].(string)
		} else {
			private = n["id"].(string)
		}
	}
	if len(nets) != 2 || private == "" || public == "" {
		t.Fatalf("networks %v", nets)
	}
	if r := tf.do("GET", "/network/v2.0/networks?router:external=true", tf.token, ""); len(r.body["networks"].([]any)) != 1 {
		t.Errorf("external networks: %s", r.raw)
	}
	tf.wantError(tf.do("GET", "/network/v2.0/networks?colour=red", tf.token, ""), 400, "NeutronError", "invalid attribute for filtering")

	id := tf.createServer("", "")
	var port string
	waitFor(t, func() bool {
		ports := tf.do("GET", "/network/v2.0/ports?device_id="+id, tf.token, "").body["ports"].([]any)
		if len(ports) == 1 {
			port = ports[0].(map[string]any)["id"].(string)
		}
		return port != ""
	})
	r := tf.do("POST", "/network/v2.0/floatingips", tf.token, `{"floatingip": {"floating_network_id": "`+private+`"}}`)
	tf.wantError(r, 400, "NeutronError", "not a valid external network")
	r = tf.do("POST", "/network/v2.0/floatingips", tf.token, `{"floatingip": {"floating_network_id": "`+public+`", "description": "for `+id+`"}}`)
	fip := r.obj("floatingip")
	if r.status != 201 || fip["port_id"] != nil || fip["status"] != "DOWN" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	fipID := fip["id"].(string)
	r = tf.do("PUT", "/network/v2.0/floatingips/"+fipID, tf.token, `{"floatingip": {"port_id": "`+port+`"}}`)
	if r.status != 200 || r.obj("floatingip")["port_id"] != port || r.obj("floatingip")["fixed_ip_address"] == nil {
		t.Errorf("associate: %d %s", r.status, r.raw)
	}
	second := tf.do("POST", "/network/v2.0/floatingips", tf.token, `{"floatingip": {"floating_network_id": "`+public+`", "port_id": "`+port+`"}}`)
	tf.wantError(second, 409, "NeutronError", "already has a floating IP")
	// The floating address shows among the server's addresses.
	addrs := tf.nova("GET", "/servers/"+id, "", "").obj("server")["addresses"].(map[string]any)["private"].([]any)
	if len(addrs) != 2 || addrs[1].(map[string]any)["OS-EXT-IPS:type"] != "floating" {
		t.Errorf("addresses with a floating IP: %v", addrs)
	}
	if r := tf.do("GET", "/network/v2.0/floatingips?description=for%20"+id, tf.token, ""); len(r.body["floatingips"].([]any)) != 1 {
		t.Errorf("list by description: %s", r.raw)
	}
	// Deleting the server deletes its port: the floating IP stays, free.
	tf.nova("DELETE", "/servers/"+id, "", "")
	waitFor(t, func() bool {
		return tf.do("GET", "/network/v2.0/floatingips/"+fipID, tf.token, "").obj("floatingip")["port_id"] == nil
	})
	if r := tf.do("DELETE", "/network/v2.0/floatingips/"+fipID, tf.token, ""); r.status != 204 {
		t.Errorf("release: %d", r.status)
	}
	tf.wantError(tf.do("DELETE", "/network/v2.0/floatingips/"+fipID, tf.token, ""), 404, "NeutronError", "could not be found")
	if ips := tf.f.FloatingIPs(); len(ips) != 0 {
		t.Errorf("floating IPs left: %v", ips)
	}
}
