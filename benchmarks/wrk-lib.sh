# Shared by the wrk benchmarks (rankings-vs-nginx.sh, route.sh); sourced, not run.

# Writes a rankd.yaml serving one model by $3 providers, listening on 127.0.0.1:$2, data in $4.
#   write_one_model_registry FILE PORT ENDPOINTS DATA_DIR MODEL
# (a popular open model has about a dozen providers).
write_one_model_registry() {
  local file=$1 port=$2 endpoints=$3 data=$4 model=$5
  {
    echo "listen: \"127.0.0.1:$port\""
    echo "data_dir: $data"
    echo "epoch_interval_seconds: 300"
    echo "endpoints:"
    for i in $(seq 1 "$endpoints"); do
      cat <<YAML
  - provider: provider$i
    model: $model
    base_url: https://provider$i.example.com/v1
    upstream_model: meta-llama/Llama-3.3-70B-Instruct
    quantization: fp8
    pricing: {prompt_per_million_usd: 0.$((20 + i)), completion_per_million_usd: 0.$((40 + i))}
    context_length: 131072
    supported_parameters: [tools, tool_choice, response_format]
    regions: [us]
YAML
    done
  } > "$file"
}

# Runs wrk once with $THREADS threads and $CONNECTIONS connections; prints "requests_per_second p99_ms".
#   wrk_measure SECONDS [wrk options ...] URL
wrk_measure() {
  local out rps p99
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${1}s" --latency "${@:2}")
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v=v*1000}; print v}')
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers: $out" >&2; exit 1; fi
  echo "$rps $p99"
}

# Reads "NAME requests_per_second p99_ms" lines and prints each NAME's medians and the ratio of
# the first NAME's median requests/s to the second's, with the goal.
#   median_ratio RESULTS_FILE NAME NAME GOAL
median_ratio() {
  awk -v a="$2" -v b="$3" -v goal="$4" '
    { rps[$1] = rps[$1] " " $2; p99[$1] = p99[$1] " " $3 }
    function median(list,   n, v, i, j, t) {
      n = split(list, v, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
      ra = median(rps[a]); rb = median(rps[b])
      printf "median %s: %.0f requests/s, p99 %.2f ms\n", a, ra, median(p99[a])
      printf "median %s: %.0f requests/s, p99 %.2f ms\n", b, rb, median(p99[b])
      printf "ratio %s/%s: %.2f (goal >= %s)\n", a, b, ra / rb, goal
    }' "$1"
}
