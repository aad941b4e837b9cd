package redact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
)

// handler passes every message, string, error and structured value
// through String before the wrapped handler sees it.
type handler struct {
	h slog.Handler
}

// NewHandler wraps h so that nothing it writes holds a secret: the message,
// every string attribute (in groups too, and those added with With),
// errors, and values that slog would marshal or print. Attribute keys and
// numbers pass unchanged.
func NewHandler(h slog.Handler) slog.Handler {
	if r, ok := h.(*handler); ok {
		return r
	}
	return &handler{h: h}
}

func (r *handler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = Attr(a)
	}
	return &handler{h: r.h.WithAttrs(red)}
}

func (r *handler) WithGroup(name string) slog.Handler {
	return &handler{h: r.h.WithGroup(name)}
}

// Attr is a with its value redacted. LogValuers are resolved first, so a
// type cannot hand a secret past the redactor through LogValue.
func Attr(a slog.Attr) slog.Attr {
	return slog.Attr{Key: a.Key, Value: value(a.Value.Resolve())}
}

func value(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if r := String(s); r != s {
			return slog.StringValue(r)
		}
		return v
	case slog.KindGroup:
		as := v.Group()
		red := make([]slog.Attr, len(as))
		for i, a := range as {
			red[i] = Attr(a)
		}
		return slog.GroupValue(red...)
	case slog.KindAny:
		return anyValue(v.Any())
	}
	// Numbers, booleans, times and durations hold no text.
	return v
}

// anyValue redacts what slog would otherwise print through fmt or
// encoding/json. Errors become their redacted text (which is how both
// built-in handlers print them anyway); other values are marshalled to
// JSON, redacted, and kept as JSON when the result still parses, so
// structure survives for the JSON handler.
func anyValue(x any) slog.Value {
	switch t := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		return slog.StringValue(String(t.Error()))
	case []byte:
		return slog.StringValue(String(string(t)))
	case fmt.Stringer:
		return slog.StringValue(String(t.String()))
	}
	b, err := json.Marshal(x)
	if err != nil {
		return slog.StringValue(String(fmt.Sprintf("%+v", x)))
	}
	s := string(b)
	r := String(s)
	if r == s {
		return slog.AnyValue(x)
	}
	if !json.Valid([]byte(r)) {
		return slog.StringValue(r)
	}
	return slog.AnyValue(json.RawMessage(r))
}
