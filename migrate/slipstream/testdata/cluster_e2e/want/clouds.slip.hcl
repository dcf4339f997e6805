# Imported by slipc import slipstream from examples_cluster_base.xml, examples_cluster_cluster.xml,
# examples_cluster_master.xml, examples_cluster_worker.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# SlipStream cloud service "default".
cloud "default" {
  todo = "SlipStream's cloud service \"default\" (each user's default cloud): choose a connector and its settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
}
