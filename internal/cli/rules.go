package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/diffgate/diffgate/internal/review/rules"
)

func runRules(args []string, env *Env) int {
	if len(args) > 0 {
		return fail(env.Stderr, usagef("rules takes no arguments"), ExitUsage)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tCATEGORY\tTITLE")
	for _, r := range rules.Catalogue() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Category, r.Title)
	}
	if err := tw.Flush(); err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	return ExitOK
}
