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
	v := NewValidator("msgpack") // report the keys the client sent
	// The rules of the client messages (and the map inside Hello) are the
	// schemas' rows: a row without a rule is not looked at.
	for _, s := range append(slices.Collect(maps.Values(clientSchemas)), userInfoSchema) {
		typ := reflect.TypeOf(s.zero).Elem()
		rules := make(map[string]string, typ.NumField())
		for i := range typ.NumField() {
			rules[typ.Field(i).Name] = "-" // not sent (Op.Raw), or no rule
		}
		for _, f := range s.fields {
			rules[f.goName] = cmp.Or(f.rule, "-")
		}
		v.RegisterStructValidationMapRules(rules, s.zero)
	}
	return v
}

// NewValidator returns a validator for Tandem's inputs (these messages, the
// REST bodies): it names a field by its tagKey struct tag ("msgpack",
// "json"), the name the client sent, and knows the rules "sid" (ValidSID)
// and "docid" (ValidDocID), registered here only. RuleMessage words its
// failures.
func NewValidator(tagKey string) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get(tagKey), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	for tag, fn := range map[string]func(string) bool{"docid": ValidDocID, "sid": ValidSID} {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) }); err != nil {
			panic(fmt.Sprintf("wire: register validation %q: %v", tag, err))
		}
	}
	return v
}

// RuleMessage says what the rule that fe failed requires ("must be >= 0"),
// the same words for a message key and a REST field.
func RuleMessage(fe validator.FieldError) string {
	return ruleWords(fe.Tag(), fe.Param(), fe.Kind() == reflect.String)
}

// ruleWords says what rule tag with param requires of a field, a string
// one when isString; the words of RuleMessage and of checkClientRules.
func ruleWords(tag, param string, isString bool) string {
	switch tag {
	case "required":
		return "is required"
	case "docid":
		return "must match ^[A-Za-z0-9_-]{1,128}$"
	case "sid":
		return "must be 16-64 characters of [A-Za-z0-9_-]"
	case "oneof":
		return "must be one of: " + param
	case "min":
		if isString {
			return "must be at least " + param + " characters long"
		}
		return "must be >= " + param
	case "max":
		if isString {
			return "must be at most " + param + " characters long"
		}
		return "must be <= " + param
	case "gt":
		return "must be > " + param
	case "required_with":
		return "is required when " + param + " is set"
	}
	return "fails rule " + tag
}

// ruleError is checkStruct's error for the field named key failing tag.
func ruleError(key, tag, param string, isString bool) error {
	return fmt.Errorf("%s: %s", key, ruleWords(tag, param, isString))
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
	return fmt.Errorf("%s: %s", key, RuleMessage(fe))
}
