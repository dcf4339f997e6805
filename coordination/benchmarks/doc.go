// Package benchmarks holds the coordinator's comparative benchmarks: etcd
// baselines measured the same way as the coordinator's own benchmarks
// (coordination/coordinator/bench_test.go), and the coordinator over the
// etcd store. It has no code of its own, only _test.go files; it is a
// package of its own so that the embedded etcd server these benchmarks
// start is linked only into this test binary, not into the coordinator's
// unit tests. `make bench` prints the comparison.
package benchmarks
