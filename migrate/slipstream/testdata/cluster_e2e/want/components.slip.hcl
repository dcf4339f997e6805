# Imported by slipc import slipstream from examples_cluster_base.xml, examples_cluster_cluster.xml,
# examples_cluster_master.xml, examples_cluster_worker.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

component "master" {
  description = "Cluster master: hands out a join token and counts the workers."
  image       = image.master
  deploy      = file("scripts/master/execute.sh")
  report      = file("scripts/master/report.sh")
}

component "worker" {
  description = "Cluster worker: joins the master with its token."
  image       = image.worker
  deploy      = file("scripts/worker/execute.sh")
}
