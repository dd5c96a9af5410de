package wire

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"
)

// validate is shared by all decoders: validator caches struct metadata per type,
// so one instance amortises the reflection.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report msgpack key names, which is what the client sent.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	RegisterIDRules(v)
	// The rules of the client messages (and the map inside Hello) are the
	// schemas' rows: a row without a rule is not looked at.
	for _, s := range append(slices.Collect(maps.Values(clientSchemas)), userInfoSchema) {
		rules := make(map[string]string, len(s.fields))
		for _, f := range s.fields {
			rules[f.goName] = cmp.Or(f.rule, "-")
		}
		v.RegisterStructValidationMapRules(rules, s.zero)
	}
	return v
}

// RegisterIDRules registers the validate tags "sid" (ValidSID) and "docid"
// (ValidDocID) with v, for every validator that checks ids (this package's,
// the REST bodies'), so that the rules are written once.
func RegisterIDRules(v *validator.Validate) {
	for tag, fn := range map[string]func(string) bool{"docid": ValidDocID, "sid": ValidSID} {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) }); err != nil {
			panic(fmt.Sprintf("wire: register validation %q: %v", tag, err))
		}
	}
}

// idChars reports whether s is made of [A-Za-z0-9_-] only and has between min
// and max bytes.
func idChars(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidSID reports whether s is a valid client session id: 16 to 64 characters
// of [A-Za-z0-9_-].
func ValidSID(s string) bool { return idChars(s, 16, 64) }

// ValidDocID reports whether s matches ^[A-Za-z0-9_-]{1,128}$.
func ValidDocID(s string) bool { return idChars(s, 1, 128) }

// checkStruct runs the validate tags of msg and turns the first failure into a
// bad_request message naming the key.
func checkStruct(msg any) error {
	err := validate.Struct(msg)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return fmt.Errorf("validate: %w", err)
	}
	fe := ves[0]
	// Namespace is "Type.key" or "Type.user.name"; drop the Go type name.
	_, key, _ := strings.Cut(fe.Namespace(), ".")
	switch fe.Tag() {
	case "sid":
		return fmt.Errorf("%s: must be 16-64 characters of [A-Za-z0-9_-]", key)
	case "docid":
		return fmt.Errorf("%s: must match ^[A-Za-z0-9_-]{1,128}$", key)
	case "gt":
		return fmt.Errorf("%s: must be > %s", key, fe.Param())
	case "min":
		if fe.Kind() == reflect.String {
			return fmt.Errorf("%s: must have at least %s characters", key, fe.Param())
		}
		return fmt.Errorf("%s: must be >= %s", key, fe.Param())
	case "max":
		if fe.Kind() == reflect.String {
			return fmt.Errorf("%s: must have at most %s characters", key, fe.Param())
		}
		return fmt.Errorf("%s: must be <= %s", key, fe.Param())
	}
	return fmt.Errorf("%s: fails %q", key, fe.Tag())
}
