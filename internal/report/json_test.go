package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/diffgate/diffgate/internal/review"
)

// The JSON document carries every field of the Result (R2, R5) and decodes
// back to it.
func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range schemaCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, "json", tc.res)
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.DisallowUnknownFields()
			var doc Document
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decode: %v\n%s", err, out)
			}
			if doc.Version != 1 {
				t.Errorf("version = %d, want 1", doc.Version)
			}

			want := sortedFindings(tc.res.Findings)
			for i := range want {
				if want[i].Reviewers == nil {
					want[i].Reviewers = []string{}
				}
			}
			if want == nil {
				want = []review.Finding{}
			}
			if !reflect.DeepEqual(doc.Findings, want) {
				t.Errorf("findings round trip:\ngot  %+v\nwant %+v", doc.Findings, want)
			}
			wantRev := append([]review.ReviewerResult{}, tc.res.Reviewers...)
			if !reflect.DeepEqual(doc.Reviewers, wantRev) {
				t.Errorf("reviewers round trip:\ngot  %+v\nwant %+v", doc.Reviewers, wantRev)
			}
			wantSkip := append([]review.Skipped{}, sortedSkipped(tc.res.Skipped)...)
			if !reflect.DeepEqual(doc.Skipped, wantSkip) {
				t.Errorf("skipped round trip:\ngot  %+v\nwant %+v", doc.Skipped, wantSkip)
			}

			total := 0
			for _, n := range doc.Summary.BySeverity {
				total += n
			}
			if len(doc.Summary.BySeverity) != 5 || total != len(tc.res.Findings) || doc.Summary.Findings != len(tc.res.Findings) {
				t.Errorf("summary = %+v, want 5 severities summing to %d", doc.Summary, len(tc.res.Findings))
			}
			if doc.Summary.Files != tc.res.Files || doc.Summary.Failed != tc.res.Failed() {
				t.Errorf("summary = %+v, want files %d, failed %v", doc.Summary, tc.res.Files, tc.res.Failed())
			}
		})
	}
}

// Consumers iterate lists without null checks.
func TestJSONEmptyListsAreArrays(t *testing.T) {
	out := render(t, "json", &review.Result{Findings: []review.Finding{{File: "a.go", Message: "no reviewers"}}})
	var raw struct {
		Findings  []map[string]json.RawMessage `json:"findings"`
		Reviewers json.RawMessage              `json:"reviewers"`
		Skipped   json.RawMessage              `json:"skipped"`
		Summary   struct {
			BySeverity map[string]int `json:"by_severity"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]json.RawMessage{
		"reviewers":             raw.Reviewers,
		"skipped":               raw.Skipped,
		"findings[0].reviewers": raw.Findings[0]["reviewers"],
	} {
		if string(v) != "[]" {
			t.Errorf("%s = %s, want []", name, v)
		}
	}
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if _, ok := raw.Summary.BySeverity[s]; !ok {
			t.Errorf("by_severity lacks %q: %v", s, raw.Summary.BySeverity)
		}
	}

	empty := render(t, "json", &review.Result{})
	if !bytes.Contains(empty, []byte(`"findings": []`)) {
		t.Errorf("empty result: findings not [] in\n%s", empty)
	}
}
