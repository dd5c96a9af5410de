#!/usr/bin/awk -f
# benchmedian.awk: medians of `go test -bench -count N` output, one line per
# benchmark: name, runs, median ns/op, median B/op, median allocs/op (and the
# median of any other unit, e.g. MB/s). Usage:
#   go test -run '^$' -bench . -benchmem -count 5 ./ot/ | awk -f bench/benchmedian.awk
function median(key,    n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = vals[key, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
	if (n % 2) return a[(n + 1) / 2]
	return (a[n/2] + a[n/2 + 1]) / 2
}
/^pkg:/ { pkg = $2 }
/^Benchmark/ {
	name = pkg "." $1
	if (!(name in seen)) { seen[name] = 1; order[++nb] = name }
	runs[name]++
	for (f = 3; f < NF; f += 2) {
		unit = $(f + 1); key = name SUBSEP unit
		if (!((name, unit) in hasunit)) { hasunit[name, unit] = 1; units[name] = units[name] " " unit }
		cnt[key]++; vals[key, cnt[key]] = $f
	}
}
END {
	for (b = 1; b <= nb; b++) {
		name = order[b]; line = sprintf("%-60s %2d runs", name, runs[name])
		nu = split(units[name], us, " ")
		for (u = 1; u <= nu; u++) line = line sprintf("   %s %s", median(name SUBSEP us[u]), us[u])
		print line
	}
}
