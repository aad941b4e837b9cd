package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/diffgate/diffgate/internal/apperr"
)

// readBody reads at most limit bytes of the body; a longer body is refused
// as too large before more of it is read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, apperr.Newf(apperr.TooLarge, "request body is larger than %d bytes", limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apperr.Newf(apperr.TooLarge, "request body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "could not read the request body", err)
	}
	return b, nil
}

// mediaType is the request's media type, lower-cased, without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// decodeJSON reads a JSON body strictly: application/json only, within
// limit, valid UTF-8, one value, no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if mediaType(r) != "application/json" {
		return apperr.New(apperr.UnsupportedMedia, "send the body as application/json")
	}
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v)
}

func unmarshalStrict(b []byte, v any) error {
	if !utf8.Valid(b) {
		return apperr.New(apperr.Invalid, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Wrap(apperr.Invalid, "malformed JSON: "+jsonProblem(err), err)
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "malformed JSON: more than one value in the body")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of body"
	}
	msg := err.Error()
	if len(msg) > 20 && msg[:20] == "json: unknown field " {
		return "unknown field " + msg[20:]
	}
	return "cannot decode body"
}
