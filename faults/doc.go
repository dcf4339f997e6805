// Package faults is the end-to-end fault suite (make test-faults, part of
// make test): real applies of a compiled recipe by the real Terraform CLI,
// with this provider, a real slipc serve process and real SSH hosts
// (network namespaces running sshd, internal/nshost), while the tests
// inject the faults users meet — a coordinator restarted (SIGTERM, then
// SIGKILL) while machines are blocked in ss-get and Terraform long-polls,
// Ctrl-C during terraform apply at each stage, a machine cut off from the
// coordinator while it waits and while its ss-set is in flight, a machine
// rebooted in the middle of its scripts — and one checker verifies the
// same invariants after every scenario: every acknowledged ss-set is
// readable and was seen once, the run ends where it should, nothing is
// left behind (machines, agents, deployments, namespaces), and the
// coordinator's bbolt file passes its integrity check.
//
// The tests run when SLIPSTREAM_FAULTS=1 (and TF_ACC_TERRAFORM_PATH names
// the Terraform CLI); go test ./... without it skips them. They need root.
// The package holds only tests and their recipe (testdata/recipe).
package faults
