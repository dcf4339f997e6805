package opennebula

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	errs "github.com/OpenNebula/one/src/oca/go/src/goca/errors"
	"github.com/kolo/xmlrpc"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// OpenNebula's error codes (include/Request.h, ErrorCode). goca names all
// but REPLICATION.
const (
	codeAuthentication = errs.OneAuthenticationError
	codeAuthorization  = errs.OneAuthorizationError
	codeNoExists       = errs.OneNoExistsError
	codeAction         = errs.OneActionError
	codeXMLRPCAPI      = errs.OneXMLRPCAPIError
	codeInternal       = errs.OneInternalError
	codeAllocate       = errs.OneAllocateError
	codeLocked         = errs.OneLockedError
	codeReplication    = 0x10000
)

// codeName is OpenNebula's name of an error code.
func codeName(code errs.OneErrCode) string {
	if code == codeReplication {
		return "REPLICATION"
	}
	if s := code.String(); s != "" {
		return s
	}
	return fmt.Sprintf("0x%X", int(code))
}

// apiErr turns an error of a call of method into a *connectors.Error:
//   - OpenNebula's failure answers keep its code's name as Code and its
//     message: NO_EXISTS is not found; REPLICATION (an HA follower that
//     could not replicate) and an INTERNAL "no leader found" are
//     transient; every other code is permanent (AUTHENTICATION bad
//     credentials, AUTHORIZATION refused or over a quota, ACTION wrong
//     state, ALLOCATE no lease or a name taken, LOCKED locked by a user);
//   - an HTTP error answer (a proxy in front of oned): 429 and 5xx are
//     transient, other statuses permanent — a 404 too, which says the
//     endpoint is wrong, not that a VM is missing;
//   - no answer at all: a network failure is transient, a cancelled or
//     expired context is not;
//   - an answer that is not OpenNebula's XML-RPC (an XML-RPC fault of the
//     server library, XML goca cannot read) is permanent: retrying an
//     endpoint that answers something else will not help.
func (c *Connector) apiErr(method string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	var call *callError
	if errors.As(err, &call) {
		method = call.Method
	}
	e := &connectors.Error{Cloud: c.name, Op: method, Err: err}
	var re *errs.ResponseError
	var cle *errs.ClientError
	var bad *malformedError
	var syntax *xml.SyntaxError
	switch {
	case errors.As(err, &re):
		e.Code, e.Message, e.Kind = codeName(re.Code), re.Msg, responseKind(re)
	case errors.As(err, &cle):
		c.clientErr(e, cle)
	case errors.As(err, &bad):
		e.Code, e.Message, e.Kind = "MalformedAnswer", bad.Error(), connectors.KindPermanent
	case errors.As(err, &syntax), isXMLDecodeError(err):
		e.Code, e.Kind = "MalformedAnswer", connectors.KindPermanent
		e.Message = "the answer's XML is not OpenNebula's: " + err.Error()
	default:
		e.Message, e.Kind = errText(err), connectors.KindOf(err)
	}
	return e
}

// responseKind classifies one of OpenNebula's failure answers.
func responseKind(re *errs.ResponseError) connectors.Kind {
	switch re.Code {
	case codeNoExists:
		return connectors.KindNotFound
	case codeReplication:
		return connectors.KindTransient
	case codeInternal:
		// oned of an HA zone without a leader (an election under way).
		if strings.Contains(strings.ToLower(re.Msg), "no leader") {
			return connectors.KindTransient
		}
	}
	return connectors.KindPermanent
}

// clientErr fills e from goca's error of a call that got no usable answer.
func (c *Connector) clientErr(e *connectors.Error, cle *errs.ClientError) {
	switch cle.Code {
	case errs.ClientRespHTTP:
		if cle.HttpResp == nil {
			e.Code, e.Kind = "ReadAnswer", connectors.KindTransient
			e.Message = "the answer was cut off: " + errText(cle.Err)
			return
		}
		status := cle.HttpResp.StatusCode
		e.Status, e.Code = status, strconv.Itoa(status)
		e.Message = fmt.Sprintf("HTTP %d %s from %s", status, http.StatusText(status), c.endpoint)
		switch {
		case status == http.StatusNotFound:
			e.Kind = connectors.KindPermanent
			e.Message += ": is it OpenNebula's XML-RPC endpoint (such as " + DefaultEndpoint + ")?"
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			e.Kind = connectors.KindPermanent
			e.Message += ": the endpoint refused the credentials"
		default:
			e.Kind = connectors.HTTPKind(status)
		}
	case errs.ClientReqHTTP:
		e.Code, e.Message, e.Kind = "NoAnswer", errText(cle.Err), connectors.KindOf(cle.Err)
	case errs.ClientRespXMLRPCFault:
		var fault xmlrpc.FaultError
		if errors.As(cle.Err, &fault) {
			e.Code, e.Message = "XMLRPCFault"+strconv.Itoa(fault.Code), fault.String
		} else {
			e.Code, e.Message = "XMLRPCFault", errText(cle.Err)
		}
		e.Kind = connectors.KindPermanent
	case errs.ClientRespXMLRPCParse, errs.ClientRespONeParse:
		e.Code, e.Kind = "MalformedAnswer", connectors.KindPermanent
		e.Message = fmt.Sprintf("the answer of %s is not OpenNebula's XML-RPC (%s)", c.endpoint, cle.Msg)
		if cle.Err != nil {
			e.Message += ": " + cle.Err.Error()
		}
	default:
		e.Code, e.Message, e.Kind = cle.Code.String(), cle.Msg+": "+errText(cle.Err), connectors.KindPermanent
	}
}

// isXMLDecodeError recognizes encoding/xml's errors other than syntax
// errors (an unexpected element type, a number that is not one).
func isXMLDecodeError(err error) bool {
	var ue xml.UnmarshalError
	var nf *strconv.NumError
	return errors.As(err, &ue) || errors.As(err, &nf)
}

func errText(err error) string {
	if err == nil {
		return "no detail"
	}
	return err.Error()
}

// hasCode reports whether err is OpenNebula's answer with that code.
func hasCode(err error, code errs.OneErrCode) bool {
	var ce *connectors.Error
	return errors.As(err, &ce) && ce.Code == codeName(code)
}

// rejected reports whether err is an answer that refused the call as a
// whole, so that it made nothing: OpenNebula's own failure answer, or a
// 4xx of a proxy that did not pass the call on. A lost answer, a 5xx, an
// answer that could not be read or a cancelled call may have made it.
func rejected(err error) bool {
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		return false
	}
	var re *errs.ResponseError
	if errors.As(ce.Err, &re) {
		return true
	}
	return ce.Status >= 400 && ce.Status < 500
}

// permanent is a permanent error of the connector's own, for a call.
func (c *Connector) permanent(op, code, format string, args ...any) *connectors.Error {
	return &connectors.Error{Cloud: c.name, Op: op, Code: code, Kind: connectors.KindPermanent, Message: fmt.Sprintf(format, args...)}
}

// asPermanent turns a not-found answer about something the call needs
// (the image of a create, say) into a permanent error: the machine is
// not the thing missing.
func asPermanent(err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Kind == connectors.KindNotFound {
		cp := *ce
		cp.Kind = connectors.KindPermanent
		return &cp
	}
	return err
}
