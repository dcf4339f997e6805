package openstackfake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxBody is the largest request body the fake reads (Nova's
// max_request_body_size is 112 KiB; user-data alone may be 64 KiB).
const maxBody = 1 << 20

var errBodyTooLarge = errors.New("request body too large")

// decodeJSON reads the request's body as one JSON value into v.
func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return err
	}
	if len(b) > maxBody {
		return errBodyTooLarge
	}
	return json.Unmarshal(b, v)
}

// decodeField decodes one member of an object already split into raw
// members, naming the field in the error as Nova's schema check does.
func decodeField(raw map[string]json.RawMessage, name string, v any) error {
	m, ok := raw[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(m, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			te.Field = name
		}
		return err
	}
	return nil
}
