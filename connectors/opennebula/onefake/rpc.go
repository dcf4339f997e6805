package onefake

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
)

// OpenNebula's error codes (include/Request.h).
const (
	codeSuccess        = 0x00000
	codeAuthentication = 0x00100
	codeAuthorization  = 0x00200
	codeNoExists       = 0x00400
	codeAction         = 0x00800
	codeXMLRPCAPI      = 0x01000
	codeInternal       = 0x02000
	codeAllocate       = 0x04000
)

// oneErr is one of OpenNebula's failure answers: its code, its message
// (already formatted as Request::failure_message does, "[method] …"), and
// the id of the object it is about (-1 for none).
type oneErr struct {
	code int
	msg  string
	id   int
}

// Failure messages, as Request::failure_message words them.

func errNoExists(method, object string, id int) *oneErr {
	return &oneErr{code: codeNoExists, msg: fmt.Sprintf("[%s] Error getting %s [%d].", method, object, id), id: id}
}

func errAuthentication(method string) *oneErr {
	return &oneErr{code: codeAuthentication, msg: fmt.Sprintf("[%s] User couldn't be authenticated, aborting call.", method), id: -1}
}

func errAuthorization(method string, uid int, msg string) *oneErr {
	if msg == "" {
		return &oneErr{code: codeAuthorization, msg: fmt.Sprintf("[%s] User [%d] not authorized to perform action on %s.", method, uid, "user"), id: -1}
	}
	return &oneErr{code: codeAuthorization, msg: fmt.Sprintf("[%s] User [%d] : %s.", method, uid, msg), id: -1}
}

func errAction(method, msg string, id int) *oneErr {
	return &oneErr{code: codeAction, msg: fmt.Sprintf("[%s] %s", method, msg), id: id}
}

func errInternal(method, msg string, id int) *oneErr {
	return &oneErr{code: codeInternal, msg: fmt.Sprintf("[%s] %s", method, msg), id: id}
}

func errAPI(method, msg string) *oneErr {
	return &oneErr{code: codeXMLRPCAPI, msg: fmt.Sprintf("[%s] %s", method, msg), id: -1}
}

func errAllocate(method, object, msg string) *oneErr {
	m := fmt.Sprintf("[%s] Error allocating a new %s.", method, object)
	if msg != "" {
		m += " " + msg
	}
	return &oneErr{code: codeAllocate, msg: m, id: -1}
}

// params are a call's parameters after the session string, typed by the
// method's signature.
type params struct {
	method string
	vals   []value
}

func (p params) int(i int, dflt int) int {
	if i < len(p.vals) {
		return int(p.vals[i].i)
	}
	return dflt
}

func (p params) str(i int) string {
	if i < len(p.vals) {
		return p.vals[i].s
	}
	return ""
}

func (p params) bool(i int) bool {
	return i < len(p.vals) && p.vals[i].b
}

// method is one XML-RPC method of the fake.
type method struct {
	// sig are the types of its parameters after the session string:
	// 'i' int, 's' string, 'b' boolean; the first required are
	// required, the others optional.
	sig      string
	required int
	fn       func(f *Fake, ctx context.Context, p params) (any, *oneErr)
}

// methods are the methods the fake serves.
var methods = map[string]method{
	"one.system.version":       {sig: "", fn: func(*Fake, context.Context, params) (any, *oneErr) { return "7.0.0", nil }},
	"one.user.info":            {sig: "ib", required: 1, fn: (*Fake).userInfo},
	"one.vm.allocate":          {sig: "sb", required: 1, fn: (*Fake).vmAllocate},
	"one.vm.info":              {sig: "ib", required: 1, fn: (*Fake).vmInfo},
	"one.vm.action":            {sig: "si", required: 2, fn: (*Fake).vmAction},
	"one.vm.update":            {sig: "isi", required: 2, fn: (*Fake).vmUpdate},
	"one.vm.disksaveas":        {sig: "iissi", required: 5, fn: (*Fake).vmDiskSaveas},
	"one.vmpool.info":          {sig: "iiiis", required: 4, fn: (*Fake).vmPoolInfo},
	"one.vmpool.infoextended":  {sig: "iiiis", required: 4, fn: (*Fake).vmPoolInfoExtended},
	"one.template.info":        {sig: "ibb", required: 1, fn: (*Fake).templateInfo},
	"one.template.instantiate": {sig: "isbsb", required: 2, fn: (*Fake).templateInstantiate},
	"one.image.info":           {sig: "ib", required: 1, fn: (*Fake).imageInfo},
	"one.image.update":         {sig: "isi", required: 2, fn: (*Fake).imageUpdate},
	"one.image.delete":         {sig: "ib", required: 1, fn: (*Fake).imageDelete},
	"one.imagepool.info":       {sig: "iii", required: 3, fn: (*Fake).imagePoolInfo},
	"one.vn.info":              {sig: "ib", required: 1, fn: (*Fake).vnInfo},
	"one.vnpool.info":          {sig: "iii", required: 3, fn: (*Fake).vnPoolInfo},
}

// dispatch checks the call's parameters against the method's signature
// (xmlrpc-c's own faults for what it refuses), then the session string,
// and runs the method.
func (f *Fake) dispatch(ctx context.Context, c *call) []byte {
	m, ok := methods[c.method]
	if !ok {
		return faultResponse(&fault{code: faultNoSuchMethod, msg: fmt.Sprintf("Requested method '%s' not defined", truncate(c.method, 100))})
	}
	if len(c.params) < 1+m.required {
		return faultResponse(&fault{code: faultIndex, msg: fmt.Sprintf("Index %d out of range: %s takes %d parameters", len(c.params), c.method, 1+m.required)})
	}
	if c.params[0].kind != "string" {
		return faultResponse(&fault{code: faultType, msg: "Value is not a string: parameter 0, the session string, is " + c.params[0].describe()})
	}
	for i := 1; i < len(c.params) && i <= len(m.sig); i++ {
		want := map[byte]string{'i': "int", 's': "string", 'b': "boolean"}[m.sig[i-1]]
		if c.params[i].kind != want {
			return faultResponse(&fault{code: faultType, msg: fmt.Sprintf("Value is not %s: parameter %d of %s is %s", article(want), i, c.method, c.params[i].describe())})
		}
	}
	if !f.opts.OneProxy && !f.sessionValid(c.params[0].s) {
		return failure(errAuthentication(c.method))
	}
	vals := c.params[1:]
	if len(vals) > len(m.sig) {
		vals = vals[:len(m.sig)]
	}
	res, e := m.fn(f, ctx, params{method: c.method, vals: vals})
	if e != nil {
		return failure(e)
	}
	return response(true, res, codeSuccess)
}

func article(kind string) string {
	if kind == "int" {
		return "an int"
	}
	return "a " + kind
}

// sessionValid checks "user:password" (OpenNebula's core auth driver; a
// login token is checked the same way).
func (f *Fake) sessionValid(session string) bool {
	user, pass, ok := strings.Cut(session, ":")
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.Password))
	return u&p == 1
}

// failure is OpenNebula's failure answer: [false, message, code, id of
// the object, replication index].
func failure(e *oneErr) []byte {
	return response(false, e.msg, e.code, e.id, i8(0))
}
