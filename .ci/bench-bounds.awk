# Reads `go test -bench -benchmem` output and prints, for each bridge-side
# login benchmark (BenchmarkBridgeLogin/<dialect>/<keys>), the figures issue
# 17 bounds with the bound beside each: the CPU ratio (<= 1.5), allocations
# (<= 10000) and bytes (<= 1 MB) per login. RSA-2048 is what the bounds are
# for; RSA-3072 lines are reported, marked, for comparison. It only prints:
# the bounds are read by people, not asserted by a test.
/^BenchmarkBridgeLogin\// {
	split($1, n, "/"); sub(/-[0-9]+$/, "", n[3])
	ratio = ""; bytes = ""; allocs = ""
	for (i = 2; i <= NF; i++) {
		if ($i == "cpu-ratio") ratio = $(i-1)
		if ($i == "B/op") bytes = $(i-1)
		if ($i == "allocs/op") allocs = $(i-1)
	}
	keys = (n[3] == "rsa2048") ? "" : " (" toupper(n[3]) ")"
	printf "CPU ratio %s%s: %s (bound 1.5: %s)\n", n[2], keys, ratio, (ratio + 0 <= 1.5) ? "within" : "OVER"
	printf "per login %s%s: %d allocations (bound 10000: %s), %.2f MB (bound 1 MB: %s)\n", n[2], keys, allocs, \
		(allocs + 0 <= 10000) ? "within" : "OVER", bytes / 1e6, (bytes + 0 <= 1e6) ? "within" : "OVER"
}
