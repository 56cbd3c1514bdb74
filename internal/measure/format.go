package measure

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Formatting of observed values for people ("99.42%", "812ms", "3.2s").
// The rules match internal/report's, so an SLO's Observed reads the same
// as the tables around it.

// formatPercent formats a percentage. Values just below 100 are truncated,
// not rounded: 99.996% availability must not print as "100%" next to a
// failed "≥ 100%" objective, which would hide that requests failed. For
// the same reason a small positive value never prints as "0%".
func formatPercent(v float64) string {
	switch {
	case v >= 100:
		return "100%"
	case v >= 99:
		// The epsilon undoes binary rounding (99.8 is stored as
		// 99.79999…) without rounding up anything that matters.
		return trimZeros(strconv.FormatFloat(math.Floor(v*1000+1e-6)/1000, 'f', 3, 64)) + "%"
	case v > 0 && v < 0.01:
		return "<0.01%"
	default:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64)) + "%"
	}
}

// formatDuration formats a latency or recovery time at a precision that
// suits its size: three significant digits below a minute, tenths of a
// second above.
func formatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d < 0:
		return "-" + formatDuration(-d)
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + "µs"
	case d < 10*time.Millisecond:
		return trimZeros(strconv.FormatFloat(ms, 'f', 2, 64)) + "ms"
	case d < 100*time.Millisecond:
		return trimZeros(strconv.FormatFloat(ms, 'f', 1, 64)) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case d < 10*time.Second:
		return trimZeros(strconv.FormatFloat(d.Seconds(), 'f', 2, 64)) + "s"
	case d < time.Minute:
		return trimZeros(strconv.FormatFloat(d.Seconds(), 'f', 1, 64)) + "s"
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// formatRate formats a rate in requests per second.
func formatRate(v float64) string {
	prec := 1
	if v < 10 {
		prec = 2
	}
	return trimZeros(strconv.FormatFloat(v, 'f', prec, 64)) + " rps"
}

// formatNumber formats a bound as written in a manifest (99.5, 1, 45).
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
