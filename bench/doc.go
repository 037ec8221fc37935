// Package bench holds vigil's load testing, run as `vigil bench`:
// loadgen generates realistic CloudTrail, VPC flow and Route 53 Resolver
// records with attacks injected at known times; harness drives a node (in
// this process, started as processes, or already running) with them,
// measures throughput, lag, latency, recall, memory and storage, runs the
// reference loop over the same records and reports; corpus builds
// CloudTrail records from real templates for the end-to-end tests.
package bench
