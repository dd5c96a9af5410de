package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/tandem-collab/tandem/internal/textutil"
	"github.com/tandem-collab/tandem/wire"
)

// Problem is an RFC 9457 problem document, the body of every REST error.
// Code is an extension member carrying the wire error code (docs/protocol.md,
// section 8), so that REST and WebSocket clients branch on the same names.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance,omitempty"`
	Code     string       `json:"code"`
	Errors   []FieldError `json:"errors,omitempty"`
	// OldestV is, on 410 Gone, the oldest version whose history the server
	// still has (the op log was compacted below it).
	OldestV *int64 `json:"oldest_v,omitempty"`
}

// FieldError is one failing field of a 422 answer. Field is the JSON name as
// the client sent it (dotted for nested fields).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// httpError is a REST failure on its way to becoming a Problem. Handlers
// return it; writeProblem renders it.
type httpError struct {
	status int
	code   string
	detail string
	fields []FieldError
	header http.Header // extra headers (WWW-Authenticate, Allow)
	cause  error       // logged for 5xx, never shown
	oldest *int64      // Problem.OldestV
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.status, e.code, e.detail)
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *httpError) Unwrap() error { return e.cause }

func errStatus(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, detail: fmt.Sprintf(format, args...)}
}

func errBadRequest(format string, args ...any) *httpError {
	return errStatus(http.StatusBadRequest, wire.CodeBadRequest, format, args...)
}

func errInvalid(fields ...FieldError) *httpError {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return &httpError{status: http.StatusUnprocessableEntity, code: wire.CodeBadRequest,
		detail: "request failed validation: " + strings.Join(parts, "; "), fields: fields}
}

func errInternal(what string, cause error) *httpError {
	return &httpError{status: http.StatusInternalServerError, code: wire.CodeInternal, detail: what, cause: cause}
}

// writeProblem writes e as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, e *httpError) {
	for k, vs := range e.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	p := Problem{Type: "about:blank", Title: http.StatusText(e.status), Status: e.status,
		Detail: e.detail, Instance: r.URL.Path, Code: e.code, Errors: e.fields, OldestV: e.oldest}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // details quote ids and headers; keep them readable
	_ = enc.Encode(p)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		// Only values built by this package are written; a failure is a bug.
		http.Error(w, "internal error encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// What keeps a JSON answer from being read as HTML is its type, not
	// escaping: "<" stays "<" in document content (marshalJSON).
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// marshalJSON is json.Marshal without HTML escaping: document text such as
// ">> Hello <b>" reads as itself, not as "\u003e\u003e Hello \u003cb\u003e".
// Every answer is served as application/json (or text/event-stream) with
// nosniff, never as HTML, so the escaping protects nothing.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// bodyValidator checks REST bodies. Field names in its errors are the JSON
// names, and "docid"/"sid" are the id rules of the wire package.
var bodyValidator = newBodyValidator()

func newBodyValidator() *validator.Validate { return wire.NewValidator("json") }

// validateBody runs the validate tags of body and turns every failure into a
// FieldError; nil when body is valid.
func validateBody(body any) *httpError {
	err := bodyValidator.Struct(body)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return errInternal("validating the request failed", err)
	}
	fields := make([]FieldError, 0, len(ves))
	for _, fe := range ves {
		_, name, _ := strings.Cut(fe.Namespace(), ".") // drop the Go type name
		fields = append(fields, FieldError{Field: name, Message: wire.RuleMessage(fe)})
	}
	return errInvalid(fields...)
}

// decodeBody reads at most limit bytes of JSON into dst: one object, no
// unknown fields, no trailing data, valid UTF-8 and no lone UTF-16 surrogate
// escapes (the contract rejects such text; encoding/json would silently turn
// it into U+FFFD). An empty body decodes as {}. Type mismatches are 422 with
// the field; everything else malformed is 400; over the limit is 413. The
// decoded value is then validated (validateBody), so a handler gets a body
// that passed every rule or an error to answer with.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) *httpError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errStatus(http.StatusUnsupportedMediaType, wire.CodeBadRequest,
				"Content-Type %q is not supported; send application/json", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errStatus(http.StatusRequestEntityTooLarge, wire.CodeTooLarge,
				"request body is over the limit of %d bytes for this route", mbe.Limit)
		}
		return errBadRequest("reading the request body failed: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		return errBadRequest("request body is not valid UTF-8")
	}
	if err := checkSurrogates(body); err != nil {
		return errBadRequest("request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var (
			se *json.SyntaxError
			te *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &te) && te.Field != "":
			return errInvalid(FieldError{Field: te.Field, Message: "must be " + jsonKind(te.Type) + ", got " + te.Value})
		case errors.As(err, &te):
			return errBadRequest("request body must be a JSON object, got %s", te.Value)
		case errors.As(err, &se):
			return errBadRequest("request body is not valid JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return errBadRequest("request body has an unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return errBadRequest("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errBadRequest("request body has data after the JSON object")
	}
	return validateBody(dst)
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.String()
}

// checkSurrogates reports a \u escape inside a JSON string that is a lone
// UTF-16 surrogate (a high one not followed by a low one, or a low one
// alone). It assumes b is otherwise well-formed enough to track strings.
func checkSurrogates(b []byte) error {
	if at, u := textutil.LoneSurrogate(b); at >= 0 {
		return fmt.Errorf("lone UTF-16 surrogate escape \\u%04x at byte %d", u, at)
	}
	return nil
}
