package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// ratio formats a/b, or "-" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func line(w io.Writer, name string, o *OpResult, unit string) {
	if o == nil {
		fmt.Fprintf(w, "   %-12s no requests\n", name+":")
		return
	}
	fmt.Fprintf(w, "   %-12s %9.0f %-7s p50 %-8s p90 %-8s p99 %-8s max %-9s ok %d, errors %d in %.1fs\n",
		name+":", o.Rate(), unit, ms(o.Percentile(.50)), ms(o.Percentile(.90)), ms(o.Percentile(.99)), ms(o.Max()),
		o.OK, o.ErrorCount(), o.Elapsed.Seconds())
	for _, k := range slices.Sorted(maps.Keys(o.Errors)) {
		fmt.Fprintf(w, "   %12s error %s: %d\n", "", k, o.Errors[k])
	}
}

// print writes one scenario's figures.
func (r *report) print(w io.Writer) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "== (%s) skipped: %s\n", r.ID, r.Skipped)
		return
	}
	if r.Empty != nil {
		line(w, "empty store", r.Empty.headline(r.Empty.Ours), r.Unit)
		line(w, "full store", r.headline(r.Ours), r.Unit)
	} else {
		line(w, "imagequota", r.headline(r.Ours), r.Unit)
	}
	if r.Op == "pair" {
		line(w, " CreateImage", r.Ours["CreateImage"], "req/s")
		line(w, " DeleteImages", r.Ours["DeleteImages"], "req/s")
	}
	line(w, "baseline", r.headline(r.Base), r.Unit)
	ours, base := r.headline(r.Ours), r.headline(r.Base)
	fmt.Fprintf(w, "   throughput ratio %s, p99 ratio %s (%s, %s)\n",
		ratio(ours.Rate(), base.Rate()), ratio(float64(ours.Percentile(.99)), float64(base.Percentile(.99))),
		r.Engine, strings.Join(r.Notes, "; "))
	if r.Scraped != nil {
		r.Scraped.print(w, r)
	}
	if r.Empty != nil {
		e := r.Empty.headline(r.Empty.Ours)
		fmt.Fprintf(w, "   full/empty store: throughput ratio %s, p99 ratio %s\n",
			ratio(ours.Rate(), e.Rate()), ratio(float64(ours.Percentile(.99)), float64(e.Percentile(.99))))
	}
}

// summaryRow is one line of the summary table.
type summaryRow struct {
	id, engine, unit                    string
	ours, base                          *OpResult
	create, delete                      *OpResult // pairs only
	errors                              int64
	thrRatio, p99Ratio, skipped, detail string
}

func rows(reports []*report) []summaryRow {
	var out []summaryRow
	for _, r := range reports {
		if r.Skipped != "" {
			out = append(out, summaryRow{id: r.ID, skipped: r.Skipped})
			continue
		}
		add := func(rr *report, id string) {
			ours, base := rr.headline(rr.Ours), r.headline(r.Base)
			row := summaryRow{id: id, engine: rr.Engine, unit: rr.Unit, ours: ours, base: base, errors: rr.unexpectedErrors(),
				thrRatio: ratio(ours.Rate(), base.Rate()), p99Ratio: ratio(float64(ours.Percentile(.99)), float64(base.Percentile(.99)))}
			if rr.Op == "pair" {
				row.create, row.delete = rr.Ours["CreateImage"], rr.Ours["DeleteImages"]
				row.detail = fmt.Sprintf("CreateImage p99 %s, DeleteImages p99 %s", ms(row.create.Percentile(.99)), ms(row.delete.Percentile(.99)))
			}
			out = append(out, row)
		}
		if r.Empty != nil {
			add(r.Empty, "d (empty store)")
			add(r, "d (full store)")
			e := r.Empty.headline(r.Empty.Ours)
			out[len(out)-1].detail = fmt.Sprintf("vs empty: throughput %s, p99 %s",
				ratio(r.headline(r.Ours).Rate(), e.Rate()), ratio(float64(r.headline(r.Ours).Percentile(.99)), float64(e.Percentile(.99))))
			continue
		}
		add(r, r.ID)
	}
	return out
}

// printSummary writes the table of every scenario.
func printSummary(w io.Writer, reports []*report, concurrency int, duration time.Duration, baselineWhere string) {
	fmt.Fprintf(w, "\nSummary (concurrency %d, %s per run, baseline %s):\n", concurrency, duration, baselineWhere)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tengine\trate\tp50\tp90\tp99\tmax\terrors\tbaseline rate\tbaseline p99\tthroughput ratio\tp99 ratio\tnotes")
	for _, r := range rows(reports) {
		if r.skipped != "" {
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\t\t\t\t\t\t\t%s\n", r.id, r.skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f %s\t%s\t%s\t%s\t%s\t%d\t%.0f %s\t%s\t%s\t%s\t%s\n",
			r.id, r.engine, r.ours.Rate(), r.unit, ms(r.ours.Percentile(.5)), ms(r.ours.Percentile(.9)),
			ms(r.ours.Percentile(.99)), ms(r.ours.Max()), r.errors, r.base.Rate(), r.unit, ms(r.base.Percentile(.99)),
			r.thrRatio, r.p99Ratio, r.detail)
	}
	tw.Flush()
}

// printMarkdown writes the summary as a Markdown table.
func printMarkdown(w io.Writer, reports []*report) {
	fmt.Fprintln(w, "| scenario | engine | rate | p50 | p90 | p99 | max | errors | baseline rate | baseline p99 | throughput ratio | p99 ratio | notes |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range rows(reports) {
		if r.skipped != "" {
			fmt.Fprintf(w, "| %s | skipped | | | | | | | | | | | %s |\n", r.id, r.skipped)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %.0f %s | %s | %s | %s | %s | %d | %.0f %s | %s | %s | %s | %s |\n",
			r.id, r.engine, r.ours.Rate(), r.unit, ms(r.ours.Percentile(.5)), ms(r.ours.Percentile(.9)),
			ms(r.ours.Percentile(.99)), ms(r.ours.Max()), r.errors, r.base.Rate(), r.unit, ms(r.base.Percentile(.99)),
			r.thrRatio, r.p99Ratio, r.detail)
	}
}
