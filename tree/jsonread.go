package tree

import (
	"encoding/json"
	"errors"
)

// jreader reads JSON text that json.Valid and checkJSONText have accepted
// (well-formed, valid UTF-8, no lone surrogate escapes), in one pass and
// without encoding/json's per-value decoders: REST content of 100,000
// objects is millions of values. Nesting is bounded by the caller.
type jreader struct {
	b []byte
	i int
}

var errJSONShape = errors.New("unexpected JSON")

// checkJSON validates a whole JSON text for the readers.
func checkJSON(b []byte) error {
	if err := checkJSONText(b); err != nil {
		return err
	}
	if !json.Valid(b) {
		return badValue("malformed JSON")
	}
	return nil
}

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek is the next non-space byte, 0 at the end.
func (r *jreader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// str reads a string token; an unescaped one aliases the text.
func (r *jreader) str() ([]byte, error) {
	if r.peek() != '"' {
		return nil, errJSONShape
	}
	start := r.i
	r.i++
	escaped := false
	for r.b[r.i] != '"' {
		if r.b[r.i] == '\\' {
			escaped = true
			r.i++
		}
		r.i++
	}
	r.i++
	if !escaped {
		return r.b[start+1 : r.i-1], nil
	}
	var s string
	if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// lit reads null, true, false or a number as its text.
func (r *jreader) lit() []byte {
	r.ws()
	start := r.i
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return r.b[start:r.i]
		}
		r.i++
	}
	return r.b[start:r.i]
}

// object calls fn for every member of the object that comes next, with the
// reader positioned at the member's value; fn must consume the value.
func (r *jreader) object(fn func(key []byte) error) error {
	if r.peek() != '{' {
		return errJSONShape
	}
	r.i++
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		k, err := r.str()
		if err != nil {
			return err
		}
		r.ws()
		r.i++ // ':'
		if err := fn(k); err != nil {
			return err
		}
		if r.peek() == ',' {
			r.i++
			continue
		}
		r.i++ // '}'
		return nil
	}
}

// array calls fn for every element of the array that comes next.
func (r *jreader) array(fn func(i int) error) error {
	if r.peek() != '[' {
		return errJSONShape
	}
	r.i++
	if r.peek() == ']' {
		r.i++
		return nil
	}
	for k := 0; ; k++ {
		if err := fn(k); err != nil {
			return err
		}
		if r.peek() == ',' {
			r.i++
			continue
		}
		r.i++ // ']'
		return nil
	}
}

// skip passes over the next value.
func (r *jreader) skip() error {
	switch r.peek() {
	case '{':
		return r.object(func([]byte) error { return r.skip() })
	case '[':
		return r.array(func(int) error { return r.skip() })
	case '"':
		_, err := r.str()
		return err
	}
	r.lit()
	return nil
}

// raw returns the text of the next value.
func (r *jreader) raw() ([]byte, error) {
	r.ws()
	start := r.i
	if err := r.skip(); err != nil {
		return nil, err
	}
	return r.b[start:r.i], nil
}

// value appends the next value, converted to canonical MessagePack, to dst;
// depth is how many more containers may nest.
func (r *jreader) value(dst []byte, depth int) ([]byte, error) {
	switch c := r.peek(); c {
	case '"':
		s, err := r.str()
		if err != nil {
			return dst, err
		}
		return append(appendStrHeader(dst, len(s)), s...), nil
	case '[':
		if depth <= 0 {
			save := r.i
			r.i++
			if r.peek() != ']' {
				return dst, errMPDepth
			}
			r.i = save
		}
		// Elements go to a scratch buffer: the header needs their count.
		var body []byte
		n := 0
		err := r.array(func(int) error {
			var err error
			body, err = r.value(body, depth-1)
			n++
			return err
		})
		return append(appendArrayHeader(dst, n), body...), err
	case '{':
		if depth <= 0 {
			save := r.i
			r.i++
			if r.peek() != '}' {
				return dst, errMPDepth
			}
			r.i = save
		}
		var body []byte
		n := 0
		var seen keySet
		err := r.object(func(k []byte) error {
			if !seen.add(k) {
				return badValue("map key %q given twice", truncate(string(k), 32))
			}
			body = append(appendStrHeader(body, len(k)), k...)
			var err error
			body, err = r.value(body, depth-1)
			n++
			return err
		})
		return append(appendMapHeader(dst, n), body...), err
	}
	t := r.lit()
	switch string(t) {
	case "null":
		return appendNil(dst), nil
	case "true":
		return appendBool(dst, true), nil
	case "false":
		return appendBool(dst, false), nil
	}
	return appendJSONNumber(dst, string(t))
}

// stringField reads a string value (and nothing else).
func (r *jreader) stringField() (string, bool) {
	if r.peek() != '"' {
		_ = r.skip()
		return "", false
	}
	s, err := r.str()
	return string(s), err == nil
}

// atNull consumes a null if one comes next.
func (r *jreader) atNull() bool {
	if r.peek() == 'n' {
		r.lit()
		return true
	}
	return false
}
