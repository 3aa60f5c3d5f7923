package spec

import (
	"reflect"
	"testing"
)

func TestScanObject(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		off     int
		want    *Object
		wantErr bool
	}{
		{name: "empty", data: `{}`, want: &Object{Open: 0, Close: 1}},
		{
			name: "members with spacing",
			data: "{ \"a\" : 1,\n\t\"b\":{\"c\":[2]} }",
			want: &Object{Open: 0, Close: 26, Members: []ObjectMember{
				{Key: "a", KeyStart: 2, ValStart: 8, ValEnd: 9},
				{Key: "b", KeyStart: 12, ValStart: 16, ValEnd: 25},
			}},
		},
		{
			name: "nested at an offset",
			data: `{"x": {"k": true}}`,
			off:  6,
			want: &Object{Open: 6, Close: 16, Members: []ObjectMember{{Key: "k", KeyStart: 7, ValStart: 12, ValEnd: 16}}},
		},
		{name: "not an object", data: `[1]`, wantErr: true},
		{name: "offset past the end", data: `{}`, off: 2, wantErr: true},
		{name: "unterminated", data: `{"a":1`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScanObject([]byte(tt.data), tt.off)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ScanObject(%q) = %+v, want an error", tt.data, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ScanObject(%q) = %+v, want %+v", tt.data, got, tt.want)
			}
		})
	}
}
