package sources

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitJSON runs a jsonStream over data and returns what it emitted: each
// element's bytes, or "!" and its error, then "ERR " and the error that
// ended the stream. With oneByte the data is read a byte at a time, so
// every token straddles a refill of the window.
func splitJSON(data []byte, wrapper string, max int, oneByte bool) []string {
	in := input{buf: data, n: len(data), err: io.EOF, mark: -1, max: max}
	if oneByte {
		in = input{buf: make([]byte, minWindow), mark: -1, max: max, r: iotest.OneByteReader(bytes.NewReader(data))}
	}
	var out []string
	st := jsonStream{in: &in, wrapper: wrapper, emit: func(e *elem) {
		if e.err != nil {
			out = append(out, fmt.Sprintf("!%d %v", e.line, e.err))
			return
		}
		out = append(out, string(e.b))
	}}
	if err := st.run(); err != nil {
		out = append(out, "ERR "+err.Error())
	}
	if st.values == 0 {
		out = append(out, "EMPTY")
	}
	return out
}

func TestJSONStream(t *testing.T) {
	tests := []struct {
		name, in, wrapper string
		max               int
		want              []string
	}{
		{"records", `{"Records":[{"a":1},{"b":[2]}]}`, "Records", 0, []string{`{"a":1}`, `{"b":[2]}`}},
		{"records with space", " {\n \"Records\" : [ {\"a\":1} ,\n {\"b\":2} ] } \n", "Records", 0, []string{`{"a":1}`, `{"b":2}`}},
		{"keys around records", `{"x":[1,{"y":"]}"}],"Records":[{"a":"\"]"}],"z":{"Records":[9]}}`, "Records", 0, []string{`{"a":"\"]"}`}},
		{"nested records key ignored", `{"x":{"Records":[1]},"Records":[2]}`, "Records", 0, []string{`2`}},
		{"escaped records key", `{"Rec\u006frds":[1],"Re\"cords":[2]}`, "Records", 0, []string{`1`}},
		{"duplicate records key", `{"Records":[1],"Records":[2]}`, "Records", 0, []string{`1`}},
		{"escaped backslash before quote", `{"Records":["a\\",{"b":"c\\\"d"}]}`, "Records", 0, []string{`"a\\"`, `{"b":"c\\\"d"}`}},
		{"empty records", `{"Records":[]}`, "Records", 0, nil},
		{"records not an array", `{"Records":{"a":1}}`, "Records", 0, []string{"!1 Records: not an array"}},
		{"object without records", `{"eventName":"X","n":[1,2]}`, "Records", 0, []string{`{"eventName":"X","n":[1,2]}`}},
		{"empty object", `{}`, "Records", 0, []string{`{}`}},
		{"array", "[\n  {\"a\":1},\n  2,\n  \"s\"\n]", "Records", 0, []string{`{"a":1}`, `2`, `"s"`}},
		{"empty array", `[ ]`, "", 0, nil},
		{"json lines", "{\"a\":1}\n\n{\"b\":2}\r\n[3,4]\n", "", 0, []string{`{"a":1}`, `{"b":2}`, `3`, `4`}},
		{"records per line", "{\"Records\":[1]}\n{\"Records\":[2,3]}\n", "Records", 0, []string{`1`, `2`, `3`}},
		{"top-level scalars", `"x" 42 true`, "", 0, []string{`"x"`, `42`, `true`}},
		{"nothing", " \n\t ", "Records", 0, []string{"EMPTY"}},
		{"too large element", `[{"a":"0123456789"},{"b":1}]`, "", 10, []string{"!1 element: 18 bytes, more than the limit of 10 bytes (MaxElement)", `{"b":1}`}},
		{"too large object", `{"a":"0123456789"}` + "\n" + `{"b":1}`, "Records", 10, []string{"!1 element: 18 bytes, more than the limit of 10 bytes (MaxElement)", `{"b":1}`}},
		{"large prefix before records", `{"a":"0123456789","Records":[1,2]}`, "Records", 10, []string{`1`, `2`}},

		{"trailing comma", `[1,]`, "", 0, []string{"1", `ERR invalid JSON: unexpected ']' at byte 3`}},
		{"missing comma", `{"Records":[1 2]}`, "Records", 0, []string{"1", `ERR invalid JSON: unexpected '2' after an array element at byte 14`}},
		{"truncated", `{"Records":[{"a":1},{"b":`, "Records", 0, []string{`{"a":1}`, "ERR invalid JSON: unexpected end of input at byte 25"}},
		{"truncated string", `["abc`, "", 0, []string{"ERR invalid JSON: unexpected end of input at byte 5"}},
		{"mismatched brackets", `[{"a":[1}]`, "", 0, []string{`ERR invalid JSON: unexpected '}' at byte 8`}},
		{"key not a string", `{"Records":[1],2:3}`, "Records", 0, []string{"1", `ERR invalid JSON: unexpected '2', want a key at byte 15`}},
		{"deep nesting", strings.Repeat("[", 400) + strings.Repeat("]", 400), "", 0, []string{"ERR invalid JSON: nesting deeper than 300 at byte 301"}},
		// Inside an element only strings and brackets are checked: the
		// parser rejects the rest.
		{"pretty object with an error", "{\n  \"a\": 1\n  \"b\": 2\n}\n", "", 0, []string{"{\n  \"a\": 1\n  \"b\": 2\n}"}},

		{"json lines, bad line", "{\"a\":1}\n{\"b\":\n{\"c\":3}\n", "", 0, []string{`{"a":1}`, "!2 json: invalid JSON: unexpected end of input at byte 22", `{"c":3}`}},
		{"json lines, bad first line", "{oops\n{\"c\":3}\n{\"d\":4}", "Records", 0, []string{"!1 json: invalid JSON: unexpected 'o', want a key at byte 1", `{"c":3}`, `{"d":4}`}},
		{"json lines, bad last line", "{\"a\":1}\n{\"b\":", "", 0, []string{`{"a":1}`, "!2 json: invalid JSON: unexpected end of input at byte 13"}},
		{"json lines, then lines only", "{\"a\":1}\n{\"b\":\n{\"c\":\n3}\n[4,\n", "", 0, []string{`{"a":1}`, "!2 json: invalid JSON: unexpected end of input at byte 27",
			"!3 json: invalid JSON: unexpected end of input at byte 5", "3", "!4 json: invalid JSON: unexpected '}' at byte 1", "4", "!5 json: invalid JSON: unexpected end of input at byte 3"}},
		{"not json lines: next line not an object", "{oops\n\"c\"\n", "", 0, []string{"ERR invalid JSON: unexpected end of input at byte 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 1 << 20
			}
			for _, oneByte := range []bool{false, true} {
				got := splitJSON([]byte(tt.in), tt.wrapper, max, oneByte)
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Fatalf("oneByte %v:\n got %q\nwant %q", oneByte, got, tt.want)
				}
			}
		})
	}
}

// TestJSONStreamDropsLargeElements covers elements larger than the window,
// which the input drops while scanning them.
func TestJSONStreamDropsLargeElements(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 3*minWindow) + `"}`
	tests := []struct {
		name, in, wrapper string
		want              []string
	}{
		{"array", `[` + big + `,{"b":1}]`, "", []string{fmt.Sprintf("!1 element: %d bytes, more than the limit of 32768 bytes (MaxElement)", len(big)), `{"b":1}`}},
		{"object", big + "\n" + `{"b":1}`, "Records", []string{fmt.Sprintf("!1 element: %d bytes, more than the limit of 32768 bytes (MaxElement)", len(big)), `{"b":1}`}},
		{"large key before records", `{"` + strings.Repeat("k", 2*minWindow) + `":1,"Records":[{"b":1}]}`, "Records", []string{`{"b":1}`}},
		{"large value before records", `{"x":` + big + `,"Records":[{"b":1}]}`, "Records", []string{`{"b":1}`}},
		// A bad line is found again only if what was read of it fits in
		// MaxElement: else the rest of the record fails.
		{"bad json line read past the limit", "{\"a\":1}\n{\"b\":\n" + big + "\n{\"c\":3}\n", "", []string{`{"a":1}`,
			fmt.Sprintf("ERR invalid JSON: unexpected end of input at byte %d", len(big)+23)}},
		{"bad json lines, large line", "{\"a\":1}\n{\"b\":]\n{\"c\":3}\n" + big + "\n{\"c\":3}\n", "", []string{`{"a":1}`, "!2 json: invalid JSON: unexpected ']' at byte 13",
			`{"c":3}`, fmt.Sprintf("!4 element: %d bytes, more than the limit of 32768 bytes (MaxElement)", len(big)), `{"c":3}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				got := splitJSON([]byte(tt.in), tt.wrapper, minWindow, oneByte)
				if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Fatalf("oneByte %v:\n got %.300q\nwant %.300q", oneByte, got, tt.want)
				}
			}
		})
	}
}

func TestKeyEquals(t *testing.T) {
	for raw, want := range map[string]bool{
		"Records": true, `Rec\u006frds`: true, `\u0052ecords`: true, `Records\u0000`: false, "Record": false, "Recordss": false,
		`Rec\"ords`: false, `Rec\u006`: false, `Rec\u00e9rds`: false, `Records\`: false, `\n`: false, "": false,
	} {
		if got := keyEquals([]byte(raw), "Records"); got != want {
			t.Errorf("keyEquals(%q) = %v", raw, got)
		}
	}
	if !keyEquals([]byte(`a\tb\/c`), "a\tb/c") {
		t.Error(`keyEquals(a\tb\/c)`)
	}
}
